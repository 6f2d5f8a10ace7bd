//! backup-manager never overwrites a Backup that moved on: found by `sim explore` (a pod of an abandoned attempt
//! wrote Running over Failed, and the schedule then started an overlapping Backup).

mod support;

use operator::api::storage::StorageLocation;
use operator::api::{Backup, BackupPhase};
use operator::cluster::ObjectKey;
use operator::manager::store::{BackupStore, StoreError};
use operator::manager::tool::{ProgressSink, Tool, ToolError, ToolJob, ToolReport};
use operator::manager::{ManagerError, backup, clean};
use std::cell::Cell;
use support::builders::{BackupBuilder, NS, t};
use support::fake::{FakeCluster, block_on};

#[derive(Default)]
struct CountingTool(Cell<u32>);

impl Tool for CountingTool {
    async fn pause(&self, _d: std::time::Duration) {}
    async fn run(&self, _job: &ToolJob, _progress: &ProgressSink) -> Result<ToolReport, ToolError> {
        self.0.set(self.0.get() + 1);
        Ok(ToolReport { size_bytes: Some(10), commit_ts: Some("1".into()), ..Default::default() })
    }
}

#[derive(Default)]
struct CountingStore(Cell<u32>);

impl BackupStore for CountingStore {
    async fn delete_prefix(&self, _location: &StorageLocation) -> Result<u64, StoreError> {
        self.0.set(self.0.get() + 1);
        Ok(3)
    }
}

fn key() -> ObjectKey {
    ObjectKey::new(NS, "demo")
}

#[test]
fn a_pod_of_an_abandoned_attempt_never_overwrites_a_failed_backup() {
    let cluster = FakeCluster::new(t(30));
    cluster.put(&BackupBuilder::new("demo").phase(BackupPhase::Failed).build());
    let tool = CountingTool::default();
    let err = block_on(backup(&cluster, &tool, &key(), Some(0))).unwrap_err();
    assert!(matches!(err, ManagerError::Superseded { .. }), "{err}");
    assert_eq!(tool.0.get(), 0, "the tool must not run");
    assert_eq!(cluster.api_get::<Backup>(NS, "demo").unwrap().phase(), Some(BackupPhase::Failed));
    assert!(cluster.writes.borrow().is_empty());
}

#[test]
fn a_pod_of_an_earlier_attempt_leaves_the_current_one_alone() {
    let cluster = FakeCluster::new(t(30));
    cluster.put(&BackupBuilder::new("demo").retried(t(10), t(15)).phase(BackupPhase::Scheduled).build());
    let tool = CountingTool::default();
    assert!(matches!(block_on(backup(&cluster, &tool, &key(), Some(0))), Err(ManagerError::Superseded { .. })));
    assert_eq!(tool.0.get(), 0);
    let report = block_on(backup(&cluster, &tool, &key(), Some(1))).unwrap();
    assert_eq!(report.size_bytes, Some(10));
    let after = cluster.api_get::<Backup>(NS, "demo").unwrap();
    assert_eq!(after.phase(), Some(BackupPhase::Complete));
    assert_eq!(after.status.unwrap().backup_path.as_deref(), Some("s3://backup/test1-demo1"));
}

#[test]
fn clean_refuses_the_data_of_a_backup_that_is_not_being_deleted() {
    let cluster = FakeCluster::new(t(30));
    cluster.put(&BackupBuilder::new("demo").complete(t(5)).build());
    let store = CountingStore::default();
    assert!(matches!(block_on(clean(&cluster, &store, &key())), Err(ManagerError::Superseded { .. })));
    assert_eq!(store.0.get(), 0);
    cluster.put(&BackupBuilder::new("demo").complete(t(5)).finalizer().deleting(t(20)).build());
    assert_eq!(block_on(clean(&cluster, &store, &key())).unwrap(), 3);
    assert_eq!(cluster.api_get::<Backup>(NS, "demo").unwrap().phase(), Some(BackupPhase::Clean));
}

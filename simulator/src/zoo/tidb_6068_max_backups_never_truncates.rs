//! TiDB Operator issue 6068, from its report: a schedule with a log backup and only `maxBackups` set deletes its
//! old snapshots but never truncates the log, whose storage then grows without end (only collection by
//! `maxReservedTime` truncated it). Here: our schedule controller, seeing its log backup as already truncated
//! whenever the schedule has no `maxReservedTime`, so it never sends the truncation.

use operator::api::BackupSchedule;
use operator::controllers::{Action, Settings};
use std::sync::Arc;

use super::lens::{Hooks, Lens, edit_backup};

struct CountNeverTruncates {
    by_count_only: bool,
}

impl Hooks for CountNeverTruncates {
    fn seen<K: operator::cluster::Object>(&self, obj: Arc<K>) -> Arc<K> {
        if !self.by_count_only {
            return obj;
        }
        edit_backup(obj, |b| {
            if operator::api::log_backup::is_log(&b.spec) {
                b.spec.log_truncate_until = Some(u64::MAX.to_string());
            }
        })
    }
}

pub async fn reconcile<C: operator::cluster::Cluster>(
    client: C,
    settings: Settings,
    schedule: Arc<BackupSchedule>,
) -> Result<Action, String> {
    let by_count_only = schedule.spec.max_reserved_time.is_none();
    let lens = Lens { inner: client, hooks: CountNeverTruncates { by_count_only } };
    operator::controllers::schedule::reconcile(&lens, &settings, schedule).await.map_err(|e| super::chain(&e))
}

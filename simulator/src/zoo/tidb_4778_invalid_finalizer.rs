//! TiDB Operator issue 4778, from its report: every Backup with a clean policy gets the protection finalizer, valid
//! or not; deleting an Invalid Backup then waits for a clean that never runs, and the Backup hangs in deletion.
//! Here: the finalizer added before validation, and a deleted Invalid Backup left waiting; otherwise our reconcile.

use operator::api::labels::FINALIZER;
use operator::api::{Backup, BackupPhase, validation};
use operator::cluster::Cluster;
use operator::controllers::backup::plan::finalizer_needed;
use operator::controllers::{Action, Settings};
use std::sync::Arc;
use std::time::Duration;

pub async fn reconcile<C: Cluster>(client: C, settings: Settings, backup: Arc<Backup>) -> Result<Action, String> {
    let has_finalizer = backup.metadata.finalizers.as_ref().is_some_and(|f| f.iter().any(|x| x == FINALIZER));
    if backup.metadata.deletion_timestamp.is_some() {
        if has_finalizer && backup.phase() == Some(BackupPhase::Invalid) {
            // Waits for the clean Job, which is only ever made for Backups that ran.
            return Ok(Action::requeue(Duration::from_secs(30)));
        }
    } else if !has_finalizer && finalizer_needed(&backup) && !validation::backup(&backup).is_empty() {
        let mut b = (*backup).clone();
        b.metadata.finalizers.get_or_insert_with(Vec::new).push(FINALIZER.to_string());
        client.replace(Arc::new(b)).await.map_err(|e| e.to_string())?;
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    operator::controllers::backup::reconcile(&client, &settings, backup).await.map_err(|e| super::chain(&e))
}

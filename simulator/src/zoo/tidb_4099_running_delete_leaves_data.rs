//! TiDB Operator issue 4099, from its report: deleting a Backup that is still running releases it at once (the
//! clean runs only for Backups that finished), so what the backup pod already wrote stays in storage with no Backup
//! to account for it. Here: that early release of an unfinished Backup; otherwise our reconcile.

use operator::api::Backup;
use operator::api::labels::FINALIZER;
use operator::cluster::Cluster;
use operator::controllers::{Action, Settings};
use std::sync::Arc;

pub async fn reconcile<C: Cluster>(client: C, settings: Settings, backup: Arc<Backup>) -> Result<Action, String> {
    let has_finalizer = backup.metadata.finalizers.as_ref().is_some_and(|f| f.iter().any(|x| x == FINALIZER));
    if backup.metadata.deletion_timestamp.is_some() && has_finalizer && !backup.is_finished() {
        let mut b = (*backup).clone();
        b.metadata.finalizers.get_or_insert_with(Vec::new).retain(|f| f != FINALIZER);
        client.replace(Arc::new(b)).await.map_err(|e| e.to_string())?;
        return Ok(Action::await_change());
    }
    operator::controllers::backup::reconcile(&client, &settings, backup).await.map_err(|e| super::chain(&e))
}

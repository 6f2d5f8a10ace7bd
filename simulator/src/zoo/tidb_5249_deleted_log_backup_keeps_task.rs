//! TiDB Operator issue 5249, from its report (fixed by its PR 5754): deleting a log Backup removed the CR without
//! stopping its task, which kept running on the cluster (and a new CR of the same name failed to start one, the
//! task existing). Here: a log Backup being deleted is released at once; otherwise our reconcile.

use operator::api::Backup;
use operator::api::labels::FINALIZER;
use operator::api::log_backup;
use operator::cluster::Cluster;
use operator::controllers::{Action, Settings};
use std::sync::Arc;

pub async fn reconcile<C: Cluster>(client: C, settings: Settings, backup: Arc<Backup>) -> Result<Action, String> {
    let has_finalizer = backup.metadata.finalizers.as_ref().is_some_and(|f| f.iter().any(|x| x == FINALIZER));
    if backup.metadata.deletion_timestamp.is_some() && has_finalizer && log_backup::is_log(&backup.spec) {
        let mut b = (*backup).clone();
        b.metadata.finalizers.get_or_insert_with(Vec::new).retain(|f| f != FINALIZER);
        client.replace(Arc::new(b)).await.map_err(|e| e.to_string())?;
        return Ok(Action::await_change());
    }
    operator::controllers::backup::reconcile(&client, &settings, backup).await.map_err(|e| super::chain(&e))
}

//! TiDB Operator issue 4805, from its report: when the backup pod is killed (OOM, eviction) rather than failing on
//! its own, the Backup is marked Failed on the spot and the retry policy is never consulted. Here: that check in
//! front of our reconcile; otherwise our reconcile.

use k8s_openapi::api::core::v1::Pod;
use operator::api::condition::{Condition, set_condition};
use operator::api::{Backup, BackupPhase};
use operator::cluster::{Cluster, ObjectKey};
use operator::controllers::backup::pod_selector;
use operator::controllers::{Action, Settings};
use std::sync::Arc;

/// Whether the pod's container was killed (exit code 137: SIGKILL).
fn killed(pod: &Pod) -> bool {
    let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.as_ref());
    statuses
        .into_iter()
        .flatten()
        .any(|c| c.state.as_ref().and_then(|s| s.terminated.as_ref()).is_some_and(|t| t.exit_code == 137))
}

pub async fn reconcile<C: Cluster>(client: C, settings: Settings, backup: Arc<Backup>) -> Result<Action, String> {
    let unfinished = !backup.is_finished() && backup.metadata.deletion_timestamp.is_none();
    let key = ObjectKey::of(&*backup);
    let pods = client.cached_list::<Pod>(&key.namespace, &pod_selector(&key.name, "backup"));
    if unfinished && pods.iter().any(|p| killed(p)) {
        let mut b = (*backup).clone();
        let status = b.status.get_or_insert_with(Default::default);
        status.phase = Some(BackupPhase::Failed);
        let now = client.now();
        set_condition(
            &mut status.conditions,
            Condition::new("Failed", now, Some("PodKilled"), Some("the backup pod was killed")),
        );
        client.replace_status(Arc::new(b)).await.map_err(|e| e.to_string())?;
        return Ok(Action::await_change());
    }
    operator::controllers::backup::reconcile(&client, &settings, backup).await.map_err(|e| super::chain(&e))
}

//! TiDB Operator issue 4980, from its report: a new backup pod is started while the previous attempt's pod is
//! still terminating, because a pod whose deletion was requested already counts as gone; for the length of its
//! termination grace two pods write the same backup. Here: our backup controller, blind to pods being deleted.

use operator::api::Backup;
use operator::cluster::{Cluster, Kind, Object};
use operator::controllers::{Action, Settings};
use std::sync::Arc;

use super::lens::{Hooks, Lens};

struct DeletedMeansGone;

impl Hooks for DeletedMeansGone {
    fn visible<K: Object>(&self, obj: &K) -> bool {
        K::KIND != Kind::Pod || obj.meta().deletion_timestamp.is_none()
    }
}

pub async fn reconcile<C: Cluster>(client: C, settings: Settings, backup: Arc<Backup>) -> Result<Action, String> {
    let lens = Lens { inner: client, hooks: DeletedMeansGone };
    operator::controllers::backup::reconcile(&lens, &settings, backup).await.map_err(|e| super::chain(&e))
}

//! Round 2's schedule defect 3, as our schedule controller had it: the plan created before it collected, and a
//! failed create ended the reconcile, so while creates are refused (an exhausted ResourceQuota) expired Backups are
//! never deleted. Here: after a failed Backup create, the rest of the reconcile's Backup deletes are not sent.

use operator::api::BackupSchedule;
use operator::cluster::{Cluster, ClusterError, Kind, ObjectKey, Verb};
use operator::controllers::{Action, Settings};
use std::cell::Cell;
use std::sync::Arc;

use super::lens::{Hooks, Lens};

#[derive(Default)]
struct EndsAtFailedCreate {
    create_failed: Cell<bool>,
}

impl Hooks for EndsAtFailedCreate {
    fn refuse(&self, verb: Verb, kind: Kind, key: &ObjectKey) -> Option<ClusterError> {
        (verb == Verb::Delete && kind == Kind::Backup && self.create_failed.get()).then(|| ClusterError::Transient {
            verb,
            kind,
            key: key.clone(),
            message: "not sent: the reconcile ended at the failed create".into(),
        })
    }
    fn answered(&self, verb: Verb, kind: Kind, _key: &ObjectKey, failed: bool) {
        if verb == Verb::Create && kind == Kind::Backup && failed {
            self.create_failed.set(true);
        }
    }
}

pub async fn reconcile<C: Cluster>(
    client: C,
    settings: Settings,
    schedule: Arc<BackupSchedule>,
) -> Result<Action, String> {
    let lens = Lens { inner: client, hooks: EndsAtFailedCreate::default() };
    operator::controllers::schedule::reconcile(&lens, &settings, schedule).await.map_err(|e| super::chain(&e))
}

//! Round 2's schedule defect 2, as our schedule controller had it: a Backup with no owner that holds a tick's name
//! passes as the schedule's own (`belongs_to` did not require the schedule as controller owner). The tick is never
//! recorded, so the create is retried without end, each time "succeeding" on the taken name.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use operator::api::{Backup, BackupSchedule};
use operator::cluster::{Cluster, Object};
use operator::controllers::{Action, Settings};
use std::sync::Arc;

use super::lens::{Hooks, Lens, edit_backup};

struct Adopt {
    owner: OwnerReference,
    prefix: String,
}

impl Hooks for Adopt {
    fn seen<K: Object>(&self, obj: Arc<K>) -> Arc<K> {
        edit_backup(obj, |b: &mut Backup| {
            let name = b.metadata.name.as_deref().unwrap_or_default();
            if b.metadata.owner_references.as_ref().is_none_or(|o| o.is_empty()) && name.starts_with(&self.prefix) {
                b.metadata.owner_references = Some(vec![self.owner.clone()]);
            }
        })
    }
}

pub async fn reconcile<C: Cluster>(
    client: C,
    settings: Settings,
    schedule: Arc<BackupSchedule>,
) -> Result<Action, String> {
    let owner = OwnerReference {
        api_version: "pingcap.com/v1alpha1".into(),
        kind: "BackupSchedule".into(),
        name: schedule.metadata.name.clone().unwrap_or_default(),
        uid: schedule.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let prefix = format!("{}-", owner.name);
    let lens = Lens { inner: client, hooks: Adopt { owner, prefix } };
    operator::controllers::schedule::reconcile(&lens, &settings, schedule).await.map_err(|e| super::chain(&e))
}

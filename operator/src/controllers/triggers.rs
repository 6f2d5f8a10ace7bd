//! Which reconcile a watched object triggers: Jobs and pods map to their Backup or Restore, Backups to their schedule.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::labels;
use crate::cluster::{Kind, ObjectKey};

/// The Backup or Restore a Job or pod works for, read from the owner annotations every Job (and its pod template)
/// carries. Annotations hold the full name, which a length-limited label value may not.
pub fn owner_of(meta: &ObjectMeta) -> Option<(Kind, ObjectKey)> {
    let annotations = meta.annotations.as_ref()?;
    let kind = Kind::parse(annotations.get(labels::OWNER_KIND)?)?;
    let name = annotations.get(labels::OWNER_NAME)?;
    Some((kind, ObjectKey::new(meta.namespace.clone().unwrap_or_default(), name.clone())))
}

/// The BackupSchedule that created `backup`, from its controller owner reference.
pub fn schedule_of<K: kube::Resource>(obj: &K) -> Option<ObjectKey> {
    let meta = obj.meta();
    let owner = meta
        .owner_references
        .as_ref()?
        .iter()
        .find(|r| r.kind == Kind::BackupSchedule.as_str() && r.controller == Some(true))?;
    Some(ObjectKey::new(meta.namespace.clone().unwrap_or_default(), owner.name.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn jobs_and_pods_map_to_their_owner_by_annotation() {
        let meta = ObjectMeta {
            namespace: Some("test1".into()),
            annotations: Some(BTreeMap::from([
                (labels::OWNER_KIND.to_string(), "Backup".to_string()),
                (labels::OWNER_NAME.to_string(), "demo".to_string()),
            ])),
            ..Default::default()
        };
        assert_eq!(owner_of(&meta), Some((Kind::Backup, ObjectKey::new("test1", "demo"))));
        assert_eq!(owner_of(&ObjectMeta::default()), None);
    }
}

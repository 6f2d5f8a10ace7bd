//! `ScheduleBackups`: the store's Backups by the BackupSchedule that owns them (snapshots and log backups apart),
//! kept as the store changes, so the invariants read a schedule's Backups without a lookup per Backup.

use operator::api::Backup;
use operator::api::log_backup::is_log;
use operator::cluster::ObjectKey;
use std::collections::BTreeMap;

use crate::lookup::Lookup;
use crate::object::Obj;

/// The uid of the BackupSchedule that owns the object with metadata `meta` (a Backup, a CompactBackup), if any: its
/// first ownerReference of that kind.
pub fn schedule_owner_uid(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Option<&str> {
    meta.owner_references.as_ref()?.iter().find(|r| r.kind == "BackupSchedule").map(|r| r.uid.as_str())
}

/// Schedule uid -> its Backups by key (namespace, then name: the order of the store's owner index), the objects
/// themselves shared with the store.
type BySchedule = Lookup<String, BTreeMap<ObjectKey, Obj>>;

#[derive(Clone, Debug, Default)]
pub struct ScheduleBackups {
    snapshots: BySchedule,
    logs: BySchedule,
}

/// Where a Backup is filed: its schedule's uid and whether it is a log backup (`None`: no schedule owns it).
fn slot(obj: &Obj) -> Option<(&str, bool)> {
    let b = obj.view::<Backup>()?;
    Some((schedule_owner_uid(&b.metadata)?, is_log(&b.spec)))
}

impl ScheduleBackups {
    fn of(&mut self, log: bool) -> &mut BySchedule {
        if log { &mut self.logs } else { &mut self.snapshots }
    }

    /// The store replaced `old` by `new` under `key` (either may be absent; objects of other kinds are ignored).
    pub fn stored(&mut self, key: &ObjectKey, old: Option<&Obj>, new: Option<&Obj>) {
        let (was, now) = (old.and_then(slot), new.and_then(slot));
        if let (Some(was), Some(now), Some(new)) = (was, now, new)
            && was == now
            && let Some(entry) = self.of(now.1).get_mut(now.0).and_then(|m| m.get_mut(key))
        {
            // A write that keeps the Backup's schedule (nearly all): the entry is there, only its object changes.
            *entry = new.clone();
            return;
        }
        if let Some((uid, log)) = was {
            let by = self.of(log);
            if let Some(backups) = by.get_mut(uid) {
                backups.remove(key);
                if backups.is_empty() {
                    by.remove(uid);
                }
            }
        }
        if let (Some((uid, log)), Some(new)) = (now, new) {
            let by = self.of(log);
            let backups = match by.get_mut(uid) {
                Some(backups) => backups,
                None => by.or_default(uid.to_string()),
            };
            backups.insert(key.clone(), new.clone());
        }
    }

    /// The snapshot Backups owned by the schedule with `uid`, by key.
    pub fn snapshots<'a>(&'a self, uid: &str) -> impl Iterator<Item = &'a Backup> + use<'a> {
        Self::owned(&self.snapshots, uid)
    }

    /// The log backups owned by the schedule with `uid` (one, unless something went wrong), by key.
    pub fn logs<'a>(&'a self, uid: &str) -> impl Iterator<Item = &'a Backup> + use<'a> {
        Self::owned(&self.logs, uid)
    }

    fn owned<'a>(by: &'a BySchedule, uid: &str) -> impl Iterator<Item = &'a Backup> + use<'a> {
        by.get(uid).into_iter().flat_map(|m| m.values()).filter_map(|o| o.view::<Backup>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn backup(name: &str, schedule: Option<&str>, log: bool) -> Obj {
        let mut b = Backup::new(name, Default::default());
        b.metadata.namespace = Some("ns".into());
        b.metadata.owner_references = schedule
            .map(|uid| vec![OwnerReference { kind: "BackupSchedule".into(), uid: uid.into(), ..Default::default() }]);
        if log {
            b.spec.backup_mode = Some("log".into());
        }
        Obj::wrap(b)
    }

    fn names<'a>(it: impl Iterator<Item = &'a Backup>) -> Vec<&'a str> {
        it.filter_map(|b| b.metadata.name.as_deref()).collect()
    }

    #[test]
    fn files_each_backup_under_its_schedule_in_key_order_and_follows_owner_changes_and_removals() {
        let mut index = ScheduleBackups::default();
        let key = |n: &str| ObjectKey::new("ns", n);
        for (name, log) in [("b", false), ("a", false), ("log", true)] {
            index.stored(&key(name), None, Some(&backup(name, Some("s1"), log)));
        }
        index.stored(&key("mine"), None, Some(&backup("mine", None, false)));
        assert_eq!(names(index.snapshots("s1")), ["a", "b"], "by key, log backups and unowned ones apart");
        assert_eq!(names(index.logs("s1")), ["log"]);

        let moved = backup("a", Some("s2"), false);
        index.stored(&key("a"), Some(&backup("a", Some("s1"), false)), Some(&moved));
        assert_eq!(names(index.snapshots("s1")), ["b"], "a Backup given to another schedule leaves the first");
        assert_eq!(names(index.snapshots("s2")), ["a"]);

        index.stored(&key("b"), Some(&backup("b", Some("s1"), false)), None);
        index.stored(&key("a"), Some(&moved), None);
        assert_eq!(names(index.snapshots("s1")), Vec::<&str>::new(), "removed");
        assert!(index.snapshots.get("s2").is_none(), "an emptied schedule is forgotten");
    }

    #[test]
    fn a_write_that_keeps_the_schedule_replaces_the_object_in_place() {
        let mut index = ScheduleBackups::default();
        let key = ObjectKey::new("ns", "a");
        let old = backup("a", Some("s1"), false);
        index.stored(&key, None, Some(&old));
        let mut newer = (*old.get::<Backup>().expect("a Backup")).clone();
        newer.metadata.resource_version = Some("7".into());
        index.stored(&key, Some(&old), Some(&Obj::wrap(newer)));
        let rvs: Vec<_> = index.snapshots("s1").map(|b| b.metadata.resource_version.clone()).collect();
        assert_eq!(rvs, [Some("7".to_string())]);
    }
}

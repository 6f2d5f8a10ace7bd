//! `no-lost-data`: every Complete Backup that exists (and is not being deleted) has its data in storage.

use operator::api::{Backup, BackupPhase};
use operator::cluster::{Kind, ObjectKey};
use std::collections::BTreeSet;

use super::{Ctx, Family, Hook, data_url};
use crate::scenario::model::InvariantId;
use crate::world::{Change, ChangeType};

#[derive(Default)]
pub struct NoLostData {
    /// (data directory `url/`, Backup) of every Complete Backup that exists and is not being deleted (Backups may
    /// share a directory).
    kept: BTreeSet<(String, ObjectKey)>,
}

/// The data directory (`url/`) under which `b` keeps data that must exist: it is Complete and not being deleted.
fn kept_dir(b: &Backup) -> Option<String> {
    if b.phase() != Some(BackupPhase::Complete) || b.metadata.deletion_timestamp.is_some() {
        return None;
    }
    data_url(b).map(|u| format!("{u}/"))
}

impl NoLostData {
    /// Keeps `kept` in step with a Backup change (so a storage delete looks up only the Backups under it). `kept`
    /// holds a Backup exactly while its latest state keeps data, so a change that keeps none before or after (most:
    /// the status writes of a Backup at work) has nothing to do.
    fn track(&mut self, change: &Change) {
        let Some(b) = change.obj.view::<Backup>() else { return };
        let before = change.old.as_ref().and_then(|o| o.get::<Backup>()).and_then(|o| kept_dir(&o));
        let after = if change.type_ == ChangeType::Deleted { None } else { kept_dir(b) };
        if before == after {
            return;
        }
        let key = ObjectKey::of(b);
        if let Some(dir) = before {
            self.kept.remove(&(dir, key.clone()));
        }
        if let Some(dir) = after {
            self.kept.insert((dir, key));
        }
    }
}

impl Family for NoLostData {
    fn id(&self) -> InvariantId {
        InvariantId::NoLostData
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Change, Hook::StorageDelete]
    }

    fn on_change(&mut self, ctx: &Ctx, change: &Change) -> Vec<String> {
        if change.obj.kind() != Kind::Backup {
            return Vec::new();
        }
        self.track(change);
        if change.type_ != ChangeType::Modified {
            return Vec::new();
        }
        let Some(b) = change.obj.view::<Backup>() else { return Vec::new() };
        let was_complete = change
            .old
            .as_ref()
            .and_then(|o| o.get::<Backup>())
            .is_some_and(|o| o.phase() == Some(BackupPhase::Complete));
        if b.phase() != Some(BackupPhase::Complete) || was_complete {
            return Vec::new();
        }
        let Some(url) = data_url(b) else { return Vec::new() };
        if ctx.storage.contains(&format!("{url}/backupmeta")) {
            Vec::new()
        } else {
            vec![format!("Backup {} became Complete but {url}/backupmeta does not exist", change.obj.key())]
        }
    }

    fn on_storage_delete(&mut self, _ctx: &Ctx, url: &str) -> Vec<String> {
        let dir = format!("{}/", url.trim_end_matches('/'));
        let from = (dir.clone(), ObjectKey::default());
        let mut hit: Vec<(&ObjectKey, &String)> =
            self.kept.range(from..).take_while(|(d, _)| d.starts_with(&dir)).map(|(d, k)| (k, d)).collect();
        hit.sort();
        hit.into_iter()
            .map(|(key, d)| {
                format!(
                    "the data of Complete Backup {key} at {} was deleted while it still exists",
                    d.trim_end_matches('/')
                )
            })
            .collect()
    }
}

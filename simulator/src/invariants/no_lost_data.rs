//! `no-lost-data`: every Complete Backup that exists (and is not being deleted) has its data in storage.

use operator::api::{Backup, BackupPhase};
use operator::cluster::{Kind, ObjectKey};
use std::collections::BTreeSet;

use super::{Ctx, Family, data_url};
use crate::scenario::model::InvariantId;
use crate::world::{Change, ChangeType};

#[derive(Default)]
pub struct NoLostData {
    /// (data directory `url/`, Backup) of every Complete Backup that exists and is not being deleted (Backups may
    /// share a directory).
    kept: BTreeSet<(String, ObjectKey)>,
}

impl NoLostData {
    /// Keeps `kept` in step with a Backup change (so a storage delete looks up only the Backups under it).
    fn track(&mut self, change: &Change) {
        let Some(b) = change.obj.get::<Backup>() else { return };
        let key = ObjectKey::of(&*b);
        let old_dir = change.old.as_ref().and_then(|o| o.get::<Backup>()).and_then(|o| data_url(&o));
        if let Some(dir) = old_dir {
            self.kept.remove(&(format!("{dir}/"), key.clone()));
        }
        let keep = change.type_ != ChangeType::Deleted
            && b.phase() == Some(BackupPhase::Complete)
            && b.metadata.deletion_timestamp.is_none();
        match data_url(&b).map(|u| format!("{u}/")) {
            Some(dir) if keep => {
                self.kept.insert((dir, key));
            }
            Some(dir) => {
                self.kept.remove(&(dir, key));
            }
            None => {}
        }
    }
}

impl Family for NoLostData {
    fn id(&self) -> InvariantId {
        InvariantId::NoLostData
    }

    fn on_change(&mut self, ctx: &Ctx, change: &Change) -> Vec<String> {
        if change.obj.kind() != Kind::Backup {
            return Vec::new();
        }
        self.track(change);
        if change.type_ != ChangeType::Modified {
            return Vec::new();
        }
        let Some(b) = change.obj.get::<Backup>() else { return Vec::new() };
        let was_complete = change
            .old
            .as_ref()
            .and_then(|o| o.get::<Backup>())
            .is_some_and(|o| o.phase() == Some(BackupPhase::Complete));
        if b.phase() != Some(BackupPhase::Complete) || was_complete {
            return Vec::new();
        }
        let Some(url) = data_url(&b) else { return Vec::new() };
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

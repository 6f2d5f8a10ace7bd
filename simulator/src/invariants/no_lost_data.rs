//! `no-lost-data`: every Complete Backup that exists (and is not being deleted) has its data in storage.

use operator::api::{Backup, BackupPhase};
use operator::cluster::Kind;

use super::{Ctx, Family, data_url};
use crate::scenario::model::InvariantId;
use crate::world::{Change, ChangeType};

pub struct NoLostData;

impl Family for NoLostData {
    fn id(&self) -> InvariantId {
        InvariantId::NoLostData
    }

    fn on_change(&mut self, ctx: &Ctx, change: &Change) -> Vec<String> {
        if change.obj.kind() != Kind::Backup || change.type_ != ChangeType::Modified {
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

    fn on_storage_delete(&mut self, ctx: &Ctx, url: &str) -> Vec<String> {
        let dir = format!("{}/", url.trim_end_matches('/'));
        ctx.world
            .iter_kind(Kind::Backup)
            .filter_map(|o| o.get::<Backup>())
            .filter(|b| b.phase() == Some(BackupPhase::Complete) && b.metadata.deletion_timestamp.is_none())
            .filter(|b| data_url(b).is_some_and(|u| format!("{u}/").starts_with(&dir)))
            .map(|b| {
                format!(
                    "the data of Complete Backup {} at {} was deleted while it still exists",
                    operator::cluster::ObjectKey::of(&*b),
                    data_url(&b).unwrap_or_default()
                )
            })
            .collect()
    }
}

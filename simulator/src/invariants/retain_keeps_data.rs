//! `retain-keeps-data`: the operator never deletes the data of a Backup whose clean policy keeps it (`Retain`, or
//! `OnFailure` for a Backup that did not fail), before or after the Backup itself is deleted. A user's own wipe of
//! storage is not the operator's doing and is not judged.

use operator::api::Backup;
use operator::cluster::{Kind, ObjectKey};
use std::collections::BTreeMap;

use super::no_orphan_data::must_clean;
use super::{Ctx, Family, Hook, data_url};
use crate::scenario::model::InvariantId;
use crate::world::Change;

#[derive(Default)]
pub struct RetainKeepsData {
    /// Every Backup seen whose policy (as last seen) keeps its data: key -> data URL.
    kept: BTreeMap<ObjectKey, String>,
}

impl Family for RetainKeepsData {
    fn id(&self) -> InvariantId {
        InvariantId::RetainKeepsData
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Change, Hook::StorageDelete]
    }

    fn on_change(&mut self, _ctx: &Ctx, change: &Change) -> Vec<String> {
        if change.obj.kind() != Kind::Backup {
            return Vec::new();
        }
        let Some(b) = change.obj.view::<Backup>() else { return Vec::new() };
        let key = ObjectKey::of(b);
        // The policy first: most Backups' data goes with them, and then the URL is not needed.
        match if must_clean(b) { None } else { data_url(b) } {
            Some(url) => self.kept.insert(key, url),
            None => self.kept.remove(&key),
        };
        Vec::new()
    }

    fn on_storage_delete(&mut self, ctx: &Ctx, url: &str) -> Vec<String> {
        if ctx.actor == "user" {
            return Vec::new();
        }
        let dir = format!("{}/", url.trim_end_matches('/'));
        self.kept
            .iter()
            .filter(|(_, u)| format!("{u}/").starts_with(&dir))
            .map(|(key, u)| {
                let state = if ctx.world.get(Kind::Backup, key).is_some() { "exists" } else { "was deleted" };
                format!("the data of Backup {key} at {u} was deleted by {}, but its clean policy keeps it (the Backup {state})", ctx.actor)
            })
            .collect()
    }
}

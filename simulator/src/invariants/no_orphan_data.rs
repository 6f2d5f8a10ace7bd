//! `no-orphan-data`: after the faults heal, no data remains for deleted Backups whose clean policy says delete.

use operator::api::condition::find_condition;
use operator::api::{Backup, BackupPhase, CleanPolicy};
use operator::cluster::Kind;
use std::collections::BTreeMap;

use super::{Ctx, Family, Hook, Liveness, data_url};
use crate::scenario::model::InvariantId;
use crate::time::SimTime;
use crate::world::{Change, ChangeType};

#[derive(Default)]
pub struct NoOrphanData {
    /// Deleted Backups whose data had to go: name -> (url, removed at).
    doomed: BTreeMap<String, (String, SimTime)>,
}

/// Whether `b`'s clean policy says its data goes with it (Delete; OnFailure once it failed).
pub(super) fn must_clean(b: &Backup) -> bool {
    let failed = || {
        b.phase() == Some(BackupPhase::Failed)
            || b.status.as_ref().is_some_and(|s| find_condition(&s.conditions, "Failed").is_some())
    };
    match b.spec.clean_policy() {
        CleanPolicy::Delete => true,
        CleanPolicy::OnFailure => failed(),
        CleanPolicy::Retain => false,
    }
}

impl Family for NoOrphanData {
    fn id(&self) -> InvariantId {
        InvariantId::NoOrphanData
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Change]
    }

    fn on_change(&mut self, ctx: &Ctx, change: &Change) -> Vec<String> {
        if change.obj.kind() == Kind::Backup
            && change.type_ == ChangeType::Deleted
            && let Some(b) = change.obj.view::<Backup>()
            && must_clean(b)
            // In a namespace being deleted the clean Job cannot be created: the data is retained by design, and
            // the operator reports where (CleanSkipped).
            && !ctx.world.namespace_deleted(&change.obj.key().namespace)
            && let Some(url) = data_url(b)
        {
            self.doomed.insert(change.obj.key().to_string(), (url, change.time));
        }
        Vec::new()
    }

    fn at_end(&mut self, ctx: &Ctx, liveness: Option<Liveness>) -> Vec<String> {
        if liveness.is_none() {
            return Vec::new();
        }
        self.doomed
            .iter()
            .filter(|(_, (url, _))| ctx.storage.under(url).next().is_some())
            .map(|(name, (url, at))| {
                format!(
                    "data remains under {url}/ for Backup {name}, deleted at {at} with a clean policy that deletes it"
                )
            })
            .collect()
    }
}

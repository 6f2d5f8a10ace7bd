//! `no-overlap`: at most one Backup of a schedule is unfinished (not Complete or Failed) at any time.

use operator::api::Backup;
use operator::cluster::Kind;
use std::collections::BTreeSet;

use super::{Ctx, Family, Hook, owner_uid, schedule_backups, unfinished};
use crate::scenario::model::InvariantId;
use crate::world::{Change, ChangeType};

#[derive(Default)]
pub struct NoOverlap {
    /// Pairs already reported (each overlap once).
    reported: BTreeSet<(String, String)>,
}

impl Family for NoOverlap {
    fn id(&self) -> InvariantId {
        InvariantId::NoOverlap
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Change]
    }

    fn on_change(&mut self, ctx: &Ctx, change: &Change) -> Vec<String> {
        if change.obj.kind() != Kind::Backup || change.type_ == ChangeType::Deleted {
            return Vec::new();
        }
        let Some(b) = change.obj.view::<Backup>() else { return Vec::new() };
        if !unfinished(b) {
            return Vec::new();
        }
        let Some(uid) = owner_uid(b) else { return Vec::new() };
        // One unfinished Backup (this one) is the rule kept: nothing is copied unless another runs beside it.
        let mut running: Vec<&str> = schedule_backups(ctx.world, uid)
            .into_iter()
            .filter(|x| unfinished(x))
            .filter_map(|x| x.metadata.name.as_deref())
            .collect();
        if running.len() < 2 {
            return Vec::new();
        }
        running.sort_unstable();
        let pair = (running[running.len() - 2].to_string(), running[running.len() - 1].to_string());
        if !self.reported.insert(pair) {
            return Vec::new();
        }
        let ns = b.metadata.namespace.clone().unwrap_or_default();
        let schedule = b
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|r| r.kind == "BackupSchedule")
            .map(|r| r.name.clone())
            .unwrap_or_default();
        vec![format!(
            "BackupSchedule {ns}/{schedule} has {} unfinished Backups at once: {}",
            running.len(),
            running.join(", ")
        )]
    }
}

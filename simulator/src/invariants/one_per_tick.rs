//! `one-backup-per-tick`: every schedule Backup belongs to a distinct cron tick that had elapsed when it was created.
//!
//! The tick is the Backup's `pingcap.com/scheduled-time` annotation when it has one, else the latest tick at or
//! before its creation (controllers that do not record the tick, like TiDB Operator's).

use chrono::DateTime;
use operator::api::cron::CronSchedule;
use operator::api::{Backup, labels};
use operator::cluster::Kind;
use std::collections::BTreeMap;

use super::{Ctx, Family, Hook, created, schedule_of};
use crate::scenario::model::InvariantId;
use crate::time::SimTime;
use crate::world::{Change, ChangeType};

#[derive(Default)]
pub struct OnePerTick {
    /// (schedule uid, tick) -> the Backup created for it.
    ticks: BTreeMap<(String, SimTime), String>,
}

impl Family for OnePerTick {
    fn id(&self) -> InvariantId {
        InvariantId::OneBackupPerTick
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Change]
    }

    fn on_change(&mut self, ctx: &Ctx, change: &Change) -> Vec<String> {
        if change.obj.kind() != Kind::Backup || change.type_ != ChangeType::Added {
            return Vec::new();
        }
        let Some(b) = change.obj.view::<Backup>() else { return Vec::new() };
        let Some(schedule) = schedule_of(ctx.world, b) else { return Vec::new() };
        let Ok(cron) = CronSchedule::of(&schedule) else {
            return Vec::new();
        };
        let born = created(&b.metadata);
        let name = b.metadata.name.clone().unwrap_or_default();
        let annotated = b
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(labels::SCHEDULED_TIME))
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok());
        let tick = match annotated {
            Some(t) => SimTime::from_utc(t.to_utc()),
            None => match cron.tick_at_or_before(born.plus(std::time::Duration::from_millis(999)).to_utc()) {
                Some(t) => SimTime::from_utc(t),
                None => return vec![format!("Backup {name} was created at {born}, before its schedule's first tick")],
            },
        };
        let mut found = Vec::new();
        // creationTimestamp is whole seconds: allow the sub-second it drops.
        if tick > born.plus(std::time::Duration::from_millis(999)) {
            found.push(format!("Backup {name} is for the tick {tick}, which had not elapsed at its creation ({born})"));
        }
        let uid = schedule.metadata.uid.clone().unwrap_or_default();
        if let Some(other) = self.ticks.insert((uid, tick), name.clone()) {
            found.push(format!("Backups {other} and {name} were both created for the tick {tick}"));
        }
        found
    }
}

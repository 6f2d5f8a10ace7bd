//! `retention-safety`: the schedule's garbage collection never deletes a Backup younger than `maxReservedTime`,
//! never more than `maxBackups` asks, never the newest Complete one, never one that has not finished, and never
//! one that no schedule owns.
//!
//! Judged at the moment a deletion by the schedule controller starts, against the world as it was just before.

use operator::api::duration::{format_duration, parse_duration};
use operator::api::{Backup, BackupPhase};
use operator::cluster::Kind;

use super::{Ctx, Family, created, owner_uid, schedule_backups, schedule_of, unfinished};
use crate::controller_id::ControllerId;
use crate::scenario::model::InvariantId;
use crate::world::{Change, ChangeType};

pub struct RetentionSafety;

impl Family for RetentionSafety {
    fn id(&self) -> InvariantId {
        InvariantId::RetentionSafety
    }

    fn on_change(&mut self, ctx: &Ctx, change: &Change) -> Vec<String> {
        let collector = ctx.actor == ControllerId::Schedule.as_str();
        if change.obj.kind() != Kind::Backup || !(collector || ctx.actor == "operator") {
            return Vec::new();
        }
        let Some(old) = change.old.as_ref().and_then(|o| o.get::<Backup>()) else { return Vec::new() };
        let Some(new) = change.obj.get::<Backup>() else { return Vec::new() };
        let deletion_started = old.metadata.deletion_timestamp.is_none()
            && (change.type_ == ChangeType::Deleted || new.metadata.deletion_timestamp.is_some());
        if !deletion_started {
            return Vec::new();
        }
        let name = old.metadata.name.clone().unwrap_or_default();
        // Served runs know only "operator" for whatever client deletes (a user's kubectl too): the two rules about
        // which Backups collection may pick at all are judged where the schedule controller is known.
        if collector && owner_uid(&old).is_none() {
            return vec![format!("deleted Backup {name}, which no schedule owns")];
        }
        let Some(schedule) = schedule_of(ctx.world, &old) else { return Vec::new() };
        if collector && unfinished(&old) {
            return vec![format!(
                "deleted Backup {name} before it finished (phase {})",
                old.phase().map(|p| p.to_string()).unwrap_or_else(|| "none".into())
            )];
        }
        let age = ctx.now.since(created(&old.metadata));
        let mut found = Vec::new();
        let max_age = schedule.spec.max_reserved_time.as_deref().and_then(|s| parse_duration(s).ok());
        if let Some(max_age) = max_age
            && age < max_age
        {
            found.push(format!(
                "deleted Backup {name} aged {}, younger than maxReservedTime {}",
                format_duration(age),
                format_duration(max_age)
            ));
        }
        // The others as they stand now (this deletion applied), plus this one as it was.
        let uid = schedule.metadata.uid.clone().unwrap_or_default();
        let others: Vec<_> =
            schedule_backups(ctx.world, &uid).into_iter().filter(|b| b.metadata.name != old.metadata.name).collect();
        let newer_complete = others.iter().any(|b| {
            b.metadata.deletion_timestamp.is_none()
                && b.phase() == Some(BackupPhase::Complete)
                && (created(&b.metadata), b.metadata.name.clone()) > (created(&old.metadata), old.metadata.name.clone())
        });
        if old.phase() == Some(BackupPhase::Complete) && !newer_complete {
            found.push(format!("deleted Backup {name}, the newest Complete Backup of its schedule"));
        }
        if max_age.is_none()
            && let Some(max) = schedule.spec.max_backups.filter(|n| *n > 0)
        {
            let remaining = others.iter().filter(|b| b.metadata.deletion_timestamp.is_none()).count();
            if remaining < max as usize {
                found.push(format!("deleted Backup {name}, leaving {remaining} Backups where maxBackups is {max}"));
            }
        }
        found
    }
}

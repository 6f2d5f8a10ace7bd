//! `pause-respected`: no schedule creates a Backup while it is paused. A create already on the wire when the pause
//! lands (within a few API round trips of it) is a race every controller has, not a violation.

use operator::api::{Backup, BackupSchedule};
use operator::cluster::{Kind, ObjectKey};
use std::collections::BTreeMap;
use std::time::Duration;

use super::{Ctx, Family, Hook, owner_uid};
use crate::scenario::model::{InvariantId, Scenario};
use crate::time::SimTime;
use crate::world::{Change, ChangeType};

pub struct PauseRespected {
    /// Paused schedules by uid: (key, paused since).
    paused: BTreeMap<String, (ObjectKey, SimTime)>,
    /// How long after a pause a create may still land: a read, a decision and a write in flight.
    slack: Duration,
}

impl PauseRespected {
    pub fn new(scenario: &Scenario) -> Self {
        PauseRespected { paused: BTreeMap::new(), slack: scenario.timing.api_latency.hi * 4 }
    }
}

impl Family for PauseRespected {
    fn id(&self) -> InvariantId {
        InvariantId::PauseRespected
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Change]
    }

    fn on_change(&mut self, _ctx: &Ctx, change: &Change) -> Vec<String> {
        if let Some(s) = change.obj.view::<BackupSchedule>() {
            let uid = s.metadata.uid.clone().unwrap_or_default();
            if s.paused() && change.type_ != ChangeType::Deleted {
                self.paused.entry(uid).or_insert((ObjectKey::of(s), change.time));
            } else {
                self.paused.remove(&uid);
            }
            return Vec::new();
        }
        if change.obj.kind() != Kind::Backup || change.type_ != ChangeType::Added {
            return Vec::new();
        }
        let Some(b) = change.obj.view::<Backup>() else { return Vec::new() };
        let Some((schedule, since)) = owner_uid(b).and_then(|uid| self.paused.get(uid)) else { return Vec::new() };
        if change.time.since(*since) <= self.slack {
            return Vec::new();
        }
        vec![format!(
            "Backup {} was created at {} while BackupSchedule {schedule} was paused (since {since})",
            ObjectKey::of(b),
            change.time
        )]
    }
}

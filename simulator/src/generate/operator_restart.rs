//! The operator process restarts: once, a few times, or right after one of its writes lands.

use operator::cluster::{Kind, Verb};
use std::time::Duration;

use super::{Action, Draft};
use crate::scenario::model::{Area, FaultKind};

pub const ACTION: Action = Action { name: "operator-restart", area: Area::Faults, weight: 2, draw };

fn draw(d: &mut Draft) {
    let (from, until) = d.window(Duration::from_secs(600), Duration::from_secs(3 * 3600));
    let kind = match d.number(0, 2) {
        0 => FaultKind::OperatorRestart { at: vec![from], every: None, after_write: None, times: None },
        1 => {
            let every = crate::scenario::model::Span::secs(300, 1800);
            FaultKind::OperatorRestart { at: vec![], every: Some(every), after_write: None, times: Some(3) }
        }
        _ => {
            let write = d.pick(&[
                (Verb::Create, Kind::Backup),
                (Verb::UpdateStatus, Kind::BackupSchedule),
                (Verb::Create, Kind::Job),
            ]);
            FaultKind::OperatorRestart { at: vec![], every: None, after_write: Some(write), times: Some(1) }
        }
    };
    d.fault(kind, from, until);
}

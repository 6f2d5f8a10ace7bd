//! The backup tool fails every attempt for a while (a broken cluster, revoked credentials).

use std::time::Duration;

use super::{Action, Draft};
use crate::scenario::model::{Area, FailMode, FaultKind, JobRole};

pub const ACTION: Action = Action { name: "tool-fails", area: Area::Cluster, weight: 2, draw };

fn draw(d: &mut Draft) {
    let (from, until) = d.window(Duration::from_secs(600), Duration::from_secs(3 * 3600));
    let jobs = d.pick(&[vec![JobRole::Backup], vec![JobRole::Clean], vec![]]);
    d.fault(FaultKind::PodFailures { jobs, rate: 1.0, mode: FailMode::Fail }, from, until);
}

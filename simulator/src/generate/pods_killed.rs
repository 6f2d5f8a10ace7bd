//! Pods are killed part way (OOM, a node lost) for a while, some or all of them.

use std::time::Duration;

use super::{Action, Draft};
use crate::scenario::model::{Area, FailMode, FaultKind, JobRole};

pub const ACTION: Action = Action { name: "pods-killed", area: Area::Cluster, weight: 2, draw };

fn draw(d: &mut Draft) {
    let (from, until) = d.window(Duration::from_secs(600), Duration::from_secs(3 * 3600));
    let rate = d.pick(&[0.3, 0.6, 1.0]);
    d.fault(FaultKind::PodFailures { jobs: vec![JobRole::Backup], rate, mode: FailMode::Kill }, from, until);
}

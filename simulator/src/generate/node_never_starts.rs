//! A node that never starts pods for a while: Job pods stay in ContainerCreating (or ImagePullBackOff).

use std::time::Duration;

use super::{Action, Draft};
use crate::scenario::model::{Area, FaultKind, JobRole, StuckState};

pub const ACTION: Action = Action { name: "node-never-starts", area: Area::Cluster, weight: 2, draw };

fn draw(d: &mut Draft) {
    let (from, until) = d.window(Duration::from_secs(300), Duration::from_secs(3 * 3600));
    let jobs = d.pick(&[vec![], vec![JobRole::Backup], vec![JobRole::Clean]]);
    let state = d.pick(&[StuckState::ContainerCreating, StuckState::ImagePullBackOff]);
    d.fault(FaultKind::PodsStuck { jobs, state }, from, until);
}

//! A user deletes the storage Secret the Jobs read their credentials from, and restores it later: until then every
//! Job pod stays in CreateContainerConfigError, as the kubelet leaves pods whose Secret is missing.

use std::time::Duration;

use super::{Action, Draft};
use crate::scenario::model::{Area, FaultKind, JobRole, StuckState};

pub const ACTION: Action = Action { name: "secret-missing", area: Area::Cluster, weight: 1, draw };

fn draw(d: &mut Draft) {
    let (from, until) = d.window(Duration::from_secs(600), Duration::from_secs(4 * 3600));
    let jobs = vec![JobRole::Backup, JobRole::Restore, JobRole::Clean];
    d.fault(FaultKind::PodsStuck { jobs, state: StuckState::CreateContainerConfigError }, from, until);
}

//! The namespace's ResourceQuota on Backups is exhausted for a while: every Backup create is refused (`Forbidden`).

use operator::cluster::{Kind, Verb};
use std::time::Duration;

use super::{Action, Draft};
use crate::scenario::model::{ApiActors, ApiErrorKind, Area, FaultKind};

pub const ACTION: Action = Action { name: "creates-refused", area: Area::Cluster, weight: 2, draw };

fn draw(d: &mut Draft) {
    let (from, until) = d.window(Duration::from_secs(600), Duration::from_secs(4 * 3600));
    let kind = FaultKind::ApiErrors {
        verbs: vec![Verb::Create],
        kinds: vec![Kind::Backup],
        actors: ApiActors::Operator,
        rate: 1.0,
        error: ApiErrorKind::Forbidden,
    };
    d.fault(kind, from, until);
}

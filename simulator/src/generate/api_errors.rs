//! The API server answers some of the operator's requests with conflicts and timeouts for a while.

use std::time::Duration;

use super::{Action, Draft};
use crate::scenario::model::{ApiActors, ApiErrorKind, Area, FaultKind};

pub const ACTION: Action = Action { name: "api-errors", area: Area::Faults, weight: 2, draw };

fn draw(d: &mut Draft) {
    let (from, until) = d.window(Duration::from_secs(300), Duration::from_secs(2 * 3600));
    let rate = d.pick(&[0.05, 0.2, 0.5]);
    let actors = d.pick(&[ApiActors::Operator, ApiActors::Both]);
    let kind = FaultKind::ApiErrors { verbs: vec![], kinds: vec![], actors, rate, error: ApiErrorKind::Mixed };
    d.fault(kind, from, until);
}

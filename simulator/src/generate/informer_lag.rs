//! One of the operator's informers lags for a while (a slow API server, a big relist).

use std::time::Duration;

use super::{Action, Draft};
use crate::controller_id::ControllerId;
use crate::scenario::model::{Area, FaultKind, Span};

pub const ACTION: Action = Action { name: "informer-lag", area: Area::Faults, weight: 2, draw };

fn draw(d: &mut Draft) {
    let (from, until) = d.window(Duration::from_secs(600), Duration::from_secs(4 * 3600));
    let controller = d.chance(0.7).then(|| d.pick(&ControllerId::ALL));
    let hi = d.pick(&[5u64, 30, 120, 600]);
    let delay = Span::secs(0, hi);
    d.fault(FaultKind::InformerLag { controller, kinds: vec![], delay }, from, until);
}

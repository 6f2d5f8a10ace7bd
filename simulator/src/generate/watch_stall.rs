//! One of the operator's watches stalls for a while, then relists.

use std::time::Duration;

use super::{Action, Draft};
use crate::controller_id::ControllerId;
use crate::scenario::model::{Area, FaultKind};

pub const ACTION: Action = Action { name: "watch-stall", area: Area::Faults, weight: 1, draw };

fn draw(d: &mut Draft) {
    let (from, until) = d.window(Duration::from_secs(60), Duration::from_secs(3600));
    let controller = Some(d.pick(&ControllerId::ALL));
    d.fault(FaultKind::WatchStall { controller, kinds: vec![] }, from, until);
}

//! A big cluster: its backups take from twenty minutes to two hours (for the whole run; a property of the world,
//! not a window).

use std::time::Duration;

use super::{Action, Draft};
use crate::scenario::model::{Area, Span};

pub const ACTION: Action = Action { name: "slow-backups", area: Area::Cluster, weight: 1, draw };

fn draw(d: &mut Draft) {
    let hi = d.duration(Duration::from_secs(40 * 60), Duration::from_secs(2 * 3600));
    d.backup_time = Some(Span { lo: Duration::from_secs(20 * 60), hi });
}

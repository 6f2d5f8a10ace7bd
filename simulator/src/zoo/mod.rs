//! The bug zoo: faithful re-implementations of known-buggy controller logic, each written from the public
//! description of its bug, run on the same simulated world as the real controllers. Each has a scenario under
//! `scenarios/zoo/` that must catch it, and the operator must pass the same scenario.

pub mod tidb_v1_schedule_reset;

use operator::controllers::Action;
use std::future::Future;
use std::pin::Pin;

use crate::client::SimClient;
use crate::object::Obj;

/// One zoo entry.
pub struct ZooEntry {
    /// The name scenarios use in `controllers:`.
    pub name: &'static str,
    /// Where the bug is described.
    pub source: &'static str,
    pub summary: &'static str,
}

/// Every entry, in a fixed order (their index is their id).
pub const ENTRIES: &[ZooEntry] = &[ZooEntry {
    name: "tidb-v1-schedule-reset",
    source: "shared/seeds/003_0c552e2ffc67f06d.txt; pingcap/tidb-operator issue 4220",
    summary: "TiDB Operator v1's schedule controller: GC from a stale cache resets status.lastBackup",
}];

/// The entry named `name`.
pub fn find(name: &str) -> Option<usize> {
    ENTRIES.iter().position(|e| e.name == name)
}

/// The names, for error messages.
pub fn names() -> Vec<&'static str> {
    ENTRIES.iter().map(|e| e.name).collect()
}

/// Runs entry `index`'s schedule reconcile for `obj`.
pub fn reconcile(index: usize, client: SimClient, obj: Obj) -> Pin<Box<dyn Future<Output = Result<Action, String>>>> {
    match index {
        0 => Box::pin(async move {
            let schedule = obj.get().expect("the schedule controller reconciles BackupSchedules");
            tidb_v1_schedule_reset::sync(&client, schedule).await
        }),
        _ => unreachable!("zoo indices come from find()"),
    }
}

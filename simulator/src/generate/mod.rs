//! Generated workloads: a seed draws a sequence of timed actions (what users and the cluster do) over the scenario's
//! objects and new ones, and they become ordinary `steps` and `faults`, so a generated run replays, shrinks and
//! reads like a hand-written scenario. The vocabulary is [`VOCABULARY`]; each action is one file.

mod draft;

mod api_errors;
mod backup_by_hand;
mod create_schedule;
mod creates_refused;
mod delete_job;
mod delete_namespace;
mod delete_schedule;
mod delete_tick_backup;
mod edit_schedule;
mod informer_lag;
mod invalid_backup;
mod invalid_then_fixed;
mod log_backup;
mod node_never_starts;
mod operator_restart;
mod pause_window;
mod pitr_restore;
mod pods_killed;
mod restore_by_hand;
mod secret_missing;
mod slow_backups;
mod tick_name_taken;
mod tool_fails;
mod watch_stall;

pub use draft::{Draft, Known, NAMESPACE};

use std::borrow::Cow;

use crate::rng::WorldRng;
use crate::scenario::model::{Area, Scenario, Workload};

/// One kind of action: its name, the area it belongs to, how often it is drawn relative to the others, and the
/// function that draws one (adding steps and faults to the draft).
pub struct Action {
    pub name: &'static str,
    pub area: Area,
    pub weight: u32,
    pub draw: fn(&mut Draft),
}

/// Every action the generator knows.
pub const VOCABULARY: &[Action] = &[
    create_schedule::ACTION,
    edit_schedule::ACTION,
    invalid_then_fixed::ACTION,
    pause_window::ACTION,
    delete_schedule::ACTION,
    backup_by_hand::ACTION,
    invalid_backup::ACTION,
    delete_tick_backup::ACTION,
    tick_name_taken::ACTION,
    delete_job::ACTION,
    restore_by_hand::ACTION,
    pitr_restore::ACTION,
    log_backup::ACTION,
    delete_namespace::ACTION,
    creates_refused::ACTION,
    node_never_starts::ACTION,
    secret_missing::ACTION,
    tool_fails::ACTION,
    pods_killed::ACTION,
    slow_backups::ACTION,
    informer_lag::ACTION,
    watch_stall::ACTION,
    operator_restart::ACTION,
    api_errors::ACTION,
];

/// The scenario with its workload drawn for `seed`: the generated steps follow the scenario's own (ordered by
/// time), the generated faults follow its faults, and the `workload` section is gone. Without a workload, the
/// scenario itself.
pub fn expanded(scenario: &Scenario, seed: u64) -> Cow<'_, Scenario> {
    let Some(workload) = &scenario.workload else { return Cow::Borrowed(scenario) };
    let draft = draw(scenario, workload, seed);
    let mut s = scenario.clone();
    s.workload = None;
    s.steps.extend(draft.steps);
    s.steps.sort_by_key(|step| step.at);
    s.faults.extend(draft.faults);
    if let Some(span) = draft.backup_time {
        s.timing.backup = span;
    }
    Cow::Owned(s)
}

/// Draws `workload` over `scenario` from `seed`'s `workload` streams (no other component draws from them).
fn draw(scenario: &Scenario, workload: &Workload, seed: u64) -> Draft {
    let mut d = Draft::new(scenario, &WorldRng::new(seed));
    let vocabulary: Vec<&Action> = VOCABULARY.iter().filter(|a| workload.areas.contains(&a.area)).collect();
    let needs_schedule = workload.areas.iter().any(|a| matches!(a, Area::Schedules | Area::Backups));
    if d.schedules.is_empty() && needs_schedule {
        d.action = 0;
        d.kind = create_schedule::ACTION.name;
        create_schedule::at(&mut d, std::time::Duration::ZERO);
    }
    let total: u32 = vocabulary.iter().map(|a| a.weight).sum();
    for i in 1..=workload.actions as usize {
        if total == 0 {
            break;
        }
        d.action = i;
        let mut ticket = d.number(0, i64::from(total) - 1) as u32;
        let action = vocabulary
            .iter()
            .find(|a| {
                if ticket < a.weight {
                    return true;
                }
                ticket -= a.weight;
                false
            })
            .expect("a ticket below the total weight falls on an action");
        d.kind = action.name;
        (action.draw)(&mut d);
    }
    d
}

/// The scenario `sim explore --generate` starts from when given no file: an empty world of one day in which every
/// invariant must hold, with the default workload.
pub fn base() -> Scenario {
    Scenario {
        copies: 1,
        name: "generated".into(),
        description: "A world drawn entirely from the seed by the workload generator.".into(),
        path: None,
        start: crate::scenario::default_start(),
        duration: std::time::Duration::from_secs(12 * 3600),
        seed: crate::scenario::DEFAULT_SEED,
        controllers: crate::scenario::model::Controllers::Operator,
        objects: Vec::new(),
        steps: Vec::new(),
        timing: Default::default(),
        faults: Vec::new(),
        workload: Some(Workload::default()),
        expect: crate::scenario::model::Expect {
            holds: crate::scenario::model::InvariantId::ALL.to_vec(),
            violated: Vec::new(),
            grace: crate::scenario::DEFAULT_GRACE,
            phases: Vec::new(),
            data: Vec::new(),
            api_budget: Default::default(),
        },
        operator: Default::default(),
        canary: false,
    }
}

#[cfg(test)]
mod tests;

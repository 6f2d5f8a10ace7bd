//! `bounded-api-cost`: no controller sends more than a budget of requests about one object within a window. A retry
//! storm is a bug even when the end state is right: it is load on a shared API server, and it hides a decision
//! that cannot make progress.

use operator::api::duration::format_duration;
use operator::cluster::{Kind, ObjectKey, Verb};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::{Ctx, Family};
use crate::scenario::model::{ApiBudget, InvariantId};
use crate::time::SimTime;

pub struct BoundedApiCost {
    budget: ApiBudget,
    /// (controller, kind, object) -> times of its recent requests, oldest first.
    recent: BTreeMap<(String, Kind, ObjectKey), VecDeque<SimTime>>,
    reported: BTreeSet<(String, Kind, ObjectKey)>,
}

impl BoundedApiCost {
    pub fn new(budget: ApiBudget) -> Self {
        BoundedApiCost { budget, recent: BTreeMap::new(), reported: BTreeSet::new() }
    }
}

impl Family for BoundedApiCost {
    fn id(&self) -> InvariantId {
        InvariantId::BoundedApiCost
    }

    fn on_request(&mut self, ctx: &Ctx, controller: &str, _verb: Verb, kind: Kind, key: &ObjectKey) -> Vec<String> {
        let id = (controller.to_string(), kind, key.clone());
        let window = i64::try_from(self.budget.window.as_millis()).unwrap_or(i64::MAX);
        let times = self.recent.entry(id.clone()).or_default();
        while times.front().is_some_and(|t| ctx.now.0 - t.0 >= window) {
            times.pop_front();
        }
        times.push_back(ctx.now);
        if times.len() as u64 <= self.budget.requests || self.reported.contains(&id) {
            return Vec::new();
        }
        let first = times.front().copied().unwrap_or(ctx.now);
        self.reported.insert(id);
        vec![format!(
            "controller {controller} sent {} requests about {kind} {key} between {first} and {} (budget: {} per {})",
            times.len(),
            ctx.now,
            self.budget.requests,
            format_duration(self.budget.window)
        )]
    }
}

//! `bounded-api-cost`: no controller sends more than a budget of requests about one object within a window. A retry
//! storm is a bug even when the end state is right: it is load on a shared API server, and it hides a decision
//! that cannot make progress.

use operator::api::duration::format_duration;
use operator::cluster::{Kind, ObjectKey, Verb};
use std::collections::{BTreeSet, VecDeque};

use super::{Ctx, Family, Hook};
use crate::lookup::Lookup;
use crate::scenario::model::{ApiBudget, InvariantId};
use crate::time::SimTime;

/// (controller, kind, object).
type Subject = (String, Kind, ObjectKey);

pub struct BoundedApiCost {
    budget: ApiBudget,
    /// Object -> (controller, kind, times of its requests within the window, oldest first) for each controller and
    /// kind that sent requests about it (one or two). Objects no request was about for a window are dropped now and
    /// then, so the map follows the live world, not its history. Hashed by object: a world holds thousands, and
    /// every request looks one up.
    recent: Lookup<ObjectKey, Vec<(String, Kind, VecDeque<SimTime>)>>,
    reported: BTreeSet<Subject>,
    /// When `recent` was last swept.
    swept: SimTime,
}

impl BoundedApiCost {
    pub fn new(budget: ApiBudget) -> Self {
        BoundedApiCost { budget, recent: Lookup::default(), reported: BTreeSet::new(), swept: SimTime::default() }
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.budget.window.as_millis()).unwrap_or(i64::MAX)
    }

    /// Forgets the objects with no request within the window, at most once per window (their times would be
    /// dropped at their next request anyway). Each entry is judged on its own, so the hash order does not matter.
    fn sweep(&mut self, now: SimTime) {
        let window = self.window_ms();
        if now.0 - self.swept.0 < window {
            return;
        }
        self.swept = now;
        self.recent.retain(|_, senders| {
            senders.retain(|(_, _, times)| times.back().is_some_and(|t| now.0 - t.0 < window));
            !senders.is_empty()
        });
    }

    /// The times of `controller`'s recent requests about `kind` `key`, an empty list if there are none.
    fn times(&mut self, controller: &str, kind: Kind, key: &ObjectKey) -> &mut VecDeque<SimTime> {
        if self.recent.get(key).is_none() {
            self.recent.insert(key.clone(), Vec::new());
        }
        let senders = self.recent.get_mut(key).expect("inserted above");
        let at = match senders.iter().position(|(c, k, _)| *k == kind && c == controller) {
            Some(at) => at,
            None => {
                senders.push((controller.to_string(), kind, VecDeque::new()));
                senders.len() - 1
            }
        };
        &mut senders[at].2
    }
}

impl Family for BoundedApiCost {
    fn id(&self) -> InvariantId {
        InvariantId::BoundedApiCost
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Request]
    }

    fn on_request(&mut self, ctx: &Ctx, controller: &str, _verb: Verb, kind: Kind, key: &ObjectKey) -> Vec<String> {
        self.sweep(ctx.now);
        let window = self.window_ms();
        let times = self.times(controller, kind, key);
        while times.front().is_some_and(|t| ctx.now.0 - t.0 >= window) {
            times.pop_front();
        }
        times.push_back(ctx.now);
        let (count, first) = (times.len(), times.front().copied().unwrap_or(ctx.now));
        if count as u64 <= self.budget.requests || !self.reported.insert((controller.to_string(), kind, key.clone())) {
            return Vec::new();
        }
        vec![format!(
            "controller {controller} sent {count} requests about {kind} {key} between {first} and {} (budget: {} per {})",
            ctx.now,
            self.budget.requests,
            format_duration(self.budget.window)
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_tasks::LogTasks;
    use crate::storage::Storage;
    use crate::world::World;
    use std::time::Duration;

    fn ask(f: &mut BoundedApiCost, world: &World, secs: i64, name: &str) -> Vec<String> {
        let (storage, log_tasks) = (Storage::default(), LogTasks::default());
        let ctx = Ctx { world, storage: &storage, log_tasks: &log_tasks, now: SimTime(secs * 1000), actor: "backup" };
        f.on_request(&ctx, "backup", Verb::Get, Kind::Backup, &ObjectKey::new("ns", name))
    }

    #[test]
    fn a_storm_about_one_object_is_reported_once_and_idle_objects_are_forgotten() {
        let world = World::new();
        let mut f = BoundedApiCost::new(ApiBudget { requests: 2, window: Duration::from_secs(60) });
        assert!(ask(&mut f, &world, 0, "a").is_empty());
        assert!(ask(&mut f, &world, 1, "a").is_empty());
        let found = ask(&mut f, &world, 2, "a");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("sent 3 requests about Backup ns/a"), "{}", found[0]);
        assert!(ask(&mut f, &world, 3, "a").is_empty(), "reported once");
        assert!(ask(&mut f, &world, 100, "b").is_empty(), "another object has its own count");
        assert_eq!(f.recent.len(), 1, "a, idle for a window, is no longer tracked");
        assert!(f.recent.get(&ObjectKey::new("ns", "a")).is_none());
    }
}

//! The controller loops at work, as kube-runtime's: informer deliveries trigger keys into the work queues, due keys
//! start reconciles as tasks, a reconcile's `Action` requeues it, errors back off; and the operator process, which
//! crashes (losing caches, queues and running reconciles) and starts again with empty caches.

use operator::cluster::{Kind, ObjectKey};
use operator::controllers::triggers::{owner_of, schedule_of};

use crate::engine::{Event, Spawn, State, TaskId, TaskOwner};
use crate::object::Obj;
use crate::rng::draw;
use crate::time::SimTime;
use crate::work_queue::backoff;

impl State {
    /// The key of controller `c` that a change to `obj` triggers, if any (an object triggers at most one: its own,
    /// its owner's or its schedule's).
    pub(crate) fn key_for(&self, c: usize, obj: &Obj) -> Option<ObjectKey> {
        let ctl = &self.controllers[c];
        if obj.kind() == ctl.main {
            return Some(obj.key());
        }
        match (ctl.main, obj) {
            (Kind::Backup | Kind::Restore | Kind::CompactBackup, Obj::Job(_) | Obj::Pod(_)) => {
                owner_of(obj.meta()).filter(|(kind, _)| *kind == ctl.main).map(|(_, key)| key)
            }
            (Kind::BackupSchedule, Obj::Backup(b)) => schedule_of(&**b),
            (Kind::BackupSchedule, Obj::Compact(c)) => schedule_of(&**c),
            _ => None,
        }
    }

    /// Asks controller `c` to reconcile `key` at `at` (the earlier request wins).
    pub(crate) fn trigger(&mut self, c: usize, key: ObjectKey, at: SimTime) {
        if !self.operator.up {
            return;
        }
        if let Some(token) = self.controllers[c].queue.request(&key, at, self.now) {
            self.at(at, Event::Reconcile { controller: c, key, token });
        }
    }

    pub(crate) fn reconcile_due(&mut self, c: usize, key: ObjectKey, token: u64) {
        if !self.operator.up {
            return;
        }
        let ctl = &mut self.controllers[c];
        if !ctl.queue.due(&key, token) {
            return;
        }
        let main = ctl.watches[0].1;
        let Some(obj) = self.informers[main].cache.get(&key).cloned() else { return };
        self.stats.reconcile_started(self.controllers[c].id.as_str());
        let task = self.spawn(TaskOwner::Reconcile { controller: c, key: key.clone() }, |task| Spawn::Reconcile {
            task,
            controller: c,
            obj,
        });
        self.controllers[c].queue.started(key, task);
    }

    pub(crate) fn reconcile_done(
        &mut self,
        c: usize,
        key: ObjectKey,
        task: TaskId,
        result: Result<operator::controllers::Action, String>,
    ) {
        let now = self.now;
        let finished = self.controllers[c].queue.finished(&key, task, result.is_ok());
        let name = self.controllers[c].id.as_str();
        let kind = self.controllers[c].main;
        // Status truth is judged between reconciles: after one that finished its work. A reconcile that failed
        // (an API error between two writes) is retried, and judged when a retry succeeds; one that waited for its
        // cache to show its own last write did not look, and is judged when the watch event's reconcile has.
        if kind == Kind::BackupSchedule {
            if result.as_ref().is_ok_and(|a| !a.cache_behind) {
                self.checker.after_schedule_reconcile(&self.world, &key, now, &mut self.trace);
            }
            self.checker.after_schedule_attempt(&self.world, &key, now, &mut self.trace);
        }
        let dirty = finished.dirty;
        match result {
            Ok(action) => {
                match action.requeue_after {
                    Some(d) => self.trace.record(
                        now,
                        name,
                        "reconciled",
                        format_args!("{kind} {key}"),
                        format_args!("requeue={}", operator::api::duration::Shown(d)),
                    ),
                    None => self.trace.record(now, name, "reconciled", format_args!("{kind} {key}"), format_args!("")),
                }
                if dirty {
                    self.trigger(c, key, now);
                } else if let Some(d) = action.requeue_after {
                    self.trigger(c, key, now.plus(d));
                }
            }
            Err(message) => {
                self.stats.reconcile_failed(name);
                let backoff = backoff(finished.failures);
                self.trace.record(
                    now,
                    name,
                    "reconcile-error",
                    format_args!("{kind} {key}"),
                    format_args!("{message}"),
                );
                self.trigger(c, key.clone(), if dirty { now } else { now.plus(backoff) });
            }
        }
    }

    /// The operator process dies: in-flight reconciles stop mid-way (requests already sent still arrive), caches
    /// and queues are lost. It comes back after the restart delay unless an `operatorDown` window holds it.
    pub(crate) fn operator_crash(&mut self, reason: &str) {
        if !self.operator.up {
            return;
        }
        self.operator.up = false;
        self.trace.record(self.now, "operator", "crash", format_args!("process"), format_args!("{reason}"));
        let mut doomed = Vec::new();
        for ctl in &mut self.controllers {
            doomed.extend(ctl.queue.forget());
        }
        for t in doomed {
            self.tasks.kill(t);
        }
        for inf in &mut self.informers {
            inf.reset();
        }
        if !self.in_down_window(self.now) {
            let d = draw(&mut self.rngs.faults, self.timing.restart.lo, self.timing.restart.hi);
            self.after(d, Event::OperatorStart);
        }
    }

    /// The operator process starts: each informer lists, then watches.
    pub(crate) fn operator_start(&mut self) {
        if self.operator.up || self.in_down_window(self.now) {
            return;
        }
        self.operator.up = true;
        self.operator.epoch += 1;
        for c in &mut self.controllers {
            c.own_writes = operator::cluster::own_writes::OwnWrites::new(self.now.to_utc());
        }
        let epoch = self.operator.epoch;
        self.trace.record(self.now, "operator", "start", format_args!("process"), format_args!("epoch={epoch}"));
        for i in 0..self.informers.len() {
            self.informers[i].running = true;
            self.relist(i);
        }
    }

    pub(crate) fn in_down_window(&self, t: SimTime) -> bool {
        self.faults.down_windows().iter().any(|(from, until)| t >= *from && until.is_none_or(|u| t < u))
    }
}

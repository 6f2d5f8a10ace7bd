//! The informers' feed: the world's changes to the caches watching them, each after a lag from the fault plan or the
//! default timing; relists (at start, after a stall's 410 Gone or a restart); watch stalls; and the controllers
//! triggered by what a delivery applied.

use crate::engine::{Event, State};
use crate::informer::{Delivery, component_of};
use crate::object::Obj;
use crate::world::Change;
use std::cell::OnceCell;

impl State {
    fn enqueue(&mut self, i: usize, delivery: Delivery) {
        let lag = self.informers[i].lag(self.now);
        if let Some(at) = self.informers[i].queue(self.now, lag, delivery) {
            self.at(at, Event::Deliver(i));
        }
    }

    /// Routes a world change to the informers watching its kind.
    pub(crate) fn informers_on_change(&mut self, change: &Change) {
        let kind = change.obj.kind();
        let component = OnceCell::new();
        for i in 0..self.informers.len() {
            if !self.informers[i].follows(kind, || *component.get_or_init(|| component_of(&change.obj))) {
                continue;
            }
            self.enqueue(i, Delivery::Change(change.type_, change.obj.clone()));
        }
    }

    /// Lists the world for informer `i` (the list arrives after a lag, then the watch resumes).
    pub(crate) fn relist(&mut self, i: usize) {
        let kind = self.informers[i].kind;
        let inf = &self.informers[i];
        let snapshot: Vec<Obj> = self.world.iter_kind(kind).filter(|o| inf.selects(o)).cloned().collect();
        self.informers[i].drop_pending();
        self.enqueue(i, Delivery::Relist(snapshot));
    }

    /// Applies what informer `i` has due, then triggers its controller.
    pub(crate) fn deliver(&mut self, i: usize) {
        let now = self.now;
        let applied = self.informers[i].apply_due(now);
        if let Some(at) = applied.next {
            self.at(at, Event::Deliver(i));
        }
        let (controller, kind) = (self.informers[i].controller, self.informers[i].kind);
        if applied.relisted {
            let name = self.informers[i].controller_id.as_str();
            let n = self.informers[i].cache.len();
            self.trace.record(now, name, "relist", format_args!("{kind}"), format_args!("{n} objects"));
        }
        for obj in applied.triggered {
            if let Some(key) = self.key_for(controller, &obj) {
                self.trigger(controller, key, now);
            }
        }
    }

    /// A watch stall starts for the informers it names: nothing is delivered until it ends.
    pub(crate) fn stall_start(&mut self, s: usize) {
        let stall = self.faults.stalls()[s].clone();
        for inf in &mut self.informers {
            if stall.covers(Some(inf.controller_id), inf.kind) {
                inf.stalled = Some(stall.until);
                inf.drop_pending();
            }
        }
        if stall.controller.is_none() {
            self.with_outside(|o, st| o.stall(st, &stall.kinds, true));
        }
    }

    /// The stall ends with 410 Gone: the informers relist.
    pub(crate) fn stall_end(&mut self, s: usize) {
        let stall = self.faults.stalls()[s].clone();
        if stall.controller.is_none() {
            self.with_outside(|o, st| o.stall(st, &stall.kinds, false));
        }
        for i in 0..self.informers.len() {
            if stall.covers(Some(self.informers[i].controller_id), self.informers[i].kind) {
                self.informers[i].stalled = None;
                if self.informers[i].running {
                    self.relist(i);
                }
            }
        }
    }
}

//! Informers: one cache per controller and watched kind, fed by the world's changes in order after a lag (from the
//! fault plan or the default timing), stalled by `watchStall`, rebuilt by a relist (after a stall, 410 Gone, or an
//! operator restart).

use operator::api::labels;
use operator::cluster::Kind;
use std::collections::VecDeque;

use crate::controller_id::ControllerId;
use crate::engine::{Event, State};
use crate::index::Indexed;
use crate::object::Obj;
use crate::rng::{Stream, draw};
use crate::time::SimTime;
use crate::world::{Change, ChangeType};

/// Something an informer will apply to its cache.
#[derive(Clone, Debug)]
enum Delivery {
    Change(ChangeType, Obj),
    Relist(Vec<Obj>),
}

/// One controller's view of one kind.
pub struct Informer {
    pub controller: usize,
    pub controller_id: ControllerId,
    pub kind: Kind,
    pub cache: Indexed,
    pending: VecDeque<(SimTime, Delivery)>,
    last_at: SimTime,
    scheduled: bool,
    /// `Some(None)`: stalled for good; `Some(Some(t))`: until `t`.
    stalled: Option<Option<SimTime>>,
    /// False while the operator process is down.
    pub running: bool,
    /// The `app.kubernetes.io/component` its objects must carry, when its watch selects on it (as production's
    /// compact controller watches only compaction Jobs and pods).
    component: Option<&'static str>,
    rng: Stream,
}

impl Informer {
    pub fn new(controller: usize, controller_id: ControllerId, kind: Kind, rng: Stream) -> Self {
        Informer {
            controller,
            controller_id,
            kind,
            cache: Indexed::default(),
            pending: VecDeque::new(),
            last_at: SimTime::default(),
            scheduled: false,
            stalled: None,
            running: false,
            component: None,
            rng,
        }
    }

    /// Watches only objects labelled with `component`.
    pub fn selecting(mut self, component: &'static str) -> Self {
        self.component = Some(component);
        self
    }

    fn selects(&self, obj: &Obj) -> bool {
        let label =
            |c| obj.meta().labels.as_ref().and_then(|l| l.get(labels::COMPONENT)).map(String::as_str) == Some(c);
        self.component.is_none_or(label)
    }

    /// Forgets everything (the process died).
    pub fn reset(&mut self) {
        self.cache.clear();
        self.pending.clear();
        self.scheduled = false;
        self.running = false;
    }
}

impl State {
    fn informer_lag(&mut self, i: usize) -> std::time::Duration {
        let inf = &self.informers[i];
        let span =
            self.faults.informer_lag(Some(inf.controller_id), inf.kind, self.now).unwrap_or(self.timing.informer_lag);
        draw(&mut self.informers[i].rng, span.lo, span.hi)
    }

    fn enqueue(&mut self, i: usize, delivery: Delivery) {
        let lag = self.informer_lag(i);
        let now = self.now;
        let inf = &mut self.informers[i];
        let at = inf.last_at.max(now.plus(lag));
        inf.last_at = at;
        inf.pending.push_back((at, delivery));
        if !inf.scheduled {
            inf.scheduled = true;
            self.at(at, Event::Deliver(i));
        }
    }

    /// Routes a world change to the informers watching its kind.
    pub(crate) fn informers_on_change(&mut self, change: &Change) {
        let kind = change.obj.kind();
        for i in 0..self.informers.len() {
            let inf = &self.informers[i];
            if inf.kind != kind || !inf.running || inf.stalled.is_some() || !inf.selects(&change.obj) {
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
        self.informers[i].pending.clear();
        self.informers[i].scheduled = false;
        self.enqueue(i, Delivery::Relist(snapshot));
    }

    /// Applies what informer `i` has due, then triggers its controller.
    pub(crate) fn deliver(&mut self, i: usize) {
        let now = self.now;
        let mut triggered: Vec<Obj> = Vec::new();
        let mut relisted = false;
        {
            let inf = &mut self.informers[i];
            inf.scheduled = false;
            if !inf.running {
                return;
            }
            while inf.pending.front().is_some_and(|(at, _)| *at <= now) {
                let (_, d) = inf.pending.pop_front().expect("checked");
                match d {
                    Delivery::Change(ChangeType::Deleted, obj) => {
                        inf.cache.remove(&obj.key());
                        triggered.push(obj);
                    }
                    Delivery::Change(_, obj) => {
                        inf.cache.insert(obj.key(), obj.clone());
                        triggered.push(obj);
                    }
                    Delivery::Relist(objs) => {
                        inf.cache = objs.iter().cloned().collect();
                        triggered.extend(objs);
                        relisted = true;
                    }
                }
            }
            if let Some((at, _)) = inf.pending.front() {
                inf.scheduled = true;
                let at = *at;
                self.at(at, Event::Deliver(i));
            }
        }
        let (controller, kind) = (self.informers[i].controller, self.informers[i].kind);
        if relisted {
            let name = self.informers[i].controller_id.as_str();
            let n = self.informers[i].cache.len();
            self.trace.record(now, name, "relist", format_args!("{kind}"), format_args!("{n} objects"));
        }
        for obj in triggered {
            for key in self.keys_for(controller, &obj) {
                self.trigger(controller, key, now);
            }
        }
    }

    /// A watch stall starts for the informers it names: nothing is delivered until it ends.
    pub(crate) fn stall_start(&mut self, s: usize) {
        let stall = self.faults.stalls()[s].clone();
        for inf in &mut self.informers {
            if stall.covers(inf.controller_id, inf.kind) {
                inf.stalled = Some(stall.until);
                inf.pending.clear();
                inf.scheduled = false;
            }
        }
        if stall.controller.is_none() {
            self.watches_stall(&stall.kinds);
        }
    }

    /// The stall ends with 410 Gone: the informers relist.
    pub(crate) fn stall_end(&mut self, s: usize) {
        let stall = self.faults.stalls()[s].clone();
        if stall.controller.is_none() {
            self.watches_unstall(&stall.kinds);
        }
        for i in 0..self.informers.len() {
            if stall.covers(self.informers[i].controller_id, self.informers[i].kind) {
                self.informers[i].stalled = None;
                if self.informers[i].running {
                    self.relist(i);
                }
            }
        }
    }
}

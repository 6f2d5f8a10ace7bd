//! `Informer`: one controller's cache of one kind, with the deliveries on their way to it (in order, each after a
//! lag), stalled by `watchStall`, rebuilt by a relist.

use crate::controller_id::ControllerId;
use crate::faults::WatchLag;
use crate::index::Indexed;
use crate::lagged::Lagged;
use crate::object::Obj;
use crate::rng::{Stream, draw};
use crate::time::SimTime;
use crate::world::ChangeType;
use operator::api::labels;
use operator::cluster::Kind;

/// Something an informer will apply to its cache.
#[derive(Clone, Debug)]
pub enum Delivery {
    Change(ChangeType, Obj),
    Relist(Vec<Obj>),
}

/// The `app.kubernetes.io/component` label of `obj`, which the informers of Jobs and pods select on.
pub fn component_of(obj: &Obj) -> Option<&str> {
    obj.meta().labels.as_ref()?.get(labels::COMPONENT).map(String::as_str)
}

/// One controller's view of one kind.
pub struct Informer {
    pub controller: usize,
    pub controller_id: ControllerId,
    pub kind: Kind,
    pub cache: Indexed,
    pending: Lagged<Delivery>,
    /// `Some(None)`: stalled for good; `Some(Some(t))`: until `t`.
    pub stalled: Option<Option<SimTime>>,
    /// False while the operator process is down.
    pub running: bool,
    /// The `app.kubernetes.io/component` values one of which its objects must carry, when its watch selects on
    /// them (as production's controllers each watch only their own Jobs and pods).
    components: Option<&'static [&'static str]>,
    /// Its lag, with the fault plan's rules that reach it bound at build.
    lag: WatchLag,
    rng: Stream,
}

impl Informer {
    pub fn new(controller: usize, controller_id: ControllerId, kind: Kind, lag: WatchLag, rng: Stream) -> Self {
        Informer {
            controller,
            controller_id,
            kind,
            cache: Indexed::default(),
            pending: Lagged::new(SimTime::default()),
            stalled: None,
            running: false,
            components: None,
            lag,
            rng,
        }
    }

    /// Watches only objects labelled with one of `components`.
    pub fn selecting(mut self, components: &'static [&'static str]) -> Self {
        self.components = Some(components);
        self
    }

    pub fn selects(&self, obj: &Obj) -> bool {
        self.takes(|| component_of(obj))
    }

    /// Whether an object whose component label `component` gives is one it watches (the label is read only when
    /// this watch selects on it).
    fn takes<'a>(&self, component: impl FnOnce() -> Option<&'a str>) -> bool {
        let Some(components) = self.components else { return true };
        component().is_some_and(|c| components.contains(&c))
    }

    /// Forgets everything (the process died).
    pub fn reset(&mut self) {
        self.cache.clear();
        self.pending.clear();
        self.running = false;
    }

    /// Whether a change to an object of `kind` is on its way to this cache now; `component` gives the object's
    /// component label (read once per change however many informers ask, see [`component_of`]).
    pub fn follows<'a>(&self, kind: Kind, component: impl FnOnce() -> Option<&'a str>) -> bool {
        self.kind == kind && self.running && self.stalled.is_none() && self.takes(component)
    }

    /// A lag drawn from this informer's stream within `span`.
    /// The lag of a delivery queued at `now`, drawn from its own stream.
    pub fn lag(&mut self, now: SimTime) -> std::time::Duration {
        let span = self.lag.at(now);
        draw(&mut self.rng, span.lo, span.hi)
    }

    /// Queues `delivery` `lag` after `now`; returns when to plan a delivery event, unless one is planned.
    #[must_use]
    pub fn queue(&mut self, now: SimTime, lag: std::time::Duration, delivery: Delivery) -> Option<SimTime> {
        self.pending.push(now, lag, delivery)
    }

    /// Drops what is on its way (a relist replaces it, or a stall holds it back).
    pub fn drop_pending(&mut self) {
        self.pending.clear();
    }

    /// The delivery event has come: applies what is due at `now` to the cache.
    pub fn apply_due(&mut self, now: SimTime) -> Applied {
        self.pending.arrived();
        let mut applied = Applied { triggered: Vec::new(), relisted: false, next: None };
        if !self.running {
            return applied;
        }
        while let Some(d) = self.pending.pop_due(now) {
            match d {
                Delivery::Change(ChangeType::Deleted, obj) => {
                    self.cache.remove(&obj.key());
                    applied.triggered.push(obj);
                }
                Delivery::Change(_, obj) => {
                    self.cache.put(obj.clone());
                    applied.triggered.push(obj);
                }
                Delivery::Relist(objs) => {
                    self.cache = objs.iter().cloned().collect();
                    applied.triggered.extend(objs);
                    applied.relisted = true;
                }
            }
        }
        applied.next = self.pending.replan();
        applied
    }
}

/// What a delivery applied to an informer's cache.
#[derive(Debug)]
pub struct Applied {
    /// The objects that changed (each triggers the informer's controller).
    pub triggered: Vec<Obj>,
    /// Whether a relist replaced the cache.
    pub relisted: bool,
    /// When to plan the next delivery event, if more is on its way.
    pub next: Option<SimTime>,
}

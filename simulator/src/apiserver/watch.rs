//! Watches served over HTTP: the world's changes as JSON lines, in order, after the scenario's informer lag; resumed
//! from a resourceVersion out of a bounded change log (410 Gone when it is too old), bookmarks, timeouts, and watch
//! stalls that end in 410 so clients relist.

use bytes::Bytes;
use operator::cluster::Kind;
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use super::event_view;
use super::handler::{ApiReply, stored, to_json};
use super::request::ListQuery;
use super::resources::{DynKind, Res, info};
use super::table;
use crate::engine::{Event, Outside, State, WatchDue};
use crate::faults::WatchLag;
use crate::lagged::Lagged;
use crate::rng::draw;
use crate::time::SimTime;
use crate::world::{Change, ChangeType};

/// How many changes are kept for resuming watches.
const LOG_CAPACITY: usize = 20_000;
/// Bookmarks go out this often to watches that asked for them.
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);
/// Watches without `timeoutSeconds` end after this long (the API server's default range is 30-60 minutes).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

struct Watcher {
    res: Res,
    namespace: Option<String>,
    query: ListQuery,
    tx: UnboundedSender<Bytes>,
    queue: Lagged<Bytes>,
    /// Its lag, with the fault plan's rules that reach it bound when it opened.
    lag: WatchLag,
    stalled: bool,
}

/// Watches and the log they resume from.
#[derive(Default)]
pub struct Watches {
    watchers: BTreeMap<u64, Watcher>,
    log: VecDeque<(u64, Res, &'static str, Arc<Value>)>,
    /// Changes at or below this resourceVersion are no longer in the log.
    floor: u64,
}

fn line(type_: &str, object: &Value) -> Bytes {
    let mut v = serde_json::to_vec(&json!({"type": type_, "object": object})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

fn gone(rv: u64, current: u64) -> Bytes {
    line(
        "ERROR",
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": format!("too old resource version: {rv} ({current})"), "reason": "Expired", "code": 410}),
    )
}

/// Where the objects of a served resource are stored (core v1 Events live with events.k8s.io/v1's).
fn storage(res: Res) -> Res {
    match res {
        Res::Dyn(kind) => Res::Dyn(stored(kind)),
        typed => typed,
    }
}

/// Whether watcher `w` sees objects other than as stored (core v1 Events, or Table rows).
fn transforms(w: &Watcher) -> bool {
    w.res == Res::Dyn(DynKind::CoreEvent) || w.query.table.is_some()
}

/// A change as watcher `w` sees it: in its resource's form (core v1 Events), as a Table row if it asked for Tables.
fn encode(w: &Watcher, type_: &str, object: &Value, now: SimTime) -> Bytes {
    let viewed;
    let object = if w.res == Res::Dyn(DynKind::CoreEvent) {
        viewed = event_view::to_core(object);
        &viewed
    } else {
        object
    };
    match w.query.table {
        Some(include) => line(type_, &table::table(w.res, object, include, now.to_utc())),
        None => line(type_, object),
    }
}

fn type_name(t: ChangeType) -> &'static str {
    match t {
        ChangeType::Added => "ADDED",
        ChangeType::Modified => "MODIFIED",
        ChangeType::Deleted => "DELETED",
    }
}

fn matches(w: &Watcher, res: Res, v: &Value) -> bool {
    storage(w.res) == res
        && w.namespace.as_deref().is_none_or(|n| Some(n) == v["metadata"]["namespace"].as_str())
        && if w.res == Res::Dyn(DynKind::CoreEvent) {
            w.query.selects(&event_view::to_core(v))
        } else {
            w.query.selects(v)
        }
}

impl Watches {
    /// Starts the log at the world's current resourceVersion.
    pub fn new(floor: u64) -> Self {
        Watches { floor, ..Default::default() }
    }
}

impl State {
    /// The served watches, opened on first use (a served world always has them).
    fn with_watches<R>(&mut self, f: impl FnOnce(&mut Watches, &mut State) -> R) -> R {
        if self.outside.is_none() {
            self.outside = Some(Box::new(Watches::default()));
        }
        self.with_outside(|o, st| match o.as_any_mut().downcast_mut::<Watches>() {
            Some(w) => f(w, st),
            None => unreachable!("the only clients outside a simulated world are its served watches"),
        })
        .expect("installed above")
    }

    /// Opens a watch; the reply streams until the watch ends.
    pub(crate) fn watch(&mut self, res: Res, namespace: Option<String>, query: ListQuery) -> ApiReply {
        self.with_watches(|w, st| w.open(st, res, namespace, query))
    }

    /// Publishes the dynamic objects' changes (Leases, Events) to the watches.
    pub(crate) fn publish_dyn_changes(&mut self) {
        let changes = self.world.take_dyn_changes();
        if changes.is_empty() {
            return;
        }
        self.with_watches(|w, st| {
            for c in changes {
                w.publish(st, Res::Dyn(c.kind), type_name(c.type_), c.value);
            }
        });
    }
}

impl Outside for Watches {
    fn changed(&mut self, st: &mut State, change: &Change) {
        let mut json = to_json(&change.obj);
        // A deleted object is reported with the deletion's resourceVersion, as kube-apiserver does (the store keeps
        // the last state as it was; every other change's object already carries its own).
        if change.type_ == ChangeType::Deleted
            && let Some(meta) = json.get_mut("metadata").and_then(|m| m.as_object_mut())
        {
            meta.insert("resourceVersion".into(), change.rv.to_string().into());
        }
        self.publish(st, Res::Typed(change.obj.kind()), type_name(change.type_), Arc::new(json));
    }

    fn stall(&mut self, st: &mut State, kinds: &[Kind], starts: bool) {
        if starts { self.stall_start(kinds) } else { self.stall_end(st, kinds) }
    }

    fn due(&mut self, st: &mut State, event: WatchDue) {
        match event {
            WatchDue::Changes(id) => self.deliver(st, id),
            WatchDue::Timeout(id) => self.end(id),
            WatchDue::Bookmark(id) => self.bookmark(st, id),
        }
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

impl Watches {
    /// Opens a watch; the reply streams until the watch ends.
    fn open(&mut self, st: &mut State, res: Res, namespace: Option<String>, query: ListQuery) -> ApiReply {
        let (tx, rx) = unbounded_channel();
        let now = st.now;
        let timeout = query.timeout_secs.map(Duration::from_secs).unwrap_or(DEFAULT_TIMEOUT);
        let bookmarks = query.bookmarks;
        let lag = match res {
            Res::Typed(kind) => st.faults.watch_lag(None, kind, st.timing.informer_lag),
            Res::Dyn(_) => WatchLag::fixed(st.timing.informer_lag),
        };
        let mut w = Watcher { res, namespace, query, tx, queue: Lagged::new(now), lag, stalled: false };
        match w.query.resource_version {
            Some(rv) if rv < self.floor => {
                let _ = w.tx.send(gone(rv, st.world.resource_version()));
                return ApiReply::Watch(rx);
            }
            Some(rv) => {
                for (_, _, t, v) in self.log.iter().filter(|(r, res2, _, v)| *r > rv && matches(&w, *res2, v)) {
                    let _ = w.tx.send(encode(&w, t, v, now));
                }
            }
            None => {
                let current: Vec<Value> = match storage(res) {
                    Res::Typed(kind) => st.world.list_all(kind).iter().map(to_json).collect(),
                    Res::Dyn(kind) => st.world.dyn_list(kind, None).iter().map(|v| (**v).clone()).collect(),
                };
                for v in current.iter().filter(|v| matches(&w, storage(res), v)) {
                    let _ = w.tx.send(encode(&w, "ADDED", v, now));
                }
                // A streaming list: the initial objects end with a bookmark saying so.
                if w.query.initial_events && bookmarks {
                    let i = super::resources::info(res);
                    let mark = json!({"kind": i.kind, "apiVersion": i.api_version(), "metadata": {
                        "resourceVersion": st.world.resource_version().to_string(),
                        "annotations": {"k8s.io/initial-events-end": "true"}}});
                    let _ = w.tx.send(line("BOOKMARK", &mark));
                }
            }
        }
        w.stalled = stalled_now(st, res);
        let id = st.next_id();
        self.watchers.insert(id, w);
        st.after(timeout, Event::Watch(WatchDue::Timeout(id)));
        if bookmarks {
            st.after(BOOKMARK_EVERY, Event::Watch(WatchDue::Bookmark(id)));
        }
        ApiReply::Watch(rx)
    }

    /// Logs a change and queues it for the watches that match, after their lag.
    fn publish(&mut self, st: &mut State, res: Res, type_: &'static str, value: Arc<Value>) {
        let rv: u64 = value["metadata"]["resourceVersion"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
        self.log.push_back((rv, res, type_, value.clone()));
        while self.log.len() > LOG_CAPACITY {
            if let Some((r, ..)) = self.log.pop_front() {
                self.floor = self.floor.max(r);
            }
        }
        let ids: Vec<u64> = self.watchers.iter().filter(|(_, w)| matches(w, res, &value)).map(|(id, _)| *id).collect();
        if ids.is_empty() {
            return;
        }
        // Watchers that see the object as stored share one encoding of it.
        let plain = line(type_, &value);
        for id in ids {
            let now = st.now;
            let Some(w) = self.watchers.get_mut(&id) else { continue };
            let span = w.lag.at(now);
            let lag = draw(&mut st.rngs.api, span.lo, span.hi);
            let bytes = if transforms(w) { encode(w, type_, &value, now) } else { plain.clone() };
            if let Some(at) = w.queue.push(now, lag, bytes) {
                st.at(at, Event::Watch(WatchDue::Changes(id)));
            }
        }
    }

    /// Sends what is due on watch `id`.
    fn deliver(&mut self, st: &mut State, id: u64) {
        let now = st.now;
        let Some(w) = self.watchers.get_mut(&id) else { return };
        w.queue.arrived();
        if w.stalled {
            return;
        }
        let mut closed = false;
        while let Some(b) = w.queue.pop_due(now) {
            closed |= w.tx.send(b).is_err();
        }
        if closed {
            self.end(id);
        } else if let Some(at) = w.queue.replan() {
            st.at(at, Event::Watch(WatchDue::Changes(id)));
        }
    }

    /// Ends watch `id` (timeout, client gone, or a stall's 410).
    fn end(&mut self, id: u64) {
        self.watchers.remove(&id);
    }

    /// Sends a bookmark with the world's resourceVersion on watch `id`, and plans the next one.
    fn bookmark(&mut self, st: &mut State, id: u64) {
        let rv = st.world.resource_version();
        let Some(w) = self.watchers.get(&id) else { return };
        if w.stalled || !w.queue.is_empty() {
            st.after(BOOKMARK_EVERY, Event::Watch(WatchDue::Bookmark(id)));
            return;
        }
        let i = info(w.res);
        let ok = w.tx.send(line("BOOKMARK", &json!({"kind": i.kind, "apiVersion": i.api_version(), "metadata": {"resourceVersion": rv.to_string()}}))).is_ok();
        if ok {
            st.after(BOOKMARK_EVERY, Event::Watch(WatchDue::Bookmark(id)));
        } else {
            self.end(id);
        }
    }

    /// A watch stall begins for the served watches it covers (stalls without a controller apply to them).
    fn stall_start(&mut self, kinds: &[Kind]) {
        for w in self.watchers.values_mut() {
            if let Res::Typed(k) = w.res
                && (kinds.is_empty() || kinds.contains(&k))
            {
                w.stalled = true;
            }
        }
    }

    /// The stall ends: the stalled watches fail with 410 Gone and close, so their clients relist.
    fn stall_end(&mut self, st: &State, kinds: &[Kind]) {
        let current = st.world.resource_version();
        let covered = |res: Res| matches!(res, Res::Typed(k) if kinds.is_empty() || kinds.contains(&k));
        let stalled: Vec<u64> =
            self.watchers.iter().filter(|(_, w)| w.stalled && covered(w.res)).map(|(id, _)| *id).collect();
        for id in stalled {
            if let Some(w) = self.watchers.remove(&id) {
                let _ = w.tx.send(gone(self.floor, current));
            }
        }
    }
}

/// Whether a stall covering the served watches of `res` is on now.
fn stalled_now(st: &State, res: Res) -> bool {
    let Res::Typed(kind) = res else { return false };
    st.faults.stalls().iter().any(|s| s.on_at(st.now) && s.covers(None, kind))
}

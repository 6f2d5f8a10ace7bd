//! Watches served over HTTP: the world's changes as JSON lines, in order, after the scenario's informer lag; resumed
//! from a resourceVersion out of a bounded change log (410 Gone when it is too old), bookmarks, timeouts, and watch
//! stalls that end in 410 so clients relist.

use bytes::Bytes;
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
use crate::engine::{Event, State};
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
    queue: VecDeque<(SimTime, Bytes)>,
    scheduled: bool,
    last_at: SimTime,
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
    fn watches(&mut self) -> &mut Watches {
        self.serving.get_or_insert_with(Default::default)
    }

    /// Opens a watch; the reply streams until the watch ends.
    pub(crate) fn watch(&mut self, res: Res, namespace: Option<String>, query: ListQuery) -> ApiReply {
        let (tx, rx) = unbounded_channel();
        let now = self.now;
        let timeout = query.timeout_secs.map(Duration::from_secs).unwrap_or(DEFAULT_TIMEOUT);
        let bookmarks = query.bookmarks;
        let mut w = Watcher {
            res,
            namespace,
            query,
            tx,
            queue: VecDeque::new(),
            scheduled: false,
            last_at: now,
            stalled: false,
        };
        match w.query.resource_version {
            Some(rv) if rv < self.watches().floor => {
                let _ = w.tx.send(gone(rv, self.world.resource_version()));
                return ApiReply::Watch(rx);
            }
            Some(rv) => {
                let replay: Vec<Bytes> = self
                    .watches()
                    .log
                    .iter()
                    .filter(|(r, res2, _, v)| *r > rv && matches(&w, *res2, v))
                    .map(|(_, _, t, v)| encode(&w, t, v, now))
                    .collect();
                for b in replay {
                    let _ = w.tx.send(b);
                }
            }
            None => {
                let current: Vec<Value> = match storage(res) {
                    Res::Typed(kind) => self.world.list_all(kind).iter().map(to_json).collect(),
                    Res::Dyn(kind) => self.world.dyn_list(kind, None).iter().map(|v| (**v).clone()).collect(),
                };
                for v in current.iter().filter(|v| matches(&w, storage(res), v)) {
                    let _ = w.tx.send(encode(&w, "ADDED", v, now));
                }
                // A streaming list: the initial objects end with a bookmark saying so.
                if w.query.initial_events && bookmarks {
                    let i = super::resources::info(res);
                    let mark = json!({"kind": i.kind, "apiVersion": i.api_version(), "metadata": {
                        "resourceVersion": self.world.resource_version().to_string(),
                        "annotations": {"k8s.io/initial-events-end": "true"}}});
                    let _ = w.tx.send(line("BOOKMARK", &mark));
                }
            }
        }
        w.stalled = self.stalled_now(res);
        let id = self.next_id();
        self.watches().watchers.insert(id, w);
        self.after(timeout, Event::WatchEnd(id));
        if bookmarks {
            self.after(BOOKMARK_EVERY, Event::WatchBookmark(id));
        }
        ApiReply::Watch(rx)
    }

    fn stalled_now(&self, res: Res) -> bool {
        let Res::Typed(kind) = res else { return false };
        self.faults.stalls().iter().any(|s| {
            s.controller.is_none()
                && (s.kinds.is_empty() || s.kinds.contains(&kind))
                && self.now >= s.from
                && s.until.is_none_or(|u| self.now < u)
        })
    }

    /// Logs a change and queues it for the watches that match, after their lag.
    fn publish(&mut self, res: Res, type_: &'static str, value: Arc<Value>) {
        let rv: u64 = value["metadata"]["resourceVersion"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
        let watches = self.watches();
        watches.log.push_back((rv, res, type_, value.clone()));
        while watches.log.len() > LOG_CAPACITY {
            if let Some((r, ..)) = watches.log.pop_front() {
                watches.floor = watches.floor.max(r);
            }
        }
        let ids: Vec<u64> =
            watches.watchers.iter().filter(|(_, w)| matches(w, res, &value)).map(|(id, _)| *id).collect();
        if ids.is_empty() {
            return;
        }
        // Watchers that see the object as stored share one encoding of it.
        let plain = line(type_, &value);
        for id in ids {
            let span = match res {
                Res::Typed(kind) => self.faults.informer_lag(None, kind, self.now).unwrap_or(self.timing.informer_lag),
                Res::Dyn(_) => self.timing.informer_lag,
            };
            let lag = draw(&mut self.rngs.api, span.lo, span.hi);
            let now = self.now;
            let Some(w) = self.watches().watchers.get_mut(&id) else { continue };
            let bytes = if transforms(w) { encode(w, type_, &value, now) } else { plain.clone() };
            let at = w.last_at.max(now.plus(lag));
            w.last_at = at;
            w.queue.push_back((at, bytes.clone()));
            if !w.scheduled {
                w.scheduled = true;
                self.at(at, Event::WatchDeliver(id));
            }
        }
    }

    /// Publishes a change of a typed object to the watches (when serving).
    pub(crate) fn publish_change(&mut self, change: &Change) {
        if self.serving.is_none() {
            return;
        }
        self.publish(Res::Typed(change.obj.kind()), type_name(change.type_), Arc::new(to_json(&change.obj)));
    }

    /// Publishes the dynamic objects' changes (Leases, Events) to the watches.
    pub(crate) fn publish_dyn_changes(&mut self) {
        for c in self.world.take_dyn_changes() {
            self.publish(Res::Dyn(c.kind), type_name(c.type_), c.value);
        }
    }

    /// Sends what is due on watch `id`.
    pub(crate) fn watch_deliver(&mut self, id: u64) {
        let now = self.now;
        let Some(w) = self.serving.as_mut().and_then(|s| s.watchers.get_mut(&id)) else { return };
        w.scheduled = false;
        if w.stalled {
            return;
        }
        let mut closed = false;
        while w.queue.front().is_some_and(|(at, _)| *at <= now) {
            let (_, b) = w.queue.pop_front().expect("checked");
            closed |= w.tx.send(b).is_err();
        }
        let next = w.queue.front().map(|(at, _)| *at);
        if closed {
            self.watch_end(id);
        } else if let Some(at) = next {
            w.scheduled = true;
            self.at(at, Event::WatchDeliver(id));
        }
    }

    /// Ends watch `id` (timeout, client gone, or a stall's 410).
    pub(crate) fn watch_end(&mut self, id: u64) {
        if let Some(s) = self.serving.as_mut() {
            s.watchers.remove(&id);
        }
    }

    /// Sends a bookmark with the world's resourceVersion on watch `id`, and plans the next one.
    pub(crate) fn watch_bookmark(&mut self, id: u64) {
        let rv = self.world.resource_version();
        let Some(w) = self.serving.as_ref().and_then(|s| s.watchers.get(&id)) else { return };
        if w.stalled || !w.queue.is_empty() {
            self.after(BOOKMARK_EVERY, Event::WatchBookmark(id));
            return;
        }
        let i = info(w.res);
        let ok = w.tx.send(line("BOOKMARK", &json!({"kind": i.kind, "apiVersion": i.api_version(), "metadata": {"resourceVersion": rv.to_string()}}))).is_ok();
        if ok {
            self.after(BOOKMARK_EVERY, Event::WatchBookmark(id));
        } else {
            self.watch_end(id);
        }
    }

    /// A watch stall begins for the served watches it covers (stalls without a controller apply to them).
    pub(crate) fn watches_stall(&mut self, kinds: &[operator::cluster::Kind]) {
        let Some(s) = self.serving.as_mut() else { return };
        for w in s.watchers.values_mut() {
            if let Res::Typed(k) = w.res
                && (kinds.is_empty() || kinds.contains(&k))
            {
                w.stalled = true;
            }
        }
    }

    /// The stall ends: the stalled watches fail with 410 Gone and close, so their clients relist.
    pub(crate) fn watches_unstall(&mut self, kinds: &[operator::cluster::Kind]) {
        let current = self.world.resource_version();
        let Some(s) = self.serving.as_mut() else { return };
        let floor = s.floor;
        let covered = |res: Res| matches!(res, Res::Typed(k) if kinds.is_empty() || kinds.contains(&k));
        let stalled: Vec<u64> =
            s.watchers.iter().filter(|(_, w)| w.stalled && covered(w.res)).map(|(id, _)| *id).collect();
        for id in stalled {
            if let Some(w) = s.watchers.remove(&id) {
                let _ = w.tx.send(gone(floor, current));
            }
        }
    }
}

//! API requests: submitted by tasks, applied by the world when they arrive (after a seeded latency), with faults
//! injected on the way, and answered to the task that sent them.

use operator::cluster::{ClusterError, Deletion, Kind, ObjectKey, Verb};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::engine::{Actor, Event, ReqId, Shared, State};
use crate::rng::draw;
use crate::world::Subresource;

pub use crate::request::{Request, Response, Sent};

impl State {
    /// The name an actor has in the trace.
    pub fn actor_name(&self, actor: &Actor) -> Cow<'static, str> {
        match actor {
            Actor::Controller(i) => self.controllers[*i].id.as_str().into(),
            Actor::Manager(pod) => format!("manager/{pod}").into(),
            Actor::User => "user".into(),
            Actor::Kubelet => "kubelet".into(),
            Actor::JobController => "job-controller".into(),
            Actor::Gc => "gc".into(),
            Actor::External => "operator".into(),
        }
    }

    /// The actor's class in the stats (bounded cardinality).
    fn actor_class(&self, actor: &Actor) -> Cow<'static, str> {
        match actor {
            Actor::Manager(_) => "manager".into(),
            other => self.actor_name(other),
        }
    }

    /// Sends a request for the current task; it arrives after the API latency.
    pub fn submit(&mut self, actor: Actor, req: Request) -> Option<ReqId> {
        let task = self.tasks.polling();
        if task.is_some_and(|t| !self.tasks.is_alive(t)) {
            return None; // the process died; nothing leaves it any more
        }
        let id = self.next_id();
        self.in_flight.send(id, Sent { actor, task, request: req });
        let latency = draw(&mut self.rngs.api, self.timing.api_latency.lo, self.timing.api_latency.hi);
        self.after(latency, Event::ApiArrive(id));
        Some(id)
    }

    pub(crate) fn api_arrive(&mut self, id: ReqId) {
        let Some(Sent { actor, task, request: req }) = self.in_flight.arrive(id) else { return };
        let (verb, kind) = (req.verb(), req.kind());
        let key = req.key();
        let class = self.actor_class(&actor);
        self.stats.request(&class, verb, kind);
        if let Actor::Controller(c) = actor {
            // A list is about the objects its selector picks (one Backup's pods, one schedule's Backups).
            let listed;
            let subject = match &req {
                Request::List(_, ns, selector) => {
                    // `[k=v,k=v]`, joined by hand (no string per pair): every list a controller sends is named so.
                    let mut picked = String::from("[");
                    for (i, (k, v)) in selector.iter().enumerate() {
                        if i > 0 {
                            picked.push(',');
                        }
                        picked.extend([k.as_str(), "=", v.as_str()]);
                    }
                    picked.push(']');
                    listed = ObjectKey::new(ns, picked);
                    &listed
                }
                _ => &key,
            };
            let name = self.controllers[c].id.as_str();
            self.checker.on_request(&self.world, name, verb, kind, subject, self.now, &mut self.trace);
        }
        let manager = matches!(actor, Actor::Manager(_));
        let injected = self.faults.api_error(manager, verb, kind, self.now, &mut self.rngs.api);
        let transient =
            |message: &str| ClusterError::Transient { verb, kind, key: key.clone(), message: message.into() };
        let response = match injected {
            Some(e) if let Some(refusal) = e.refusal(verb, kind, &key) => Response::Failed(refusal),
            Some(_) => {
                let applied = self.apply(req);
                self.trace_request(&actor, verb, kind, &key, &applied);
                self.commit(&actor);
                if let Response::Written(_) | Response::Deleted(_) = applied {
                    self.maybe_crash_after(&actor, verb, kind);
                }
                Response::Failed(transient("injected timeout after apply"))
            }
            None => {
                let applied = self.apply(req);
                self.trace_request(&actor, verb, kind, &key, &applied);
                self.commit(&actor);
                if let Response::Written(_) | Response::Deleted(_) = applied {
                    self.maybe_crash_after(&actor, verb, kind);
                }
                applied
            }
        };
        if let Response::Failed(e) = &response {
            *self.stats.errors.entry((class.into_owned(), e.class())).or_default() += 1;
            if injected.is_some() {
                let name = self.actor_name(&actor);
                self.trace.record(
                    self.now,
                    &name,
                    verb.as_str(),
                    format_args!("{kind} {key}"),
                    format_args!("-> {} (injected)", e.class()),
                );
            }
        }
        if let Some(task) = task
            && self.tasks.wake(task)
        {
            self.in_flight.answer(id, response);
        }
    }

    pub(crate) fn trace_request(
        &mut self,
        actor: &Actor,
        verb: Verb,
        kind: Kind,
        key: &ObjectKey,
        response: &Response,
    ) {
        if !self.trace.enabled() {
            return;
        }
        let name = self.actor_name(actor);
        match response {
            Response::Written(o) => self.trace.record(
                self.now,
                &name,
                verb.as_str(),
                format_args!("{kind} {key}"),
                format_args!("rv={}", o.resource_version()),
            ),
            Response::Deleted(Deletion::Gone) => {
                self.trace.record(self.now, &name, verb.as_str(), format_args!("{kind} {key}"), format_args!("gone"))
            }
            Response::Deleted(Deletion::Pending(o)) => self.trace.record(
                self.now,
                &name,
                verb.as_str(),
                format_args!("{kind} {key}"),
                format_args!("rv={} pending-finalizers", o.resource_version()),
            ),
            Response::Failed(e) => self.trace.record(
                self.now,
                &name,
                verb.as_str(),
                format_args!("{kind} {key}"),
                format_args!("-> {}", e.class()),
            ),
            Response::Got(_) | Response::Listed(_) => {}
        }
    }

    fn apply(&mut self, req: Request) -> Response {
        let now = self.now;
        let result = match req {
            Request::Get(kind, key) => return Response::Got(self.world.get(kind, &key).cloned()),
            Request::List(kind, ns, sel) => return Response::Listed(self.world.list(kind, &ns, &sel)),
            Request::Create(obj) => self.world.create(obj, now).map(Response::Written),
            Request::Update(obj) => self.world.update(obj, Subresource::Main, now).map(Response::Written),
            Request::UpdateStatus(obj) => self.world.update(obj, Subresource::Status, now).map(Response::Written),
            Request::Delete(kind, key, pre) => self.world.delete(kind, &key, &pre, now).map(Response::Deleted),
        };
        result.unwrap_or_else(Response::Failed)
    }

    /// `operatorRestart: {afterWrite: ...}`: crash right after a matching write by a controller was applied.
    fn maybe_crash_after(&mut self, actor: &Actor, verb: Verb, kind: Kind) {
        if !matches!(actor, Actor::Controller(_)) {
            return;
        }
        if self.faults.crash_after(verb, kind, self.now) {
            // Crash now, before the response reaches the task: the write applied, nothing after it did.
            self.operator_crash(&format!("after {verb} {kind}"));
        }
    }
}

/// A request awaiting its response.
pub struct ApiCall {
    shared: Rc<Shared>,
    actor: Actor,
    req: Option<Request>,
    id: Option<ReqId>,
}

impl ApiCall {
    pub fn new(shared: Rc<Shared>, actor: Actor, req: Request) -> Self {
        ApiCall { shared, actor, req: Some(req), id: None }
    }
}

impl Future for ApiCall {
    type Output = Response;

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Response> {
        let this = self.get_mut();
        let mut st = this.shared.state.borrow_mut();
        if let Some(req) = this.req.take() {
            this.id = st.submit(this.actor.clone(), req);
            return Poll::Pending;
        }
        match this.id.and_then(|id| st.in_flight.take_answer(id)) {
            Some(r) => Poll::Ready(r),
            None => Poll::Pending,
        }
    }
}

/// A simulated-time sleep for a task (tools and storage take time; reconcilers never sleep).
pub struct Sleep {
    shared: Rc<Shared>,
    duration: Duration,
    armed: bool,
}

impl Sleep {
    pub fn new(shared: Rc<Shared>, duration: Duration) -> Self {
        Sleep { shared, duration, armed: false }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.armed {
            return Poll::Ready(());
        }
        let mut st = this.shared.state.borrow_mut();
        if let Some(task) = st.tasks.polling() {
            this.armed = true;
            st.after(this.duration, Event::Wake(task));
        }
        Poll::Pending
    }
}

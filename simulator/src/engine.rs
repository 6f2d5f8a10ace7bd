//! The engine: one event queue ordered by (time, sequence), and a single-threaded executor for the async tasks
//! (reconciles, backup-manager processes) that wait on simulated API calls and timers. No wall clock, no threads.
//!
//! Tasks are polled with a no-op waker: a task only ever waits for one thing (an API response or a timer), and the
//! engine polls it exactly when that thing's event fires. The shared state lives in a `RefCell` that is never
//! borrowed across a poll, so a task's own calls can borrow it.

use operator::cluster::Kind;
use operator::controllers::{Action, Settings};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::agenda::Agenda;
use crate::controller::Controller;
use crate::faults::FaultPlan;
use crate::informer::Informer;
use crate::invariants::{Checker, Violation};
use crate::log_tasks::LogTasks;
use crate::pod_processes::PodProcesses;
use crate::request::InFlight;
use crate::rng::{Stream, WorldRng};
use crate::scenario::model::{Scenario, Timing};
use crate::stats::Stats;
use crate::storage::Storage;
use crate::tasks::{Tasks, Work};
use crate::time::SimTime;
use crate::trace::Trace;
use crate::world::{Change, World};

pub use crate::actor::Actor;
pub use crate::event::{Event, WatchDue};
pub use crate::task_id::{ReqId, TaskId};
pub use crate::tasks::{Spawn, TaskOwner};

/// What a finished task reports.
pub enum TaskOutput {
    Reconciled(Result<Action, String>),
    Exited { code: i32, message: String },
}

pub type TaskFuture = Pin<Box<dyn Future<Output = TaskOutput>>>;

/// Clients outside the simulated cluster (the watches served over HTTP), as the engine knows them: they follow the
/// world's changes and watch stalls, and plan events of their own. How they reach their clients is theirs.
pub trait Outside {
    /// A typed object was created, changed or deleted.
    fn changed(&mut self, st: &mut State, change: &Change);
    /// A watch stall on `kinds` (every kind when empty) starts or ends.
    fn stall(&mut self, st: &mut State, kinds: &[Kind], starts: bool);
    /// One of their events is due.
    fn due(&mut self, st: &mut State, event: WatchDue);
    /// For the layer that installed them.
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;
}

/// The streams every component draws from (one per purpose, derived from the world seed).
pub struct Rngs {
    pub api: Stream,
    pub kubelet: Stream,
    pub tool: Stream,
    pub faults: Stream,
    pub jobs: Stream,
}

impl Rngs {
    pub fn new(w: &WorldRng) -> Self {
        Rngs {
            api: w.stream("api"),
            kubelet: w.stream("kubelet"),
            tool: w.stream("tool"),
            faults: w.stream("fault-draws"),
            jobs: w.stream("jobs"),
        }
    }
}

/// The operator process hosting the controllers.
#[derive(Clone, Debug, Default)]
pub struct OperatorProcess {
    pub up: bool,
    /// Bumped at each start: work of an earlier process is ignored.
    pub epoch: u64,
    /// Windows (`operatorDown`) during which no restart may bring it back.
    pub down_until: Option<Option<SimTime>>,
}

/// The whole simulated world and its machinery.
pub struct State {
    pub now: SimTime,
    /// `now` as a calendar time, converted once per instant (the operator's clients ask for it at every decision).
    now_utc: std::cell::Cell<(SimTime, chrono::DateTime<chrono::Utc>)>,
    pub start: SimTime,
    pub end: SimTime,
    agenda: Agenda,
    pub world: World,
    pub storage: Storage,
    /// The TiDB clusters' log backup tasks.
    pub log_tasks: LogTasks,
    pub informers: Vec<Informer>,
    pub controllers: Vec<Controller>,
    pub operator: OperatorProcess,
    pub faults: FaultPlan,
    pub rngs: Rngs,
    pub world_rng: WorldRng,
    pub trace: Trace,
    pub stats: Stats,
    pub checker: Checker,
    pub timing: Timing,
    pub settings: Rc<Settings>,
    pub scenario: Rc<Scenario>,
    /// API requests on their way and answers not yet taken.
    pub in_flight: InFlight,
    pub tasks: Tasks,
    next_id: u64,
    /// The backup-manager processes the kubelet runs in pods.
    pub pod_processes: PodProcesses,
    /// Clients outside the simulator, when the world is served over HTTP.
    pub outside: Option<Box<dyn Outside>>,
}

impl State {
    /// The simulated time as a calendar time (chrono's conversion runs once per instant, not once per question).
    pub fn now_utc(&self) -> chrono::DateTime<chrono::Utc> {
        let (at, utc) = self.now_utc.get();
        if at == self.now {
            return utc;
        }
        let utc = self.now.to_utc();
        self.now_utc.set((self.now, utc));
        utc
    }

    pub fn new(scenario: Rc<Scenario>, seed: u64, trace: Trace, settings: Settings) -> State {
        let world_rng = WorldRng::new(seed);
        let start = SimTime::from_utc(scenario.start);
        let end = start.plus(scenario.duration);
        let faults = FaultPlan::resolve(&scenario, &world_rng);
        State {
            now: start,
            now_utc: std::cell::Cell::new((start, start.to_utc())),
            start,
            end,
            agenda: Agenda::default(),
            world: World::new(),
            storage: Storage::default(),
            log_tasks: LogTasks::default(),
            informers: Vec::new(),
            controllers: Vec::new(),
            operator: OperatorProcess::default(),
            checker: Checker::new(&scenario, &faults),
            faults,
            rngs: Rngs::new(&world_rng),
            world_rng,
            trace,
            stats: Stats::default(),
            timing: scenario.timing.clone(),
            settings: Rc::new(settings),
            scenario,
            in_flight: InFlight::default(),
            tasks: Tasks::default(),
            next_id: 0,
            pod_processes: PodProcesses::default(),
            outside: None,
        }
    }

    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Queues `event` at `t` (never in the past).
    pub fn at(&mut self, t: SimTime, event: Event) {
        self.agenda.at(t.max(self.now), event);
    }

    /// Queues `event` after `d`.
    pub fn after(&mut self, d: std::time::Duration, event: Event) {
        let t = self.now.plus(d);
        self.at(t, event);
    }

    /// Pops and handles the next event; false when the run is over.
    fn step(&mut self) -> bool {
        self.step_until(self.end)
    }

    /// Pops and handles the next event if it is due at or before `t` (bounded by the end).
    fn step_until(&mut self, t: SimTime) -> bool {
        let Some((t, event)) = self.agenda.pop_until(t.min(self.end)) else { return false };
        self.now = t;
        self.stats.events_processed += 1;
        self.handle(event);
        true
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::ApiArrive(id) => self.api_arrive(id),
            Event::Wake(task) => {
                self.tasks.wake(task);
            }
            Event::Deliver(i) => self.deliver(i),
            Event::Reconcile { controller, key, token } => self.reconcile_due(controller, key, token),
            Event::JobSync(job) => self.job_sync(&job),
            Event::JobDeadline { job, uid } => self.job_deadline(&job, &uid),
            Event::PodStart { pod, uid } => self.pod_start(&pod, &uid),
            Event::PodKill { pod, uid } => self.pod_kill(&pod, &uid),
            Event::PodRemove { pod, uid } => self.pod_remove(&pod, &uid),
            Event::GcDelete { owner_uid } => self.gc_delete(&owner_uid),
            Event::GcPropagate { kind, key, uid, orphan } => self.gc_propagate(kind, &key, &uid, orphan),
            Event::Step(i) => self.user_step(i),
            Event::OperatorCrash { reason } => self.operator_crash(&reason),
            Event::OperatorStart => self.operator_start(),
            Event::StallStart(i) => self.stall_start(i),
            Event::StallEnd(i) => self.stall_end(i),
            Event::FaultEdge { index, starts } => self.fault_edge(index, starts),
            Event::Watch(due) => {
                self.with_outside(|o, st| o.due(st, due));
            }
        }
    }

    /// Runs `f` with the clients outside the simulator (none when the world is not served).
    pub fn with_outside<R>(&mut self, f: impl FnOnce(&mut dyn Outside, &mut State) -> R) -> Option<R> {
        let mut outside = self.outside.take()?;
        let r = f(outside.as_mut(), self);
        self.outside = Some(outside);
        Some(r)
    }

    /// Starts a task owned by `owner`; the engine builds its future from `spawn`.
    pub fn spawn(&mut self, owner: TaskOwner, make: impl FnOnce(TaskId) -> Spawn) -> TaskId {
        let id = self.next_id();
        self.tasks.spawn(id, owner, make(id));
        id
    }

    fn task_done(&mut self, task: TaskId, out: TaskOutput) {
        let Some(owner) = self.tasks.finish(task) else { return };
        match (owner, out) {
            (TaskOwner::Reconcile { controller, key }, TaskOutput::Reconciled(result)) => {
                self.reconcile_done(controller, key, task, result)
            }
            (TaskOwner::Pod { key, uid }, TaskOutput::Exited { code, message }) => {
                self.pod_exit(&key, &uid, code, &message)
            }
            _ => unreachable!("task outputs match their owners"),
        }
    }

    fn fault_edge(&mut self, index: usize, starts: bool) {
        let name = self.faults.faults[index].kind.name();
        let (action, detail) = if starts { ("fault-start", "") } else { ("fault-end", "") };
        self.trace.record(self.now, "faults", action, format_args!("{name}#{index}"), format_args!("{detail}"));
    }
}

/// The state plus the task futures (kept apart so a task can borrow the state while it is polled).
pub struct Shared {
    pub state: RefCell<State>,
    /// Each live task's future; `None` while it is being polled (taken out and put back in place, so a poll does
    /// not remove and re-insert its entry).
    futures: RefCell<BTreeMap<TaskId, Option<TaskFuture>>>,
}

/// Builds a spawned task's future (given by the run, which knows the reconcilers and the manager).
pub type Builder = Box<dyn Fn(&Rc<Shared>, Spawn) -> (TaskId, TaskFuture)>;

/// Runs a simulation to its end.
pub struct Engine {
    pub shared: Rc<Shared>,
    build: Builder,
    /// The buffers `drain` takes work into and polls from, kept between instants (see `Tasks::swap_work`).
    spare: RefCell<(Work, Vec<TaskId>)>,
}

impl Engine {
    pub fn new(state: State, build: Builder) -> Engine {
        let shared = Rc::new(Shared { state: RefCell::new(state), futures: RefCell::new(BTreeMap::new()) });
        Engine { shared, build, spare: RefCell::default() }
    }

    /// Processes events until the queue is empty or the end time is reached.
    pub fn run(&self) {
        self.drain();
        loop {
            let more = self.shared.state.borrow_mut().step();
            if !more {
                break;
            }
            self.drain();
        }
        self.shared.futures.borrow_mut().clear();
    }

    /// When the next event is due, if any.
    pub fn next_time(&self) -> Option<SimTime> {
        self.shared.state.borrow().agenda.next_time()
    }

    /// Processes every event due at or before `t` (bounded by the end), then moves the clock to `t`.
    pub fn advance_to(&self, t: SimTime) {
        self.drain();
        loop {
            let due = {
                let mut st = self.shared.state.borrow_mut();
                let due = st.step_until(t);
                if !due {
                    st.now = st.now.max(t.min(st.end));
                }
                due
            };
            if !due {
                break;
            }
            self.drain();
        }
    }

    /// Lets a client outside the simulator act on the world at the current time (a served API request), then runs
    /// what that started.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let r = f(&mut self.shared.state.borrow_mut());
        self.drain();
        r
    }

    /// The violations found so far.
    pub fn violations(&self) -> Vec<Violation> {
        self.shared.state.borrow().checker.violations.clone()
    }

    /// Starts spawned tasks and polls ready ones until nothing is left to do at this instant.
    fn drain(&self) {
        let (mut work, mut to_poll) = std::mem::take(&mut *self.spare.borrow_mut());
        loop {
            self.shared.state.borrow_mut().tasks.swap_work(&mut work);
            if work.is_empty() {
                break;
            }
            {
                let mut futures = self.shared.futures.borrow_mut();
                for k in work.killed.drain(..) {
                    futures.remove(&k);
                }
            }
            for s in work.spawned.drain(..) {
                let (id, fut) = (self.build)(&self.shared, s);
                self.shared.futures.borrow_mut().insert(id, Some(fut));
                to_poll.push(id);
            }
            to_poll.append(&mut work.woken);
            for id in to_poll.drain(..) {
                self.poll(id);
            }
        }
        *self.spare.borrow_mut() = (work, to_poll);
    }

    fn poll(&self, id: TaskId) {
        let Some(mut fut) = self.shared.futures.borrow_mut().get_mut(&id).and_then(Option::take) else { return };
        self.shared.state.borrow_mut().tasks.set_polling(Some(id));
        let result = fut.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        let mut st = self.shared.state.borrow_mut();
        st.tasks.set_polling(None);
        match result {
            Poll::Pending => {
                drop(st);
                self.shared.futures.borrow_mut().insert(id, Some(fut));
            }
            Poll::Ready(out) => {
                self.shared.futures.borrow_mut().remove(&id);
                st.task_done(id, out);
                drop(st);
                drop(fut);
            }
        }
    }
}

//! The simulator's side of the seams: `SimClient` (the `Cluster` trait over the simulated API server and the
//! caller's informers), `SimTool` (br/dumpling/lightning taking simulated time and writing simulated data) and
//! `SimStore` (clean deleting simulated data).

use chrono::{DateTime, Utc};
use operator::api::log_backup::LogCommand;
use operator::api::tso::Tso;
use operator::cluster::{Cluster, ClusterError, Deletion, Event, KeyRef, Labels, Object, ObjectKey, Precondition};
use operator::manager::store::{BackupStore, StoreError};
use operator::manager::tool::{LogTask, Operation, ProgressSink, Tool, ToolError, ToolJob, ToolReport};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::api::{ApiCall, Request, Response};
use crate::engine::{Actor, Shared};
use crate::object::Obj;
use crate::rng::draw;

/// A `Cluster` for one actor: a controller (with its informers' caches) or a backup-manager process (no cache).
pub struct SimClient {
    shared: Rc<Shared>,
    actor: Actor,
}

impl SimClient {
    pub fn new(shared: Rc<Shared>, actor: Actor) -> Self {
        SimClient { shared, actor }
    }

    async fn call(&self, req: Request) -> Response {
        ApiCall::new(self.shared.clone(), self.actor.clone(), req).await
    }
}

fn typed<K: Object>(o: &Obj) -> Option<Arc<K>> {
    o.get::<K>()
}

fn unexpected(r: Response) -> ClusterError {
    unreachable!("the simulated API answered with the wrong shape: {r:?}")
}

impl Cluster for SimClient {
    fn now(&self) -> DateTime<Utc> {
        self.shared.state.borrow().now_utc()
    }

    fn cached<K: Object>(&self, key: KeyRef<'_>) -> Option<Arc<K>> {
        let st = self.shared.state.borrow();
        let Actor::Controller(c) = self.actor else { return None };
        let informer = st.controllers[c].informer_for(K::KIND)?;
        st.informers[informer].cache.get(&key).and_then(|o| o.get::<K>())
    }

    fn cached_list<K: Object>(&self, namespace: &str, selector: &Labels) -> Vec<Arc<K>> {
        let st = self.shared.state.borrow();
        let Actor::Controller(c) = self.actor else { return Vec::new() };
        let Some(informer) = st.controllers[c].informer_for(K::KIND) else { return Vec::new() };
        st.informers[informer].cache.select(namespace, selector).filter_map(|o| o.get::<K>()).collect()
    }

    async fn get<K: Object>(&self, key: &ObjectKey) -> Result<Option<Arc<K>>, ClusterError> {
        match self.call(Request::Get(K::KIND, key.clone())).await {
            Response::Got(o) => Ok(o.as_ref().and_then(typed)),
            Response::Failed(e) => Err(e),
            r => Err(unexpected(r)),
        }
    }

    async fn list<K: Object>(&self, namespace: &str, selector: &Labels) -> Result<Vec<Arc<K>>, ClusterError> {
        match self.call(Request::List(K::KIND, namespace.to_string(), selector.clone())).await {
            Response::Listed(v) => Ok(v.iter().filter_map(typed).collect()),
            Response::Failed(e) => Err(e),
            r => Err(unexpected(r)),
        }
    }

    async fn create<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        match self.call(Request::Create(Obj::shared(obj))).await {
            Response::Written(o) => Ok(typed(&o).expect("same kind")),
            Response::Failed(e) => Err(e),
            r => Err(unexpected(r)),
        }
    }

    async fn replace<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        match self.call(Request::Update(Obj::shared(obj))).await {
            Response::Written(o) => Ok(typed(&o).expect("same kind")),
            Response::Failed(e) => Err(e),
            r => Err(unexpected(r)),
        }
    }

    async fn replace_status<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        match self.call(Request::UpdateStatus(Obj::shared(obj))).await {
            Response::Written(o) => Ok(typed(&o).expect("same kind")),
            Response::Failed(e) => Err(e),
            r => Err(unexpected(r)),
        }
    }

    async fn delete<K: Object>(
        &self,
        key: &ObjectKey,
        precondition: &Precondition,
    ) -> Result<Deletion<K>, ClusterError> {
        match self.call(Request::Delete(K::KIND, key.clone(), precondition.clone())).await {
            Response::Deleted(Deletion::Gone) => Ok(Deletion::Gone),
            Response::Deleted(Deletion::Pending(o)) => {
                Ok(Deletion::Pending(Arc::unwrap_or_clone(typed(&o).expect("same kind"))))
            }
            Response::Failed(e) => Err(e),
            r => Err(unexpected(r)),
        }
    }

    async fn publish(&self, event: Event) {
        let mut st = self.shared.state.borrow_mut();
        let name = st.actor_name(&self.actor);
        let now = st.now;
        // Events are objects in the namespace too: a namespace being deleted refuses them.
        let refused = st.world.is_terminating(&event.key.namespace);
        st.trace.record(
            now,
            &name,
            if refused { "event-refused" } else { "event" },
            format_args!("{} {}", event.kind, event.key),
            format_args!("{} {}: {}", event.type_, event.reason, event.message),
        );
    }
}

/// br, dumpling and lightning, simulated: they take a drawn time, write partial data at once and the rest (with
/// `backupmeta`) at the end, and fail or get killed as the fault plan says.
pub struct SimTool {
    pub shared: Rc<Shared>,
    pub pod: String,
}

impl Tool for SimTool {
    async fn pause(&self, d: Duration) {
        crate::api::Sleep::new(self.shared.clone(), d).await;
    }

    async fn run(&self, job: &ToolJob, progress: &ProgressSink) -> Result<ToolReport, ToolError> {
        match job.operation {
            Operation::Log(command) => return self.log(job, command).await,
            Operation::LogStatus => return Ok(self.log_status(job)),
            // The simulated encoding of a storage is its URL.
            Operation::Base64ify => return Ok(ToolReport { printed: Some(job.location.url()), ..Default::default() }),
            Operation::Compact => return self.compact(job).await,
            _ => {}
        }
        self.snapshot(job, progress).await
    }
}

/// The value of `--name=` in a command line.
fn flag<'a>(job: &'a ToolJob, name: &str) -> Option<&'a str> {
    job.args.iter().find_map(|a| a.strip_prefix(name)?.strip_prefix('='))
}

impl SimTool {
    /// `br log <verb>`: takes a few seconds, may fail as the fault plan says, then changes the task.
    async fn log(&self, job: &ToolJob, command: LogCommand) -> Result<ToolReport, ToolError> {
        let (duration, fail_after) = {
            let mut st = self.shared.state.borrow_mut();
            let duration = draw(&mut st.rngs.tool, Duration::from_secs(1), Duration::from_secs(10));
            (duration, st.pod_fail_after(&self.pod, duration))
        };
        if let Some(after) = fail_after {
            crate::api::Sleep::new(self.shared.clone(), after).await;
            return Err(exited(job, "[ERROR] rpc error: code = Unavailable (simulated failure)".into()));
        }
        crate::api::Sleep::new(self.shared.clone(), duration).await;
        let mut st = self.shared.state.borrow_mut();
        let now = st.now;
        let url = job.location.url();
        let pd = flag(job, "--pd").unwrap_or_default();
        let name = flag(job, "--task-name").unwrap_or_default();
        let result = match command {
            LogCommand::Start => {
                let start = flag(job, "--start-ts").and_then(|t| Tso::parse(t).ok());
                let start = start.unwrap_or_else(|| Tso::from_time(now.to_utc()));
                let started = st.log_tasks.start(pd, name, start, &url);
                if started.is_ok() {
                    st.storage_put(&self.pod, format!("{url}/v1/backupmeta/log-start"), 4096);
                }
                started
            }
            LogCommand::Stop => st.log_tasks.stop(pd, name),
            LogCommand::Pause => st.log_tasks.pause(pd, name, now),
            LogCommand::Resume => st.log_tasks.resume(pd, name),
            LogCommand::Truncate => {
                if let Some(until) = flag(job, "--until").and_then(|t| Tso::parse(t).ok()) {
                    st.log_tasks.truncate(&url, until);
                }
                Ok(())
            }
        };
        result.map(|()| ToolReport::default()).map_err(|e| exited(job, format!("[ERROR] {e}")))
    }

    /// `tikv-ctl compact-log-backup`: takes a drawn time, may fail as the fault plan says; compacts what the log
    /// holds of the range (up to the checkpoint of the task writing there, none past a truncation) and records it in
    /// storage as `v1/compacted/<from>-<until>`.
    async fn compact(&self, job: &ToolJob) -> Result<ToolReport, ToolError> {
        let (duration, fail_after) = {
            let mut st = self.shared.state.borrow_mut();
            let span = st.timing.restore;
            let duration = draw(&mut st.rngs.tool, span.lo, span.hi);
            (duration, st.pod_fail_after(&self.pod, duration))
        };
        if let Some(after) = fail_after {
            crate::api::Sleep::new(self.shared.clone(), after).await;
            return Err(exited(job, "[ERROR] compaction failed: connection reset (simulated failure)".into()));
        }
        crate::api::Sleep::new(self.shared.clone(), duration).await;
        let mut st = self.shared.state.borrow_mut();
        let url = flag(job, "--storage-base64").unwrap_or_default().to_string();
        let ts = |name| flag(job, name).and_then(|t| Tso::parse(t).ok());
        let (Some(from), Some(until)) = (ts("--from"), ts("--until")) else {
            return Err(exited(job, "[ERROR] --from and --until must be TSOs".into()));
        };
        if !st.storage.contains(&format!("{url}/v1/backupmeta/log-start")) {
            return Err(exited(job, format!("[ERROR] no log backup under {url}")));
        }
        let now = st.now;
        let task = st.log_tasks.writing_to(&url);
        let reached = task.map_or(until, |t| until.min(t.checkpoint(now)));
        let from = task.and_then(|t| t.truncated_until).map_or(from, |t| from.max(t));
        if reached > from {
            st.storage_put(&self.pod, format!("{url}/v1/compacted/{}-{}", from.0, reached.0), 4096);
        }
        Ok(ToolReport::default())
    }

    /// `br log status --json`: the task's start and checkpoint, or no task.
    fn log_status(&self, job: &ToolJob) -> ToolReport {
        let st = self.shared.state.borrow();
        let pd = flag(job, "--pd").unwrap_or_default();
        let name = flag(job, "--task-name").unwrap_or_default();
        let tasks = st.log_tasks.get(pd, name).map(|t| LogTask {
            name: name.to_string(),
            start_ts: t.start.0,
            status: if t.paused_at.is_some() { "PAUSE" } else { "NORMAL" }.into(),
            checkpoint: t.checkpoint(st.now).0,
            storage: t.storage.clone(),
        });
        ToolReport { log_tasks: Some(tasks.into_iter().collect()), ..Default::default() }
    }

    async fn snapshot(&self, job: &ToolJob, _progress: &ProgressSink) -> Result<ToolReport, ToolError> {
        let url = job.location.url();
        let (duration, fail_after, size) = {
            let mut st = self.shared.state.borrow_mut();
            let span = if job.operation.writes_backup() { st.timing.backup } else { st.timing.restore };
            let duration = draw(&mut st.rngs.tool, span.lo, span.hi);
            let point = job.args.get(1).is_some_and(|a| a == "point");
            if point {
                restorable(&st, job).map_err(|e| exited(job, format!("[ERROR] {e}")))?;
            } else if !job.operation.writes_backup() && !st.storage.contains(&format!("{url}/backupmeta")) {
                return Err(ToolError::Exited {
                    tool: job.tool,
                    code: 1,
                    tail: format!("[ERROR] backupmeta not found under {url}"),
                });
            }
            let fail_after = st.pod_fail_after(&self.pod, duration);
            let size = 1024 * 1024 * (1 + duration.as_secs());
            if job.operation.writes_backup() {
                st.storage_put(&self.pod, format!("{url}/data-0.sst"), size / 2);
            }
            (duration, fail_after, size)
        };
        if let Some(after) = fail_after {
            crate::api::Sleep::new(self.shared.clone(), after).await;
            return Err(ToolError::Exited {
                tool: job.tool,
                code: 1,
                tail: "[ERROR] rpc error: code = Unavailable (simulated failure)".into(),
            });
        }
        crate::api::Sleep::new(self.shared.clone(), duration).await;
        let mut st = self.shared.state.borrow_mut();
        if job.operation.writes_backup() {
            st.storage_put(&self.pod, format!("{url}/data-1.sst"), size / 2);
            st.storage_put(&self.pod, format!("{url}/backupmeta"), 4096);
        }
        let commit_ts = (st.now.0 as u64) << 18;
        Ok(ToolReport {
            size_bytes: Some(size),
            commit_ts: Some(commit_ts.to_string()),
            time_taken: None,
            log_tasks: None,
            printed: None,
        })
    }
}

/// Why `br restore point` cannot restore what `job` asks, if it cannot: the log's storage holds a log, the snapshot's
/// storage (if named) a backup, and a task writing that log has not truncated past the point nor reached it yet.
fn restorable(st: &crate::engine::State, job: &ToolJob) -> Result<(), String> {
    let log = job.location.url();
    if !st.storage.contains(&format!("{log}/v1/backupmeta/log-start")) {
        return Err(format!("no log backup under {log}"));
    }
    if let Some(full) = flag(job, "--full-backup-storage")
        && !st.storage.contains(&format!("{full}/backupmeta"))
    {
        return Err(format!("backupmeta not found under {full}"));
    }
    let point = flag(job, "--restored-ts").and_then(|t| t.parse::<u64>().ok()).map(Tso).unwrap_or(Tso(0));
    if let Some(task) = st.log_tasks.writing_to(&log) {
        if task.truncated_until.is_some_and(|t| t > point) || point < task.start {
            return Err(format!("the log under {log} does not reach back to {}", point.0));
        }
        if point > task.checkpoint(st.now) {
            return Err(format!("the log under {log} has not reached {} yet", point.0));
        }
    }
    Ok(())
}

fn exited(job: &ToolJob, tail: String) -> ToolError {
    ToolError::Exited { tool: job.tool, code: 1, tail }
}

/// The clean Job's storage: deletes exactly the backup's prefix after a drawn time.
pub struct SimStore {
    pub shared: Rc<Shared>,
    pub pod: String,
}

impl BackupStore for SimStore {
    async fn delete_prefix(&self, location: &operator::api::storage::StorageLocation) -> Result<u64, StoreError> {
        let (duration, fail_after) = {
            let mut st = self.shared.state.borrow_mut();
            let span = st.timing.clean;
            let duration = draw(&mut st.rngs.tool, span.lo, span.hi);
            (duration, st.pod_fail_after(&self.pod, duration))
        };
        if let Some(after) = fail_after {
            crate::api::Sleep::new(self.shared.clone(), after).await;
            return Err(StoreError::Unreachable {
                url: location.url(),
                reason: "connection reset (simulated failure)".into(),
            });
        }
        crate::api::Sleep::new(self.shared.clone(), duration).await;
        let mut st = self.shared.state.borrow_mut();
        Ok(st.storage_delete(&self.pod, &location.url()) as u64)
    }
}

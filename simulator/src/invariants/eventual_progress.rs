//! `eventual-progress`: once the faults have healed and the grace period has passed, a Backup runs for every tick,
//! expired Backups are gone, every Restore settles, and no finalizer or Job is stuck. Failures say what is still
//! pending.

use k8s_openapi::api::batch::v1::Job;
use operator::api::cron::CronSchedule;
use operator::api::duration::format_duration;
use operator::api::labels;
use operator::api::log_backup::{self, LogCommand};
use operator::api::tso::Tso;
use operator::api::validation;
use operator::api::{Backup, BackupPhase, BackupSchedule, Restore, RestorePhase};
use operator::cluster::{Kind, ObjectKey};
use operator::controllers::attempt::job_finished;
use operator::controllers::backup::job::log_job_name;
use operator::controllers::schedule::retention::Retention;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::{Ctx, Family, Hook, Liveness, SpecEdits, created, deleted_at, owner_uid, unfinished};
use crate::scenario::model::{InvariantId, Scenario};
use crate::time::SimTime;
use crate::world::{Change, ChangeType};

pub struct EventualProgress {
    /// Schedule uid -> (created, finished) of each of its Backups.
    runs: BTreeMap<String, BTreeMap<String, (SimTime, Option<SimTime>)>>,
    /// How long a Job may legitimately run: pod start plus the slowest tool.
    job_budget: Duration,
    spec_changed: SpecEdits,
    /// Backups no schedule owns (namespace, name): a tick whose name one of them took is skipped by design.
    foreign: BTreeSet<(String, String)>,
}

impl EventualProgress {
    pub fn new(scenario: &Scenario) -> Self {
        let t = &scenario.timing;
        let job_budget = t.pod_start.hi + t.backup.hi.max(t.restore.hi).max(t.clean.hi) + Duration::from_secs(600);
        EventualProgress {
            runs: BTreeMap::new(),
            job_budget,
            spec_changed: SpecEdits::default(),
            foreign: BTreeSet::new(),
        }
    }
}

impl Family for EventualProgress {
    fn id(&self) -> InvariantId {
        InvariantId::EventualProgress
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Change]
    }

    fn on_change(&mut self, _ctx: &Ctx, change: &Change) -> Vec<String> {
        if self.spec_changed.observe(change) {
            return Vec::new();
        }
        if change.obj.kind() != Kind::Backup {
            return Vec::new();
        }
        let Some(b) = change.obj.view::<Backup>() else { return Vec::new() };
        if log_backup::is_log(&b.spec) {
            return Vec::new();
        }
        let Some(uid) = owner_uid(b) else {
            self.foreign.insert((
                b.metadata.namespace.clone().unwrap_or_default(),
                b.metadata.name.clone().unwrap_or_default(),
            ));
            return Vec::new();
        };
        let name = b.metadata.name.as_deref().unwrap_or_default();
        // Most changes are to a Backup already recorded: found without building its keys.
        let runs = match self.runs.get_mut(uid) {
            Some(runs) => runs,
            None => self.runs.entry(uid.to_string()).or_default(),
        };
        let entry = match runs.get_mut(name) {
            Some(entry) => entry,
            None => runs.entry(name.to_string()).or_insert((created(&b.metadata), None)),
        };
        if entry.1.is_none() && (!unfinished(b) || change.type_ == ChangeType::Deleted) {
            entry.1 = Some(change.time);
        }
        Vec::new()
    }

    fn at_end(&mut self, ctx: &Ctx, liveness: Option<Liveness>) -> Vec<String> {
        let Some(l) = liveness else { return Vec::new() };
        let mut found = Vec::new();
        for s in ctx.world.iter_kind(Kind::BackupSchedule).filter_map(|o| o.get::<BackupSchedule>()) {
            let key = operator::cluster::ObjectKey::of(&*s);
            let uid = s.metadata.uid.clone().unwrap_or_default();
            let runs = self.runs.get(&uid).cloned().unwrap_or_default();
            // Every tick in the window got a Backup, or one was still running then (no overlap is allowed).
            let valid = validation::schedule(&s).is_empty();
            if !s.paused()
                && valid
                && let Ok(cron) = CronSchedule::of(&s)
            {
                let until = l.end.0 - self.job_budget.as_millis() as i64;
                let edited = self.spec_changed.last(&uid).map(|t| t.plus(l.grace)).unwrap_or_default();
                let mut t = cron.tick_after(l.deadline.max(edited).to_utc());
                let mut missed = Vec::new();
                while let Some(tick) = t.map(SimTime::from_utc).filter(|x| x.0 <= until) {
                    let next = cron.tick_after(tick.to_utc()).map(SimTime::from_utc).unwrap_or(l.end);
                    let ran = runs.values().any(|(born, done)| {
                        (*born >= tick && *born < next) || (*born <= tick && done.is_none_or(|d| d > tick))
                    });
                    // A Backup the schedule does not own holds the tick's name: the tick is skipped, with a Warning.
                    let taken = self.foreign.contains(&(
                        key.namespace.clone(),
                        operator::api::names::scheduled_backup_name(&key.name, tick.to_utc()),
                    ));
                    if !ran && !taken {
                        missed.push(tick);
                    }
                    t = Some(next.to_utc());
                }
                if let Some(first) = missed.first() {
                    found.push(format!("BackupSchedule {key}: no Backup ran for {} tick(s) after the faults healed, the first at {first}", missed.len()));
                }
            }
            // Expired Backups are gone (the newest Complete one is kept on purpose).
            if let (Retention::Age(max_age), true) = (Retention::of(&s), valid) {
                let mut backups = super::schedule_backups(ctx.world, &uid);
                backups.sort_by(|a, b| super::creation_order(&a.metadata).cmp(&super::creation_order(&b.metadata)));
                let completes: Vec<&Backup> = backups
                    .iter()
                    .filter(|b| b.phase() == Some(BackupPhase::Complete) && b.metadata.deletion_timestamp.is_none())
                    .map(|b| &**b)
                    .collect();
                let keep_base = s.spec.log_backup_template.is_some();
                // A Backup being deleted was collected; the finalizer check below judges the rest of its way.
                for b in backups.iter().filter(|b| b.metadata.deletion_timestamp.is_none()) {
                    // The newest Complete one is kept; with a log backup each Complete one is kept as the base of
                    // point-in-time restores until the next newer Complete one is old enough to take its place.
                    let at = completes.iter().position(|c| c.metadata.name == b.metadata.name);
                    let expired_at = match at {
                        Some(i) if i + 1 == completes.len() => continue,
                        Some(i) if keep_base => created(&completes[i + 1].metadata).plus(max_age),
                        _ => created(&b.metadata).plus(max_age),
                    };
                    if !unfinished(b) && expired_at.plus(l.grace) < l.end && expired_at < l.end {
                        let latest = expired_at.max(l.deadline);
                        if latest.plus(l.grace) < l.end {
                            found.push(format!(
                                "Backup {} expired at {expired_at} and still exists (phase {}{})",
                                operator::cluster::ObjectKey::of(&**b),
                                b.phase().map(|p| p.to_string()).unwrap_or_default(),
                                if b.metadata.deletion_timestamp.is_some() { ", being deleted" } else { "" }
                            ));
                        }
                    }
                }
            }
        }
        // No finalizer stuck.
        for kind in [Kind::Backup, Kind::Restore, Kind::BackupSchedule, Kind::CompactBackup] {
            for o in ctx.world.iter_kind(kind) {
                if let Some(at) = deleted_at(o.meta()).filter(|at| l.end.since((*at).max(l.deadline)) > l.grace) {
                    let f = o.meta().finalizers.clone().unwrap_or_default().join(",");
                    found.push(format!("{kind} {} still has finalizer {f} since its deletion at {at}", o.key()));
                }
            }
        }
        // No Job stuck (a running log backup's follower runs as long as its task, by design).
        for j in ctx.world.iter_kind(Kind::Job).filter_map(|o| o.get::<Job>()) {
            let born = created(&j.metadata).max(l.deadline);
            if !job_finished(&j) && l.end.since(born) > self.job_budget && !follows_running_task(ctx, &j) {
                found.push(format!(
                    "Job {} has not finished {} after it started (budget {})",
                    operator::cluster::ObjectKey::of(&*j),
                    format_duration(l.end.since(created(&j.metadata))),
                    format_duration(self.job_budget)
                ));
            }
        }
        found.extend(self.unsettled_restores(ctx, &l));
        // A running log backup's checkpoint keeps up.
        for b in ctx.world.iter_kind(Kind::Backup).filter_map(|o| o.get::<Backup>()) {
            if !log_backup::is_log(&b.spec)
                || b.phase() != Some(BackupPhase::Running)
                || b.metadata.deletion_timestamp.is_some()
            {
                continue;
            }
            let status = b.status.as_ref();
            let checkpoint = status.and_then(|s| s.log_checkpoint_ts.as_deref()).and_then(|t| Tso::parse(t).ok());
            let Some(at) = checkpoint.map(|c| SimTime::from_utc(c.to_time())) else { continue };
            if l.end.since(at.max(l.deadline)) > self.job_budget {
                found.push(format!(
                    "log Backup {} is Running but its checkpoint is {} old (at {at})",
                    operator::cluster::ObjectKey::of(&*b),
                    format_duration(l.end.since(at))
                ));
            }
        }
        found
    }
}

impl EventualProgress {
    /// Restores this operator drives (new, Scheduled or Running) that have not settled within a Job's budget of the
    /// later of their creation and the liveness deadline: each ends Complete, Failed (a refused point in time
    /// included) or Invalid (waiting for the user's fix). One being deleted is the finalizer check's.
    fn unsettled_restores(&self, ctx: &Ctx, l: &Liveness) -> Vec<String> {
        let mut found = Vec::new();
        for r in ctx.world.iter_kind(Kind::Restore).filter_map(|o| o.get::<Restore>()) {
            let phase = r.phase();
            if r.metadata.deletion_timestamp.is_some()
                || !matches!(phase, None | Some(RestorePhase::Scheduled | RestorePhase::Running))
            {
                continue;
            }
            let born = created(&r.metadata);
            if l.end.since(born.max(l.deadline)) > self.job_budget {
                found.push(format!(
                    "Restore {} is still {} {} after it was created (budget {})",
                    ObjectKey::of(&*r),
                    phase.map_or("without a phase".to_string(), |p| p.to_string()),
                    format_duration(l.end.since(born)),
                    format_duration(self.job_budget)
                ));
            }
        }
        found
    }
}

/// True for the `log-start` Job of a log Backup that is Running: it follows the task while the task runs.
fn follows_running_task(ctx: &Ctx, job: &Job) -> bool {
    let Some(name) = job.metadata.labels.as_ref().and_then(|l| l.get(labels::BACKUP)) else { return false };
    let key = ObjectKey::new(job.metadata.namespace.clone().unwrap_or_default(), name);
    let Some(b) = ctx.world.get(Kind::Backup, &key).and_then(|o| o.get::<Backup>()) else { return false };
    log_backup::is_log(&b.spec)
        && b.phase() == Some(BackupPhase::Running)
        && job.metadata.name.as_deref() == Some(log_job_name(name, LogCommand::Start).as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_tasks::LogTasks;
    use crate::object::Obj;
    use crate::storage::Storage;
    use crate::world::{Subresource, World};

    fn restore(world: &mut World, name: &str, phase: Option<&str>, now: SimTime) {
        let manifest = serde_json::json!({
            "apiVersion": "pingcap.com/v1alpha1", "kind": "Restore",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"br": {"cluster": "c"}, "s3": {"provider": "aws", "bucket": "b", "prefix": name}},
        });
        let r: Restore = serde_json::from_value(manifest).unwrap();
        let created = world.create(Obj::wrap(r), now).unwrap();
        if let Some(phase) = phase {
            let mut r = (*created.get::<Restore>().unwrap()).clone();
            r.status = Some(serde_json::from_value(serde_json::json!({"phase": phase})).unwrap());
            world.update(Obj::wrap(r), Subresource::Status, now).unwrap();
        }
    }

    #[test]
    fn a_restore_left_running_after_the_budget_is_pending_and_settled_ones_are_not() {
        let scenario = crate::scenario::parse("name: t\nduration: 10h\nexpect: {holds: [all]}\n", "t.yaml").unwrap();
        let start = SimTime::from_utc(scenario.start);
        let at = |h: u64| start.plus(Duration::from_secs(h * 3600));
        let mut world = World::new();
        for (name, phase) in
            [("running", Some("Running")), ("new", None), ("done", Some("Complete")), ("refused", Some("Failed"))]
        {
            restore(&mut world, name, phase, at(1));
        }
        restore(&mut world, "recent", Some("Running"), at(10));
        let (storage, log_tasks) = (Storage::default(), LogTasks::default());
        let ctx = Ctx { world: &world, storage: &storage, log_tasks: &log_tasks, now: at(10), actor: "checker" };
        let l = Liveness { heal: at(2), deadline: at(3), end: at(10), grace: Duration::from_secs(3600) };
        let found = EventualProgress::new(&scenario).unsettled_restores(&ctx, &l);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("Restore ns/new is still without a phase 9h"), "{}", found[0]);
        assert!(found[1].starts_with("Restore ns/running is still Running 9h"), "{}", found[1]);
    }
}

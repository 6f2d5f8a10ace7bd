//! Scenario files (the QA interface): parsed in two stages, raw with source positions ([`raw`]), then validated
//! into a [`model::Scenario`]; every problem is reported as `file:line:col: field: problem`.

pub mod error;
pub mod model;
pub mod raw;
pub mod schema;
pub mod tree;
pub mod write;

use chrono::{DateTime, TimeZone, Utc};
use operator::api::duration::parse_duration;
use operator::api::names::dns1123_subdomain_problem;
use operator::api::{Backup, BackupSchedule, Restore};
use operator::cluster::{Kind, ObjectKey, Verb};
use serde::de::DeserializeOwned;
use std::path::Path;
use std::time::Duration;

use crate::controller_id::ControllerId;
use crate::object::Obj;
use error::{ScenarioError, ScenarioErrors};
use model::*;
use raw::*;
use tree::Tree;

/// The default simulated start (a fixed epoch: runs never depend on today's date).
pub fn default_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// The default seed.
pub const DEFAULT_SEED: u64 = 1;
/// The default liveness grace.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

struct Checker<'a> {
    file: &'a str,
    errors: Vec<ScenarioError>,
}

impl Checker<'_> {
    fn err(&mut self, line: usize, col: usize, field: impl Into<String>, problem: impl Into<String>) {
        self.errors.push(ScenarioError {
            file: self.file.to_string(),
            line,
            col,
            field: field.into(),
            problem: problem.into(),
        });
    }

    fn at<T>(&mut self, loc: &Loc<T>, field: impl Into<String>, problem: impl Into<String>) {
        self.err(loc.line, loc.col, field, problem);
    }

    fn duration(&mut self, loc: &Loc<String>, field: &str) -> Option<Duration> {
        match parse_duration(&loc.value) {
            Ok(d) => Some(d),
            Err(e) => {
                self.at(loc, field, e.to_string());
                None
            }
        }
    }

    /// `a..b` or a single duration.
    fn span(&mut self, loc: &Loc<String>, field: &str) -> Option<Span> {
        let text = loc.value.trim();
        let (lo, hi) = match text.split_once("..") {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (text, text),
        };
        let parse = |s: &str| parse_duration(s);
        match (parse(lo), parse(hi)) {
            (Ok(lo), Ok(hi)) if lo <= hi => Some(Span { lo, hi }),
            (Ok(_), Ok(_)) => {
                self.at(loc, field, format!("range {text:?} has its lower bound above its upper bound"));
                None
            }
            (Err(e), _) | (_, Err(e)) => {
                self.at(loc, field, e.to_string());
                None
            }
        }
    }

    fn kind(&mut self, loc: &Loc<String>, field: &str) -> Option<Kind> {
        let k = Kind::parse(&loc.value);
        if k.is_none() {
            self.at(
                loc,
                field,
                format!("unknown kind {:?} (expected Backup, Restore, BackupSchedule, Job or Pod)", loc.value),
            );
        }
        k
    }

    fn kinds(&mut self, list: &[Loc<String>], field: &str) -> Vec<Kind> {
        list.iter().enumerate().filter_map(|(i, l)| self.kind(l, &format!("{field}[{i}]"))).collect()
    }

    fn controller(&mut self, loc: &Option<Loc<String>>, field: &str) -> Option<ControllerId> {
        let l = loc.as_ref()?;
        let parsed = ControllerId::parse(&l.value);
        if parsed.is_none() {
            self.at(
                l,
                field,
                format!("unknown controller {:?} (expected one of {})", l.value, ControllerId::names().join(", ")),
            );
        }
        parsed
    }

    fn roles(&mut self, loc: &Option<Loc<serde_json::Value>>, field: &str) -> Vec<JobRole> {
        let Some(l) = loc else { return Vec::new() };
        let names: Vec<&serde_json::Value> = match &l.value {
            serde_json::Value::Array(v) => v.iter().collect(),
            one => vec![one],
        };
        let mut roles = Vec::new();
        for n in names {
            match n.as_str().and_then(JobRole::parse) {
                Some(r) => roles.push(r),
                None => self.at(l, field, format!("unknown Job role {n} (expected backup, restore or clean)")),
            }
        }
        roles
    }

    fn rate(&mut self, loc: &Loc<f64>, field: &str) -> f64 {
        if !(0.0..=1.0).contains(&loc.value) {
            self.at(loc, field, format!("rate {} is not a probability between 0 and 1", loc.value));
        }
        loc.value.clamp(0.0, 1.0)
    }

    fn window(
        &mut self,
        from: &Option<Loc<String>>,
        until: &Option<Loc<String>>,
        field: &str,
        duration: Duration,
    ) -> (Span, Option<Span>) {
        let from_span =
            from.as_ref().and_then(|f| self.span(f, &format!("{field}.from"))).unwrap_or(Span::fixed(Duration::ZERO));
        let until_span = match until {
            None => Some(Span::fixed(duration)),
            Some(u) if u.value.trim() == "never" => None,
            Some(u) => self.span(u, &format!("{field}.until")).or(Some(Span::fixed(duration))),
        };
        if let Some(u) = until_span
            && u.hi < from_span.lo
            && let Some(l) = until
        {
            self.at(l, format!("{field}.until"), "heals before it starts");
        }
        (from_span, until_span)
    }
}

fn typed<K: DeserializeOwned + operator::cluster::Object>(value: &serde_json::Value) -> Result<Obj, String> {
    let mut v = value.clone();
    if let Some(meta) = v.get_mut("metadata").and_then(|m| m.as_object_mut())
        && !meta.contains_key("namespace")
    {
        meta.insert("namespace".into(), "default".into());
    }
    serde_path_to_error::deserialize::<_, K>(v).map(Obj::wrap).map_err(|e| {
        let path = e.path().to_string();
        if path == "." { e.inner().to_string() } else { format!("{path}: {}", e.inner()) }
    })
}

/// Reports each field of `value` that `schema` refuses (unknown or mistyped), at the field's own line.
fn schema_problems(
    c: &mut Checker,
    schema: Option<&serde_json::Value>,
    tree: &Loc<Tree>,
    value: &serde_json::Value,
    field: &str,
) -> bool {
    let Some(schema) = schema else { return true };
    let problems = schema::check(value, schema);
    for p in &problems {
        let (line, col) = tree.position_of(&p.path);
        c.err(line, col, format!("{field}{}", tree::path_suffix(&p.path)), p.problem.clone());
    }
    problems.is_empty()
}

/// A manifest as an object of one of the operator's kinds.
fn manifest(c: &mut Checker, tree: &Loc<Tree>, field: &str) -> Option<Obj> {
    let value = tree.value.to_json();
    let loc = &Loc { value: (), line: tree.line, col: tree.col };
    let v = &value;
    let kind = v.get("kind").and_then(|k| k.as_str()).unwrap_or_default();
    let api = v.get("apiVersion").and_then(|k| k.as_str()).unwrap_or_default();
    if api != "pingcap.com/v1alpha1" {
        c.at(loc, format!("{field}.apiVersion"), format!("{api:?} is not pingcap.com/v1alpha1"));
        return None;
    }
    let typed_kind = match kind {
        "Backup" => Kind::Backup,
        "Restore" => Kind::Restore,
        "BackupSchedule" => Kind::BackupSchedule,
        "CompactBackup" => Kind::CompactBackup,
        other => {
            let kinds = "Backup, Restore, BackupSchedule, CompactBackup";
            c.at(loc, format!("{field}.kind"), format!("{other:?} is not one of {kinds}"));
            return None;
        }
    };
    if !schema_problems(c, schema::of_kind(typed_kind), tree, v, field) {
        return None;
    }
    let result = match typed_kind {
        Kind::Backup => typed::<Backup>(v),
        Kind::Restore => typed::<Restore>(v),
        Kind::CompactBackup => typed::<operator::api::CompactBackup>(v),
        _ => typed::<BackupSchedule>(v),
    };
    match result {
        Ok(obj) => {
            if let Some(problem) = dns1123_subdomain_problem(&obj.key().name) {
                c.at(loc, format!("{field}.metadata.name"), problem);
                return None;
            }
            Some(obj)
        }
        Err(problem) => {
            c.at(loc, field, format!("not a valid {kind}: {problem}"));
            None
        }
    }
}

fn target(
    c: &mut Checker,
    kind: &Loc<String>,
    name: &Loc<String>,
    ns: &Option<Loc<String>>,
    field: &str,
) -> Option<(Kind, ObjectKey)> {
    let kind = c.kind(kind, &format!("{field}.kind"))?;
    let ns = ns.as_ref().map(|n| n.value.clone()).unwrap_or_else(|| "default".into());
    Some((kind, ObjectKey::new(ns, name.value.clone())))
}

fn fault(c: &mut Checker, loc: &Loc<RawFault>, i: usize, duration: Duration) -> Option<Fault> {
    let field = format!("faults[{i}]");
    let (kind, from, until) = match &loc.value {
        RawFault::InformerLag(f) => {
            let at = format!("{field}.informerLag");
            let controller = c.controller(&f.controller, &format!("{at}.controller"));
            let kinds = c.kinds(&f.kinds, &format!("{at}.kinds"));
            let delay = c.span(&f.delay, &format!("{at}.delay"))?;
            (FaultKind::InformerLag { controller, kinds, delay }, &f.from, &f.until)
        }
        RawFault::WatchStall(f) => {
            let at = format!("{field}.watchStall");
            let controller = c.controller(&f.controller, &format!("{at}.controller"));
            let kinds = c.kinds(&f.kinds, &format!("{at}.kinds"));
            (FaultKind::WatchStall { controller, kinds }, &f.from, &f.until)
        }
        RawFault::PodsStuck(f) => {
            let at = format!("{field}.podsStuck");
            let jobs = c.roles(&f.jobs, &format!("{at}.jobs"));
            let state = match f.state.as_ref() {
                None => StuckState::ContainerCreating,
                Some(l) => StuckState::ALL.into_iter().find(|s| s.reason() == l.value).unwrap_or_else(|| {
                    let known: Vec<&str> = StuckState::ALL.iter().map(|s| s.reason()).collect();
                    c.at(
                        l,
                        format!("{at}.state"),
                        format!("unknown state {:?} (expected one of {})", l.value, known.join(", ")),
                    );
                    StuckState::ContainerCreating
                }),
            };
            (FaultKind::PodsStuck { jobs, state }, &f.from, &f.until)
        }
        RawFault::PodFailures(f) => {
            let at = format!("{field}.podFailures");
            let jobs = c.roles(&f.jobs, &format!("{at}.jobs"));
            let rate = f.rate.as_ref().map(|r| c.rate(r, &format!("{at}.rate"))).unwrap_or(1.0);
            let mode = match f.mode.as_ref().map(|m| m.value.as_str()) {
                None | Some("fail") => FailMode::Fail,
                Some("kill") => FailMode::Kill,
                Some(other) => {
                    let l = f.mode.as_ref().expect("matched Some");
                    c.at(l, format!("{at}.mode"), format!("unknown mode {other:?} (expected fail or kill)"));
                    FailMode::Fail
                }
            };
            (FaultKind::PodFailures { jobs, rate, mode }, &f.from, &f.until)
        }
        RawFault::ApiErrors(f) => {
            let at = format!("{field}.apiErrors");
            let mut verbs = Vec::new();
            for (j, v) in f.verbs.iter().enumerate() {
                match Verb::parse(&v.value) {
                    Some(verb) => verbs.push(verb),
                    None => c.at(
                        v,
                        format!("{at}.verbs[{j}]"),
                        format!(
                            "unknown verb {:?} (expected get, list, create, update, update-status or delete)",
                            v.value
                        ),
                    ),
                }
            }
            let kinds = c.kinds(&f.kinds, &format!("{at}.kinds"));
            let actors = match f.actors.as_ref().map(|a| a.value.as_str()) {
                None | Some("both") => ApiActors::Both,
                Some("operator") => ApiActors::Operator,
                Some("manager") => ApiActors::Manager,
                Some(other) => {
                    let l = f.actors.as_ref().expect("matched Some");
                    c.at(
                        l,
                        format!("{at}.actors"),
                        format!("unknown actors {other:?} (expected operator, manager or both)"),
                    );
                    ApiActors::Both
                }
            };
            let rate = c.rate(&f.rate, &format!("{at}.rate"));
            let error = match f.error.as_ref().map(|e| e.value.as_str()) {
                None | Some("Mixed") => ApiErrorKind::Mixed,
                Some("Conflict") => ApiErrorKind::Conflict,
                Some("Transient") => ApiErrorKind::Transient,
                Some("TransientAfterApply") => ApiErrorKind::TransientAfterApply,
                Some("Forbidden") => ApiErrorKind::Forbidden,
                Some(other) => {
                    let l = f.error.as_ref().expect("matched Some");
                    c.at(
                        l,
                        format!("{at}.error"),
                        format!("unknown error {other:?} (expected Conflict, Transient, TransientAfterApply, Forbidden or Mixed)"),
                    );
                    ApiErrorKind::Mixed
                }
            };
            (FaultKind::ApiErrors { verbs, kinds, actors, rate, error }, &f.from, &f.until)
        }
        RawFault::OperatorRestart(f) => {
            let at_field = format!("{field}.operatorRestart");
            let at: Vec<Duration> =
                f.at.iter().enumerate().filter_map(|(j, a)| c.duration(a, &format!("{at_field}.at[{j}]"))).collect();
            let every = f.every.as_ref().and_then(|e| c.span(e, &format!("{at_field}.every")));
            if every.is_some_and(|e| e.lo.is_zero()) {
                let l = f.every.as_ref().expect("is_some");
                c.at(l, format!("{at_field}.every"), "must be longer than 0s");
            }
            let after_write = f.after_write.as_ref().and_then(|w| {
                let verb = Verb::parse(&w.value.verb.value).filter(|v| v.is_write());
                if verb.is_none() {
                    c.at(
                        &w.value.verb,
                        format!("{at_field}.afterWrite.verb"),
                        format!("{:?} is not a write verb (create, update, update-status, delete)", w.value.verb.value),
                    );
                }
                let kind = c.kind(&w.value.kind, &format!("{at_field}.afterWrite.kind"));
                Some((verb?, kind?))
            });
            if at.is_empty() && every.is_none() && after_write.is_none() {
                c.at(loc, &at_field, "needs at least one of at, every, afterWrite");
            }
            let times = f.times.as_ref().map(|t| t.value);
            (FaultKind::OperatorRestart { at, every, after_write, times }, &f.from, &f.until)
        }
        RawFault::OperatorDown(f) => (FaultKind::OperatorDown, &f.from, &f.until),
    };
    let (from, until) = c.window(from, until, &format!("{field}.{}", kind.name()), duration);
    Some(Fault { kind, from, until, line: loc.line })
}

/// Reads a scenario from YAML text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioErrors> {
    let raw: RawScenario = serde_saphyr::from_str(text).map_err(|e| {
        let (line, col) = e.location().map(|l| (l.line() as usize, l.column() as usize)).unwrap_or((1, 1));
        let message = e.without_snippet().to_string();
        let mut message = message.lines().next().unwrap_or_default().to_string();
        // The position is already in front; drop serde-saphyr's trailing copy of it.
        if let Some(i) = message.rfind(" at line ")
            && message[i..].contains(", column ")
        {
            message.truncate(i);
        }
        ScenarioErrors(vec![ScenarioError { file: file.into(), line, col, field: String::new(), problem: message }])
    })?;
    let mut c = Checker { file, errors: Vec::new() };
    if raw.name.value.trim().is_empty() {
        c.at(&raw.name, "name", "must not be empty");
    }
    let start = match &raw.start {
        None => default_start(),
        Some(s) => match DateTime::parse_from_rfc3339(&s.value) {
            Ok(t) => t.with_timezone(&Utc),
            Err(e) => {
                c.at(s, "start", format!("{:?} is not an RFC 3339 time ({e})", s.value));
                default_start()
            }
        },
    };
    let duration = c.duration(&raw.duration, "duration").unwrap_or(Duration::from_secs(3600));
    if duration.is_zero() {
        c.at(&raw.duration, "duration", "must be longer than 0s");
    }
    let controllers = match &raw.controllers {
        None => Controllers::Operator,
        Some(l) if l.value == "operator" => Controllers::Operator,
        Some(l) => {
            if crate::zoo_catalog::find(&l.value).is_none() {
                c.at(
                    l,
                    "controllers",
                    format!(
                        "unknown controllers {:?} (expected operator or a zoo entry: {})",
                        l.value,
                        crate::zoo_catalog::names().join(", ")
                    ),
                );
            }
            Controllers::Zoo(l.value.clone())
        }
    };
    let mut overrides = OperatorOverrides::default();
    if let Some(op) = &raw.operator {
        overrides.pod_start_timeout =
            op.value.pod_start_timeout.as_ref().and_then(|d| c.duration(d, "operator.podStartTimeout"));
        overrides.clean_retry = op.value.clean_retry.as_ref().and_then(|d| c.duration(d, "operator.cleanRetry"));
    }
    let objects: Vec<Obj> =
        raw.objects.iter().enumerate().filter_map(|(i, o)| manifest(&mut c, o, &format!("objects[{i}]"))).collect();
    let copies = match &raw.copies {
        Some(n) if n.value == 0 || n.value > MAX_COPIES => {
            c.at(n, "copies", format!("{} is out of range (1 to {MAX_COPIES})", n.value));
            1
        }
        Some(n) => n.value,
        None => 1,
    };
    let mut steps = Vec::new();
    for (i, s) in raw.steps.iter().enumerate() {
        let field = format!("steps[{i}]");
        let at = c.duration(&s.value.at, &format!("{field}.at"));
        let given = [
            s.value.patch.is_some(),
            s.value.create.is_some(),
            s.value.delete.is_some(),
            s.value.wipe_data.is_some(),
            s.value.delete_namespace.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if given != 1 {
            c.at(s, &field, "needs exactly one of patch, create, delete, wipeData, deleteNamespace");
            continue;
        }
        let action = if let Some(ns) = &s.value.delete_namespace {
            if ns.value.trim().is_empty() {
                c.at(ns, format!("{field}.deleteNamespace"), "must name a namespace");
                None
            } else {
                Some(StepAction::DeleteNamespace { namespace: ns.value.clone() })
            }
        } else if let Some(w) = &s.value.wipe_data {
            let url = w.value.trim_end_matches('/').to_string();
            if url.split_once("://").is_none_or(|(_, rest)| rest.is_empty()) {
                c.at(
                    w,
                    format!("{field}.wipeData"),
                    format!("{:?} is not a storage URL such as s3://bucket/prefix", w.value),
                );
                None
            } else {
                Some(StepAction::WipeData { url })
            }
        } else if let Some(p) = &s.value.patch {
            let p = &p.value;
            let at_field = format!("{field}.patch");
            target(&mut c, &p.kind, &p.name, &p.namespace, &at_field).and_then(|(kind, key)| {
                let mut patch = serde_json::Map::new();
                let mut valid = true;
                for (name, part) in [("metadata", &p.metadata), ("spec", &p.spec)] {
                    if let Some(tree) = part {
                        // A merge patch is checked as the fields it sets would be; its nulls delete fields.
                        let value = tree.value.to_json();
                        let schema = schema::of_field(kind, name);
                        valid &= schema_problems(&mut c, schema, tree, &value, &format!("{at_field}.{name}"));
                        patch.insert(name.into(), value);
                    }
                }
                valid.then_some(StepAction::Patch { kind, key, patch: serde_json::Value::Object(patch) })
            })
        } else if let Some(m) = &s.value.create {
            manifest(&mut c, m, &format!("{field}.create")).map(StepAction::Create)
        } else {
            let d = &s.value.delete.as_ref().expect("counted").value;
            target(&mut c, &d.kind, &d.name, &d.namespace, &format!("{field}.delete"))
                .map(|(kind, key)| StepAction::Delete { kind, key })
        };
        if let (Some(at), Some(action)) = (at, action) {
            if at > duration {
                c.at(&s.value.at, format!("{field}.at"), "is after the end of the run");
            }
            steps.push(Step { at, action, note: s.value.note.as_ref().map(|n| n.value.clone()) });
        }
    }
    let mut timing = Timing::default();
    if let Some(t) = &raw.timing {
        let t = &t.value;
        let fields: [(&Option<Loc<String>>, &str, &mut Span); 10] = [
            (&t.pod_start, "timing.podStart", &mut timing.pod_start),
            (&t.backup, "timing.backup", &mut timing.backup),
            (&t.restore, "timing.restore", &mut timing.restore),
            (&t.clean, "timing.clean", &mut timing.clean),
            (&t.api_latency, "timing.apiLatency", &mut timing.api_latency),
            (&t.informer_lag, "timing.informerLag", &mut timing.informer_lag),
            (&t.job_controller, "timing.jobController", &mut timing.job_controller),
            (&t.gc, "timing.gc", &mut timing.gc),
            (&t.pod_termination, "timing.podTermination", &mut timing.pod_termination),
            (&t.restart, "timing.restart", &mut timing.restart),
        ];
        for (value, field, slot) in fields {
            if let Some(v) = value
                && let Some(span) = c.span(v, field)
            {
                *slot = span;
            }
        }
    }
    let faults: Vec<Fault> = raw.faults.iter().enumerate().filter_map(|(i, f)| fault(&mut c, f, i, duration)).collect();
    let e = &raw.expect.value;
    let names = |list: &[Loc<String>], field: &str, allow_all: bool, c: &mut Checker| -> (Vec<InvariantId>, bool) {
        let mut ids = Vec::new();
        let mut all = false;
        for (i, l) in list.iter().enumerate() {
            if allow_all && l.value == "all" {
                all = true;
            } else if let Some(id) = InvariantId::parse(&l.value) {
                ids.push(id);
            } else {
                let known: Vec<&str> = InvariantId::ALL.iter().map(|i| i.as_str()).collect();
                c.at(
                    l,
                    format!("{field}[{i}]"),
                    format!(
                        "unknown invariant {:?} (expected {}{})",
                        l.value,
                        if allow_all { "all, " } else { "" },
                        known.join(", ")
                    ),
                );
            }
        }
        (ids, all)
    };
    let (holds, all) = names(&e.holds, "expect.holds", true, &mut c);
    let (violated, _) = names(&e.violated, "expect.violated", false, &mut c);
    let mut data = Vec::new();
    for (i, d) in e.data.iter().enumerate() {
        let url = d.value.url.value.trim_end_matches('/').to_string();
        if url.split_once("://").is_none_or(|(_, rest)| rest.is_empty()) {
            c.at(
                &d.value.url,
                format!("expect.data[{i}].url"),
                format!("{:?} is not a storage URL such as s3://bucket/prefix", d.value.url.value),
            );
        }
        data.push((url, d.value.present.value));
    }
    if e.holds.is_empty() && e.violated.is_empty() && e.phases.is_empty() && e.data.is_empty() {
        c.at(&raw.expect, "expect", "needs holds (for example [all]), violated or phases");
    }
    for id in &holds {
        if violated.contains(id) {
            c.at(&raw.expect, "expect", format!("{id} cannot both hold and be violated"));
        }
    }
    let holds = if all { InvariantId::ALL.into_iter().filter(|i| !violated.contains(i)).collect() } else { holds };
    let grace = e.grace.as_ref().and_then(|g| c.duration(g, "expect.grace")).unwrap_or(DEFAULT_GRACE);
    let mut api_budget = ApiBudget::default();
    if let Some(b) = &e.api_budget {
        api_budget.requests = b.value.requests.value;
        if let Some(w) = c.duration(&b.value.window, "expect.apiBudget.window") {
            if w.is_zero() {
                c.at(&b.value.window, "expect.apiBudget.window", "must be longer than zero");
            }
            api_budget.window = w;
        }
    }
    let mut phases = Vec::new();
    for (i, p) in e.phases.iter().enumerate() {
        let field = format!("expect.phases[{i}]");
        let p = &p.value;
        let Some((kind, key)) = target(&mut c, &p.kind, &p.name, &p.namespace, &field) else { continue };
        let known: &[&str] = match kind {
            Kind::Backup => &[
                "Invalid",
                "Scheduled",
                "Running",
                "Retrying",
                "Complete",
                "Failed",
                "Cleaning",
                "Clean",
                "CleanFailed",
            ],
            Kind::Restore => &["Invalid", "Scheduled", "Running", "Complete", "Failed"],
            Kind::CompactBackup => &["Scheduled", "Running", "RetryFailed", "Complete", "Failed"],
            _ => {
                c.at(&p.kind, format!("{field}.kind"), "only Backup, Restore and CompactBackup have a phase");
                continue;
            }
        };
        if !known.contains(&p.phase.value.as_str()) {
            c.at(
                &p.phase,
                format!("{field}.phase"),
                format!("unknown {kind} phase {:?} (expected one of {})", p.phase.value, known.join(", ")),
            );
            continue;
        }
        phases.push(PhaseExpectation { kind, key, phase: p.phase.value.clone() });
    }
    let workload = raw.workload.as_ref().map(|w| workload(&mut c, w));
    if !c.errors.is_empty() {
        return Err(ScenarioErrors(c.errors));
    }
    Ok(Scenario {
        name: raw.name.value,
        description: raw.description.map(|d| d.value).unwrap_or_default(),
        path: None,
        start,
        duration,
        seed: raw.seed.map(|s| s.value).unwrap_or(DEFAULT_SEED),
        controllers,
        objects,
        copies,
        steps,
        timing,
        faults,
        workload,
        expect: Expect { holds, violated, grace, phases, data, api_budget },
        operator: overrides,
        canary: raw.canary.map(|c| c.value).unwrap_or(false),
    })
}

/// The most actions a workload may draw (a story longer than this is not one a person reads).
const MAX_ACTIONS: u32 = 64;

fn workload(c: &mut Checker, w: &Loc<RawWorkload>) -> Workload {
    let mut out = Workload::default();
    if let Some(n) = &w.value.actions {
        if n.value == 0 || n.value > MAX_ACTIONS {
            c.at(n, "workload.actions", format!("{} is out of range (1 to {MAX_ACTIONS})", n.value));
        }
        out.actions = n.value.clamp(1, MAX_ACTIONS);
    }
    if !w.value.areas.is_empty() {
        out.areas.clear();
        for (i, a) in w.value.areas.iter().enumerate() {
            match Area::parse(&a.value) {
                Some(area) if !out.areas.contains(&area) => out.areas.push(area),
                Some(_) => c.at(a, format!("workload.areas[{i}]"), format!("{:?} is listed twice", a.value)),
                None => c.at(
                    a,
                    format!("workload.areas[{i}]"),
                    format!("unknown area {:?} (expected one of {})", a.value, Area::ALL.map(Area::as_str).join(", ")),
                ),
            }
        }
    }
    out
}

/// Reads a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioErrors> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ScenarioErrors(vec![ScenarioError {
            file: file.clone(),
            line: 1,
            col: 1,
            field: String::new(),
            problem: format!("cannot read the file: {e}"),
        }])
    })?;
    let mut s = parse(&text, &file)?;
    s.path = Some(path.to_path_buf());
    Ok(s)
}

/// The JSON Schema of scenario files.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(RawScenario);
    serde_json::to_string_pretty(&schema).expect("a schema serializes") + "\n"
}

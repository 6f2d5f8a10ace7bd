//! A schedule's log truncations under stuck pods and lagging informers: each failed truncation waits out
//! `--clean-retry` before it runs again, and a truncate Job's previous run, still in the cache under the same
//! name, is never judged as the current one (both were wrong when schedules first truncated their log).

use simulator::run::{RunOptions, run};
use simulator::trace::TraceSink;
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

struct Lines(Rc<RefCell<Vec<String>>>);

impl TraceSink for Lines {
    fn line(&mut self, line: &str) {
        self.0.borrow_mut().push(line.to_string());
    }
}

fn trace() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/pitr/truncation-through-stuck-pods.yaml");
    let scenario = simulator::scenario::load(&path).expect("a valid scenario");
    let lines = Rc::new(RefCell::new(Vec::new()));
    let report =
        run(&scenario, RunOptions { seed: None, trace: Some(Box::new(Lines(lines.clone()))), timeline: false });
    assert!(report.passed, "{:?}", report.failures);
    lines.take()
}

fn millis(line: &str) -> i64 {
    let stamp = line.split_whitespace().next().unwrap_or_default();
    chrono::DateTime::parse_from_rfc3339(stamp).map(|t| t.timestamp_millis()).unwrap_or_default()
}

/// Regression (this operator's first PITR schedules): a stuck truncation's failure did not record which point it
/// was about, so the pause before the next run was skipped and the Job was deleted and created again at once.
#[test]
fn a_failed_truncation_runs_again_only_after_the_clean_retry() {
    let lines = trace();
    let failures: Vec<&String> = lines.iter().filter(|l| l.contains("LogBackupFailed: log-truncate failed")).collect();
    assert!(!failures.is_empty(), "no truncation failed: the scenario no longer tests this");
    for failure in failures {
        let at = millis(failure);
        let next = lines.iter().find(|l| millis(l) >= at && l.contains("create Job") && l.contains("log-truncate rv="));
        if let Some(next) = next {
            // The failure's time is taken as its reconcile starts; its Event is logged a status write later.
            let gap = millis(next) - at;
            assert!(gap >= 59_000, "ran again {gap}ms after:\n{failure}\n{next}");
        }
    }
}

/// Regression (this operator's first PITR schedules): right after a truncation's Job was created anew, the cache
/// still showed the previous run's Job of the same name, finished or stuck, and it was judged as this run's
/// (`StatusNotReported`, `PodNotCreated`), failing a truncation that was running fine.
#[test]
fn a_truncate_jobs_previous_run_is_never_judged_as_the_current_one() {
    let lines = trace();
    let misjudged: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("LogBackupFailed") && (l.contains("StatusNotReported") || l.contains("PodNotCreated")))
        .collect();
    assert!(misjudged.is_empty(), "{misjudged:#?}");
}

//! The `sim` subcommands' logic (the binary only parses arguments): finding scenario files, running them, printing
//! one line per scenario and the replay command of a failure.

use clap::Args;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

use crate::run::{Report, RunOptions, run as run_scenario};
use crate::scenario::{self, model::Scenario};
use crate::trace::{DigestSink, SharedSink, Tee, TraceSink, WriterSink};

/// Exit codes, documented in `--help`.
pub const EXIT_CODES: &str =
    "Exit codes: 0 every expectation held; 1 an expectation was not met; 2 invalid input or usage.";

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Scenario files, or folders searched for *.yaml.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Run at this seed instead of each scenario's own.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write the full trace to this file (`-` for stdout); with several scenarios, one file each (FILE.NAME).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Print API requests by verb and kind and writes per Backup after each scenario.
    #[arg(long)]
    pub stats: bool,
    /// Run with these schedule controllers instead of the scenario's: `operator` or zoo entries, comma-separated
    /// (each scenario runs once per entry, so `--stats --controllers operator,tidb-v1-schedule-reset` compares them).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub controllers: Vec<String>,
}

/// Every scenario file under `paths`, sorted, with the problems of paths that are neither files nor folders.
pub fn scenario_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<String>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    fn walk(dir: &Path, out: &mut Vec<PathBuf>, problems: &mut Vec<String>) {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("{}: cannot read the folder: {e}", dir.display()));
                return;
            }
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                walk(&p, out, problems);
            } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(p);
            }
        }
    }
    for p in paths {
        if p.is_dir() {
            walk(p, &mut files, &mut problems);
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            problems.push(format!("{}: no such file or folder", p.display()));
        }
    }
    (files, problems)
}

/// The scenario's display name: its path relative to a `scenarios/` folder when there is one.
pub fn display_name(path: &Path) -> String {
    let s = path.display().to_string();
    match s.find("scenarios/") {
        Some(i) => s[i + "scenarios/".len()..].trim_end_matches(".yaml").to_string(),
        None => s,
    }
}

/// The command that replays a run.
pub fn replay_command(path: &Path, seed: u64) -> String {
    format!("cargo run --release -p simulator --bin sim -- run {} --seed {seed} --trace trace.log", path.display())
}

/// One line for a finished run.
pub fn summary_line(path: &Path, scenario: &Scenario, report: &Report) -> String {
    let name = display_name(path);
    if report.passed && scenario.canary {
        return format!("PASS {name} (seed {}): canary failed as it must: {}", report.seed, report.failures.join("; "));
    }
    if report.passed {
        let mut what = if scenario.expect.violated.is_empty() {
            "all expected invariants held".to_string()
        } else {
            let caught: Vec<String> = scenario
                .expect
                .violated
                .iter()
                .map(|id| {
                    let v = report.violations.iter().find(|v| v.invariant == *id).expect("violated");
                    format!("{id} at {}", v.time)
                })
                .collect();
            format!("violated as expected: {}", caught.join(", "))
        };
        if let Some(why) = &report.liveness_skipped {
            what.push_str(&format!(" (liveness not judged: {why})"));
        }
        format!("PASS {name} (seed {}): {what}", report.seed)
    } else {
        format!(
            "FAIL {name} (seed {}): {}; replay: {}",
            report.seed,
            report.failures.join("; "),
            replay_command(path, report.seed)
        )
    }
}

fn trace_sink(args: &RunArgs, name: &str, several: bool) -> Result<Option<Box<dyn TraceSink>>, String> {
    let Some(path) = &args.trace else { return Ok(None) };
    if path.as_os_str() == "-" {
        return Ok(Some(Box::new(WriterSink(std::io::stdout()))));
    }
    let target =
        if several { PathBuf::from(format!("{}.{}", path.display(), name.replace('/', "-"))) } else { path.clone() };
    let file =
        std::fs::File::create(&target).map_err(|e| format!("{}: cannot write the trace: {e}", target.display()))?;
    Ok(Some(Box::new(WriterSink(std::io::BufWriter::new(file)))))
}

/// `sim run`.
pub fn run(args: &RunArgs) -> ExitCode {
    let (files, problems) = scenario_files(&args.paths);
    let mut invalid = problems.len();
    for p in &problems {
        eprintln!("ERROR {p}");
    }
    let (mut passed, mut failed) = (0, 0);
    for path in &files {
        let mut scenario = match scenario::load(path) {
            Ok(s) => s,
            Err(errors) => {
                println!("ERROR {}: invalid scenario", display_name(path));
                eprintln!("{errors}");
                invalid += 1;
                continue;
            }
        };
        let mut variants = match controller_variants(&args.controllers) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("ERROR {e}");
                return ExitCode::from(2);
            }
        };
        if variants.is_empty() {
            variants.push(scenario.controllers.clone());
        }
        let several = variants.len() > 1;
        for controllers in variants {
            scenario.controllers = controllers;
            let label = if several {
                format!("{}[{}]", display_name(path), scenario.controllers.name())
            } else {
                display_name(path)
            };
            let sink = match trace_sink(args, &label, files.len() > 1 || several) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("ERROR {e}");
                    return ExitCode::from(2);
                }
            };
            let report = run_scenario(&scenario, RunOptions { seed: args.seed, trace: sink });
            let line = summary_line(path, &scenario, &report);
            println!("{}", if several { line.replacen(&display_name(path), &label, 1) } else { line });
            if args.stats {
                print!("{}", report.stats.render());
            }
            if report.passed {
                passed += 1;
            } else {
                failed += 1;
            }
        }
    }
    println!(
        "{passed} passed, {failed} failed{}",
        if invalid > 0 { format!(", {invalid} invalid") } else { String::new() }
    );
    if invalid > 0 {
        ExitCode::from(2)
    } else if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `sim check`.
pub fn check(paths: &[PathBuf]) -> ExitCode {
    let (files, problems) = scenario_files(paths);
    let mut bad = problems.len();
    for p in &problems {
        eprintln!("ERROR {p}");
    }
    for path in &files {
        match scenario::load(path) {
            Ok(_) => println!("OK {}", path.display()),
            Err(errors) => {
                eprintln!("{errors}");
                bad += 1;
            }
        }
    }
    println!("{} valid, {bad} invalid", files.len() + problems.len() - bad);
    if bad > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS }
}

/// Runs `scenario` at `seed` with a digest of its trace (for snapshots and the determinism test).
pub fn run_with_digest(scenario: &Scenario, seed: u64, keep: usize) -> (Report, crate::trace::Digest256) {
    let digest = Rc::new(RefCell::new(DigestSink::new(keep)));
    let sink: Box<dyn TraceSink> = Box::new(Tee(vec![Box::new(SharedSink(digest.clone()))]));
    let report = run_scenario(scenario, RunOptions { seed: Some(seed), trace: Some(sink) });
    let d = digest.borrow().digest();
    (report, d)
}

#[derive(Args, Debug)]
pub struct ExploreArgs {
    /// Scenario files, or folders searched for *.yaml (with --generate and none given: an empty generated world).
    #[arg(required_unless_present = "generate")]
    pub paths: Vec<PathBuf>,
    /// How many seeds to run per scenario.
    #[arg(long)]
    pub seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 1)]
    pub start: u64,
    /// Worker threads (default: the number of cores). Every seed stays deterministic whatever the count.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Where shrunk scenarios are written.
    #[arg(long, default_value = "shrunk")]
    pub out: PathBuf,
    /// Report violations without shrinking them.
    #[arg(long)]
    pub no_shrink: bool,
    /// At most this many runs while shrinking one violation.
    #[arg(long, default_value_t = 150)]
    pub shrink_budget: usize,
    /// Draw a workload from each seed (the default one for scenarios without a `workload:` section).
    #[arg(long)]
    pub generate: bool,
    /// Explore with these controllers instead of the scenario's: `operator` or zoo entries, comma-separated.
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub controllers: Vec<String>,
    /// Stop a scenario's exploration at its first violating seed (to measure how soon a bug is caught). With a zoo
    /// entry, only seeds that break the invariant its bug breaks count.
    #[arg(long)]
    pub first: bool,
}

/// The controllers named by `--controllers`, or an error naming the unknown one.
fn controller_variants(names: &[String]) -> Result<Vec<scenario::model::Controllers>, String> {
    names
        .iter()
        .map(|c| match c.as_str() {
            "operator" => Ok(scenario::model::Controllers::Operator),
            other if crate::zoo::find(other).is_some() => Ok(scenario::model::Controllers::Zoo(other.to_string())),
            other => Err(format!(
                "--controllers: unknown {other:?} (expected operator or one of {})",
                crate::zoo::names().join(", ")
            )),
        })
        .collect()
}

/// A progress display: a bar on a terminal, a plain line every tenth of the way otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: u64,
    name: String,
}

impl Progress {
    fn new(total: u64, name: &str) -> Self {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix} [{bar:40}] {pos}/{len} seeds {msg} ({per_sec}, eta {eta})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_prefix(name.to_string());
            bar
        });
        Progress { bar, total, name: name.to_string() }
    }

    fn update(&self, done: u64, found: u64) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(done);
                bar.set_message(format!("{found} violating"));
            }
            None => {
                let step = (self.total / 10).max(1);
                if done.is_multiple_of(step) || done == self.total {
                    eprintln!("{}: {done}/{} seeds, {found} violating", self.name, self.total);
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `sim explore`.
pub fn explore(args: &ExploreArgs) -> ExitCode {
    let (files, problems) = if args.paths.is_empty() { (Vec::new(), Vec::new()) } else { scenario_files(&args.paths) };
    for p in &problems {
        eprintln!("ERROR {p}");
    }
    let mut scenarios = Vec::new();
    for path in &files {
        match scenario::load(path) {
            Ok(s) => scenarios.push((display_name(path), s)),
            Err(errors) => {
                eprintln!("{errors}");
                return ExitCode::from(2);
            }
        }
    }
    if args.generate && args.paths.is_empty() {
        scenarios.push(("generated".to_string(), crate::generate::base()));
    }
    if !problems.is_empty() || scenarios.is_empty() {
        eprintln!("ERROR no scenario to explore");
        return ExitCode::from(2);
    }
    if args.seeds == 0 {
        eprintln!("ERROR --seeds: must be at least 1");
        return ExitCode::from(2);
    }
    let variants = match controller_variants(&args.controllers) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("ERROR {e}");
            return ExitCode::from(2);
        }
    };
    if args.generate {
        for (_, s) in &mut scenarios {
            s.workload.get_or_insert_with(Default::default);
        }
    }
    if !variants.is_empty() {
        scenarios = scenarios
            .into_iter()
            .flat_map(|(name, s)| {
                variants.iter().map(move |c| {
                    let mut v = s.clone();
                    v.controllers = c.clone();
                    (format!("{name}[{}]", c.name()), v)
                })
            })
            .collect();
    }
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(1);
    let last_seed = args.start + args.seeds - 1;
    println!("seeds {}..={last_seed} of {} scenario(s) on {jobs} thread(s)", args.start, scenarios.len());
    let began = std::time::Instant::now();
    let (mut total_seeds, mut violating, mut simulated) = (0u64, 0usize, std::time::Duration::ZERO);
    for (name, s) in &scenarios {
        let progress = Progress::new(args.seeds, name);
        // A zoo entry is caught when its own bug shows; anything else it breaks on the way is not the measure.
        let wanted = match &s.controllers {
            scenario::model::Controllers::Zoo(entry) => crate::zoo::find(entry).map(|i| crate::zoo::ENTRIES[i].breaks),
            scenario::model::Controllers::Operator => None,
        };
        let options = crate::explore::Options { start: args.start, count: args.seeds, jobs, first: args.first, wanted };
        let found = crate::explore::explore(s, &options, &|done, found| progress.update(done, found));
        progress.finish();
        total_seeds += found.seeds;
        simulated += found.simulated;
        violating += found.findings.len();
        println!("{name}: {} seeds, {} violating", found.seeds, found.findings.len());
        for f in found.findings.iter().take(5) {
            let (id, t, m) = match wanted.and_then(|id| f.first.get(&id).map(|(t, m)| (id, *t, m.as_str()))) {
                Some(shown) => shown,
                None => f.earliest(),
            };
            println!("  seed {}: {id} at {t}: {m}", f.seed);
        }
        if found.findings.len() > 5 {
            println!("  ... and {} more seeds", found.findings.len() - 5);
        }
        if let Some(first) = found.findings.first().filter(|_| !args.no_shrink) {
            shrink_and_write(args, name, s, first, wanted);
        }
    }
    let wall = began.elapsed().as_secs_f64().max(1e-9);
    println!(
        "explored {total_seeds} seeds: {violating} violating; seeds/s={:.1}; simulated/wall={:.0}:1",
        total_seeds as f64 / wall,
        simulated.as_secs_f64() / wall
    );
    if violating > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn shrink_and_write(
    args: &ExploreArgs,
    name: &str,
    scenario: &Scenario,
    finding: &crate::explore::Finding,
    wanted: Option<scenario::model::InvariantId>,
) {
    // Shrink for what the run is about: the zoo entry's bug, an invariant the scenario expects to break, else the
    // earliest violation.
    let id = wanted
        .into_iter()
        .chain(scenario.expect.violated.iter().copied())
        .find(|id| finding.first.contains_key(id))
        .unwrap_or(finding.earliest().0);
    let Some(shrunk) = crate::shrink::shrink(scenario, finding.seed, id, args.shrink_budget) else {
        println!("  seed {} did not violate {id} again: not shrunk", finding.seed);
        return;
    };
    let mut s = shrunk.scenario;
    s.name = format!("{}-shrunk-seed{}", scenario.name, finding.seed);
    s.description = format!(
        "Shrunk by sim explore from {name} (seed {}): {id} at {}: {}",
        finding.seed, shrunk.violated_at, shrunk.message
    );
    let story: Vec<String> = {
        let mut seen = Vec::new();
        s.steps.iter().filter_map(|st| st.note.clone()).for_each(|n| {
            if !seen.contains(&n) {
                seen.push(n)
            }
        });
        seen
    };
    if !story.is_empty() {
        s.description.push_str(&format!("\nThe story: {}.", story.join("; ")));
    }
    s.expect.holds.clear();
    s.expect.violated = vec![id];
    s.canary = false;
    let file_name = name.replace(['/', '[', ']'], "-").trim_end_matches('-').to_string();
    let file = args.out.join(format!("{file_name}-seed{}.yaml", finding.seed));
    let text = crate::scenario::write::to_yaml(
        &s,
        &format!("Shrunk by `sim explore` in {} runs; `sim run {}` replays it.", shrunk.runs, file.display()),
    );
    if let Err(e) = std::fs::create_dir_all(&args.out).and_then(|()| std::fs::write(&file, text)) {
        eprintln!("ERROR {}: cannot write the shrunk scenario: {e}", file.display());
        return;
    }
    let replays = scenario::load(&file)
        .map(|back| {
            run_scenario(&back, RunOptions { seed: None, trace: None }).violations.iter().any(|v| v.invariant == id)
        })
        .unwrap_or(false);
    println!(
        "  shrunk seed {} to {} action(s) ({} step(s)), {} fault(s), {} in {} runs: {}{}",
        finding.seed,
        crate::shrink::action_count(&s),
        s.steps.len(),
        s.faults.len(),
        operator::api::duration::format_duration(s.duration),
        shrunk.runs,
        file.display(),
        if replays { "" } else { " (WARNING: the written file did not reproduce the violation)" }
    );
    println!("  replay: cargo run --release -p simulator --bin sim -- run {} --trace trace.log", file.display());
}

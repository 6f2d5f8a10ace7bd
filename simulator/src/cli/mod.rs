//! The `sim` subcommands' logic (the binary only parses arguments): finding scenario files, running them, printing
//! one line per scenario and the replay command of a failure.

mod bench;
mod explore;
pub mod fidelity;
mod kubelet;
mod merge;
mod serve;

pub use bench::{BenchArgs, bench};
pub use explore::{ExploreArgs, explore};
pub use fidelity::{FidelityArgs, fidelity};
pub use kubelet::{KubeletArgs, kubelet};
pub use merge::{MergeArgs, merge};
pub use serve::{ServeArgs, serve};

use clap::Args;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

use crate::run::{Report, RunOptions, run as run_scenario};
use crate::scenario::{self, model::Scenario};
use crate::trace::{DigestSink, SharedSink, Tee, TraceSink, WriterSink};

/// A single-threaded tokio runtime for a subcommand that talks HTTP (`serve`, `fidelity`); exit code 2 when it cannot
/// start.
pub fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
        eprintln!("ERROR cannot start the async runtime: {e}");
        ExitCode::from(2)
    })
}

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
    /// Write the run's timeline page (self-contained HTML) to this file; with several scenarios, one file each
    /// (NAME inserted before the extension).
    #[arg(long, value_name = "FILE.html")]
    pub timeline: Option<PathBuf>,
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

/// Where one scenario's timeline goes: `FILE`, or with several scenarios `STEM.NAME.EXT`.
fn timeline_path(path: &Path, name: &str, several: bool) -> PathBuf {
    if !several {
        return path.to_path_buf();
    }
    let name = name.replace(['/', '[', ']'], "-");
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    path.with_file_name(format!("{stem}.{}{ext}", name.trim_end_matches('-')))
}

/// Writes a run's timeline page to `path` and returns its size in KB (`None`: the run drew none); the error names
/// the file.
pub(crate) fn write_timeline(path: &Path, report: &Report) -> Result<Option<usize>, String> {
    let Some(page) = &report.timeline else { return Ok(None) };
    std::fs::write(path, page).map_err(|e| format!("{}: cannot write the timeline: {e}", path.display()))?;
    Ok(Some(page.len().div_ceil(1024)))
}

/// Writes the page as `sim run` and `sim serve` do: says where, or the error and exit code 2.
pub(crate) fn save_timeline(path: &Path, report: &Report) -> Result<(), ExitCode> {
    match write_timeline(path, report) {
        Ok(Some(kb)) => println!("  timeline: {} ({kb} KB)", path.display()),
        Ok(None) => {}
        Err(e) => {
            eprintln!("ERROR {e}");
            return Err(ExitCode::from(2));
        }
    }
    Ok(())
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
            let timeline = args.timeline.as_deref().map(|t| timeline_path(t, &label, files.len() > 1 || several));
            // Refuse an unwritable file before the run, as the trace does.
            if let Some(t) = &timeline
                && let Err(e) = std::fs::File::create(t)
            {
                eprintln!("ERROR {}: cannot write the timeline: {e}", t.display());
                return ExitCode::from(2);
            }
            let options = RunOptions { seed: args.seed, trace: sink, timeline: timeline.is_some() };
            let report = run_scenario(&scenario, options);
            let line = summary_line(path, &scenario, &report);
            println!("{}", if several { line.replacen(&display_name(path), &label, 1) } else { line });
            if let Some(Err(code)) = timeline.map(|t| save_timeline(&t, &report)) {
                return code;
            }
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
    let report = run_scenario(scenario, RunOptions { seed: Some(seed), trace: Some(sink), timeline: false });
    let d = digest.borrow().digest();
    (report, d)
}

/// The controllers named by `--controllers`, or an error naming the unknown one.
pub(crate) fn controller_variants(names: &[String]) -> Result<Vec<scenario::model::Controllers>, String> {
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

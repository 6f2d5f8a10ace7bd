//! `sim bench`: the simulator's speed figures, measured in one run on this machine: seeds per second of the canonical
//! day on every core, and the time of one simulated day of 100 and of 1,000 schedules on one core, with their ratio
//! and the process's peak memory.

use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::run::{RunOptions, run as run_scenario};
use crate::scenario::{self, model::Scenario};

/// The canonical day, relative to the scenarios folder.
const CANONICAL: &str = "soak/one-day-all-faults.yaml";
/// The world of many schedules, relative to the scenarios folder.
const SCALE: &str = "scale/thousand-schedules.yaml";

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Seeds of the canonical day (soak/one-day-all-faults) to run.
    #[arg(long, default_value_t = 40)]
    pub seeds: u64,
    /// Threads for the canonical day (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// World sizes (schedules) for the scale figures: the scale scenario with this many copies, run for
    /// --scale-duration on one thread, comma-separated. Empty (`--scale ''`) to skip.
    #[arg(long, default_value = "100,1000", value_parser = parse_sizes)]
    pub scale: Sizes,
    /// How long the scale scenario runs (simulated).
    #[arg(long, default_value = "24h")]
    pub scale_duration: String,
    /// Runs of each scale world: with more than one, their min and median are printed, and the ratio is of the
    /// medians (the machine's speed varies between runs a minute apart).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub scale_runs: u32,
    /// The scenarios folder.
    #[arg(long, default_value = "scenarios")]
    pub scenarios: PathBuf,
}

/// World sizes for the scale figures, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sizes(pub Vec<u32>);

/// `--scale`: comma-separated counts of schedules; empty for none.
fn parse_sizes(s: &str) -> Result<Sizes, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(Sizes(Vec::new()));
    }
    s.split(',')
        .map(|n| n.trim().parse::<u32>().map_err(|e| format!("{n:?} is not a count of schedules: {e}")))
        .collect::<Result<Vec<_>, _>>()
        .map(Sizes)
}

fn load(dir: &Path, file: &str) -> Result<Scenario, String> {
    let path = dir.join(file);
    scenario::load(&path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Each seed's wall time, seeds taken in order by `jobs` threads.
fn seed_times(s: &Scenario, seeds: u64, jobs: usize) -> (Vec<Duration>, Duration) {
    let next = AtomicU64::new(1);
    let times = Mutex::new(Vec::new());
    let began = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::SeqCst);
                    if seed > seeds {
                        break;
                    }
                    let t = Instant::now();
                    run_scenario(s, RunOptions { seed: Some(seed), trace: None, timeline: false });
                    times.lock().expect("no worker panics holding the lock").push(t.elapsed());
                }
            });
        }
    });
    let mut times = times.into_inner().expect("workers finished");
    times.sort();
    (times, began.elapsed())
}

/// The process's peak resident memory so far, in bytes (Linux and macOS report it; elsewhere none).
fn peak_rss() -> Option<u64> {
    #[cfg(unix)]
    {
        // SAFETY: getrusage writes into the zeroed struct it is given and reads nothing else.
        let usage = unsafe {
            let mut u: libc::rusage = std::mem::zeroed();
            (libc::getrusage(libc::RUSAGE_SELF, &mut u) == 0).then_some(u)
        }?;
        let kib_or_bytes = u64::try_from(usage.ru_maxrss).ok()?;
        Some(if cfg!(target_os = "macos") { kib_or_bytes } else { kib_or_bytes * 1024 })
    }
    #[cfg(not(unix))]
    None
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// The fastest and the median of some runs' times (the upper median of an even count), `None` for no runs.
fn min_median(mut times: Vec<Duration>) -> Option<(Duration, Duration)> {
    times.sort();
    Some((*times.first()?, times[times.len() / 2]))
}

/// `sim bench`.
pub fn bench(args: &BenchArgs) -> ExitCode {
    match measure(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ERROR {e}");
            ExitCode::from(2)
        }
    }
}

fn measure(args: &BenchArgs) -> Result<(), String> {
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(1);
    let scale_duration =
        operator::api::duration::parse_duration(&args.scale_duration).map_err(|e| format!("--scale-duration: {e}"))?;
    let canonical = load(&args.scenarios, CANONICAL)?;
    let mut scale = load(&args.scenarios, SCALE)?;
    scale.duration = scale_duration;
    if args.seeds > 0 {
        let (times, wall) = seed_times(&canonical, args.seeds, jobs);
        println!(
            "canonical day ({CANONICAL}): {} seeds on {jobs} thread(s) in {}: {:.1} seeds/s; per seed min {}, median {}, max {}",
            times.len(),
            secs(wall),
            times.len() as f64 / wall.as_secs_f64().max(1e-9),
            secs(times[0]),
            secs(times[times.len() / 2]),
            secs(times[times.len() - 1])
        );
    }
    let mut measured: Vec<(u32, Duration)> = Vec::new();
    for &copies in &args.scale.0 {
        if copies == 0 || copies > scenario::model::MAX_COPIES {
            return Err(format!("--scale: {copies} is out of range (1 to {})", scenario::model::MAX_COPIES));
        }
        scale.copies = copies;
        let runs: Vec<Duration> = (0..args.scale_runs).map(|_| seed_times(&scale, 1, 1).0[0]).collect();
        let (min, median) = min_median(runs).expect("--scale-runs is at least 1");
        let time = match args.scale_runs {
            1 => secs(median),
            n => format!("{n} runs, min {}, median {}", secs(min), secs(median)),
        };
        println!("scale ({SCALE}, {copies} schedules, {} simulated, one thread): {time}", args.scale_duration);
        measured.push((copies, median));
    }
    if let [(small, t_small), .., (large, t_large)] = measured[..] {
        let of = if args.scale_runs > 1 { " of the medians" } else { "" };
        println!(
            "scale ratio {large}:{small} schedules{of}: {:.1} (linear would be {:.1})",
            t_large.as_secs_f64() / t_small.as_secs_f64().max(1e-9),
            large as f64 / small as f64
        );
    }
    match peak_rss() {
        Some(bytes) => println!("peak resident memory: {:.0} MiB", bytes as f64 / (1024.0 * 1024.0)),
        None => println!("peak resident memory: not reported on this platform"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_scale_skips_the_scale_figures_and_a_bad_count_is_named() {
        assert_eq!(parse_sizes(""), Ok(Sizes(vec![])));
        assert_eq!(parse_sizes("100, 1000"), Ok(Sizes(vec![100, 1000])));
        let err = parse_sizes("100,lots").unwrap_err();
        assert!(err.starts_with("\"lots\" is not a count of schedules"), "{err}");
    }

    #[test]
    fn repeated_scale_runs_report_the_fastest_and_the_median_whatever_their_order() {
        let s = Duration::from_secs;
        assert_eq!(min_median(vec![]), None);
        assert_eq!(min_median(vec![s(7)]), Some((s(7), s(7))));
        assert_eq!(min_median(vec![s(9), s(3), s(5)]), Some((s(3), s(5))));
        assert_eq!(min_median(vec![s(4), s(8), s(2), s(6)]), Some((s(2), s(6))));
    }
}

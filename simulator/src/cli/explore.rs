//! `sim explore`: many seeds of scenarios on worker threads, a summary of the violating seeds, and the first one
//! shrunk to a scenario file; with `--shard K/N`, one deterministic share of the seeds written as JSON lines for
//! `sim merge`.

use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{controller_variants, display_name, scenario_files};
use crate::explore::{Exploration, Finding};
use crate::run::{RunOptions, run as run_scenario};
use crate::scenario::{self, model::Controllers, model::InvariantId, model::Scenario};
use crate::shard::{FindingLine, Shard, ShardLine};

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
    #[command(flatten)]
    pub shrinking: Shrinking,
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
    /// Run only share K of N of the seeds (K from 0, as a Kubernetes Indexed Job's completion index): the K-th of N
    /// contiguous blocks. Nothing is shrunk; `sim merge` unites the shards' --results and shrinks.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Write one JSON line per scenario (its shard's seeds, findings and times) to FILE, `-` for stdout (the summary
    /// then goes to stderr).
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
}

/// A scenario to explore, with what names it in a summary and in shard results.
pub(crate) struct Target {
    pub name: String,
    pub path: Option<PathBuf>,
    /// sha256 of the scenario file's text.
    pub digest: Option<String>,
    pub scenario: Scenario,
    pub generate: bool,
}

impl Target {
    /// The scenario file at `path`, with its digest.
    fn load(path: &Path) -> Result<Target, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let scenario = scenario::load(path).map_err(|errors| errors.to_string())?;
        Ok(Target {
            name: display_name(path),
            path: Some(path.to_path_buf()),
            digest: Some(digest(&text)),
            scenario,
            generate: false,
        })
    }

    /// The empty generated world `sim explore --generate` starts from when no scenario is given.
    fn generated_base() -> Target {
        Target {
            name: "generated".to_string(),
            path: None,
            digest: None,
            scenario: crate::generate::base(),
            generate: false,
        }
    }

    /// `--generate`: a workload drawn from each seed.
    fn generated(mut self) -> Target {
        self.scenario.workload.get_or_insert_with(Default::default);
        self.generate = true;
        self
    }

    /// The same scenario with other controllers, named `name[controllers]`.
    fn with_controllers(&self, controllers: &Controllers) -> Target {
        let mut scenario = self.scenario.clone();
        scenario.controllers = controllers.clone();
        Target {
            name: format!("{}[{}]", self.name, controllers.name()),
            path: self.path.clone(),
            digest: self.digest.clone(),
            scenario,
            generate: self.generate,
        }
    }

    /// The target a shard explored, rebuilt from its results line: the file must be the one the shard read.
    /// A path that does not exist here (`/scenarios/...` in the image) is looked up under `scenarios` by its part
    /// after the last `scenarios/`.
    pub(crate) fn from_line(line: &ShardLine, scenarios: &Path) -> Result<Target, String> {
        let base = match &line.path {
            Some(path) => {
                let here = Path::new(path);
                let local = match path.rfind("scenarios/") {
                    Some(i) if !here.exists() => scenarios.join(&path[i + "scenarios/".len()..]),
                    _ => here.to_path_buf(),
                };
                let t = Target::load(&local)?;
                if t.digest != line.digest {
                    return Err(format!(
                        "{}: not the file the shards ran (its sha256 differs from {path}'s)",
                        local.display()
                    ));
                }
                t
            }
            None => Target::generated_base(),
        };
        let base = if line.generate { base.generated() } else { base };
        if base.name == line.scenario {
            return Ok(base);
        }
        let controllers = controller_variants(std::slice::from_ref(&line.controllers))?;
        let target = base.with_controllers(&controllers[0]);
        if target.name != line.scenario {
            return Err(format!("{}: does not name the scenario at {:?}", line.scenario, line.path));
        }
        Ok(target)
    }

    /// The invariant a zoo entry's bug breaks: only seeds that break it count (anything else it breaks on the way is
    /// not the measure).
    pub(crate) fn wanted(&self) -> Option<InvariantId> {
        match &self.scenario.controllers {
            Controllers::Zoo(entry) => crate::zoo::find(entry).map(|i| crate::zoo::ENTRIES[i].breaks),
            Controllers::Operator => None,
        }
    }
}

/// Hex sha256 of a scenario file's text.
fn digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The targets `sim explore` was asked for, or the message of what was wrong.
fn targets(args: &ExploreArgs) -> Result<Vec<Target>, String> {
    let (files, problems) = if args.paths.is_empty() { (Vec::new(), Vec::new()) } else { scenario_files(&args.paths) };
    if !problems.is_empty() {
        return Err(problems.join("\nERROR "));
    }
    let mut targets = files.iter().map(|p| Target::load(p)).collect::<Result<Vec<_>, _>>()?;
    if args.generate && args.paths.is_empty() {
        targets.push(Target::generated_base());
    }
    if targets.is_empty() {
        return Err("no scenario to explore".to_string());
    }
    if args.seeds == 0 {
        return Err("--seeds: must be at least 1".to_string());
    }
    if args.generate {
        targets = targets.into_iter().map(Target::generated).collect();
    }
    let variants = controller_variants(&args.controllers)?;
    if !variants.is_empty() {
        targets = targets.iter().flat_map(|t| variants.iter().map(|c| t.with_controllers(c))).collect();
    }
    Ok(targets)
}

/// Where the human-readable summary goes: stdout, or stderr when the results take stdout.
#[derive(Clone, Copy)]
pub(crate) struct Say {
    pub to_stderr: bool,
}

impl Say {
    pub fn line(self, text: impl std::fmt::Display) {
        if self.to_stderr {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }
}

/// `sim explore`.
pub fn explore(args: &ExploreArgs) -> ExitCode {
    let targets = match targets(args) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ERROR {e}");
            return ExitCode::from(2);
        }
    };
    let to_stdout = args.results.as_ref().is_some_and(|p| p.as_os_str() == "-");
    let say = Say { to_stderr: to_stdout };
    let mut results: Box<dyn std::io::Write> = match &args.results {
        None => Box::new(std::io::sink()),
        Some(_) if to_stdout => Box::new(std::io::stdout()),
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Box::new(std::io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("ERROR {}: cannot write the results: {e}", p.display());
                return ExitCode::from(2);
            }
        },
    };
    let shard = args.shard.unwrap_or(Shard::WHOLE);
    let seeds = shard.seeds(args.start, args.seeds);
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(1);
    let of_shard =
        args.shard.map(|s| format!(" (shard {s} of seeds {}..={})", args.start, args.start + args.seeds - 1));
    say.line(format_args!(
        "seeds {}..{} of {} scenario(s) on {jobs} thread(s){}",
        seeds.start,
        if seeds.is_empty() { "(none)".to_string() } else { format!("={}", seeds.end - 1) },
        targets.len(),
        of_shard.unwrap_or_default()
    ));
    let began = std::time::Instant::now();
    let mut all = Exploration::default();
    for target in &targets {
        let progress = Progress::new(seeds.end - seeds.start, &target.name);
        let wanted = target.wanted();
        let options = crate::explore::Options {
            start: seeds.start,
            count: seeds.end - seeds.start,
            jobs,
            first: args.first,
            wanted,
        };
        let one_began = std::time::Instant::now();
        let found = crate::explore::explore(&target.scenario, &options, &|done, found| progress.update(done, found));
        progress.finish();
        if args.results.is_some() {
            let line = shard_line(target, args, shard, &found, one_began.elapsed());
            let written = serde_json::to_writer(&mut results, &line).map_err(std::io::Error::other);
            if let Err(e) = written.and_then(|()| writeln!(results)).and_then(|()| results.flush()) {
                eprintln!("ERROR cannot write the results: {e}");
                return ExitCode::from(2);
            }
        }
        print_findings(say, &target.name, &found, wanted);
        if let Some(first) = found.findings.first().filter(|_| !args.shrinking.no_shrink && args.shard.is_none()) {
            shrink_and_write(say, &args.shrinking, target, first);
        }
        all.seeds += found.seeds;
        all.simulated += found.simulated;
        all.findings.extend(found.findings);
    }
    say.line(speed_line(&all, began.elapsed()));
    if all.findings.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

use std::io::Write as _;

/// A shard's results line for one target.
fn shard_line(
    target: &Target,
    args: &ExploreArgs,
    shard: Shard,
    found: &Exploration,
    wall: std::time::Duration,
) -> ShardLine {
    ShardLine {
        scenario: target.name.clone(),
        path: target.path.as_ref().map(|p| p.display().to_string()),
        digest: target.digest.clone(),
        controllers: target.scenario.controllers.name().to_string(),
        generate: target.generate,
        shard: shard.index,
        shards: shard.count,
        start: args.start,
        seeds: args.seeds,
        ran: found.seeds,
        simulated_ms: found.simulated.as_millis() as u64,
        wall_ms: wall.as_millis() as u64,
        findings: found.findings.iter().map(FindingLine::from_finding).collect(),
    }
}

/// The last line of a summary: seeds, violating seeds and speed.
pub(crate) fn speed_line(all: &Exploration, wall: std::time::Duration) -> String {
    let wall = wall.as_secs_f64().max(1e-9);
    format!(
        "explored {} seeds: {} violating; seeds/s={:.1}; simulated/wall={:.0}:1",
        all.seeds,
        all.findings.len(),
        all.seeds as f64 / wall,
        all.simulated.as_secs_f64() / wall
    )
}

/// One target's lines of the summary: seeds, violating seeds, the first five findings.
pub(crate) fn print_findings(say: Say, name: &str, found: &Exploration, wanted: Option<InvariantId>) {
    say.line(format_args!("{name}: {} seeds, {} violating", found.seeds, found.findings.len()));
    for f in found.findings.iter().take(5) {
        let (id, t, m) = match wanted.and_then(|id| f.first.get(&id).map(|(t, m)| (id, *t, m.as_str()))) {
            Some(shown) => shown,
            None => f.earliest(),
        };
        say.line(format_args!("  seed {}: {id} at {t}: {m}", f.seed));
    }
    if found.findings.len() > 5 {
        say.line(format_args!("  ... and {} more seeds", found.findings.len() - 5));
    }
}

/// Where shrunk scenarios go and how hard to try (`sim explore` and `sim merge`).
#[derive(Args, Debug, Clone)]
pub struct Shrinking {
    /// Where shrunk scenarios are written.
    #[arg(long, default_value = "shrunk")]
    pub out: PathBuf,
    /// Report violations without shrinking them.
    #[arg(long)]
    pub no_shrink: bool,
    /// At most this many runs while shrinking one violation.
    #[arg(long = "shrink-budget", default_value_t = 150)]
    pub budget: usize,
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

/// Shrinks `finding` and writes the shrunk scenario under `shrinking.out`, saying what it wrote and how to replay it.
pub(crate) fn shrink_and_write(say: Say, shrinking: &Shrinking, target: &Target, finding: &Finding) {
    let (name, scenario, wanted) = (&target.name, &target.scenario, target.wanted());
    // Shrink for what the run is about: the zoo entry's bug, an invariant the scenario expects to break, else the
    // earliest violation.
    let id = wanted
        .into_iter()
        .chain(scenario.expect.violated.iter().copied())
        .find(|id| finding.first.contains_key(id))
        .unwrap_or(finding.earliest().0);
    let Some(shrunk) = crate::shrink::shrink(scenario, finding.seed, id, shrinking.budget) else {
        say.line(format_args!("  seed {} did not violate {id} again: not shrunk", finding.seed));
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
    let file = shrinking.out.join(format!("{file_name}-seed{}.yaml", finding.seed));
    let text = crate::scenario::write::to_yaml(
        &s,
        &format!("Shrunk by `sim explore` in {} runs; `sim run {}` replays it.", shrunk.runs, file.display()),
    );
    if let Err(e) = std::fs::create_dir_all(&shrinking.out).and_then(|()| std::fs::write(&file, text)) {
        eprintln!("ERROR {}: cannot write the shrunk scenario: {e}", file.display());
        return;
    }
    let page = file.with_extension("html");
    let mut page_written = false;
    let replays = scenario::load(&file)
        .map(|back| {
            let report = run_scenario(&back, RunOptions { seed: None, trace: None, timeline: true });
            match crate::cli::write_timeline(&page, &report) {
                Ok(written) => page_written = written.is_some(),
                Err(e) => eprintln!("ERROR {e}"),
            }
            report.violations.iter().any(|v| v.invariant == id)
        })
        .unwrap_or(false);
    say.line(format_args!(
        "  shrunk seed {} to {} action(s) ({} step(s)), {} fault(s), {} in {} runs: {}{}",
        finding.seed,
        crate::shrink::action_count(&s),
        s.steps.len(),
        s.faults.len(),
        operator::api::duration::format_duration(s.duration),
        shrunk.runs,
        file.display(),
        if replays { "" } else { " (WARNING: the written file did not reproduce the violation)" }
    ));
    say.line(format_args!(
        "  replay: cargo run --release -p simulator --bin sim -- run {} --trace trace.log",
        file.display()
    ));
    if page_written {
        say.line(format_args!("  timeline: {}", page.display()));
    }
}

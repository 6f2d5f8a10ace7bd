//! `sim merge`: the results of `sim explore --shard K/N` runs, united into the summary one machine would have printed,
//! with the first violating seed of each scenario shrunk.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

use super::explore::{Say, Shrinking, Target, print_findings, shrink_and_write, speed_line};
use crate::explore::Exploration;
use crate::shard::{ShardLine, merge as merge_lines, parse_lines};

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Results files of `sim explore --shard K/N --results FILE` (other lines, such as a log's, are skipped), or
    /// folders searched for *.jsonl.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Where to find scenario files named in the results by a path that does not exist here (`/scenarios/...` in the
    /// sim image): under this folder, by their path after `scenarios/`.
    #[arg(long, value_name = "DIR", default_value = "scenarios")]
    pub scenarios: PathBuf,
    #[command(flatten)]
    pub shrinking: Shrinking,
}

/// The results files under `paths`, sorted.
fn results_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let entries = std::fs::read_dir(p).map_err(|e| format!("{}: cannot read the folder: {e}", p.display()))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|e| e == "jsonl"))
                .collect();
            found.sort();
            files.extend(found);
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            return Err(format!("{}: no such file or folder", p.display()));
        }
    }
    Ok(files)
}

fn read_lines(files: &[PathBuf]) -> Result<Vec<ShardLine>, String> {
    let mut lines = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: cannot read: {e}", f.display()))?;
        lines.extend(parse_lines(&f.display().to_string(), &text).map_err(|e| e.to_string())?);
    }
    Ok(lines)
}

/// `sim merge`.
pub fn merge(args: &MergeArgs) -> ExitCode {
    let merged = results_files(&args.paths)
        .and_then(|files| read_lines(&files))
        .and_then(|lines| merge_lines(lines).map_err(|e| e.to_string()));
    let merged = match merged {
        Ok(m) => m,
        Err(e) => {
            eprintln!("ERROR {e}");
            return ExitCode::from(2);
        }
    };
    let say = Say { to_stderr: false };
    let first = &merged[0].about;
    say.line(format_args!(
        "merged {} shard(s) of seeds {}..={} of {} scenario(s)",
        first.shards,
        first.start,
        first.start + first.seeds - 1,
        merged.len()
    ));
    let mut all = Exploration::default();
    let mut wall = std::time::Duration::ZERO;
    let mut status = ExitCode::SUCCESS;
    for m in &merged {
        let target = match Target::from_line(&m.about, &args.scenarios) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("ERROR {}: {e}", m.about.scenario);
                return ExitCode::from(2);
            }
        };
        print_findings(say, &target.name, &m.exploration, target.wanted());
        if let Some(first) = m.exploration.findings.first().filter(|_| !args.shrinking.no_shrink) {
            shrink_and_write(say, &args.shrinking, &target, first);
        }
        if !m.exploration.findings.is_empty() {
            status = ExitCode::from(1);
        }
        all.seeds += m.exploration.seeds;
        all.simulated += m.exploration.simulated;
        all.findings.extend(m.exploration.findings.iter().cloned());
        wall += m.wall;
    }
    say.line(format_args!("{} (per shard, summed over the shards' wall time)", speed_line(&all, wall)));
    status
}

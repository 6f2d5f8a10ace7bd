//! `sim`: runs, checks and explores scenarios of the backup operator on the deterministic simulator.

use anyhow::Result;

/// The simulator allocates and frees small objects at a high rate; mimalloc is markedly faster at it than glibc.
#[global_allocator]
static GLOBAL: simulator::allocator::Allocator = simulator::allocator::Allocator;
use clap::{Parser, Subcommand};
use simulator::cli;
use std::path::PathBuf;
use std::process::ExitCode;

/// Deterministic simulation of the backup operator: scenarios, seeds, invariants.
#[derive(Parser, Debug)]
#[command(name = "sim", version, about, after_help = cli::EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run scenario files (or every *.yaml under folders) at their seed; one line per scenario.
    Run(cli::RunArgs),
    /// Run many seeds of scenarios in parallel; shrink the first violation to a minimal scenario file.
    Explore(cli::ExploreArgs),
    /// Unite the results of `sim explore --shard K/N` runs: the summary of all seeds, the first violation shrunk.
    Merge(cli::MergeArgs),
    /// Measure the simulator: seeds/s of the canonical day, one day of 100 and 1,000 schedules, peak memory.
    Bench(cli::BenchArgs),
    /// Validate scenario files without running them.
    Check {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print the JSON Schema of scenario files.
    Schema,
    /// Serve a scenario's world over the Kubernetes API, in wall-clock time, to a real backup-operator and kubectl.
    Serve(simulator::cli::ServeArgs),
    /// Compare `sim serve` with a real kube-apiserver: the same API interactions against both, normalised answers
    /// compared, `N of M behaviours identical`; exits 1 on a difference not listed as known.
    Fidelity(cli::FidelityArgs),
    /// Play the kubelet for a real API server without nodes (scripts/test-cluster.sh): run the operator's Job pods
    /// as local backup-manager processes with their ServiceAccount tokens and report their phases.
    Kubelet(cli::KubeletArgs),
}

/// Restores the default action for SIGPIPE (Rust ignores it), so `sim run ... | head` ends quietly when the reader
/// goes away instead of panicking on the next print. Not for `sim serve`: a server must see a closed socket as an
/// error on that connection, not die of it.
fn die_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called once at start-up, before any thread exists; SIG_DFL is a valid action for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> Result<ExitCode> {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_) | Command::Kubelet(_)) {
        die_quietly_on_closed_pipe();
    }
    Ok(match cli.command {
        Command::Run(args) => cli::run(&args),
        Command::Explore(args) => cli::explore(&args),
        Command::Merge(args) => cli::merge(&args),
        Command::Bench(args) => cli::bench(&args),
        Command::Check { paths } => cli::check(&paths),
        Command::Fidelity(args) => cli::fidelity(&args),
        Command::Kubelet(args) => cli::kubelet(&args),
        // The served world starts at the wall clock: its clients (the operator, kubectl) read that clock.
        Command::Serve(args) => simulator::cli::serve(&args, chrono::Utc::now),
        Command::Schema => {
            print!("{}", simulator::scenario::json_schema());
            ExitCode::SUCCESS
        }
    })
}

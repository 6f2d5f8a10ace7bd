//! `backup-operator`: prints the CRDs (`crd`) or runs the Backup, Restore, CompactBackup and BackupSchedule
//! controllers (`run`).

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::process::ExitCode;
use std::time::Duration;

use operator::runtime::RunArgs;

/// A summary of `run`'s flags for the top-level help (`backup-operator run --help` has them all).
const RUN_FLAGS: &str = "\
Flags of `run` (details: backup-operator run --help):
  Connection       --kubeconfig, --context, --connect-timeout
  Scope            --namespace (all namespaces by default), --concurrency
  Observability    --metrics-addr (/metrics, /healthz, /readyz), --log-format text|json, --log-level
  Leader election  --leader-elect, --lease-name, --lease-namespace, --lease-duration, --identity
  Jobs             --manager-image, --br-image, --dumpling-image, --lightning-image, --tikv-image,
                   --pod-start-timeout, --clean-retry, --resync
  Shutdown         --shutdown-timeout";

/// Backup, Restore, CompactBackup and BackupSchedule controllers for TiDB clusters (pingcap.com/v1alpha1).
///
/// Install the CRDs, RBAC and Deployment with `kubectl apply -k operator/deploy`; see docs/production.md.
#[derive(Parser, Debug)]
#[command(name = "backup-operator", version, about, long_about, after_help = RUN_FLAGS)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the Backup, Restore, BackupSchedule and CompactBackup CustomResourceDefinitions as YAML.
    Crd,
    /// Run the controllers (leader-elected) with metrics and health endpoints until SIGTERM.
    Run(Box<RunArgs>),
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("backup-operator")
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(operator::runtime::run(args));
    // Reconciles cut off by a forced stop must not hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(result?)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crd => {
            print!("{}", operator::api::crd::crds_yaml());
            Ok(())
        }
        Command::Run(args) => run(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the error and its causes (some causes, like YAML parse errors, span lines).
            let root: &(dyn std::error::Error + 'static) = e.as_ref();
            let text = operator::cluster::kube_cluster::error_chain(root);
            let line: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            eprintln!("backup-operator: error: {}", line.join(" "));
            ExitCode::FAILURE
        }
    }
}

//! `backup-manager`: runs inside the Jobs the operator creates. `backup`/`export` run br/dumpling for a Backup,
//! `restore`/`import` run br/lightning for a Restore, `clean` deletes a Backup's data; each reports in status.
//! `--dry-run --from-file FILE` prints the tool command line for a manifest instead, without a cluster.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use operator::api::Backup;
use operator::api::log_backup::{self, LogCommand};
use operator::cluster::kube_cluster::KubeCluster;
use operator::cluster::{Cluster, ObjectKey};
use operator::manager::credentials::Credentials;
use operator::manager::dry_run::{self, Mode};
use operator::manager::process::{ProcessTool, StopSignal, stop_signal};
use operator::manager::remote_store::RemoteStore;
use operator::manager::tool::Operation;
use operator::manager::{self, ManagerError};
use tokio::signal::unix::{SignalKind, signal};
use tracing::info;

/// Exit code for a bad invocation or manifest (clap uses it for usage errors too).
const EXIT_USAGE: u8 = 2;
/// Exit code when the Kubernetes API cannot be reached or the object read or written.
const EXIT_API: u8 = 3;
/// Exit code when stopped by SIGTERM or SIGINT (128 + 15).
const EXIT_STOPPED: u8 = 143;

/// Runs br, dumpling or lightning for a Backup or Restore, or cleans a Backup's data, and reports in its status.
#[derive(Parser, Debug)]
#[command(name = "backup-manager", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Back up with br (a Backup with `spec.br`).
    Backup(BackupArgs),
    /// Export with dumpling (a Backup without `spec.br`).
    Export(BackupArgs),
    /// Restore with br (a Restore with `spec.br`).
    Restore(RestoreArgs),
    /// Import with tidb-lightning (a Restore without `spec.br`).
    Import(RestoreArgs),
    /// Delete exactly a Backup's data from its storage.
    Clean(BackupArgs),
    /// Compact a log backup's range with tikv-ctl (a CompactBackup; no --dry-run).
    Compact(CompactArgs),
}

#[derive(Args, Debug)]
struct CompactArgs {
    /// Namespace of the CompactBackup.
    #[arg(long, required_unless_present = "dry_run")]
    namespace: Option<String>,
    /// Name of the CompactBackup.
    #[arg(long = "resourceName", visible_alias = "resource-name", required_unless_present = "dry_run")]
    resource_name: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug)]
struct BackupArgs {
    /// Namespace of the Backup.
    #[arg(long, required_unless_present = "dry_run")]
    namespace: Option<String>,
    /// Name of the Backup.
    #[arg(long = "backupName", visible_alias = "backup-name", required_unless_present = "dry_run")]
    backup_name: Option<String>,
    /// `log` runs one `br log` command for a log backup (`backup` only).
    #[arg(long, value_parser = ["snapshot", "log"], default_value = "snapshot")]
    mode: String,
    /// The log command: log-start (then follows the task's checkpoint), log-stop, log-pause, log-resume,
    /// log-truncate. Default: the one the Backup asks for now.
    #[arg(long)]
    subcommand: Option<LogCommand>,
    /// How often a log-start run reads the task's checkpoint (a Backup's `spec.env` can set the variable).
    #[arg(long, env = "BACKUP_CHECKPOINT_INTERVAL", default_value = "60s", value_parser = humantime::parse_duration)]
    checkpoint_interval: Duration,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug)]
struct RestoreArgs {
    /// Namespace of the Restore.
    #[arg(long, required_unless_present = "dry_run")]
    namespace: Option<String>,
    /// Name of the Restore.
    #[arg(long = "restoreName", visible_alias = "restore-name", required_unless_present = "dry_run")]
    restore_name: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug)]
struct CommonArgs {
    /// Print the tool command line for the manifest in --from-file (secrets masked) and exit; no cluster needed.
    #[arg(long, requires = "from_file")]
    dry_run: bool,
    /// The Backup or Restore manifest (YAML) for --dry-run.
    #[arg(long, value_name = "FILE", requires = "dry_run")]
    from_file: Option<PathBuf>,
    /// Where the init container copied the tool binary.
    #[arg(long, env = "BACKUP_TOOLS_DIR", default_value = "/var/lib/backup-tools")]
    tools_dir: PathBuf,
    /// How long the tool may take to exit after SIGTERM before it is killed.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    stop_grace: Duration,
}

/// A failure with the exit code it maps to.
struct Exit {
    code: u8,
    error: anyhow::Error,
}

impl From<ManagerError> for Exit {
    fn from(e: ManagerError) -> Self {
        Exit { code: e.exit_code(), error: e.into() }
    }
}

fn api_error(error: anyhow::Error) -> Exit {
    Exit { code: EXIT_API, error }
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).init();
}

fn mode_of(command: &Command) -> Mode {
    match command {
        Command::Backup(a) if a.mode == "log" || a.subcommand.is_some() => Mode::Log(a.subcommand),
        Command::Backup(_) => Mode::Run(Operation::Backup),
        Command::Export(_) => Mode::Run(Operation::Export),
        Command::Restore(_) => Mode::Run(Operation::Restore),
        Command::Import(_) => Mode::Run(Operation::Import),
        Command::Clean(_) => Mode::Clean,
        Command::Compact(_) => Mode::Run(Operation::Compact),
    }
}

fn common(command: &Command) -> &CommonArgs {
    match command {
        Command::Backup(a) | Command::Export(a) | Command::Clean(a) => &a.common,
        Command::Restore(a) | Command::Import(a) => &a.common,
        Command::Compact(a) => &a.common,
    }
}

fn key_of(command: &Command) -> ObjectKey {
    let (ns, name) = match command {
        Command::Backup(a) | Command::Export(a) | Command::Clean(a) => (&a.namespace, &a.backup_name),
        Command::Restore(a) | Command::Import(a) => (&a.namespace, &a.restore_name),
        Command::Compact(a) => (&a.namespace, &a.resource_name),
    };
    // clap requires both unless --dry-run is given.
    ObjectKey::new(ns.clone().unwrap_or_default(), name.clone().unwrap_or_default())
}

/// Requests a stop of the running tool on SIGTERM (the pod is being deleted) or SIGINT.
fn watch_signals() -> Result<StopSignal> {
    let (handle, stop) = stop_signal();
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => info!("SIGTERM received: stopping"),
            _ = int.recv() => info!("SIGINT received: stopping"),
        }
        handle.stop();
    });
    Ok(stop)
}

async fn run(command: Command) -> Result<(), Exit> {
    let key = key_of(&command);
    let opts = common(&command);
    let client = kube::Client::try_default()
        .await
        .context("cannot load a Kubernetes client configuration (in-cluster service account or kubeconfig)")
        .map_err(api_error)?;
    let cluster = KubeCluster::live(client);
    let mut stop = watch_signals().map_err(api_error)?;
    let credentials = Credentials::from_env();
    let tool = |op| {
        ProcessTool::new(&opts.tools_dir, credentials.clone(), stop.clone()).expecting(op).with_grace(opts.stop_grace)
    };
    let interval = match &command {
        Command::Backup(a) => a.checkpoint_interval,
        _ => manager::log_run::CHECKPOINT_INTERVAL,
    };
    match mode_of(&command) {
        Mode::Run(op @ (Operation::Backup | Operation::Export)) => {
            let attempt =
                std::env::var(operator::controllers::backup::job::ATTEMPT_ENV).ok().and_then(|a| a.parse().ok());
            manager::backup(&cluster, &tool(op), &key, attempt).await?;
        }
        Mode::Run(op @ (Operation::Restore | Operation::Import)) => {
            manager::restore(&cluster, &tool(op), &key).await?;
        }
        Mode::Run(Operation::Log(subcommand)) => log(&cluster, &tool, &key, Some(subcommand), interval).await?,
        Mode::Run(Operation::LogStatus) => log(&cluster, &tool, &key, None, interval).await?,
        Mode::Run(Operation::Compact | Operation::Base64ify) => {
            manager::compact(&cluster, &tool(Operation::Compact), &key).await?;
        }
        Mode::Log(subcommand) => log(&cluster, &tool, &key, subcommand, interval).await?,
        Mode::Clean => {
            let backup = read_backup(&cluster, &key).await?;
            let store = RemoteStore::new(backup.spec.storage.clone(), credentials.clone());
            tokio::select! {
                result = manager::clean(&cluster, &store, &key) => { result?; }
                _ = stop.stopped() => {
                    return Err(Exit { code: EXIT_STOPPED, error: anyhow::anyhow!("stopped before the clean of Backup {key} finished") });
                }
            }
        }
    }
    Ok(())
}

async fn read_backup(cluster: &KubeCluster, key: &ObjectKey) -> Result<Arc<Backup>, Exit> {
    cluster
        .get(key)
        .await
        .with_context(|| format!("failed to read Backup {key}"))
        .map_err(api_error)?
        .ok_or_else(|| api_error(anyhow::anyhow!("Backup {key} does not exist")))
}

/// `backup --mode=log`: the given log command, or the one the Backup asks for now.
async fn log(
    cluster: &KubeCluster,
    tool: &impl Fn(Operation) -> ProcessTool,
    key: &ObjectKey,
    subcommand: Option<LogCommand>,
    interval: Duration,
) -> Result<(), Exit> {
    let command = match subcommand {
        Some(c) => c,
        None => log_backup::command(&*read_backup(cluster, key).await?),
    };
    manager::log_backup(cluster, &tool(Operation::Log(command)), key, command, interval).await?;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let opts = common(&cli.command);
    if opts.dry_run && matches!(cli.command, Command::Compact(_)) {
        eprintln!("backup-manager: compact has no --dry-run; its command line needs the storage br encodes first");
        return ExitCode::from(EXIT_USAGE);
    }
    if opts.dry_run {
        let path = opts.from_file.clone().expect("clap requires --from-file with --dry-run");
        return match dry_run::render_file(mode_of(&cli.command), &path) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("backup-manager: {}", one_line(&anyhow::Error::from(e)));
                ExitCode::from(EXIT_USAGE)
            }
        };
    }
    init_logs();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("backup-manager: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_API);
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Exit { code, error }) => {
            eprintln!("backup-manager: {}", one_line(&error));
            ExitCode::from(code)
        }
    }
}

/// The error and its causes on one line; a cause whose text its parent already shows is not repeated.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

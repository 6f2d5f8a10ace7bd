//! The tool seam: what backup-manager asks br, dumpling or lightning to do, and what it hears back.

use std::fmt;
use std::time::Duration;

use tokio::sync::watch;

use crate::api::log_backup::LogCommand;
use crate::api::storage::StorageLocation;

/// Which binary runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToolKind {
    Br,
    Dumpling,
    Lightning,
    /// tikv-ctl, for `compact-log-backup`.
    TikvCtl,
}

impl ToolKind {
    /// The executable's file name.
    pub fn binary(self) -> &'static str {
        match self {
            ToolKind::Br => "br",
            ToolKind::Dumpling => "dumpling",
            ToolKind::Lightning => "tidb-lightning",
            ToolKind::TikvCtl => "tikv-ctl",
        }
    }
}

impl fmt::Display for ToolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.binary())
    }
}

/// What the tool does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// br backup
    Backup,
    /// dumpling export
    Export,
    /// br restore
    Restore,
    /// lightning import
    Import,
    /// `br log <verb>` for a log backup.
    Log(LogCommand),
    /// `br log status --json`: the task's state and checkpoint.
    LogStatus,
    /// `br operator base64ify`: a storage as tikv-ctl reads it (printed on stdout).
    Base64ify,
    /// `tikv-ctl compact-log-backup`: a log backup's range compacted into SSTs.
    Compact,
}

impl Operation {
    /// True when the tool writes the backup's data (rather than reading it).
    pub fn writes_backup(self) -> bool {
        matches!(self, Operation::Backup | Operation::Export)
    }

    /// The backup-manager subcommand that runs this operation.
    pub fn subcommand(self) -> &'static str {
        match self {
            Operation::Backup => "backup",
            Operation::Export => "export",
            Operation::Restore => "restore",
            Operation::Import => "import",
            Operation::Log(_) | Operation::LogStatus => "backup",
            Operation::Base64ify | Operation::Compact => "compact",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.subcommand())
    }
}

/// How the TiDB password (the Job's `TIDB_PASSWORD`, from the `from`/`to` Secret) reaches a tool. Never through
/// [`ToolJob::args`]: the runner adds it at spawn time and never prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordInput {
    /// dumpling has no config file, environment variable or prompt for it: `--password=...` is appended to the
    /// child's own argv (visible only inside the pod's process namespace), and printed as `--password=******`.
    Flag,
    /// lightning reads `[tidb] password` from a TOML file named by `--config`, written in a private directory.
    ConfigFile,
}

/// One tool run: the command line plus the storage location it works on (the simulator uses the location).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolJob {
    pub tool: ToolKind,
    pub operation: Operation,
    pub location: StorageLocation,
    /// Arguments after the binary name. Never contains a secret: credentials reach the tool through environment
    /// variables set from secret references, and the TiDB password as `password` says.
    pub args: Vec<String>,
    /// Plain (non-secret) environment the tool needs, such as `BR_LOG_TO_TERM=1` so br logs to the terminal.
    pub env: Vec<(String, String)>,
    /// How the TiDB password is delivered, when the spec names a Secret for it.
    pub password: Option<PasswordInput>,
    /// Spec settings that were not passed on, and why (logged, and printed by `--dry-run`).
    pub warnings: Vec<String>,
}

impl ToolJob {
    /// The command line as a user would type it, shell-quoted, without any secret (for logs and `--dry-run`).
    pub fn command_line(&self) -> String {
        let mut words = vec![self.tool.binary().to_string()];
        words.extend(self.args.iter().cloned());
        quote_words(&words)
    }
}

/// Joins `words` into one shell command line, quoting the ones a shell would otherwise split or expand.
pub fn quote_words(words: &[String]) -> String {
    let plain = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "-_.,:/@%+=".contains(c));
    words
        .iter()
        .map(|w| {
            if plain(w) {
                w.clone()
            } else {
                shlex::try_quote(w).map(|q| q.into_owned()).unwrap_or_else(|_| format!("{w:?}"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a successful run reported in its summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolReport {
    pub size_bytes: Option<u64>,
    pub commit_ts: Option<String>,
    /// The tool's own measure of how long the work took.
    pub time_taken: Option<Duration>,
    /// The tasks `br log status --json` printed.
    pub log_tasks: Option<Vec<LogTask>>,
    /// The last line printed that was not a log line (what `br operator base64ify` prints).
    pub printed: Option<String>,
}

/// One log backup task as `br log status --json` prints it (fields br adds are ignored).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
pub struct LogTask {
    pub name: String,
    #[serde(default)]
    pub start_ts: u64,
    /// `NORMAL`, `PAUSE` or `ERROR`.
    #[serde(default)]
    pub status: String,
    /// The global checkpoint: every change before it is in the log.
    #[serde(default)]
    pub checkpoint: u64,
    /// Where the task writes (`s3://bucket/prefix`).
    #[serde(default)]
    pub storage: String,
}

/// How far the running tool has got in one of its steps.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolProgress {
    pub step: String,
    /// Percent done, 0 to 100.
    pub percent: f64,
}

/// Where a tool reports progress while it runs; backup-manager writes the latest value into the object's status.
/// Only the newest value is kept, so a fast tool never queues writes. Works on any executor.
#[derive(Debug)]
pub struct ProgressSink(watch::Sender<Option<ToolProgress>>);

/// The reading end of a [`ProgressSink`]; it ends when the sink is dropped.
#[derive(Debug)]
pub struct ProgressFeed(watch::Receiver<Option<ToolProgress>>);

impl ProgressSink {
    /// A sink and the feed that reads it.
    pub fn channel() -> (ProgressSink, ProgressFeed) {
        let (tx, rx) = watch::channel(None);
        (ProgressSink(tx), ProgressFeed(rx))
    }

    /// Replaces the latest progress.
    pub fn report(&self, progress: ToolProgress) {
        self.0.send_replace(Some(progress));
    }
}

impl ProgressFeed {
    /// Waits for progress newer than the last one returned; `None` once the sink is gone.
    pub async fn next(&mut self) -> Option<ToolProgress> {
        loop {
            self.0.changed().await.ok()?;
            if let Some(p) = self.0.borrow_and_update().clone() {
                return Some(p);
            }
        }
    }
}

/// Why a run failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    #[error("{tool} exited with code {code}: {tail}")]
    Exited { tool: ToolKind, code: i32, tail: String },
    #[error("{tool} was stopped before it finished")]
    Stopped { tool: ToolKind },
    #[error("failed to start {tool}: {reason}")]
    Spawn { tool: ToolKind, reason: String },
}

impl ToolError {
    /// The reason recorded in the `AttemptFailed` condition.
    pub fn reason(&self) -> &'static str {
        match self {
            ToolError::Exited { .. } => "ToolFailed",
            ToolError::Stopped { .. } => "Stopped",
            ToolError::Spawn { .. } => "ToolNotStarted",
        }
    }
}

/// Runs tools. Production spawns a child process; the simulator advances virtual time and writes simulated data.
#[allow(async_fn_in_trait)]
pub trait Tool {
    /// Runs `job` to the end, reporting progress to `progress` as the tool prints it.
    async fn run(&self, job: &ToolJob, progress: &ProgressSink) -> Result<ToolReport, ToolError>;

    /// Waits `d` between two runs (a log backup's follower polls the task): real time in production, simulated
    /// time in the simulator.
    async fn pause(&self, d: Duration);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_quote_what_a_shell_would_expand() {
        let words: Vec<String> =
            ["dumpling", "--filter=test.*", "--where=a b", "-d=s3://b/p?region=x&y=z", "--x=plain"]
                .into_iter()
                .map(String::from)
                .collect();
        assert_eq!(
            quote_words(&words),
            "dumpling '--filter=test.*' '--where=a b' '-d=s3://b/p?region=x&y=z' --x=plain"
        );
    }

    #[test]
    fn the_feed_sees_only_the_latest_progress_and_ends_with_the_sink() {
        let (sink, mut feed) = ProgressSink::channel();
        sink.report(ToolProgress { step: "Full Backup".into(), percent: 10.0 });
        sink.report(ToolProgress { step: "Full Backup".into(), percent: 20.0 });
        let got = futures::executor::block_on(feed.next());
        assert_eq!(got.map(|p| p.percent), Some(20.0));
        drop(sink);
        assert_eq!(futures::executor::block_on(feed.next()), None);
    }
}

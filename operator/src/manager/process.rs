//! `ProcessTool`: runs br, dumpling or lightning as a child process. Its stdout and stderr are streamed line by
//! line through the [`Transcript`] (progress, summary, failure tail, redaction) and logged; a stop request (the
//! pod's SIGTERM) is passed on as SIGTERM to the tool's process group, then SIGKILL after a grace period.

use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{info, warn};

use super::credentials::Credentials;
use super::launch::{self, PrivateFile};
use super::output::Transcript;
use super::redact::Redactor;
use super::tool::{Operation, ProgressSink, Tool, ToolError, ToolJob, ToolReport};

/// Lines longer than this are split (a tool printing megabytes without a newline cannot exhaust memory).
const MAX_LINE: usize = 64 * 1024;
/// After the tool exits, how long to wait for the last output held by its own children.
const DRAIN: Duration = Duration::from_secs(2);

/// Asks running tools to stop; held by the signal handler.
#[derive(Debug)]
pub struct StopHandle(watch::Sender<bool>);

/// Tells a tool that it must stop.
#[derive(Clone, Debug)]
pub struct StopSignal(watch::Receiver<bool>);

/// A connected stop handle and signal.
pub fn stop_signal() -> (StopHandle, StopSignal) {
    let (tx, rx) = watch::channel(false);
    (StopHandle(tx), StopSignal(rx))
}

impl StopHandle {
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

impl StopSignal {
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once a stop was requested; never, if the handle is gone without asking.
    pub async fn stopped(&mut self) {
        if self.0.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Runs tools from `tools_dir` as child processes.
#[derive(Debug)]
pub struct ProcessTool {
    tools_dir: PathBuf,
    credentials: Credentials,
    redactor: Redactor,
    stop: StopSignal,
    expected: Option<Operation>,
    grace: Duration,
    private_parent: PathBuf,
}

impl ProcessTool {
    /// Tools in `tools_dir`, given `credentials`, stopping on `stop`; private files go under the temp directory.
    pub fn new(tools_dir: impl Into<PathBuf>, credentials: Credentials, stop: StopSignal) -> Self {
        let redactor = Redactor::new(credentials.secret_values());
        ProcessTool {
            tools_dir: tools_dir.into(),
            credentials,
            redactor,
            stop,
            expected: None,
            grace: Duration::from_secs(20),
            private_parent: std::env::temp_dir(),
        }
    }

    /// Refuses jobs of another operation (the Job's subcommand and the spec disagree).
    pub fn expecting(mut self, operation: Operation) -> Self {
        self.expected = Some(operation);
        self
    }

    /// How long the tool may take to exit after SIGTERM before it is killed.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Where the run's private directory is created.
    pub fn with_private_dir_parent(mut self, parent: impl Into<PathBuf>) -> Self {
        self.private_parent = parent.into();
        self
    }
}

/// Writes `files` into `dir`, readable only by this user, refusing to follow or replace anything already there.
fn write_private_files(dir: &Path, files: &[PrivateFile]) -> io::Result<()> {
    for f in files {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(dir.join(f.name))?;
        io::Write::write_all(&mut file, f.contents.as_bytes())?;
    }
    Ok(())
}

/// Reads one line (without its newline) into `buf`, at most `max` bytes; `false` at the end of the stream.
async fn read_line_capped<R: AsyncBufRead + Unpin>(r: &mut R, buf: &mut Vec<u8>, max: usize) -> io::Result<bool> {
    buf.clear();
    loop {
        let available = r.fill_buf().await?;
        if available.is_empty() {
            return Ok(!buf.is_empty());
        }
        let newline = available.iter().position(|b| *b == b'\n');
        let data = newline.unwrap_or(available.len());
        let room = max.saturating_sub(buf.len());
        if newline.is_some() && data <= room {
            buf.extend_from_slice(&available[..data]);
            r.consume(data + 1);
            return Ok(true);
        }
        if data >= room {
            // Too long: hand out what fits; the rest starts the next line.
            buf.extend_from_slice(&available[..room]);
            r.consume(room);
            return Ok(true);
        }
        buf.extend_from_slice(&available[..data]);
        r.consume(data);
    }
}

/// Sends every line of `reader` to `tx`.
async fn pump(reader: impl AsyncRead + Unpin, tx: mpsc::UnboundedSender<String>) {
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    while let Ok(true) = read_line_capped(&mut reader, &mut buf, MAX_LINE).await {
        if tx.send(String::from_utf8_lossy(&buf).into_owned()).is_err() {
            return;
        }
    }
}

/// Signals the tool's process group (it leads its own group); a group that is already gone is fine.
fn signal_group(pid: Option<u32>, signal: Signal) {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else { return };
    if let Err(e) = killpg(Pid::from_raw(pid), signal)
        && e != nix::errno::Errno::ESRCH
    {
        warn!(pid, %signal, error = %e, "failed to signal the tool");
    }
}

fn observe(transcript: &mut Transcript, line: &str, progress: &ProgressSink, job: &ToolJob) {
    let seen = transcript.push(line);
    info!(tool = %job.tool, "{}", seen.display);
    if let Some(p) = seen.progress {
        progress.report(p);
    }
}

impl Tool for ProcessTool {
    async fn pause(&self, d: Duration) {
        let mut stop = self.stop.clone();
        tokio::select! {
            () = tokio::time::sleep(d) => {}
            () = stop.stopped() => {}
        }
    }

    async fn run(&self, job: &ToolJob, progress: &ProgressSink) -> Result<ToolReport, ToolError> {
        let tool = job.tool;
        if self.stop.is_stopped() {
            return Err(ToolError::Stopped { tool });
        }
        // A log command's run also reads the task's status.
        // A log command's run also reads the task's status; a compaction's first encodes its storage.
        let status_of_log = matches!(
            (self.expected, job.operation),
            (Some(Operation::Log(_)), Operation::LogStatus) | (Some(Operation::Compact), Operation::Base64ify)
        );
        if let Some(expected) = self.expected
            && expected != job.operation
            && !status_of_log
        {
            return Err(ToolError::Spawn {
                tool,
                reason: format!(
                    "backup-manager was started as `{expected}`, but the spec asks for `{}`",
                    job.operation.subcommand()
                ),
            });
        }
        for w in &job.warnings {
            warn!(tool = %tool, "{}", self.redactor.redact(w));
        }
        let spawn_error = |what: &str, e: io::Error| ToolError::Spawn { tool, reason: format!("{what}: {e}") };
        let dir = tempfile::Builder::new()
            .prefix("backup-manager-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(&self.private_parent)
            .map_err(|e| {
                spawn_error(&format!("cannot create a private directory in {}", self.private_parent.display()), e)
            })?;
        let launch = launch::plan(job, &self.credentials, &self.tools_dir, dir.path());
        write_private_files(dir.path(), &launch.files)
            .map_err(|e| spawn_error("cannot write the tool's private files", e))?;
        for c in &launch.credentials {
            info!(tool = %tool, variable = c.variable, "credential {}", c.how);
        }
        info!(tool = %tool, command = %self.redactor.redact(&launch.display), "starting the tool");

        let mut command = tokio::process::Command::new(&launch.program);
        command
            .args(&launch.args)
            .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        for name in &launch.env_remove {
            command.env_remove(name);
        }
        let mut child =
            command.spawn().map_err(|e| spawn_error(&format!("cannot execute {}", launch.program.display()), e))?;
        let pid = child.id();
        let (tx, mut rx) = mpsc::unbounded_channel();
        if let Some(out) = child.stdout.take() {
            tokio::spawn(pump(out, tx.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(pump(err, tx.clone()));
        }
        drop(tx);

        let mut transcript = Transcript::new(tool, self.redactor.clone());
        let mut stop = self.stop.clone();
        let mut kill_at: Option<Instant> = None;
        let mut killed = false;
        let mut output_open = true;
        let status = loop {
            tokio::select! {
                line = rx.recv(), if output_open => match line {
                    Some(line) => observe(&mut transcript, &line, progress, job),
                    None => output_open = false,
                },
                status = child.wait() => break status,
                _ = stop.stopped(), if kill_at.is_none() => {
                    info!(tool = %tool, grace = ?self.grace, "stop requested: sending SIGTERM to the tool");
                    signal_group(pid, Signal::SIGTERM);
                    kill_at = Some(Instant::now() + self.grace);
                }
                _ = tokio::time::sleep_until(kill_at.unwrap_or_else(Instant::now)), if kill_at.is_some() && !killed => {
                    warn!(tool = %tool, "the tool ignored SIGTERM: killing it");
                    signal_group(pid, Signal::SIGKILL);
                    killed = true;
                }
            }
        };
        // The tool is gone; read what it printed last (its own children may hold the pipes a little longer).
        let drain = async {
            while let Some(line) = rx.recv().await {
                observe(&mut transcript, &line, progress, job);
            }
        };
        let _ = tokio::time::timeout(DRAIN, drain).await;
        if kill_at.is_some() {
            // Kill whatever the tool left behind in its group.
            signal_group(pid, Signal::SIGKILL);
        }
        drop(dir);

        let status = status.map_err(|e| spawn_error("lost track of the tool", e))?;
        info!(tool = %tool, %status, lines = transcript.lines(), "the tool exited");
        if status.success() {
            return Ok(transcript.report());
        }
        if kill_at.is_some() {
            return Err(ToolError::Stopped { tool });
        }
        let code = status.code().or_else(|| status.signal().map(|s| 128 + s)).unwrap_or(-1);
        Err(ToolError::Exited { tool, code, tail: transcript.failure_tail() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn long_lines_are_split_and_a_missing_final_newline_is_fine() {
        let data: &[u8] = b"abcdef\nxy";
        let mut r = BufReader::new(data);
        let mut buf = Vec::new();
        let mut lines = Vec::new();
        while read_line_capped(&mut r, &mut buf, 4).await.unwrap() {
            lines.push(String::from_utf8(buf.clone()).unwrap());
        }
        assert_eq!(lines, ["abcd", "ef", "xy"]);
    }
}

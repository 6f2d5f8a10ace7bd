//! Log backups (`backupMode: log`): which `br log` command a Backup asks for now, and whether it is already done
//! (pure; TiDB Operator's rules, so a migrated log backup carries on where it was).

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use super::backup::{Backup, BackupPhase, BackupSpec, BackupStatus};
use super::condition::{Condition, set_condition};
use super::kept::LogSubCommandStatus;
use super::tso::Tso;

/// `log-start` (the default), `log-pause` or `log-stop`: what the log backup's task should be doing.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum LogSubcommand {
    #[serde(rename = "log-start")]
    Start,
    #[serde(rename = "log-stop")]
    Stop,
    #[serde(rename = "log-pause")]
    Pause,
}

/// The `br log` command a log backup runs next; also the key of `status.logSubCommandStatuses`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogCommand {
    Start,
    Stop,
    Pause,
    Resume,
    Truncate,
}

/// Every command, in the order of their Job names' suffixes.
pub const LOG_COMMANDS: [LogCommand; 5] =
    [LogCommand::Start, LogCommand::Stop, LogCommand::Pause, LogCommand::Resume, LogCommand::Truncate];

impl LogCommand {
    /// TiDB Operator's name (`log-start`): the status key, the Job name suffix and backup-manager's `--subcommand`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogCommand::Start => "log-start",
            LogCommand::Stop => "log-stop",
            LogCommand::Pause => "log-pause",
            LogCommand::Resume => "log-resume",
            LogCommand::Truncate => "log-truncate",
        }
    }

    /// The `br log` verb.
    pub fn verb(self) -> &'static str {
        &self.as_str()[4..]
    }
}

impl fmt::Display for LogCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown `--subcommand`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a log subcommand (log-start, log-stop, log-pause, log-resume, log-truncate)")]
pub struct UnknownLogCommand(pub String);

impl FromStr for LogCommand {
    type Err = UnknownLogCommand;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LOG_COMMANDS.into_iter().find(|c| c.as_str() == s).ok_or_else(|| UnknownLogCommand(s.into()))
    }
}

/// True for `backupMode: log`.
pub fn is_log(spec: &BackupSpec) -> bool {
    spec.backup_mode.as_deref() == Some("log")
}

/// The task name given to `br log`: the Backup's name, as TiDB Operator names it.
pub fn task_name(b: &Backup) -> String {
    b.metadata.name.clone().unwrap_or_default()
}

/// The TSO the task started at, once `log-start` has run (`status.commitTs`).
pub fn started_at(b: &Backup) -> Option<Tso> {
    b.status.as_ref().and_then(|s| s.commit_ts.as_deref()).and_then(|t| Tso::parse(t).ok())
}

/// The command the spec asks for, before truncation: `logSubcommand`, else the legacy `logStop`; a start of a
/// paused task is a resume.
fn asked(b: &Backup) -> LogCommand {
    let paused = b.phase() == Some(BackupPhase::Paused);
    match b.spec.log_subcommand {
        Some(LogSubcommand::Stop) => LogCommand::Stop,
        Some(LogSubcommand::Pause) => LogCommand::Pause,
        Some(LogSubcommand::Start) if paused => LogCommand::Resume,
        Some(LogSubcommand::Start) => LogCommand::Start,
        None if b.spec.log_stop == Some(true) || b.phase() == Some(BackupPhase::Stopped) => LogCommand::Stop,
        None if paused => LogCommand::Resume,
        None => LogCommand::Start,
    }
}

/// The `logTruncateUntil` still to be applied, if any: set, readable, after the task's start, after what was
/// truncated already, and not yet recorded as truncated.
pub fn truncate_pending(b: &Backup) -> Option<&str> {
    let until = b.spec.log_truncate_until.as_deref().filter(|s| !s.trim().is_empty())?;
    let status = b.status.as_ref();
    let done = status.and_then(|s| s.log_success_truncate_until.as_deref());
    if done == Some(until) {
        return None;
    }
    let at = Tso::parse(until).ok()?;
    let done_at = done.and_then(|d| Tso::parse(d).ok());
    let beyond = started_at(b).is_some_and(|s| at > s) && done_at.is_none_or(|d| at > d);
    beyond.then_some(until)
}

/// True when the effect of `command` is already in place.
pub fn in_sync(b: &Backup, command: LogCommand) -> bool {
    let started = started_at(b).is_some();
    match command {
        LogCommand::Start => started,
        LogCommand::Stop => b.phase() == Some(BackupPhase::Stopped),
        LogCommand::Pause => b.phase() == Some(BackupPhase::Paused),
        LogCommand::Resume => started && b.phase() == Some(BackupPhase::Running),
        LogCommand::Truncate => truncate_pending(b).is_none(),
    }
}

/// The command to run now: what the spec asks for, or, once that is in place, a pending truncation (a stopped
/// task's log can still be truncated).
pub fn command(b: &Backup) -> LogCommand {
    let asked = asked(b);
    if in_sync(b, asked) && truncate_pending(b).is_some() { LogCommand::Truncate } else { asked }
}

/// Records `phase` for `command` in `logSubCommandStatuses`, with a condition of the same type naming the command,
/// and returns the entry for more fields.
pub fn set_command_phase<'a>(
    status: &'a mut BackupStatus,
    command: LogCommand,
    phase: BackupPhase,
    now: DateTime<Utc>,
    reason: Option<&str>,
    message: Option<&str>,
) -> &'a mut LogSubCommandStatus {
    let entry = status.log_sub_command_statuses.get_or_insert_with(Default::default);
    let s = entry.entry(command.as_str().to_string()).or_default();
    s.command = Some(command.as_str().to_string());
    s.phase = Some(phase.as_str().to_string());
    let mut c = Condition::new(phase.as_str(), now, reason, message);
    c.command = Some(command.as_str().to_string());
    set_condition(&mut s.conditions, c);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_backup(sub: Option<LogSubcommand>, phase: Option<BackupPhase>, commit_ts: Option<&str>) -> Backup {
        let mut b = Backup::new("log", BackupSpec { backup_mode: Some("log".into()), ..Default::default() });
        b.spec.log_subcommand = sub;
        b.status = Some(BackupStatus { phase, commit_ts: commit_ts.map(String::from), ..Default::default() });
        b
    }

    #[test]
    fn the_command_follows_tidb_operators_rules() {
        use BackupPhase::*;
        use LogSubcommand as S;
        let cases = [
            (None, None, None, LogCommand::Start),
            (Some(S::Start), Some(Running), Some("100"), LogCommand::Start),
            (Some(S::Start), Some(Paused), Some("100"), LogCommand::Resume),
            (None, Some(Paused), Some("100"), LogCommand::Resume),
            (Some(S::Pause), Some(Running), Some("100"), LogCommand::Pause),
            (Some(S::Stop), Some(Running), Some("100"), LogCommand::Stop),
            (None, Some(Stopped), Some("100"), LogCommand::Stop),
        ];
        for (sub, phase, ts, want) in cases {
            assert_eq!(command(&log_backup(sub, phase, ts)), want, "{sub:?} {phase:?}");
        }
        let mut legacy = log_backup(None, Some(Running), Some("100"));
        legacy.spec.log_stop = Some(true);
        assert_eq!(command(&legacy), LogCommand::Stop);
    }

    #[test]
    fn truncation_runs_once_the_asked_command_is_in_place_and_only_forward() {
        let mut b = log_backup(Some(LogSubcommand::Start), Some(BackupPhase::Scheduled), None);
        b.spec.log_truncate_until = Some("2000".into());
        assert_eq!(command(&b), LogCommand::Start, "not started: start first");
        b.status.as_mut().unwrap().commit_ts = Some("1000".into());
        b.status.as_mut().unwrap().phase = Some(BackupPhase::Running);
        assert_eq!(command(&b), LogCommand::Truncate);
        b.status.as_mut().unwrap().log_success_truncate_until = Some("2000".into());
        assert_eq!(command(&b), LogCommand::Start, "done");
        b.spec.log_truncate_until = Some("1500".into());
        assert_eq!(command(&b), LogCommand::Start, "behind what was truncated");
        b.spec.log_truncate_until = Some("500".into());
        b.status.as_mut().unwrap().log_success_truncate_until = None;
        assert_eq!(command(&b), LogCommand::Start, "before the start");
        b.spec.log_truncate_until = Some("3000".into());
        b.status.as_mut().unwrap().phase = Some(BackupPhase::Stopped);
        b.spec.log_subcommand = Some(LogSubcommand::Stop);
        assert_eq!(command(&b), LogCommand::Truncate, "a stopped task's log is truncated too");
    }

    #[test]
    fn command_names_round_trip_and_unknown_ones_are_named() {
        for c in LOG_COMMANDS {
            assert_eq!(c.as_str().parse::<LogCommand>(), Ok(c));
            assert_eq!(format!("log-{}", c.verb()), c.as_str());
        }
        assert_eq!("log-x".parse::<LogCommand>().unwrap_err().to_string().split(' ').next(), Some("\"log-x\""));
        let json = serde_json::to_value(LogSubcommand::Pause).unwrap();
        assert_eq!(json, serde_json::json!("log-pause"));
    }
}

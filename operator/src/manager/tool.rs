//! The tool seam: what backup-manager asks br, dumpling or lightning to do, and what it hears back.

use std::fmt;

use crate::api::storage::StorageLocation;

/// Which binary runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToolKind {
    Br,
    Dumpling,
    Lightning,
}

impl ToolKind {
    /// The executable's file name.
    pub fn binary(self) -> &'static str {
        match self {
            ToolKind::Br => "br",
            ToolKind::Dumpling => "dumpling",
            ToolKind::Lightning => "tidb-lightning",
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
}

impl Operation {
    /// True when the tool writes the backup's data (rather than reading it).
    pub fn writes_backup(self) -> bool {
        matches!(self, Operation::Backup | Operation::Export)
    }
}

/// One tool run: the command line plus the storage location it works on (the simulator uses the location).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolJob {
    pub tool: ToolKind,
    pub operation: Operation,
    pub location: StorageLocation,
    /// Arguments after the binary name. Never contains a secret: credentials reach the tool through environment
    /// variables set from secret references.
    pub args: Vec<String>,
}

impl ToolJob {
    /// The command line as a user would type it (for logs and `--dry-run`).
    pub fn command_line(&self) -> String {
        let mut line = self.tool.binary().to_string();
        for a in &self.args {
            line.push(' ');
            if a.chars().any(|c| c.is_whitespace() || c == '\'' || c == '"' || c == '*' || c == '!') {
                line.push('\'');
                line.push_str(&a.replace('\'', "'\\''"));
                line.push('\'');
            } else {
                line.push_str(a);
            }
        }
        line
    }
}

/// What a successful run reported in its summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolReport {
    pub size_bytes: Option<u64>,
    pub commit_ts: Option<String>,
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

/// Runs tools. Production spawns a child process; the simulator advances virtual time and writes simulated data.
#[allow(async_fn_in_trait)]
pub trait Tool {
    async fn run(&self, job: &ToolJob) -> Result<ToolReport, ToolError>;
}

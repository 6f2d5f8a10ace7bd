//! backup-manager: the program inside every Job. It reads its Backup, Restore or CompactBackup through the
//! `Cluster` trait, runs the tool (br, dumpling, lightning, tikv-ctl) or cleans storage, and reports progress and outcome in the object's status.
//!
//! The same code runs in production (a child process and `object_store`) and in the simulator (a simulated tool
//! and simulated storage): only the [`Tool`](tool::Tool) and [`BackupStore`](store::BackupStore) differ.
//!
//! Division of labour with the controllers: backup-manager writes `Running` (with `timeStarted` and
//! `backupPath`, *before* the tool can write anything), progress, `Complete` with the summary, and an
//! `AttemptFailed` condition with the tool's last words; the backup controller alone decides `Retrying` or the
//! final `Failed`. `clean` writes `Clean` or `CleanFailed`.
//!
//! Pieces: [`args`] builds command lines from specs, [`launch`] turns one into a process plan with the secrets
//! delivered the way each tool accepts them, [`process`] runs it, [`output`] reads what it prints, [`redact`]
//! masks secrets, [`remote_store`] cleans real storage, [`report`] writes status, [`dry_run`] prints the plan for
//! a manifest without a cluster.

pub mod args;
pub mod compact_run;
pub mod credentials;
pub mod dry_run;
pub mod launch;
pub mod log_run;
pub mod output;
pub mod process;
pub mod redact;
pub mod remote_store;
pub mod report;
pub mod store;
pub mod tool;

pub use compact_run::compact;
pub use log_run::log_backup;
pub use report::{ManagerError, backup, clean, restore};

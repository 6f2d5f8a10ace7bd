//! backup-manager: the program inside every Job. It reads its Backup or Restore through the `Cluster` trait, runs
//! the tool (br, dumpling, lightning) or cleans storage, and reports progress and outcome in the object's status.
//!
//! The same code runs in production (a child process and `object_store`) and in the simulator (a simulated tool
//! and simulated storage): only the [`Tool`](tool::Tool) and [`BackupStore`](store::BackupStore) differ.
//!
//! Division of labour with the controllers: backup-manager writes `Running` (with `timeStarted` and
//! `backupPath`, *before* the tool can write anything), `Complete`, and an `AttemptFailed` condition with the tool's
//! last words; the backup controller alone decides `Retrying` or the final `Failed`.

pub mod args;
pub mod report;
pub mod store;
pub mod tool;

pub use report::{ManagerError, backup, clean, restore};

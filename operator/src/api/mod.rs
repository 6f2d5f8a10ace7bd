//! The custom resources of group `pingcap.com/v1alpha1`, with TiDB Operator's field names, and their rules.
//!
//! Types only: no I/O. Defaults are applied by accessor methods (`clean_policy()`, `retry_policy()`), never by
//! rewriting the user's object, so a manifest round-trips unchanged.

pub mod backup;
pub mod compact;
pub mod condition;
pub mod crd;
pub mod cron;
pub mod duration;
pub mod kept;
pub mod labels;
pub mod log_backup;
pub mod names;
pub mod progress;
pub mod restore;
pub mod schedule;
pub mod storage;
pub mod time;
pub mod tools;
pub mod tso;
pub mod unsupported;
pub mod validation;

pub use backup::{
    BackoffRetryPolicy, BackoffRetryRecord, Backup, BackupPhase, BackupSpec, BackupStatus, BackupType, CleanPolicy,
};
pub use compact::{CompactBackup, CompactSpec, CompactState, CompactStatus};
pub use condition::{Condition, ConditionStatus};
pub use progress::Progress;
pub use restore::{Restore, RestorePhase, RestoreSpec, RestoreStatus};
pub use schedule::{BackupSchedule, BackupScheduleSpec, BackupScheduleStatus};
pub use storage::StorageProvider;
pub use tools::{BrConfig, DumplingConfig, TidbAccessConfig};

/// The API group of every resource here.
pub const GROUP: &str = "pingcap.com";
/// The API version of every resource here.
pub const VERSION: &str = "v1alpha1";

//! Well-known labels, annotations and the finalizer that tie Jobs, pods and Backups to their owners.

/// Added to a Backup whose clean policy needs its data removed on deletion (TiDB Operator's finalizer name).
pub const FINALIZER: &str = "tidb.pingcap.com/backup-protection";

/// `backup`, `clean`, `restore` on Jobs and pods; `backup-schedule` on scheduled Backups.
pub const COMPONENT: &str = "app.kubernetes.io/component";
/// Always [`MANAGED_BY_VALUE`] on what this operator creates.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "backup-operator";
/// The owning object's name, shortened to a valid label value.
pub const INSTANCE: &str = "app.kubernetes.io/instance";
/// On Jobs and pods of a Backup: the Backup's name (shortened to a valid label value).
pub const BACKUP: &str = "tidb.pingcap.com/backup";
/// On Jobs and pods of a Restore: the Restore's name (shortened to a valid label value).
pub const RESTORE: &str = "tidb.pingcap.com/restore";
/// On Jobs and pods of a CompactBackup: its name (shortened to a valid label value; TiDB Operator's key).
pub const COMPACT: &str = "tidb.pingcap.com/compact";
/// On scheduled Backups (and CompactBackups): the schedule's name (shortened to a valid label value).
pub const SCHEDULE: &str = "tidb.pingcap.com/backup-schedule";

/// The label keys whose value names one object (a Backup, a Restore, a compaction, a schedule). Every selector the
/// operator lists with carries one of them, so a store or cache that indexes these keys alone answers its lists by
/// reading only what they return.
pub const NAMING: &[&str] = &[BACKUP, RESTORE, COMPACT, SCHEDULE];

/// On scheduled Backups: the cron tick (RFC 3339) the Backup was created for.
pub const SCHEDULED_TIME: &str = "pingcap.com/scheduled-time";
/// On Jobs and their pod templates: which attempt (0-based) of the Backup the Job runs.
pub const ATTEMPT: &str = "pingcap.com/attempt";
/// On Jobs and their pod templates: the full name of the Backup or Restore (label values are length-limited).
pub const OWNER_NAME: &str = "pingcap.com/owner-name";
/// On Jobs and their pod templates: `Backup` or `Restore`.
pub const OWNER_KIND: &str = "pingcap.com/owner-kind";

/// The component label values.
pub mod component {
    pub const BACKUP: &str = "backup";
    pub const CLEAN: &str = "clean";
    pub const RESTORE: &str = "restore";
    pub const COMPACT: &str = "compact";
    pub const SCHEDULE: &str = "backup-schedule";

    /// The components of the Jobs (and their pods) each controller watches: its own, and no other's.
    pub const OF_BACKUP_CONTROLLER: &[&str] = &[BACKUP, CLEAN];
    pub const OF_RESTORE_CONTROLLER: &[&str] = &[RESTORE];
    pub const OF_COMPACT_CONTROLLER: &[&str] = &[COMPACT];
}

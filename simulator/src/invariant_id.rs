//! `InvariantId`: the invariants by name, a contract (scenarios, the zoo and the reports name them).

/// The invariants (a contract: scenarios name them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InvariantId {
    ScheduleStatusTruth,
    NoOverlap,
    OneBackupPerTick,
    RetentionSafety,
    NoLostData,
    NoOrphanData,
    EventualProgress,
    GcNotStarved,
    BoundedApiCost,
    PauseRespected,
    RetainKeepsData,
    RetriesHonoured,
    OneWriter,
    LogTaskStopped,
    LogBackupKept,
    PitrWindow,
    LogTruncated,
    LogCompacted,
}

impl InvariantId {
    pub const ALL: [InvariantId; 18] = [
        InvariantId::ScheduleStatusTruth,
        InvariantId::NoOverlap,
        InvariantId::OneBackupPerTick,
        InvariantId::RetentionSafety,
        InvariantId::NoLostData,
        InvariantId::NoOrphanData,
        InvariantId::EventualProgress,
        InvariantId::GcNotStarved,
        InvariantId::BoundedApiCost,
        InvariantId::PauseRespected,
        InvariantId::RetainKeepsData,
        InvariantId::RetriesHonoured,
        InvariantId::OneWriter,
        InvariantId::LogTaskStopped,
        InvariantId::LogBackupKept,
        InvariantId::PitrWindow,
        InvariantId::LogTruncated,
        InvariantId::LogCompacted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InvariantId::ScheduleStatusTruth => "schedule-status-truth",
            InvariantId::NoOverlap => "no-overlap",
            InvariantId::OneBackupPerTick => "one-backup-per-tick",
            InvariantId::RetentionSafety => "retention-safety",
            InvariantId::NoLostData => "no-lost-data",
            InvariantId::NoOrphanData => "no-orphan-data",
            InvariantId::EventualProgress => "eventual-progress",
            InvariantId::GcNotStarved => "gc-not-starved",
            InvariantId::BoundedApiCost => "bounded-api-cost",
            InvariantId::PauseRespected => "pause-respected",
            InvariantId::RetainKeepsData => "retain-keeps-data",
            InvariantId::RetriesHonoured => "retries-honoured",
            InvariantId::OneWriter => "one-writer",
            InvariantId::LogTaskStopped => "log-task-stopped",
            InvariantId::LogBackupKept => "log-backup-kept",
            InvariantId::PitrWindow => "pitr-window",
            InvariantId::LogTruncated => "log-truncated",
            InvariantId::LogCompacted => "log-compacted",
        }
    }

    pub fn parse(s: &str) -> Option<InvariantId> {
        InvariantId::ALL.into_iter().find(|i| i.as_str() == s)
    }
}

impl std::fmt::Display for InvariantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

//! `TaskId` and `ReqId`: the engine's numbers for its tasks and for the API requests they have in flight.

/// Identifies a task (a reconcile or a backup-manager process).
pub type TaskId = u64;
/// Identifies an API request in flight.
pub type ReqId = u64;

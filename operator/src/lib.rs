//! The backup operator: TiDB-compatible Backup, Restore and BackupSchedule resources, the `Cluster` seam between
//! production and simulation, the reconcilers, and the backup-manager that runs inside the Jobs.

pub mod api;
pub mod cluster;
pub mod controllers;
pub mod manager;
pub mod runtime;

//! Production wiring of `backup-operator run`: kube-runtime Controllers over the reconcilers, leader election,
//! metrics and health endpoints, logs and graceful shutdown. Nothing here decides anything about Backups.
//!
//! Start-up order (see [`supervisor::run`]): connect to the API server (a bad kubeconfig or an unreachable server
//! fails within `--connect-timeout` with one clear line), check that the CRDs are served and readable, serve
//! `/metrics`, `/healthz` and `/readyz`, wait for the leader Lease, then start the backup, restore and schedule
//! controllers, each over its own reflector caches. SIGTERM stops the controllers after their running reconciles
//! finish and releases the Lease; losing the Lease stops the process at once (the Deployment restarts it as a
//! standby).

pub mod backoff;
pub mod client;
pub mod controllers;
pub mod health;
pub mod leader;
pub mod logging;
pub mod metrics;
pub mod options;
pub mod rbac;
pub mod server;
pub mod shutdown;
pub mod supervisor;

pub use options::RunArgs;
pub use supervisor::{RunError, run};

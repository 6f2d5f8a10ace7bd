//! Operator-wide settings: images, deadlines and retry delays (flags of `backup-operator run`).

use std::time::Duration;

/// Settings shared by the reconcilers. `Default` gives the production defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Image with the `backup-manager` binary, run by every Job.
    pub manager_image: String,
    /// br image when a BR Backup or Restore has no `toolImage`.
    pub br_image: String,
    /// dumpling image when a dumpling Backup has no `toolImage`.
    pub dumpling_image: String,
    /// lightning image when a lightning Restore has no `toolImage`.
    pub lightning_image: String,
    /// tikv image (tikv-ctl compacts log backups) when a CompactBackup has no `tikvImage`.
    pub tikv_image: String,
    /// A pod still Pending (ContainerCreating, image pulls) after this long fails its attempt.
    pub pod_start_timeout: Duration,
    /// Delay before a failed or stuck clean Job is tried again.
    pub clean_retry: Duration,
    /// How often a reconcile that waits on something without a watch event re-checks anyway.
    pub resync: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            manager_image: format!("ghcr.io/tidb-backup-operator/backup-manager:{}", env!("CARGO_PKG_VERSION")),
            br_image: "pingcap/br:v8.5.2".into(),
            dumpling_image: "pingcap/dumpling:v8.5.2".into(),
            lightning_image: "pingcap/tidb-lightning:v8.5.2".into(),
            tikv_image: "pingcap/tikv:v8.5.2".into(),
            pod_start_timeout: Duration::from_secs(600),
            clean_retry: Duration::from_secs(60),
            resync: Duration::from_secs(300),
        }
    }
}

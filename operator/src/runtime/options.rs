//! The flags of `backup-operator run`, and their translation into `Settings` and the runtime's options.

use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::api::duration::parse_duration;
use crate::controllers::Settings;

/// How log lines are written to stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log pipelines).
    Json,
}

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| e.to_string())
}

/// Runs the Backup, Restore and BackupSchedule controllers against the cluster of the kubeconfig (or in-cluster).
#[derive(Args, Clone, Debug)]
pub struct RunArgs {
    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then the in-cluster service account).
    #[arg(long, value_name = "PATH", help_heading = "Connection")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context (default: the current context).
    #[arg(long, value_name = "NAME", help_heading = "Connection")]
    pub context: Option<String>,

    /// How long to wait for the API server at start-up and for each new connection.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration, help_heading = "Connection")]
    pub connect_timeout: Duration,

    /// Only watch and reconcile objects in this namespace (default: all namespaces).
    #[arg(long, value_name = "NS", env = "WATCH_NAMESPACE", help_heading = "Scope")]
    pub namespace: Option<String>,

    /// Reconciles running at once, per controller.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..), help_heading = "Scope")]
    pub concurrency: u16,

    /// Address of the HTTP server for /metrics, /healthz and /readyz.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8080", help_heading = "Observability")]
    pub metrics_addr: SocketAddr,

    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, help_heading = "Observability")]
    pub log_format: LogFormat,

    /// Log filter (tracing `EnvFilter` syntax: `info`, `operator=debug,kube=warn`); RUST_LOG overrides it.
    #[arg(long, value_name = "FILTER", default_value = "info", help_heading = "Observability")]
    pub log_level: String,

    /// Run the controllers only while holding the leader Lease (set to false for a single replica without RBAC on
    /// Leases).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, help_heading = "Leader election")]
    pub leader_elect: bool,

    /// Name of the coordination.k8s.io Lease.
    #[arg(long, value_name = "NAME", default_value = "backup-operator", help_heading = "Leader election")]
    pub lease_name: String,

    /// Namespace of the Lease (default: $POD_NAMESPACE, else the kubeconfig's namespace).
    #[arg(long, value_name = "NS", env = "POD_NAMESPACE", help_heading = "Leader election")]
    pub lease_namespace: Option<String>,

    /// How long a Lease stays valid without renewal; a standby takes over after at most this long.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = duration, help_heading = "Leader election")]
    pub lease_duration: Duration,

    /// This replica's identity in the Lease (default: $POD_NAME, else $HOSTNAME).
    #[arg(long, value_name = "ID", env = "POD_NAME", help_heading = "Leader election")]
    pub identity: Option<String>,

    /// Image with the backup-manager binary, run by every Job.
    #[arg(long, value_name = "IMAGE", help_heading = "Jobs")]
    pub manager_image: Option<String>,

    /// br image for BR Backups and Restores without spec.toolImage.
    #[arg(long, value_name = "IMAGE", help_heading = "Jobs")]
    pub br_image: Option<String>,

    /// dumpling image for dumpling Backups without spec.toolImage.
    #[arg(long, value_name = "IMAGE", help_heading = "Jobs")]
    pub dumpling_image: Option<String>,

    /// tidb-lightning image for lightning Restores without spec.toolImage.
    #[arg(long, value_name = "IMAGE", help_heading = "Jobs")]
    pub lightning_image: Option<String>,

    /// tikv image (for its tikv-ctl) for CompactBackups without spec.tikvImage.
    #[arg(long, value_name = "IMAGE", help_heading = "Jobs")]
    pub tikv_image: Option<String>,

    /// A Job's pod still Pending (ContainerCreating, image pulls) after this long fails its attempt.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = duration, help_heading = "Jobs")]
    pub pod_start_timeout: Duration,

    /// Delay before a failed or stuck clean Job is tried again.
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = duration, help_heading = "Jobs")]
    pub clean_retry: Duration,

    /// How often a reconcile that waits without a watch event checks again anyway.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = duration, help_heading = "Jobs")]
    pub resync: Duration,

    /// After SIGTERM, how long running reconciles may take before the process exits anyway.
    #[arg(long, value_name = "DURATION", default_value = "25s", value_parser = duration, help_heading = "Shutdown")]
    pub shutdown_timeout: Duration,
}

/// Why the flags cannot be used together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("--lease-duration must be at least 3s, got {0:?}")]
    LeaseTooShort(Duration),
    #[error("--{flag} must not be empty")]
    Empty { flag: &'static str },
}

impl RunArgs {
    /// The reconcilers' settings: the defaults, overridden by the flags given.
    pub fn settings(&self) -> Settings {
        let mut s = Settings::default();
        let pick = |flag: &Option<String>, default: &mut String| {
            if let Some(v) = flag {
                default.clone_from(v);
            }
        };
        pick(&self.manager_image, &mut s.manager_image);
        pick(&self.br_image, &mut s.br_image);
        pick(&self.dumpling_image, &mut s.dumpling_image);
        pick(&self.lightning_image, &mut s.lightning_image);
        pick(&self.tikv_image, &mut s.tikv_image);
        s.pod_start_timeout = self.pod_start_timeout;
        s.clean_retry = self.clean_retry;
        s.resync = self.resync;
        s
    }

    /// Checks what clap cannot: combinations and non-empty names.
    pub fn validate(&self) -> Result<(), OptionsError> {
        if self.leader_elect && self.lease_duration < Duration::from_secs(3) {
            return Err(OptionsError::LeaseTooShort(self.lease_duration));
        }
        let names = [
            ("lease-name", Some(&self.lease_name)),
            ("namespace", self.namespace.as_ref()),
            ("manager-image", self.manager_image.as_ref()),
            ("br-image", self.br_image.as_ref()),
            ("dumpling-image", self.dumpling_image.as_ref()),
            ("lightning-image", self.lightning_image.as_ref()),
            ("tikv-image", self.tikv_image.as_ref()),
        ];
        match names.into_iter().find(|(_, v)| v.is_some_and(|v| v.trim().is_empty())) {
            Some((flag, _)) => Err(OptionsError::Empty { flag }),
            None => Ok(()),
        }
    }

    /// The Lease holder identity: the flag (or $POD_NAME), else $HOSTNAME; `None` lets the lease manager draw one.
    pub fn lease_identity(&self) -> Option<String> {
        self.identity.clone().or_else(|| std::env::var("HOSTNAME").ok()).filter(|s| !s.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    fn parse(args: &[&str]) -> Result<RunArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("run").chain(args.iter().copied())).map(|c| c.run)
    }

    #[test]
    fn defaults_match_the_reconcilers_defaults() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.settings(), Settings::default());
        assert!(args.leader_elect);
        assert_eq!(args.metrics_addr.port(), 8080);
        assert_eq!(args.validate(), Ok(()));
    }

    #[test]
    fn flags_override_settings_and_durations_read_like_manifests() {
        let args = parse(&[
            "--pod-start-timeout=90s",
            "--clean-retry=2m",
            "--manager-image=registry.local/backup-manager:1",
            "--leader-elect=false",
            "--concurrency=8",
        ])
        .unwrap();
        let s = args.settings();
        assert_eq!(s.pod_start_timeout, Duration::from_secs(90));
        assert_eq!(s.clean_retry, Duration::from_secs(120));
        assert_eq!(s.manager_image, "registry.local/backup-manager:1");
        assert_eq!(s.br_image, Settings::default().br_image);
        assert!(!args.leader_elect);
        assert_eq!(args.concurrency, 8);
    }

    #[test]
    fn bad_flags_are_refused_with_the_flag_named() {
        let err = parse(&["--pod-start-timeout=soon"]).err().unwrap().to_string();
        assert!(err.contains("--pod-start-timeout") && err.contains("soon"), "{err}");
        assert!(parse(&["--concurrency=0"]).is_err());
        let short = parse(&["--lease-duration=1s"]).unwrap();
        assert_eq!(short.validate(), Err(OptionsError::LeaseTooShort(Duration::from_secs(1))));
        let empty = parse(&["--namespace="]).unwrap();
        assert_eq!(empty.validate(), Err(OptionsError::Empty { flag: "namespace" }));
    }
}

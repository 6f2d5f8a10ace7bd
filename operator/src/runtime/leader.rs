//! Leader election on a `coordination.k8s.io/v1` Lease, with kube-lease-manager acquiring, renewing and releasing
//! it, and a watchdog that declares leadership lost when the Lease can no longer be confirmed in time.
//!
//! The lease manager reports a change only once it can read the Lease again; a leader cut off from the API server
//! would keep believing it leads after its Lease expired and a standby took over. The watchdog reads the Lease every
//! `duration / 3` and gives up leadership when it names another holder, or when the last confirmed renewal is
//! older than the Lease duration.

use chrono::{DateTime, Utc};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::Api;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder, LeaseManagerError};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cluster::kube_cluster::error_chain;

/// Why leader election failed or ended.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("cannot use the Lease {namespace}/{name}")]
    Lease {
        namespace: String,
        name: String,
        #[source]
        source: LeaseManagerError,
    },
    #[error("lost the Lease {namespace}/{name}: {reason}")]
    Lost { namespace: String, name: String, reason: String },
}

/// Where the Lease is and who we are.
#[derive(Clone, Debug)]
pub struct LeaderConfig {
    pub lease_name: String,
    pub namespace: String,
    pub identity: String,
    /// How long the Lease stays valid without renewal.
    pub duration: Duration,
}

impl LeaderConfig {
    /// Renewal starts this long before expiry: half the duration, at least a second. A renewal delayed by a loaded
    /// machine or a slow API server still lands long before the watchdog would see the Lease expire (with a third,
    /// a 6-second Lease left 2 seconds, and a loaded 2-core CI machine missed them once).
    pub fn grace(&self) -> Duration {
        Duration::from_secs((self.duration.as_secs() / 2).max(1))
    }
}

fn from_micro(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime) -> DateTime<Utc> {
    DateTime::from_timestamp(t.0.as_second(), t.0.subsec_nanosecond().max(0) as u32).unwrap_or_default()
}

/// Whether the Lease spec still says `identity` holds it at `now`: until when it is valid, or why not.
pub fn held_until(spec: Option<&LeaseSpec>, identity: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let Some(spec) = spec else { return Err("the Lease has no spec".into()) };
    match spec.holder_identity.as_deref() {
        Some(holder) if holder == identity => {}
        Some(holder) => return Err(format!("it is held by {holder}")),
        None => return Err("it has no holder".into()),
    }
    let (Some(renewed), Some(secs)) = (spec.renew_time.as_ref(), spec.lease_duration_seconds) else {
        return Err("it has no renewTime or leaseDurationSeconds".into());
    };
    let until = from_micro(renewed) + chrono::Duration::seconds(i64::from(secs));
    if until <= now { Err(format!("it expired at {}", crate::api::time::rfc3339(until))) } else { Ok(until) }
}

/// A running election.
pub struct Leadership {
    config: LeaderConfig,
    api: Api<Lease>,
    state: watch::Receiver<bool>,
    task: JoinHandle<Result<LeaseManager, LeaseManagerError>>,
}

impl Leadership {
    /// Creates the Lease if needed and starts competing for it.
    pub async fn start(client: kube::Client, config: LeaderConfig) -> Result<Leadership, LeaderError> {
        let secs = config.duration.as_secs().max(3);
        let manager = LeaseManagerBuilder::new(client.clone(), &config.lease_name)
            .with_namespace(&config.namespace)
            .with_identity(&config.identity)
            .with_duration(secs)
            .with_grace(config.grace().as_secs())
            .build()
            .await
            .map_err(|source| LeaderError::Lease {
                namespace: config.namespace.clone(),
                name: config.lease_name.clone(),
                source,
            })?;
        let (state, task) = manager.watch().await;
        let api = Api::namespaced(client, &config.namespace);
        Ok(Leadership { config, api, state, task })
    }

    fn lost(&self, reason: impl Into<String>) -> LeaderError {
        LeaderError::Lost {
            namespace: self.config.namespace.clone(),
            name: self.config.lease_name.clone(),
            reason: reason.into(),
        }
    }

    /// Waits until this replica holds the Lease.
    pub async fn acquired(&mut self) -> Result<(), LeaderError> {
        let stopped = self.state.wait_for(|leading| *leading).await.is_err();
        if stopped { Err(self.lost("the lease manager stopped")) } else { Ok(()) }
    }

    /// Resolves when leadership is lost (never while it is confirmed): the lease manager says so or stops, or the
    /// watchdog cannot confirm the Lease before its last known expiry.
    pub async fn until_lost(&mut self) -> LeaderError {
        let interval = Duration::from_secs((self.config.duration.as_secs() / 3).max(1));
        let mut valid_until = Utc::now() + chrono::Duration::from_std(self.config.duration).unwrap_or_default();
        loop {
            tokio::select! {
                changed = self.state.changed() => {
                    if changed.is_err() {
                        return self.lost("the lease manager stopped");
                    }
                    if !*self.state.borrow_and_update() {
                        let holder = self.api.get(&self.config.lease_name).await.ok().and_then(|l| l.spec?.holder_identity);
                        return self.lost(holder.map_or_else(|| "another replica took it over".into(), |h| format!("it is held by {h}")));
                    }
                }
                _ = tokio::time::sleep(interval) => {
                    let now = Utc::now();
                    match self.api.get(&self.config.lease_name).await {
                        Ok(lease) => match held_until(lease.spec.as_ref(), &self.config.identity, now) {
                            Ok(until) => valid_until = until,
                            Err(reason) => return self.lost(reason),
                        },
                        Err(e) if now >= valid_until => {
                            return self.lost(format!("cannot confirm it before it expired: {}", error_chain(&e)));
                        }
                        Err(e) => tracing::warn!(error = %error_chain(&e), "cannot read the leader Lease; retrying"),
                    }
                }
            }
        }
    }

    /// Stops competing and releases the Lease if held, waiting at most `timeout`.
    pub async fn release(self, timeout: Duration) {
        drop(self.state);
        match tokio::time::timeout(timeout, self.task).await {
            Ok(Ok(Ok(_))) => tracing::info!(lease = %self.config.lease_name, "released the leader Lease"),
            Ok(Ok(Err(e))) => tracing::warn!(error = %error_chain(&e), "failed to release the leader Lease"),
            Ok(Err(e)) => tracing::warn!(error = %e, "the lease manager task failed"),
            Err(_) => tracing::warn!("releasing the leader Lease timed out; it expires on its own"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
    use k8s_openapi::jiff::Timestamp;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(s)
    }

    fn spec(holder: Option<&str>, renewed: i64, secs: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_string),
            renew_time: Some(MicroTime(Timestamp::from_second(t(renewed).timestamp()).unwrap())),
            lease_duration_seconds: Some(secs),
            ..Default::default()
        }
    }

    #[test]
    fn renewal_starts_halfway_so_a_late_one_still_lands_before_expiry() {
        let config = |secs| LeaderConfig {
            lease_name: "l".into(),
            namespace: "ns".into(),
            identity: "me".into(),
            duration: Duration::from_secs(secs),
        };
        assert_eq!(config(6).grace(), Duration::from_secs(3), "the e2e's 6s used to leave 2s");
        assert_eq!(config(15).grace(), Duration::from_secs(7));
        for secs in 3..=120 {
            let grace = config(secs).grace();
            assert!(grace >= Duration::from_secs(1) && grace < Duration::from_secs(secs), "{secs}s: {grace:?}");
        }
    }

    #[test]
    fn a_lease_is_held_until_its_renewal_plus_duration() {
        assert_eq!(held_until(Some(&spec(Some("me"), 0, 15)), "me", t(10)), Ok(t(15)));
        assert!(held_until(Some(&spec(Some("me"), 0, 15)), "me", t(15)).unwrap_err().contains("expired"));
    }

    #[test]
    fn a_lease_of_another_holder_or_none_is_not_held() {
        assert_eq!(held_until(Some(&spec(Some("other"), 0, 15)), "me", t(1)), Err("it is held by other".into()));
        assert_eq!(held_until(Some(&spec(None, 0, 15)), "me", t(1)), Err("it has no holder".into()));
        assert!(held_until(None, "me", t(1)).is_err());
    }
}

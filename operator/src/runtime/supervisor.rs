//! `backup-operator run` from start to exit: connect, check, serve health and metrics, lead, run the controllers,
//! and stop them gracefully.

use chrono::Utc;
use kube::runtime::events::Reporter;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use super::client::{self, ClientError, Connection};
use super::controllers::{self, Shared};
use super::health::{Health, Stage};
use super::leader::{LeaderConfig, LeaderError, Leadership};
use super::logging::{self, LoggingError};
use super::metrics::Metrics;
use super::options::{OptionsError, RunArgs};
use super::server::{Server, ServerError};
use super::shutdown::{self, SignalError};

/// Why `backup-operator run` stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Options(#[from] OptionsError),
    #[error(transparent)]
    Logging(#[from] LoggingError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Signals(#[from] SignalError),
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error(transparent)]
    Leader(#[from] LeaderError),
}

/// How long releasing the Lease and stopping the HTTP server may take at exit.
const EXIT_STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// This replica's name in the Lease and in Events: the flag, $POD_NAME or $HOSTNAME, else one made up.
fn identity(args: &RunArgs) -> String {
    args.lease_identity().unwrap_or_else(|| format!("backup-operator-{}", std::process::id()))
}

/// Runs the operator until SIGTERM (`Ok`) or a fatal error (lost leadership, start-up failure).
pub async fn run(args: RunArgs) -> Result<(), RunError> {
    args.validate()?;
    logging::init(args.log_format, &args.log_level)?;
    let started = Utc::now();
    let connection = Connection {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        timeout: args.connect_timeout,
    };
    let client = client::connect(&connection).await?;
    client::preflight(&client, args.namespace.as_deref(), args.connect_timeout).await?;
    let shutdown = shutdown::on_signals()?;

    let metrics = Arc::new(Metrics::new(started));
    let health = Arc::new(Health::default());
    let server = Server::bind(args.metrics_addr).await?;
    tracing::info!(addr = %server.local_addr(), "serving /metrics, /healthz and /readyz");
    let server_stop = CancellationToken::new();
    let server_task =
        tokio::spawn(server.serve(metrics.clone(), health.clone(), server_stop.clone().cancelled_owned()));

    let identity = identity(&args);
    let mut leadership = None;
    if args.leader_elect {
        let config = LeaderConfig {
            lease_name: args.lease_name.clone(),
            namespace: args.lease_namespace.clone().unwrap_or_else(|| client.default_namespace().to_string()),
            identity: identity.clone(),
            duration: args.lease_duration,
        };
        tracing::info!(lease = %format!("{}/{}", config.namespace, config.lease_name), %identity, "waiting for the leader Lease");
        let mut l = Leadership::start(client.clone(), config).await?;
        tokio::select! {
            acquired = l.acquired() => acquired?,
            _ = shutdown.cancelled() => {
                health.set(Stage::Stopping);
                l.release(EXIT_STEP_TIMEOUT).await;
                stop_server(server_stop, server_task).await;
                return Ok(());
            }
        }
        tracing::info!("acquired the leader Lease");
        leadership = Some(l);
    }

    health.set(Stage::Syncing);
    metrics.set_leader(true);
    let shared = Shared {
        client: client.clone(),
        namespace: args.namespace.clone(),
        settings: args.settings(),
        concurrency: args.concurrency,
        metrics: metrics.clone(),
        reporter: Reporter { controller: "backup-operator".into(), instance: Some(identity) },
        clock: None,
    };
    let running = controllers::start(&shared, shutdown.child_token());
    metrics.set_sources(running.sources.clone());
    let synced_health = health.clone();
    let synced = running.synced;
    tokio::spawn(async move {
        synced.await;
        synced_health.synced();
        tracing::info!("caches synced; reconciling");
    });
    tracing::info!(
        namespace = args.namespace.as_deref().unwrap_or("(all)"),
        concurrency = args.concurrency,
        "started the backup, restore and schedule controllers"
    );

    let mut controllers = running.controllers;
    let lost = async {
        match leadership.as_mut() {
            Some(l) => l.until_lost().await,
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        _ = &mut controllers => Ok(()),
        lost = lost => Err(RunError::Leader(lost)),
        _ = shutdown.cancelled() => {
            health.set(Stage::Stopping);
            if tokio::time::timeout(args.shutdown_timeout, &mut controllers).await.is_err() {
                tracing::warn!(
                    timeout = %crate::api::duration::format_duration(args.shutdown_timeout),
                    "reconciles still running at the shutdown timeout; exiting anyway"
                );
            }
            Ok(())
        }
    };
    health.set(Stage::Stopping);
    metrics.set_leader(false);
    drop(controllers);
    if let (Ok(()), Some(l)) = (&outcome, leadership) {
        l.release(EXIT_STEP_TIMEOUT).await;
    }
    stop_server(server_stop, server_task).await;
    if outcome.is_ok() {
        tracing::info!("stopped");
    }
    outcome
}

async fn stop_server(stop: CancellationToken, task: tokio::task::JoinHandle<Result<(), ServerError>>) {
    stop.cancel();
    match tokio::time::timeout(EXIT_STEP_TIMEOUT, task).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => {
            tracing::warn!(error = %crate::cluster::kube_cluster::error_chain(&e), "metrics server failed")
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics server task failed"),
        Err(_) => tracing::warn!("metrics server did not stop in time"),
    }
}

//! The API client: kubeconfig or in-cluster configuration, a bounded connection time, and the start-up checks
//! that turn a bad kubeconfig, an unreachable server, missing CRDs or missing RBAC into one clear error.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::config::{InferConfigError, KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use crate::api::duration::format_duration;
use crate::api::{Backup, BackupSchedule, Restore};
use crate::cluster::Object;
use crate::cluster::kube_cluster::error_chain;

/// Why the operator cannot talk to the API server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot load the kubeconfig {}", path.as_ref().map_or_else(|| "($KUBECONFIG or ~/.kube/config)".to_string(), |p| p.display().to_string()))]
    Kubeconfig {
        path: Option<PathBuf>,
        #[source]
        source: KubeconfigError,
    },
    #[error("cannot find a Kubernetes configuration (no kubeconfig, and not running in a cluster)")]
    Infer {
        #[source]
        source: InferConfigError,
    },
    #[error("cannot build a client for the API server at {url}")]
    Build {
        url: String,
        #[source]
        source: kube::Error,
    },
    #[error("no answer from the API server {what} within {timeout} (--connect-timeout)")]
    Timeout { what: String, timeout: String },
    #[error("cannot reach the API server at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error(
        "the {kind} CustomResourceDefinition is not installed (apply operator/deploy/crds.yaml, or `backup-operator crd | kubectl apply -f -`)"
    )]
    MissingCrd { kind: &'static str },
    #[error("cannot list {resource} {scope}: {reason}")]
    ListFailed { resource: String, scope: String, reason: String },
    #[error("the operator may not list {resource} {scope}: {message} (apply the ClusterRole in operator/deploy)")]
    Denied { resource: String, scope: String, message: String },
}

/// Where to find the cluster.
#[derive(Clone, Debug, Default)]
pub struct Connection {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub timeout: Duration,
}

/// Loads the configuration: the given kubeconfig and context, else the usual inference (KUBECONFIG, ~/.kube/config,
/// in-cluster).
pub async fn config(conn: &Connection) -> Result<Config, ClientError> {
    let mut config = if conn.kubeconfig.is_some() || conn.context.is_some() {
        let kubeconfig = match &conn.kubeconfig {
            Some(path) => Kubeconfig::read_from(path),
            None => Kubeconfig::read(),
        }
        .map_err(|source| ClientError::Kubeconfig { path: conn.kubeconfig.clone(), source })?;
        let options = KubeConfigOptions { context: conn.context.clone(), ..Default::default() };
        Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|source| ClientError::Kubeconfig { path: conn.kubeconfig.clone(), source })?
    } else {
        Config::infer().await.map_err(|source| ClientError::Infer { source })?
    };
    config.connect_timeout = Some(conn.timeout);
    Ok(config)
}

async fn bounded<T>(
    what: &str,
    timeout: Duration,
    f: impl Future<Output = Result<T, kube::Error>>,
) -> Result<Result<T, kube::Error>, ClientError> {
    tokio::time::timeout(timeout, f)
        .await
        .map_err(|_| ClientError::Timeout { what: what.to_string(), timeout: format_duration(timeout) })
}

/// Builds the client and checks that the API server answers within the connection timeout.
pub async fn connect(conn: &Connection) -> Result<Client, ClientError> {
    let config = config(conn).await?;
    let url = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|source| ClientError::Build { url: url.clone(), source })?;
    bounded(&format!("at {url}"), conn.timeout, client.apiserver_version())
        .await?
        .map_err(|e| ClientError::Unreachable { url: url.clone(), reason: error_chain(&e) })?;
    Ok(client)
}

fn scoped<K: Object>(client: &Client, namespace: Option<&str>) -> Api<K> {
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

async fn can_list<K: Object>(client: &Client, namespace: Option<&str>, timeout: Duration) -> Result<(), ClientError> {
    let resource = format!("{}.{}", K::plural(&()), K::group(&()));
    let resource = resource.trim_end_matches('.').to_string();
    let scope = namespace.map_or_else(|| "in all namespaces".to_string(), |ns| format!("in namespace {ns}"));
    let what = format!("to a list of {resource} {scope}");
    let result = bounded(&what, timeout, scoped::<K>(client, namespace).list(&ListParams::default().limit(1))).await?;
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 && K::group(&()) == crate::api::GROUP => {
            Err(ClientError::MissingCrd { kind: K::KIND.as_str() })
        }
        Err(kube::Error::Api(s)) if s.code == 403 || s.code == 401 => {
            Err(ClientError::Denied { resource, scope, message: s.message.clone() })
        }
        Err(e) => Err(ClientError::ListFailed { resource, scope, reason: error_chain(&e) }),
    }
}

/// Checks that every kind the controllers watch is served and listable in the scope.
pub async fn preflight(client: &Client, namespace: Option<&str>, timeout: Duration) -> Result<(), ClientError> {
    can_list::<Backup>(client, namespace, timeout).await?;
    can_list::<Restore>(client, namespace, timeout).await?;
    can_list::<BackupSchedule>(client, namespace, timeout).await?;
    can_list::<Job>(client, namespace, timeout).await?;
    can_list::<Pod>(client, namespace, timeout).await?;
    Ok(())
}

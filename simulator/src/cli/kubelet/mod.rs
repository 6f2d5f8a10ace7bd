//! `sim kubelet`: plays the kubelet for a real API server that has no nodes (scripts/test-cluster.sh): each pod of
//! the operator's Jobs runs as a local `backup-manager` process, with the pod's ServiceAccount token, and its phase
//! is reported as a kubelet reports it, so Backups and Restores finish against a real kube-apiserver.

mod container;
mod node;
mod status;

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct KubeletArgs {
    /// Kubeconfig of an identity that may watch and update pods, read Secrets and ConfigMaps and request
    /// ServiceAccount tokens (the test cluster's admin).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: PathBuf,
    /// The binary each container runs: the manager image's entrypoint.
    #[arg(long, value_name = "FILE")]
    pub manager: PathBuf,
    /// The directory of br, dumpling and tidb-lightning (what the copy-tool init container copies), e.g. the fake
    /// tools of operator/tests/fixtures/tools.
    #[arg(long, value_name = "DIR")]
    pub tools: PathBuf,
    /// Where each pod gets its directory: its /tmp, its ServiceAccount's kubeconfig, its log.
    #[arg(long, value_name = "DIR")]
    pub root: PathBuf,
    /// Run only the pods of these namespaces (repeatable; every namespace when absent).
    #[arg(long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,
    /// Run only the pods with these labels.
    #[arg(long, value_name = "SELECTOR", default_value = "app.kubernetes.io/managed-by=backup-operator")]
    pub selector: String,
    /// Extra environment for every container (repeatable), e.g. FAKE_TOOL_DELAY=1.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

/// `sim kubelet`: runs until SIGTERM or SIGINT, then stops the processes it started.
pub fn kubelet(args: &KubeletArgs) -> ExitCode {
    let rt = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match rt.block_on(node::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ERROR sim kubelet: {e}");
            ExitCode::from(2)
        }
    }
}

//! The test kubelet's node: watches the selected pods, starts a process for each new one (after its Secrets and a
//! ServiceAccount token are in hand), reports its phase, stops it with SIGTERM when its pod is deleted, and reports
//! how it ended.

use futures::StreamExt;
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, ServiceAccount};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

use super::KubeletArgs;
use super::container::{self, ConfigError, Host, Launch, Sources};
use super::status::{self, Exit};

/// How often pods waiting on a missing Secret or token are tried again.
const RETRY: Duration = Duration::from_secs(2);
/// How long the node waits for its processes after SIGTERM when it stops.
const STOP_GRACE: Duration = Duration::from_secs(15);
/// Lifetime of the ServiceAccount tokens handed to the containers.
const TOKEN_SECONDS: i64 = 3600;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("{path}: cannot read the kubeconfig: {source}")]
    Kubeconfig { path: String, source: kube::config::KubeconfigError },
    #[error("{path}: the current context names no cluster with a server")]
    NoServer { path: String },
    #[error("{path}: cannot build a client: {source}")]
    Client { path: String, source: kube::Error },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("cannot listen for signals: {0}")]
    Signal(std::io::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> NodeError + '_ {
    move |source| NodeError::Io { path: path.display().to_string(), source }
}

/// The API server as the containers reach it: its address and the CA to trust.
struct Server {
    url: String,
    ca: Value,
}

/// A pod the node knows, by uid.
enum Run {
    /// Not started: a Secret, key or token is missing (the reason last reported).
    Waiting {
        ns: String,
        name: String,
        reason: String,
    },
    Running {
        pod: Box<Pod>,
        launch: Launch,
        pid: u32,
        started: String,
        stopping: bool,
    },
    Done,
}

struct Node {
    client: kube::Client,
    server: Server,
    host: Host,
    root: PathBuf,
    runs: BTreeMap<String, Run>,
    exits: mpsc::UnboundedSender<(String, Exit)>,
}

async fn connect(path: &Path) -> Result<(kube::Client, Server), NodeError> {
    let shown = path.display().to_string();
    let kubeconfig = kube::config::Kubeconfig::read_from(path)
        .map_err(|source| NodeError::Kubeconfig { path: shown.clone(), source })?;
    let context = kubeconfig.current_context.clone().unwrap_or_default();
    let cluster_name = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone());
    let cluster =
        kubeconfig.clusters.iter().find(|c| Some(&c.name) == cluster_name.as_ref()).and_then(|c| c.cluster.clone());
    let Some((cluster, url)) = cluster.and_then(|c| c.server.clone().map(|s| (c, s))) else {
        return Err(NodeError::NoServer { path: shown });
    };
    let ca = match (&cluster.certificate_authority, &cluster.certificate_authority_data) {
        (_, Some(data)) => json!({"certificate-authority-data": data}),
        (Some(file), None) => {
            json!({"certificate-authority": path.parent().unwrap_or(Path::new(".")).join(file).display().to_string()})
        }
        (None, None) => json!({"insecure-skip-tls-verify": cluster.insecure_skip_tls_verify.unwrap_or(false)}),
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .map_err(|source| NodeError::Kubeconfig { path: shown.clone(), source })?;
    let client = kube::Client::try_from(config).map_err(|source| NodeError::Client { path: shown, source })?;
    Ok((client, Server { url, ca }))
}

/// Runs the node until SIGTERM or SIGINT.
pub async fn run(args: &KubeletArgs) -> Result<(), NodeError> {
    let (client, server) = connect(&args.kubeconfig).await?;
    // Absolute, since each process starts in its pod's directory.
    let manager = args.manager.canonicalize().map_err(io(&args.manager))?;
    let tools = args.tools.canonicalize().map_err(io(&args.tools))?;
    std::fs::create_dir_all(&args.root).map_err(io(&args.root))?;
    let root = args.root.canonicalize().map_err(io(&args.root))?;
    let config = watcher::Config::default().labels(&args.selector);
    let apis: Vec<Api<Pod>> = if args.namespaces.is_empty() {
        vec![Api::all(client.clone())]
    } else {
        args.namespaces.iter().map(|ns| Api::namespaced(client.clone(), ns)).collect()
    };
    let mut events =
        futures::stream::select_all(apis.into_iter().map(|api| watcher(api, config.clone()).default_backoff().boxed()));
    let (tx, mut exits) = mpsc::unbounded_channel();
    let host = Host { program: manager, tools, pod_dir: PathBuf::new(), extra_env: args.env.clone() };
    let mut node = Node { client, server, host, root, runs: BTreeMap::new(), exits: tx };
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(NodeError::Signal)?;
    let mut retry = tokio::time::interval(RETRY);
    let scope = if args.namespaces.is_empty() { "every namespace".to_string() } else { args.namespaces.join(", ") };
    println!("sim kubelet: running the pods labelled {} in {scope} with {}", args.selector, args.manager.display());
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod))) => node.observe(pod).await,
                Some(Ok(watcher::Event::Delete(pod))) => node.gone(&pod),
                Some(Ok(_)) => {}
                Some(Err(e)) => eprintln!("sim kubelet: watching pods: {e} (retrying)"),
                None => break,
            },
            Some((uid, exit)) = exits.recv() => node.exited(&uid, exit).await,
            _ = retry.tick() => node.retry().await,
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    node.stop(&mut exits).await;
    Ok(())
}

fn key(pod: &Pod) -> (String, String, String) {
    let m = &pod.metadata;
    (m.uid.clone().unwrap_or_default(), m.namespace.clone().unwrap_or_default(), m.name.clone().unwrap_or_default())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn finished(pod: &Pod) -> bool {
    matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

impl Node {
    /// A new or changed pod: start a new one, stop a running one that is being deleted.
    async fn observe(&mut self, pod: Pod) {
        let (uid, ns, name) = key(&pod);
        match self.runs.get_mut(&uid) {
            Some(Run::Running { pid, stopping, .. }) if pod.metadata.deletion_timestamp.is_some() && !*stopping => {
                *stopping = true;
                println!("sim kubelet: {ns}/{name}: being deleted: SIGTERM");
                terminate(*pid);
            }
            Some(_) => {}
            None if finished(&pod) || pod.metadata.deletion_timestamp.is_some() => {
                self.runs.insert(uid, Run::Done);
            }
            None => self.start(pod).await,
        }
    }

    /// The pod is gone from the API (an unscheduled pod is deleted at once): its process is stopped.
    fn gone(&mut self, pod: &Pod) {
        let (uid, ns, name) = key(pod);
        if let Some(Run::Running { pid, stopping: false, .. }) = self.runs.get(&uid) {
            println!("sim kubelet: {ns}/{name}: deleted: SIGTERM");
            terminate(*pid);
        }
        if let Some(Run::Waiting { .. }) = self.runs.get(&uid) {
            self.runs.insert(uid, Run::Done);
        }
    }

    async fn retry(&mut self) {
        let waiting: Vec<(String, String)> = self
            .runs
            .values()
            .filter_map(|r| match r {
                Run::Waiting { ns, name, .. } => Some((ns.clone(), name.clone())),
                _ => None,
            })
            .collect();
        for (ns, name) in waiting {
            if let Ok(Some(pod)) = Api::<Pod>::namespaced(self.client.clone(), &ns).get_opt(&name).await {
                let uid = key(&pod).0;
                if matches!(self.runs.get(&uid), Some(Run::Waiting { .. })) && pod.metadata.deletion_timestamp.is_none()
                {
                    self.start(pod).await;
                }
            }
        }
    }

    async fn start(&mut self, pod: Pod) {
        let (uid, ns, name) = key(&pod);
        let dir = self.root.join(&ns).join(&name);
        let host = Host { pod_dir: dir.clone(), ..self.host.clone() };
        let sources = self.sources(&pod, &ns).await;
        let launch = match container::plan(&pod, &sources, &host) {
            Ok(l) => l,
            Err(e @ (ConfigError::Containers { .. } | ConfigError::Command { .. })) => {
                eprintln!("sim kubelet: {ns}/{name}: not run: {e}");
                self.runs.insert(uid, Run::Done);
                return;
            }
            Err(e) => return self.wait(pod, "CreateContainerConfigError", &e.to_string()).await,
        };
        if let Err(e) = self.prepare(&pod, &dir).await {
            return self.wait(pod, "ContainerCreating", &e).await;
        }
        let started = now();
        if let Err(e) = self.report(&ns, &name, status::running(&pod, &launch.container, &started)).await {
            eprintln!("sim kubelet: {ns}/{name}: cannot report Running: {e}");
            return;
        }
        match spawn(&launch, &dir, uid.clone(), self.exits.clone()) {
            Ok(pid) => {
                println!("sim kubelet: {ns}/{name}: started {} {}", launch.program.display(), launch.args.join(" "));
                self.runs.insert(uid, Run::Running { pod: Box::new(pod), launch, pid, started, stopping: false });
            }
            Err(e) => {
                let message = format!("cannot start {}: {e}", launch.program.display());
                eprintln!("sim kubelet: {ns}/{name}: {message}");
                let exit = Exit { code: 128, message: Some(message) };
                let body = status::terminated(&pod, &launch.container, &started, &now(), &exit);
                let _ = self.report(&ns, &name, body).await;
                self.runs.insert(uid, Run::Done);
            }
        }
    }

    /// The pod's directory, its /tmp and its ServiceAccount's kubeconfig (a bound token, as a projected volume).
    async fn prepare(&self, pod: &Pod, dir: &Path) -> Result<(), String> {
        let (uid, ns, name) = key(pod);
        std::fs::create_dir_all(dir.join("tmp")).map_err(|e| format!("{}: {e}", dir.display()))?;
        let spec = pod.spec.as_ref();
        if spec.and_then(|s| s.automount_service_account_token) == Some(false) {
            return Ok(());
        }
        let sa = spec.and_then(|s| s.service_account_name.clone()).unwrap_or_else(|| "default".into());
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: vec![],
                expiration_seconds: Some(TOKEN_SECONDS),
                bound_object_ref: Some(BoundObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("Pod".into()),
                    name: Some(name),
                    uid: Some(uid),
                }),
            },
            ..Default::default()
        };
        let token = Api::<ServiceAccount>::namespaced(self.client.clone(), &ns)
            .create_token_request(&sa, &PostParams::default(), &request)
            .await
            .map_err(|e| format!("cannot get a token for serviceaccount {ns}/{sa}: {e}"))?
            .status
            .map(|s| s.token)
            .unwrap_or_default();
        let mut cluster = json!({"server": self.server.url});
        if let (Some(c), Some(ca)) = (cluster.as_object_mut(), self.server.ca.as_object()) {
            c.extend(ca.clone());
        }
        let kubeconfig = json!({
            "apiVersion": "v1", "kind": "Config", "current-context": "pod",
            "clusters": [{"name": "cluster", "cluster": cluster}],
            "users": [{"name": format!("system:serviceaccount:{ns}:{sa}"), "user": {"token": token}}],
            "contexts": [{"name": "pod", "context": {"cluster": "cluster", "namespace": ns,
                "user": format!("system:serviceaccount:{ns}:{sa}")}}],
        });
        let path = dir.join("kubeconfig");
        write_private(&path, &kubeconfig.to_string()).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The Secrets and ConfigMaps the pod references that exist (a missing one is absent).
    async fn sources(&self, pod: &Pod, ns: &str) -> Sources {
        let (secrets, maps) = container::referenced(pod);
        let mut out = Sources::default();
        let text = |b: &k8s_openapi::ByteString| String::from_utf8_lossy(&b.0).into_owned();
        for name in secrets {
            if let Ok(Some(s)) = Api::<Secret>::namespaced(self.client.clone(), ns).get_opt(&name).await {
                let mut data: BTreeMap<String, String> = s.string_data.unwrap_or_default();
                data.extend(s.data.unwrap_or_default().iter().map(|(k, v)| (k.clone(), text(v))));
                out.secrets.insert(name, data);
            }
        }
        for name in maps {
            if let Ok(Some(m)) = Api::<ConfigMap>::namespaced(self.client.clone(), ns).get_opt(&name).await {
                out.config_maps.insert(name, m.data.unwrap_or_default());
            }
        }
        out
    }

    async fn wait(&mut self, pod: Pod, reason: &str, message: &str) {
        let (uid, ns, name) = key(&pod);
        let again = matches!(self.runs.get(&uid), Some(Run::Waiting { reason: r, .. }) if r == message);
        if !again {
            println!("sim kubelet: {ns}/{name}: waiting: {reason}: {message}");
            let container = pod.spec.as_ref().and_then(|s| s.containers.first()).map(|c| c.name.clone());
            let body = status::waiting(&pod, &container.unwrap_or_default(), reason, message, &now());
            if let Err(e) = self.report(&ns, &name, body).await {
                eprintln!("sim kubelet: {ns}/{name}: cannot report {reason}: {e}");
            }
        }
        self.runs.insert(uid, Run::Waiting { ns, name, reason: message.to_string() });
    }

    async fn exited(&mut self, uid: &str, mut exit: Exit) {
        let Some(Run::Running { pod, launch, started, .. }) = self.runs.insert(uid.to_string(), Run::Done) else {
            return;
        };
        let (_, ns, name) = key(&pod);
        if launch.fallback_to_logs && exit.code != 0 {
            exit.message = log_tail(&self.root.join(&ns).join(&name).join("log"));
        }
        println!("sim kubelet: {ns}/{name}: exited with code {}", exit.code);
        let body = status::terminated(&pod, &launch.container, &started, &now(), &exit);
        match self.report(&ns, &name, body).await {
            Ok(()) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => eprintln!("sim kubelet: {ns}/{name}: cannot report the exit: {e}"),
        }
    }

    async fn report(&self, ns: &str, name: &str, body: Value) -> Result<(), kube::Error> {
        let api = Api::<Pod>::namespaced(self.client.clone(), ns);
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(body)).await.map(|_| ())
    }

    /// SIGTERM to every process, then up to [`STOP_GRACE`] for them to end and be reported.
    async fn stop(&mut self, exits: &mut mpsc::UnboundedReceiver<(String, Exit)>) {
        for run in self.runs.values() {
            if let Run::Running { pid, .. } = run {
                terminate(*pid);
            }
        }
        let deadline = tokio::time::Instant::now() + STOP_GRACE;
        while self.runs.values().any(|r| matches!(r, Run::Running { .. })) {
            match tokio::time::timeout_at(deadline, exits.recv()).await {
                Ok(Some((uid, exit))) => self.exited(&uid, exit).await,
                _ => break,
            }
        }
    }
}

fn terminate(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) with a pid this node started and SIGTERM has no memory effects.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())
}

/// The last lines of a log, as a kubelet's `FallbackToLogsOnError` message (at most 80 lines or 2 KiB).
fn log_tail(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let mut tail = lines[lines.len().saturating_sub(80)..].join("\n");
    if tail.len() > 2048 {
        let cut = tail.len() - 2048;
        let start = (cut..tail.len()).find(|i| tail.is_char_boundary(*i)).unwrap_or(tail.len());
        tail = tail[start..].to_string();
    }
    (!tail.is_empty()).then_some(tail)
}

/// Starts the process with only the pod's environment, its output in the pod's `log`; its exit is sent on `exits`.
fn spawn(
    launch: &Launch,
    dir: &Path,
    uid: String,
    exits: mpsc::UnboundedSender<(String, Exit)>,
) -> std::io::Result<u32> {
    let log = std::fs::File::create(dir.join("log"))?;
    let mut child = tokio::process::Command::new(&launch.program)
        .args(&launch.args)
        .env_clear()
        .envs(&launch.env)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().unwrap_or_default();
    tokio::spawn(async move {
        let code = match child.wait().await {
            Ok(s) => status::exit_code(s),
            Err(_) => 128,
        };
        let _ = exits.send((uid, Exit { code, message: None }));
    });
    Ok(pid)
}

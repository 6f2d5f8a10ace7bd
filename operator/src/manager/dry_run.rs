//! `--dry-run --from-file FILE`: what backup-manager would run for a Backup or Restore manifest, without a cluster.
//! The first line is the tool's command line (secrets masked); `#` lines say which environment the tool gets and
//! how each credential would reach it, naming the Secret it comes from, never its value.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::core::v1::EnvVar;
use serde::de::DeserializeOwned;

use crate::api::log_backup::{self, LogCommand};
use crate::api::{Backup, Restore, validation};
use crate::controllers::jobs::{TOOLS_DIR, storage_env, tidb_env};

use super::args::{self, ArgsError};
use super::credentials::Credentials;
use super::launch;
use super::redact::Redactor;
use super::store::check_cleanable;
use super::tool::{Operation, ToolJob};

/// The private directory as `--dry-run` shows it (a real run creates a fresh one with a random suffix).
pub const PRIVATE_DIR_PLACEHOLDER: &str = "/tmp/backup-manager-XXXXXX";

/// What the invocation would do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `backup`, `export`, `restore` or `import`.
    Run(Operation),
    /// `clean`.
    Clean,
    /// `backup --mode=log [--subcommand=CMD]` (without one: the command the Backup asks for now).
    Log(Option<LogCommand>),
}

impl Mode {
    fn subcommand(self) -> &'static str {
        match self {
            Mode::Run(op) => op.subcommand(),
            Mode::Log(_) => "backup --mode=log",
            Mode::Clean => "clean",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Mode::Run(Operation::Restore | Operation::Import) => "Restore",
            _ => "Backup",
        }
    }
}

/// Why nothing can be printed for the file.
#[derive(Debug, thiserror::Error)]
pub enum DryRunError {
    #[error("cannot read {file}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {problem}")]
    Manifest { file: String, problem: String },
    #[error("{file}: {object} is a {actual} job; run `backup-manager {actual}`, not `{asked}`")]
    WrongSubcommand { file: String, object: String, actual: &'static str, asked: &'static str },
    #[error("{file}: no command line can be built")]
    Args {
        file: String,
        #[source]
        source: ArgsError,
    },
}

/// Reads `path` and renders it for `mode`.
pub fn render_file(mode: Mode, path: &Path) -> Result<String, DryRunError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| DryRunError::Read { file: file.clone(), source })?;
    render(mode, &file, &text)
}

fn parse<K: DeserializeOwned>(file: &str, value: serde_json::Value) -> Result<K, DryRunError> {
    serde_path_to_error::deserialize::<_, K>(value).map_err(|e| {
        let path = e.path().to_string();
        let problem = if path == "." { e.inner().to_string() } else { format!("{path}: {}", e.inner()) };
        DryRunError::Manifest { file: file.into(), problem }
    })
}

/// The manifest's object, checked to be of the kind `mode` needs and valid.
fn load(mode: Mode, file: &str, text: &str) -> Result<Object, DryRunError> {
    let manifest = |problem: String| DryRunError::Manifest { file: file.into(), problem };
    let mut value: serde_json::Value = serde_saphyr::from_str(text).map_err(|e| {
        let at = e.location().map(|l| format!("line {}: ", l.line())).unwrap_or_default();
        manifest(format!("{at}{}", e.without_snippet().to_string().lines().next().unwrap_or_default()))
    })?;
    let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or_default().to_string();
    let api = value.get("apiVersion").and_then(|k| k.as_str()).unwrap_or_default();
    if api != "pingcap.com/v1alpha1" {
        return Err(manifest(format!("apiVersion: {api:?} is not pingcap.com/v1alpha1")));
    }
    if kind != mode.kind() {
        return Err(manifest(format!(
            "kind: `backup-manager {}` needs a {}, found {kind:?}",
            mode.subcommand(),
            mode.kind()
        )));
    }
    // As kubectl would apply it: without a namespace, the object lives in `default`.
    if let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_object_mut())
        && !meta.contains_key("namespace")
    {
        meta.insert("namespace".into(), "default".into());
    }
    let object =
        if kind == "Backup" { Object::Backup(parse(file, value)?) } else { Object::Restore(parse(file, value)?) };
    let problems = match &object {
        Object::Backup(b) => validation::backup(b),
        Object::Restore(r) => validation::restore(r),
    };
    if !problems.is_empty() {
        return Err(manifest(format!("{kind} {} is invalid: {}", object.name(), validation::summary(&problems))));
    }
    Ok(object)
}

enum Object {
    Backup(Box<Backup>),
    Restore(Box<Restore>),
}

impl Object {
    fn name(&self) -> String {
        let meta = match self {
            Object::Backup(b) => &b.metadata,
            Object::Restore(r) => &r.metadata,
        };
        format!("{}/{}", meta.namespace.as_deref().unwrap_or_default(), meta.name.as_deref().unwrap_or_default())
    }

    /// The environment the Job gives backup-manager: variable name to where its value comes from.
    fn job_env(&self) -> Vec<EnvVar> {
        match self {
            Object::Backup(b) => {
                let mut env = storage_env(&b.spec.storage);
                if b.spec.br.is_none() {
                    env.extend(tidb_env(b.spec.from.as_deref()));
                }
                env
            }
            Object::Restore(r) => {
                let mut env = storage_env(&r.spec.storage);
                if r.spec.br.is_none() {
                    env.extend(tidb_env(r.spec.to.as_ref()));
                }
                env
            }
        }
    }
}

/// `Secret s3-secret, key secret_key` for each variable the Job sets from a Secret.
fn secret_sources(env: &[EnvVar]) -> BTreeMap<String, String> {
    env.iter()
        .filter_map(|e| {
            let r = e.value_from.as_ref()?.secret_key_ref.as_ref()?;
            Some((e.name.clone(), format!("Secret {}, key {}", r.name, r.key)))
        })
        .collect()
}

/// Renders `text` (a manifest named `file`) for `mode`.
pub fn render(mode: Mode, file: &str, text: &str) -> Result<String, DryRunError> {
    let object = load(mode, file, text)?;
    let args_error = |source| DryRunError::Args { file: file.into(), source };
    let job = match &object {
        Object::Backup(b) if mode == Mode::Clean => {
            let location = b.spec.storage.location().ok_or_else(|| {
                args_error(ArgsError::NoStorage { kind: "Backup", name: object.name(), reason: "no provider is set" })
            })?;
            return Ok(match check_cleanable(&location) {
                Ok(()) => format!(
                    "clean {url}\n# deletes every object under {url}/ and nothing beside it\n",
                    url = location.url()
                ),
                Err(e) => format!("# {e}\n"),
            });
        }
        Object::Backup(b) if log_backup::is_log(&b.spec) => {
            let Mode::Log(command) = mode else {
                return Err(DryRunError::WrongSubcommand {
                    file: file.into(),
                    object: object.name(),
                    actual: Mode::Log(None).subcommand(),
                    asked: mode.subcommand(),
                });
            };
            let command = command.unwrap_or_else(|| log_backup::command(b));
            return Ok(describe(&args::log_job(b, Some(command)).map_err(args_error)?, &object.job_env()));
        }
        Object::Backup(b) => args::backup_job(b).map_err(args_error)?,
        Object::Restore(r) => args::restore_job(r).map_err(args_error)?,
    };
    if Mode::Run(job.operation) != mode {
        return Err(DryRunError::WrongSubcommand {
            file: file.into(),
            object: object.name(),
            actual: job.operation.subcommand(),
            asked: mode.subcommand(),
        });
    }
    Ok(describe(&job, &object.job_env()))
}

fn describe(job: &ToolJob, job_env: &[EnvVar]) -> String {
    let sources = secret_sources(job_env);
    // Placeholders stand for the values the Job would receive; the output never shows a value anyway.
    let credentials = Credentials::from_lookup(|name| sources.get(name).map(|s| format!("<{s}>")));
    let launch = launch::plan(job, &credentials, Path::new(TOOLS_DIR), Path::new(PRIVATE_DIR_PLACEHOLDER));
    let mut out = format!("{}\n", launch.display);
    for (name, value) in &launch.env {
        out.push_str(&format!("# env {name}={value}\n"));
    }
    for used in &launch.credentials {
        let from = sources.get(used.variable).map(|s| format!(" (from {s})")).unwrap_or_default();
        out.push_str(&format!("# {}{from}: {}\n", used.variable, used.how));
    }
    for w in &job.warnings {
        out.push_str(&format!("# warning: {w}\n"));
    }
    // The spec's own options could carry a credential (`--s3.secret-access-key=...`); mask it like any output.
    Redactor::default().redact(&out)
}

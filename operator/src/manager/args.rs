//! Tool command lines, built by pure functions from a Backup, Restore or CompactBackup spec (no secrets, ever).
//!
//! br and dumpling take the storage URL plus `--<provider>.<option>` flags; lightning has no storage flags, so
//! its provider options travel as the URL's query parameters (`s3://bucket/prefix?region=...`), which all three
//! tools understand.

use crate::api::backup::{Backup, BackupType};
use crate::api::compact::CompactBackup;
use crate::api::log_backup::{self, LogCommand};
use crate::api::restore::Restore;
use crate::api::storage::{StorageLocation, StorageProvider};
use crate::api::tools::{BrConfig, TidbAccessConfig};
use crate::api::tso::Tso;
use crate::api::validation;

use super::tool::{Operation, PasswordInput, ToolJob, ToolKind};

/// Why no command line could be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    #[error("{kind} {name} has no storage location: {reason}")]
    NoStorage { kind: &'static str, name: String, reason: &'static str },
    #[error("{kind} {name} has neither br nor {needed}")]
    NoTool { kind: &'static str, name: String, needed: &'static str },
    #[error("{kind} {name} is invalid: {problems}")]
    Invalid { kind: &'static str, name: String, problems: String },
}

/// The object's namespace, and `namespace/name` for messages.
fn key_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> (String, String) {
    let ns = meta.namespace.clone().unwrap_or_default();
    let name = meta.name.clone().unwrap_or_default();
    let shown = if ns.is_empty() { name } else { format!("{ns}/{name}") };
    (ns, shown)
}

fn location(storage: &StorageProvider, kind: &'static str, name: &str) -> Result<StorageLocation, ArgsError> {
    storage.location().ok_or(ArgsError::NoStorage {
        kind,
        name: name.into(),
        reason: "set one of s3, gcs, azblob, local",
    })
}

/// Provider options as `(name, value)` in the tools' spelling (`s3.region`), empty values left out. The tools'
/// own `--s3.<name>[=<value>]` flags found in `s3.options` come last.
fn provider_options(storage: &StorageProvider) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut push = |name: &str, v: Option<&String>| {
        if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
            out.push((name.to_string(), v.trim().to_string()));
        }
    };
    if let Some(s3) = &storage.s3 {
        push("s3.provider", Some(&s3.provider));
        push("s3.region", s3.region.as_ref());
        push("s3.endpoint", s3.endpoint.as_ref());
        push("s3.storage-class", s3.storage_class.as_ref());
        push("s3.acl", s3.acl.as_ref());
        push("s3.sse", s3.sse.as_ref());
    }
    if let Some(gcs) = &storage.gcs {
        push("gcs.storage-class", gcs.storage_class.as_ref());
        push("gcs.predefined-acl", gcs.object_acl.as_ref());
    }
    if let Some(az) = &storage.azblob {
        push("azblob.access-tier", az.access_tier.as_ref());
        push("azblob.account-name", az.storage_account.as_ref());
    }
    out.extend(s3_options(storage).0);
    out
}

/// Splits `s3.options` into the tools' own storage flags (`--s3.force-path-style=true`) and the rest. TiDB
/// Operator documents these options as rclone flags (`--s3-acl=private`); there is no rclone here, so those are
/// reported, not passed.
fn s3_options(storage: &StorageProvider) -> (Vec<(String, String)>, Vec<String>) {
    let mut flags = Vec::new();
    let mut ignored = Vec::new();
    for opt in storage.s3.iter().flat_map(|s| s.options.iter().flatten()) {
        match opt.trim().strip_prefix("--s3.") {
            Some(rest) if !rest.is_empty() => {
                let (name, value) = rest.split_once('=').unwrap_or((rest, "true"));
                flags.push((format!("s3.{name}"), value.to_string()));
            }
            _ => ignored.push(opt.clone()),
        }
    }
    (flags, ignored)
}

/// Provider options as br and dumpling spell them (`--s3.region=...`).
pub fn storage_args(storage: &StorageProvider) -> Vec<String> {
    provider_options(storage).into_iter().map(|(k, v)| format!("--{k}={v}")).collect()
}

/// The storage URL with the provider options as query parameters (`s3://b/p?provider=ceph&region=x`), for
/// lightning. Parameter names drop the provider prefix, as the tools' URL format has them.
pub fn storage_url_with_options(location: &StorageLocation, storage: &StorageProvider) -> String {
    let options = provider_options(storage);
    if options.is_empty() {
        return location.url();
    }
    let query = options
        .iter()
        .map(|(k, v)| {
            let key = k.split_once('.').map(|(_, k)| k).unwrap_or(k);
            format!("{key}={}", encode_query_value(v))
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{}?{query}", location.url())
}

/// Percent-encodes the characters that would end or split a query value.
fn encode_query_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b':' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Settings the spec carries that no tool receives.
fn unsupported(storage: &StorageProvider) -> Vec<String> {
    let ignored = s3_options(storage).1;
    if ignored.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "s3.options {} not passed: TiDB Operator documents them as rclone flags and this backup-manager has no \
         rclone; only the tools' own --s3.<name>=<value> flags are passed on",
        ignored.join(" ")
    )]
}

/// The PD address of the TidbCluster `br` names (`<cluster>-pd.<namespace>:2379`).
pub fn pd_address(br: &BrConfig, own_namespace: &str) -> String {
    format!("{}-pd.{}:2379", br.cluster, br.cluster_namespace_or(own_namespace))
}

fn pd(br: &BrConfig, own_namespace: &str) -> String {
    format!("--pd={}", pd_address(br, own_namespace))
}

fn br_common(br: &BrConfig, args: &mut Vec<String>) {
    if let Some(n) = br.concurrency {
        args.push(format!("--concurrency={n}"));
    }
    if let Some(n) = br.rate_limit {
        args.push(format!("--ratelimit={n}"));
    }
    if let Some(c) = br.checksum {
        args.push(format!("--checksum={c}"));
    }
    if let Some(l) = br.log_level.as_deref().filter(|s| !s.is_empty()) {
        args.push(format!("--log-level={l}"));
    }
    if let Some(a) = br.status_addr.as_deref().filter(|s| !s.is_empty()) {
        args.push(format!("--status-addr={a}"));
    }
    if let Some(c) = br.check_requirements {
        args.push(format!("--check-requirements={c}"));
    }
    if let Some(s) = br.send_cred_to_tikv {
        args.push(format!("--send-credentials-to-tikv={s}"));
    }
}

fn filters(flag: &str, filter: Option<&Vec<String>>, args: &mut Vec<String>) {
    for f in filter.into_iter().flatten().filter(|f| !f.trim().is_empty()) {
        args.push(format!("{flag}={f}"));
    }
}

/// `full`, `db --db=x` or `table --db=x --table=y`, checking that what the type needs is set.
fn scope(kind: &'static str, name: &str, backup_type: BackupType, br: &BrConfig) -> Result<Vec<String>, ArgsError> {
    let field = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let missing = |what: &str| ArgsError::Invalid {
        kind,
        name: name.to_string(),
        problems: format!("spec.br.{what}: must be set when backupType is {}", backup_type.as_str()),
    };
    Ok(match backup_type {
        BackupType::Full => Vec::new(),
        BackupType::Db => vec![format!("--db={}", field(&br.db).ok_or_else(|| missing("db"))?)],
        BackupType::Table => vec![
            format!("--db={}", field(&br.db).ok_or_else(|| missing("db"))?),
            format!("--table={}", field(&br.table).ok_or_else(|| missing("table"))?),
        ],
        // Refused by validation before this; kept as an error should a caller skip it.
        BackupType::Raw | BackupType::TiflashReplica => {
            return Err(ArgsError::Invalid {
                kind,
                name: name.to_string(),
                problems: format!("spec.backupType: {:?} is not supported", backup_type.as_str()),
            });
        }
    })
}

fn password_input(access: &TidbAccessConfig, input: PasswordInput) -> Option<PasswordInput> {
    (!access.secret_name.trim().is_empty()).then_some(input)
}

/// The br backup or dumpling export a Backup runs.
pub fn backup_job(backup: &Backup) -> Result<ToolJob, ArgsError> {
    let (ns, name) = key_of(&backup.metadata);
    let problems = validation::backup(backup);
    if !problems.is_empty() {
        return Err(ArgsError::Invalid { kind: "Backup", name, problems: validation::summary(&problems) });
    }
    let spec = &backup.spec;
    if log_backup::is_log(spec) {
        let problems = "spec.backupMode: a log backup runs `backup --mode=log`".to_string();
        return Err(ArgsError::Invalid { kind: "Backup", name, problems });
    }
    let location = location(&spec.storage, "Backup", &name)?;
    let warnings = unsupported(&spec.storage);
    if let Some(br) = &spec.br {
        let backup_type = spec.backup_type.unwrap_or_default();
        let mut args = vec![
            "backup".to_string(),
            backup_type.as_str().to_string(),
            pd(br, &ns),
            format!("--storage={}", location.url()),
        ];
        args.extend(scope("Backup", &name, backup_type, br)?);
        if backup_type == BackupType::Full {
            filters("--filter", spec.table_filter.as_ref(), &mut args);
        }
        if let Some(t) = br.time_ago.as_deref().filter(|s| !s.is_empty()) {
            args.push(format!("--timeago={t}"));
        }
        br_common(br, &mut args);
        args.extend(storage_args(&spec.storage));
        args.extend(br.options.iter().flatten().cloned());
        return Ok(ToolJob {
            tool: ToolKind::Br,
            operation: Operation::Backup,
            location,
            args,
            env: br_env(),
            password: None,
            warnings,
        });
    }
    let Some(from) = &spec.from else {
        return Err(ArgsError::NoTool { kind: "Backup", name, needed: "from (dumpling)" });
    };
    let mut args = vec![
        format!("--host={}", from.host.trim()),
        format!("--port={}", from.port.unwrap_or(4000)),
        format!("--user={}", from.user.clone().unwrap_or_else(|| "root".into())),
        format!("--output={}", location.url()),
    ];
    let dumpling = spec.dumpling.as_ref();
    let filter = spec.table_filter.as_ref().or(dumpling.and_then(|d| d.table_filter.as_ref()));
    filters("--filter", filter, &mut args);
    args.extend(storage_args(&spec.storage));
    args.extend(dumpling.and_then(|d| d.options.clone()).unwrap_or_default());
    Ok(ToolJob {
        tool: ToolKind::Dumpling,
        operation: Operation::Export,
        location,
        args,
        env: Vec::new(),
        password: password_input(from, PasswordInput::Flag),
        warnings,
    })
}

/// br logs to a file unless told to log to the terminal, where backup-manager reads it.
/// The `br log` command a log Backup's Job runs for `command` (`LogStatus` when `command` is `None`). Every
/// command gets the PD address, the storage and the br options, as TiDB Operator passes them; truncation is
/// confirmed with `-y`, since no one answers br's prompt in a Job.
pub fn log_job(backup: &Backup, command: Option<LogCommand>) -> Result<ToolJob, ArgsError> {
    let (ns, name) = key_of(&backup.metadata);
    let problems = validation::backup(backup);
    if !problems.is_empty() {
        return Err(ArgsError::Invalid { kind: "Backup", name, problems: validation::summary(&problems) });
    }
    let spec = &backup.spec;
    let location = location(&spec.storage, "Backup", &name)?;
    let Some(br) = &spec.br else {
        return Err(ArgsError::NoTool { kind: "Backup", name, needed: "br (a log backup runs br log)" });
    };
    let task = log_backup::task_name(backup);
    let mut args = vec!["log".to_string(), command.map_or("status", LogCommand::verb).to_string()];
    match command {
        None => args.extend([format!("--task-name={task}"), "--json".into()]),
        Some(LogCommand::Truncate) => {
            let until = spec.log_truncate_until.as_deref().map(str::trim).filter(|u| !u.is_empty());
            let Some(until) = until else {
                let problems = "spec.logTruncateUntil: must be set to truncate the log".to_string();
                return Err(ArgsError::Invalid { kind: "Backup", name, problems });
            };
            args.extend([format!("--until={until}"), "-y".into()]);
        }
        Some(LogCommand::Start) => {
            args.push(format!("--task-name={task}"));
            if let Some(ts) = spec.commit_ts.as_deref().map(str::trim).filter(|t| !t.is_empty() && *t != "0") {
                args.push(format!("--start-ts={ts}"));
            }
        }
        Some(_) => args.push(format!("--task-name={task}")),
    }
    args.push(pd(br, &ns));
    args.push(format!("--storage={}", location.url()));
    if command == Some(LogCommand::Start) {
        filters("--filter", spec.table_filter.as_ref(), &mut args);
    }
    br_common(br, &mut args);
    args.extend(storage_args(&spec.storage));
    args.extend(br.options.iter().flatten().cloned());
    Ok(ToolJob {
        tool: ToolKind::Br,
        operation: command.map_or(Operation::LogStatus, Operation::Log),
        location,
        args,
        env: br_env(),
        password: None,
        warnings: unsupported(&spec.storage),
    })
}

fn br_env() -> Vec<(String, String)> {
    vec![("BR_LOG_TO_TERM".to_string(), "1".to_string())]
}

/// The br restore or lightning import a Restore runs.
/// `br restore point` of a PITR restore, up to the common br flags: the log's storage, the snapshot's if named, the
/// point as a TSO (validated before: br reads TSOs and only some of the spellings a user may write).
fn pitr_args(restore: &Restore, log: &StorageLocation) -> Result<Vec<String>, ArgsError> {
    let (ns, name) = key_of(&restore.metadata);
    let spec = &restore.spec;
    let br = spec.br.as_deref().ok_or(ArgsError::NoTool { kind: "Restore", name: name.clone(), needed: "br" })?;
    let mut args = vec!["restore".to_string(), "point".to_string(), pd(br, &ns), format!("--storage={}", log.url())];
    if let Some(full) = spec.pitr_full_backup_storage_provider.as_deref() {
        args.push(format!("--full-backup-storage={}", location(full, "Restore", &name)?.url()));
    }
    args.push(format!("--restored-ts={}", restore.restored_ts().map(|t| t.0).unwrap_or_default()));
    filters("--filter", spec.table_filter.as_ref(), &mut args);
    Ok(args)
}

pub fn restore_job(restore: &Restore) -> Result<ToolJob, ArgsError> {
    let (ns, name) = key_of(&restore.metadata);
    let problems = validation::restore(restore);
    if !problems.is_empty() {
        return Err(ArgsError::Invalid { kind: "Restore", name, problems: validation::summary(&problems) });
    }
    let spec = &restore.spec;
    let location = location(&spec.storage, "Restore", &name)?;
    let warnings = unsupported(&spec.storage);
    if let Some(br) = &spec.br {
        let mut args = if restore.is_pitr() {
            pitr_args(restore, &location)?
        } else {
            let backup_type = spec.backup_type.unwrap_or_default();
            let mut args = vec!["restore".to_string(), backup_type.as_str().to_string()];
            args.extend([pd(br, &ns), format!("--storage={}", location.url())]);
            args.extend(scope("Restore", &name, backup_type, br)?);
            if backup_type == BackupType::Full {
                filters("--filter", spec.table_filter.as_ref(), &mut args);
            }
            if let Some(online) = br.on_line {
                args.push(format!("--online={online}"));
            }
            args
        };
        br_common(br, &mut args);
        args.extend(storage_args(&spec.storage));
        args.extend(br.options.iter().flatten().cloned());
        return Ok(ToolJob {
            tool: ToolKind::Br,
            operation: Operation::Restore,
            location,
            args,
            env: br_env(),
            password: None,
            warnings,
        });
    }
    let Some(to) = &spec.to else {
        return Err(ArgsError::NoTool { kind: "Restore", name, needed: "to (lightning)" });
    };
    let mut args = vec![
        "--backend=tidb".to_string(),
        format!("--tidb-host={}", to.host.trim()),
        format!("--tidb-port={}", to.port.unwrap_or(4000)),
        format!("--tidb-user={}", to.user.clone().unwrap_or_else(|| "root".into())),
        format!("-d={}", storage_url_with_options(&location, &spec.storage)),
        // Logs to stdout, where backup-manager reads progress and the outcome.
        "--log-file=-".to_string(),
    ];
    filters("-f", spec.table_filter.as_ref(), &mut args);
    Ok(ToolJob {
        tool: ToolKind::Lightning,
        operation: Operation::Import,
        location,
        args,
        env: Vec::new(),
        password: password_input(to, PasswordInput::ConfigFile),
        warnings,
    })
}

/// `br operator base64ify --storage=<url>`: the compaction's storage as tikv-ctl reads it (`--storage-base64`).
pub fn base64ify_job(compact: &CompactBackup) -> Result<ToolJob, ArgsError> {
    let (_, name) = key_of(&compact.metadata);
    let problems = validation::compact(compact);
    if !problems.is_empty() {
        return Err(ArgsError::Invalid { kind: "CompactBackup", name, problems: validation::summary(&problems) });
    }
    let spec = &compact.spec;
    let location = location(&spec.storage, "CompactBackup", &name)?;
    let mut args = vec!["operator".to_string(), "base64ify".to_string(), format!("--storage={}", location.url())];
    args.extend(storage_args(&spec.storage));
    Ok(ToolJob {
        tool: ToolKind::Br,
        operation: Operation::Base64ify,
        location,
        args,
        env: br_env(),
        password: None,
        warnings: unsupported(&spec.storage),
    })
}

/// `tikv-ctl compact-log-backup --storage-base64=<storage> --from=<start> --until=<end> -N <concurrency>`, the
/// range as TSOs (TiDB Operator's command line, one shard).
pub fn compact_job(compact: &CompactBackup, storage_base64: &str) -> Result<ToolJob, ArgsError> {
    let (_, name) = key_of(&compact.metadata);
    let location = location(&compact.spec.storage, "CompactBackup", &name)?;
    let ts = |t: Option<Tso>| t.map(|t| t.0.to_string()).unwrap_or_default();
    let mut args = vec![
        "--log-level=INFO".to_string(),
        "--log-format=json".to_string(),
        "compact-log-backup".to_string(),
        format!("--storage-base64={storage_base64}"),
        format!("--from={}", ts(compact.start())),
        format!("--until={}", ts(compact.end())),
        "-N".to_string(),
        compact.concurrency().to_string(),
    ];
    if let Some(n) = compact.spec.name.as_deref().filter(|n| !n.is_empty()) {
        args.push(format!("--name={n}"));
    }
    Ok(ToolJob {
        tool: ToolKind::TikvCtl,
        operation: Operation::Compact,
        location,
        args,
        env: Vec::new(),
        password: None,
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::storage::S3StorageProvider;

    #[test]
    fn a_compaction_runs_tikv_ctl_on_the_encoded_storage_over_its_range_as_tsos() {
        let spec = crate::api::CompactSpec {
            storage: StorageProvider {
                s3: Some(Box::new(S3StorageProvider {
                    provider: "aws".into(),
                    bucket: Some("b".into()),
                    prefix: Some("pitr/log-2026-01-01t00-00-00".into()),
                    ..Default::default()
                })),
                ..Default::default()
            },
            start_ts: Some("2026-01-01 00:00:00".into()),
            end_ts: Some("463270733414400000".into()),
            concurrency: Some(8),
            ..Default::default()
        };
        let c = CompactBackup::new("c", spec);
        let b64 = base64ify_job(&c).unwrap();
        assert_eq!(
            b64.args,
            ["operator", "base64ify", "--storage=s3://b/pitr/log-2026-01-01t00-00-00", "--s3.provider=aws"]
        );
        let job = compact_job(&c, "Cg==").unwrap();
        let start = Tso::parse("2026-01-01 00:00:00").unwrap().0;
        assert_eq!(
            job.command_line(),
            format!(
                "tikv-ctl --log-level=INFO --log-format=json compact-log-backup --storage-base64=Cg== --from={start} \
                 --until=463270733414400000 -N 8"
            )
        );
    }

    #[test]
    fn lightning_gets_provider_options_in_the_url_query() {
        let storage = StorageProvider {
            s3: Some(Box::new(S3StorageProvider {
                provider: "ceph".into(),
                endpoint: Some("http://10.0.0.1:30074".into()),
                bucket: Some("b".into()),
                prefix: Some("p".into()),
                region: Some("us east".into()),
                ..Default::default()
            })),
            ..Default::default()
        };
        let url = storage_url_with_options(&storage.location().unwrap(), &storage);
        assert_eq!(url, "s3://b/p?provider=ceph&region=us%20east&endpoint=http://10.0.0.1:30074");
    }
}

//! Tool command lines, built by pure functions from a Backup or Restore spec (no secrets, ever).

use crate::api::backup::{Backup, BackupType};
use crate::api::restore::Restore;
use crate::api::storage::{StorageLocation, StorageProvider};
use crate::api::tools::BrConfig;

use super::tool::{Operation, ToolJob, ToolKind};

/// Why no command line could be built (validation normally catches these first).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    #[error("{kind} {name} has no storage location: {reason}")]
    NoStorage { kind: &'static str, name: String, reason: &'static str },
    #[error("{kind} {name} has neither br nor {needed}")]
    NoTool { kind: &'static str, name: String, needed: &'static str },
}

fn location(storage: &StorageProvider, kind: &'static str, name: &str) -> Result<StorageLocation, ArgsError> {
    storage.location().ok_or(ArgsError::NoStorage {
        kind,
        name: name.into(),
        reason: "set one of s3, gcs, azblob, local",
    })
}

/// Provider options as br, dumpling and lightning spell them (`--s3.region=...`).
pub fn storage_args(storage: &StorageProvider) -> Vec<String> {
    let mut args = Vec::new();
    let mut push = |flag: &str, v: Option<&String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            args.push(format!("--{flag}={v}"));
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
    if let Some(s3) = &storage.s3 {
        args.extend(s3.options.iter().flatten().cloned());
    }
    args
}

fn pd(br: &BrConfig, own_namespace: &str) -> String {
    format!("--pd={}-pd.{}:2379", br.cluster, br.cluster_namespace_or(own_namespace))
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

fn filters(filter: Option<&Vec<String>>, args: &mut Vec<String>) {
    for f in filter.into_iter().flatten() {
        args.push(format!("--filter={f}"));
    }
}

/// The br backup or dumpling export a Backup runs.
pub fn backup_job(backup: &Backup) -> Result<ToolJob, ArgsError> {
    let name = backup.metadata.name.clone().unwrap_or_default();
    let ns = backup.metadata.namespace.clone().unwrap_or_default();
    let spec = &backup.spec;
    let location = location(&spec.storage, "Backup", &name)?;
    if let Some(br) = &spec.br {
        let backup_type = spec.backup_type.unwrap_or_default();
        let mut args = vec![
            "backup".to_string(),
            backup_type.as_str().to_string(),
            pd(br, &ns),
            format!("--storage={}", location.url()),
        ];
        match backup_type {
            BackupType::Full => filters(spec.table_filter.as_ref(), &mut args),
            BackupType::Db => args.push(format!("--db={}", br.db.clone().unwrap_or_default())),
            BackupType::Table => {
                args.push(format!("--db={}", br.db.clone().unwrap_or_default()));
                args.push(format!("--table={}", br.table.clone().unwrap_or_default()));
            }
        }
        if let Some(t) = br.time_ago.as_deref().filter(|s| !s.is_empty()) {
            args.push(format!("--timeago={t}"));
        }
        br_common(br, &mut args);
        args.extend(storage_args(&spec.storage));
        args.extend(br.options.iter().flatten().cloned());
        return Ok(ToolJob { tool: ToolKind::Br, operation: Operation::Backup, location, args });
    }
    let Some(from) = &spec.from else {
        return Err(ArgsError::NoTool { kind: "Backup", name, needed: "from (dumpling)" });
    };
    let mut args = vec![
        format!("--host={}", from.host),
        format!("--port={}", from.port.unwrap_or(4000)),
        format!("--user={}", from.user.clone().unwrap_or_else(|| "root".into())),
        format!("--output={}", location.url()),
    ];
    let dumpling = spec.dumpling.as_ref();
    let filter = spec.table_filter.as_ref().or(dumpling.and_then(|d| d.table_filter.as_ref()));
    filters(filter, &mut args);
    args.extend(storage_args(&spec.storage));
    args.extend(dumpling.and_then(|d| d.options.clone()).unwrap_or_default());
    Ok(ToolJob { tool: ToolKind::Dumpling, operation: Operation::Export, location, args })
}

/// The br restore or lightning import a Restore runs.
pub fn restore_job(restore: &Restore) -> Result<ToolJob, ArgsError> {
    let name = restore.metadata.name.clone().unwrap_or_default();
    let ns = restore.metadata.namespace.clone().unwrap_or_default();
    let spec = &restore.spec;
    let location = location(&spec.storage, "Restore", &name)?;
    if let Some(br) = &spec.br {
        let backup_type = spec.backup_type.unwrap_or_default();
        let mut args = vec![
            "restore".to_string(),
            backup_type.as_str().to_string(),
            pd(br, &ns),
            format!("--storage={}", location.url()),
        ];
        match backup_type {
            BackupType::Full => filters(spec.table_filter.as_ref(), &mut args),
            BackupType::Db => args.push(format!("--db={}", br.db.clone().unwrap_or_default())),
            BackupType::Table => {
                args.push(format!("--db={}", br.db.clone().unwrap_or_default()));
                args.push(format!("--table={}", br.table.clone().unwrap_or_default()));
            }
        }
        br_common(br, &mut args);
        args.extend(storage_args(&spec.storage));
        args.extend(br.options.iter().flatten().cloned());
        return Ok(ToolJob { tool: ToolKind::Br, operation: Operation::Restore, location, args });
    }
    let Some(to) = &spec.to else {
        return Err(ArgsError::NoTool { kind: "Restore", name, needed: "to (lightning)" });
    };
    let mut args = vec![
        "--backend=tidb".to_string(),
        format!("--tidb-host={}", to.host),
        format!("--tidb-port={}", to.port.unwrap_or(4000)),
        format!("--tidb-user={}", to.user.clone().unwrap_or_else(|| "root".into())),
        format!("-d={}", location.url()),
    ];
    filters(spec.table_filter.as_ref(), &mut args);
    args.extend(storage_args(&spec.storage));
    Ok(ToolJob { tool: ToolKind::Lightning, operation: Operation::Import, location, args })
}

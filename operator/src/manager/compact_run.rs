//! `backup-manager compact`: one CompactBackup's range compacted by tikv-ctl, its storage first encoded by
//! `br operator base64ify`; reported in the status as TiDB Operator reports it (`Running`, `RetryFailed` with the
//! tool's last words, `Complete` with `endTs`). The Job runs another pod after a failure while its backoff limit
//! allows; the compact controller alone writes the final `Failed`.

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::api::compact::{CompactBackup, CompactState, CompactStatus};
use crate::cluster::{Cluster, ObjectKey};

use super::args;
use super::report::{ManagerError, read, run_tool, update};
use super::tool::{Tool, ToolError, ToolProgress, ToolReport};

fn status(c: &mut CompactBackup) -> &mut CompactStatus {
    c.status.get_or_insert_with(Default::default)
}

/// Why this run must leave the CompactBackup alone: finished or being deleted.
fn superseded(c: &CompactBackup) -> Result<(), String> {
    if c.metadata.deletion_timestamp.is_some() {
        return Err("is being deleted".into());
    }
    match c.state() {
        Some(s) if s.is_final() => Err(format!("is {s}")),
        _ => Ok(()),
    }
}

fn record_progress(c: &mut CompactBackup, p: &ToolProgress, _: DateTime<Utc>) -> Result<(), String> {
    superseded(c)?;
    status(c).progress = Some(format!("{}: {:.0}%", p.step, p.percent));
    Ok(())
}

/// Records a failed attempt (`RetryFailed`, the message naming what failed); the Job decides whether another runs.
async fn attempt_failed<C: Cluster>(cluster: &C, key: &ObjectKey, source: ToolError) -> ManagerError {
    warn!(%key, error = %source, "the compaction attempt failed");
    let message = source.to_string();
    let recorded = update::<C, CompactBackup>(cluster, key, |c| {
        superseded(c)?;
        let s = status(c);
        s.state = Some(CompactState::RetryFailed.to_string());
        s.message = Some(message.clone());
        Ok(())
    })
    .await;
    if let Err(e) = recorded {
        warn!(%key, error = %e, "failed to record the failed attempt");
    }
    ManagerError::Tool { key: key.clone(), source }
}

/// Compacts the range of the CompactBackup `key`.
pub async fn compact<C: Cluster, T: Tool>(cluster: &C, tool: &T, key: &ObjectKey) -> Result<ToolReport, ManagerError> {
    let current = read::<C, CompactBackup>(cluster, key).await?;
    if current.state() == Some(CompactState::Complete) {
        info!(%key, "the CompactBackup is already Complete; nothing to do");
        return Ok(ToolReport::default());
    }
    let refuse = |why| ManagerError::Superseded { kind: "CompactBackup", key: key.clone(), why };
    superseded(&current).map_err(refuse)?;
    let encode = args::base64ify_job(&current)?;
    update::<C, CompactBackup>(cluster, key, |c| {
        superseded(c)?;
        let s = status(c);
        s.state = Some(CompactState::Running.to_string());
        s.message = None;
        s.progress = None;
        Ok(())
    })
    .await?;
    let encoded = match run_tool(cluster, tool, key, &encode, record_progress).await {
        Ok(report) => report.printed.unwrap_or_default(),
        Err(source) => return Err(attempt_failed(cluster, key, source).await),
    };
    if encoded.is_empty() {
        let source =
            ToolError::Exited { tool: encode.tool, code: 0, tail: "br operator base64ify printed nothing".into() };
        return Err(attempt_failed(cluster, key, source).await);
    }
    let job = args::compact_job(&current, &encoded)?;
    let end = current.end().map(|t| t.0.to_string());
    match run_tool(cluster, tool, key, &job, record_progress).await {
        Ok(report) => {
            update::<C, CompactBackup>(cluster, key, |c| {
                superseded(c)?;
                let s = status(c);
                s.state = Some(CompactState::Complete.to_string());
                s.end_ts.clone_from(&end);
                s.message = None;
                Ok(())
            })
            .await?;
            info!(%key, end_ts = ?end, "the compaction is complete");
            Ok(report)
        }
        Err(source) => Err(attempt_failed(cluster, key, source).await),
    }
}

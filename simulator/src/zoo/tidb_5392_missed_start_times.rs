//! TiDB Operator issue 5392, from its report: after a long pause, the schedule counts the start times it missed
//! since the last backup, finds more than 100 (CronJob's old limit), logs "too many missed start times" and returns
//! an error, and does so on every sync: no Backup is ever created again. Here: that check in front of our reconcile.

use operator::api::BackupSchedule;
use operator::api::cron::CronSchedule;
use operator::api::time::opt_from_k8s;
use operator::cluster::Cluster;
use operator::controllers::{Action, Settings};
use std::sync::Arc;

/// The most missed start times the report's controller accepts.
const MISSED_LIMIT: usize = 100;

pub async fn reconcile<C: Cluster>(
    client: C,
    settings: Settings,
    schedule: Arc<BackupSchedule>,
) -> Result<Action, String> {
    if !schedule.paused()
        && let Ok(cron) = CronSchedule::of(&schedule)
    {
        let last = schedule.status.as_ref().and_then(|s| opt_from_k8s(s.last_backup_time.as_ref()));
        let since = last.or_else(|| opt_from_k8s(schedule.metadata.creation_timestamp.as_ref()));
        let now = client.now();
        let mut missed = 0;
        let mut t = since.and_then(|s| cron.tick_after(s));
        while let Some(tick) = t.filter(|tick| *tick <= now && missed <= MISSED_LIMIT) {
            missed += 1;
            t = cron.tick_after(tick);
        }
        if missed > MISSED_LIMIT {
            return Err(format!(
                "BackupSchedule {}: too many missed start times (> {MISSED_LIMIT})",
                operator::cluster::ObjectKey::of(&*schedule)
            ));
        }
    }
    operator::controllers::schedule::reconcile(&client, &settings, schedule).await.map_err(|e| super::chain(&e))
}

//! `retries-honoured`: a Backup ends Failed only once its retry policy (`backoffRetryPolicy`, or TiDB Operator's
//! default of 2 retries within 30 minutes) is spent: every retry used, or the retry timeout passed since its first
//! failure. A Backup being deleted is not judged (stopping it is not a failure).

use operator::api::time::opt_from_k8s;
use operator::api::{Backup, BackupPhase};
use operator::cluster::{Kind, ObjectKey};

use super::{Ctx, Family, Hook};
use crate::scenario::model::InvariantId;
use crate::time::SimTime;
use crate::world::Change;

pub struct RetriesHonoured;

impl Family for RetriesHonoured {
    fn id(&self) -> InvariantId {
        InvariantId::RetriesHonoured
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Change]
    }

    fn on_change(&mut self, _ctx: &Ctx, change: &Change) -> Vec<String> {
        if change.obj.kind() != Kind::Backup {
            return Vec::new();
        }
        let Some(b) = change.obj.view::<Backup>() else { return Vec::new() };
        let was_failed =
            change.old.as_ref().and_then(|o| o.get::<Backup>()).is_some_and(|o| o.phase() == Some(BackupPhase::Failed));
        if b.phase() != Some(BackupPhase::Failed) || was_failed || b.metadata.deletion_timestamp.is_some() {
            return Vec::new();
        }
        let policy = b.spec.retry_policy();
        let used = b.retry_records().len();
        let first_failure = b
            .retry_records()
            .first()
            .and_then(|r| opt_from_k8s(r.detect_failed_at.as_ref()))
            .map(SimTime::from_utc)
            .unwrap_or(change.time);
        let elapsed = change.time.since(first_failure);
        if used >= policy.max_retries as usize || elapsed >= policy.retry_timeout {
            return Vec::new();
        }
        vec![format!(
            "Backup {} failed after {used} of {} retries, {} into a retry timeout of {}",
            ObjectKey::of(b),
            policy.max_retries,
            operator::api::duration::format_duration(elapsed),
            operator::api::duration::format_duration(policy.retry_timeout)
        )]
    }
}

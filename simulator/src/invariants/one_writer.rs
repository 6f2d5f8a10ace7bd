//! `one-writer`: at most one backup pod of a Backup runs at a time. A retry's pod that starts while the previous
//! attempt's pod is still running (or still terminating: a pod being deleted runs until it exits) would write the
//! same files twice at once. A log Backup's data is written by its task, not by pods: its Jobs run one `br log`
//! command each (the follower beside a truncation, say), so there the rule is one pod per Job at a time.

use k8s_openapi::api::core::v1::Pod;
use operator::api::labels;
use operator::cluster::{Kind, Labels, ObjectKey};
use std::collections::BTreeSet;

use super::{Ctx, Family, Hook};
use crate::scenario::model::InvariantId;
use crate::world::Change;

#[derive(Default)]
pub struct OneWriter {
    /// Backups already reported (once each).
    reported: BTreeSet<ObjectKey>,
}

fn running(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

/// The Backup a backup pod writes for, if it is one.
fn writes_for(p: &Pod) -> Option<String> {
    let l = p.metadata.labels.as_ref()?;
    (l.get(labels::COMPONENT).map(String::as_str) == Some(labels::component::BACKUP))
        .then(|| l.get(labels::BACKUP).cloned())?
}

/// True for a pod of a log Backup's Job (`backup-manager backup --mode=log`): it may outlive its Backup, so the pod
/// itself says.
fn runs_br_log(p: &Pod) -> bool {
    let args = p.spec.as_ref().and_then(|s| s.containers.first()).and_then(|c| c.args.as_ref());
    args.is_some_and(|a| a.iter().any(|x| x == "--mode=log"))
}

/// The Job a pod belongs to.
fn job_of(p: &Pod) -> Option<String> {
    p.metadata.owner_references.as_ref()?.iter().find(|r| r.kind == "Job").map(|r| r.name.clone())
}

impl Family for OneWriter {
    fn id(&self) -> InvariantId {
        InvariantId::OneWriter
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Change]
    }

    fn on_change(&mut self, ctx: &Ctx, change: &Change) -> Vec<String> {
        let Some(pod) = change.obj.view::<Pod>() else { return Vec::new() };
        let Some(backup) = writes_for(pod).filter(|_| running(pod)) else { return Vec::new() };
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let key = ObjectKey::new(&namespace, &backup);
        let is_log = runs_br_log(pod);
        let job = job_of(pod);
        let selector = Labels::from([(labels::BACKUP.to_string(), backup.clone())]);
        let writers: Vec<String> = ctx
            .world
            .select(Kind::Pod, &namespace, &selector)
            .filter_map(|o| o.get::<Pod>())
            .filter(|p| running(p) && writes_for(p).as_deref() == Some(&backup))
            .filter(|p| !is_log || job_of(p) == job)
            .map(|p| p.metadata.name.clone().unwrap_or_default())
            .collect();
        if writers.len() < 2 || !self.reported.insert(key.clone()) {
            return Vec::new();
        }
        vec![format!("Backup {key} has {} backup pods running at once: {}", writers.len(), writers.join(", "))]
    }
}

//! `one-writer`: at most one backup pod of a Backup runs at a time. A retry's pod that starts while the previous
//! attempt's pod is still running (or still terminating: a pod being deleted runs until it exits) would write the
//! same files twice at once.

use k8s_openapi::api::core::v1::Pod;
use operator::api::labels;
use operator::cluster::{Kind, Labels, ObjectKey};
use std::collections::BTreeSet;

use super::{Ctx, Family};
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

impl Family for OneWriter {
    fn id(&self) -> InvariantId {
        InvariantId::OneWriter
    }

    fn on_change(&mut self, ctx: &Ctx, change: &Change) -> Vec<String> {
        let Some(pod) = change.obj.get::<Pod>() else { return Vec::new() };
        let Some(backup) = writes_for(&pod).filter(|_| running(&pod)) else { return Vec::new() };
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let selector = Labels::from([(labels::BACKUP.to_string(), backup.clone())]);
        let writers: Vec<String> = ctx
            .world
            .select(Kind::Pod, &namespace, &selector)
            .filter_map(|o| o.get::<Pod>())
            .filter(|p| running(p) && writes_for(p).as_deref() == Some(&backup))
            .map(|p| p.metadata.name.clone().unwrap_or_default())
            .collect();
        let key = ObjectKey::new(&namespace, &backup);
        if writers.len() < 2 || !self.reported.insert(key.clone()) {
            return Vec::new();
        }
        vec![format!("Backup {key} has {} backup pods running at once: {}", writers.len(), writers.join(", "))]
    }
}

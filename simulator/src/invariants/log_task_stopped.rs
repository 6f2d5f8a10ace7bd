//! `log-task-stopped`: a log Backup is never gone while its `br log` task still runs on the cluster (TiDB
//! Operator's #5249: deleting the CR left the task running, and a new CR of the same name could not start one).
//! A namespace being deleted is exempt: the operator must not wedge it, and says so in a `StopSkipped` Warning.

use operator::api::Backup;
use operator::api::log_backup;
use operator::cluster::{Kind, ObjectKey};
use operator::manager::args::pd_address;

use super::{Ctx, Family, Hook};
use crate::scenario::model::InvariantId;
use crate::world::{Change, ChangeType};

pub struct LogTaskStopped;

impl Family for LogTaskStopped {
    fn id(&self) -> InvariantId {
        InvariantId::LogTaskStopped
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Change]
    }

    fn on_change(&mut self, ctx: &Ctx, change: &Change) -> Vec<String> {
        if change.type_ != ChangeType::Deleted || change.obj.kind() != Kind::Backup {
            return Vec::new();
        }
        let Some(b) = change.obj.view::<Backup>() else { return Vec::new() };
        let (Some(br), true) = (b.spec.br.as_deref(), log_backup::is_log(&b.spec)) else { return Vec::new() };
        let key = ObjectKey::of(b);
        if ctx.world.namespace_deleted(&key.namespace) {
            return Vec::new();
        }
        let pd = pd_address(br, &key.namespace);
        let task = log_backup::task_name(b);
        match ctx.log_tasks.get(&pd, &task) {
            Some(_) => vec![format!(
                "Backup {key} is gone, but its log backup task {task} still runs on {pd} (deleted by {})",
                ctx.actor
            )],
            None => Vec::new(),
        }
    }
}

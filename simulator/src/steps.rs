//! User actions from the scenario's `steps`: patch, create or delete an object at a simulated time.

use operator::cluster::{Kind, ObjectKey, Precondition};
use serde_json::Value;

use crate::engine::{Actor, State};
use crate::object::Obj;
use crate::scenario::model::StepAction;
use crate::world::Subresource;

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Default::default());
            }
            let t = target.as_object_mut().expect("made an object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn patched(obj: &Obj, patch: &Value) -> Result<Obj, String> {
    fn apply<K: operator::cluster::Object>(o: &K, patch: &Value) -> Result<Obj, String> {
        let mut v = serde_json::to_value(o).map_err(|e| e.to_string())?;
        merge_patch(&mut v, patch);
        serde_json::from_value::<K>(v).map(Obj::wrap).map_err(|e| e.to_string())
    }
    match obj {
        Obj::Backup(a) => apply(&**a, patch),
        Obj::Restore(a) => apply(&**a, patch),
        Obj::Schedule(a) => apply(&**a, patch),
        Obj::Compact(a) => apply(&**a, patch),
        Obj::Job(a) => apply(&**a, patch),
        Obj::Pod(a) => apply(&**a, patch),
    }
}

impl State {
    /// The namespace controller's work: every object in `namespace` deleted (children first is not needed: the
    /// garbage collector and the finalizers order what follows).
    fn delete_namespace(&mut self, namespace: &str) {
        let now = self.now;
        self.world.terminate_namespace(namespace);
        for kind in [Kind::BackupSchedule, Kind::Restore, Kind::CompactBackup, Kind::Backup, Kind::Job, Kind::Pod] {
            let keys: Vec<ObjectKey> =
                self.world.iter_kind(kind).map(|o| o.key()).filter(|k| k.namespace == namespace).collect();
            for key in keys {
                if let Err(e) = self.world.delete(kind, &key, &Precondition::default(), now) {
                    self.trace.record(now, "user", "delete-failed", format_args!("{kind} {key}"), format_args!("{e}"));
                }
            }
        }
    }

    pub(crate) fn user_step(&mut self, i: usize) {
        let step = self.scenario.steps[i].clone();
        let now = self.now;
        let result = match step.action {
            StepAction::Create(obj) => self.world.create(obj, now).map(|_| ()).map_err(|e| e.to_string()),
            StepAction::Delete { kind, key } => {
                self.world.delete(kind, &key, &Precondition::default(), now).map(|_| ()).map_err(|e| e.to_string())
            }
            StepAction::DeleteNamespace { namespace } => {
                self.delete_namespace(&namespace);
                Ok(())
            }
            StepAction::WipeData { url } => {
                self.storage_delete_by("user", &url);
                Ok(())
            }
            StepAction::Patch { kind, key, patch } => match self.world.get(kind, &key).cloned() {
                None => Err(format!("{kind} {key} not found")),
                Some(current) => patched(&current, &patch).and_then(|new| {
                    self.world.update(new, Subresource::Main, now).map(|_| ()).map_err(|e| e.to_string())
                }),
            },
        };
        if let Err(message) = result {
            self.trace.record(now, "user", "step-failed", format_args!("steps[{i}]"), format_args!("{message}"));
        }
        self.commit(&Actor::User);
    }
}

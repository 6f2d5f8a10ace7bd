//! `Tasks`: the task table. Which tasks are alive and whom they work for, which were spawned, woken or killed since
//! the executor last ran, and which one it is polling. The executor owns the futures; this owns the rest.

use operator::api::log_backup::LogCommand;
use operator::cluster::ObjectKey;
use std::collections::BTreeMap;

use crate::object::Obj;
use crate::scenario::model::JobRole;
use crate::task_id::TaskId;

/// Who a task works for.
#[derive(Clone, Debug)]
pub enum TaskOwner {
    Reconcile { controller: usize, key: ObjectKey },
    Pod { key: ObjectKey, uid: String },
}

/// A task the state asks the engine to start (futures are built outside the state borrow).
pub enum Spawn {
    Reconcile {
        task: TaskId,
        controller: usize,
        obj: Obj,
    },
    /// backup-manager in a pod; `log` is the `br log` command of a log Backup's Job.
    Manager {
        task: TaskId,
        pod: String,
        role: JobRole,
        target: ObjectKey,
        attempt: Option<u32>,
        log: Option<LogCommand>,
    },
}

/// What the executor has to do before time moves on.
#[derive(Default)]
pub struct Work {
    pub killed: Vec<TaskId>,
    pub spawned: Vec<Spawn>,
    pub woken: Vec<TaskId>,
}

impl Work {
    pub fn is_empty(&self) -> bool {
        self.killed.is_empty() && self.spawned.is_empty() && self.woken.is_empty()
    }
}

/// The task table.
#[derive(Default)]
pub struct Tasks {
    owners: BTreeMap<TaskId, TaskOwner>,
    work: Work,
    polling: Option<TaskId>,
}

impl Tasks {
    /// A new task `id` working for `owner`; the executor builds its future from `spawn`.
    pub fn spawn(&mut self, id: TaskId, owner: TaskOwner, spawn: Spawn) {
        self.owners.insert(id, owner);
        self.work.spawned.push(spawn);
    }

    /// Stops a task: its future is dropped before it is polled again.
    pub fn kill(&mut self, id: TaskId) {
        if self.owners.remove(&id).is_some() {
            self.work.killed.push(id);
        }
    }

    pub fn is_alive(&self, id: TaskId) -> bool {
        self.owners.contains_key(&id)
    }

    /// Has a live task polled again; false if it is gone.
    pub fn wake(&mut self, id: TaskId) -> bool {
        let alive = self.is_alive(id);
        if alive {
            self.work.woken.push(id);
        }
        alive
    }

    /// The task being polled (the one whose calls are being made), if any.
    pub fn polling(&self) -> Option<TaskId> {
        self.polling
    }

    pub fn set_polling(&mut self, id: Option<TaskId>) {
        self.polling = id;
    }

    /// A task finished: whom it worked for (`None` if it had been killed).
    pub fn finish(&mut self, id: TaskId) -> Option<TaskOwner> {
        self.owners.remove(&id)
    }

    /// Takes the work to do into `spare` (which must be empty) and keeps `spare`'s buffers for the next: the
    /// executor hands the same few vectors back and forth instead of growing new ones at every instant.
    pub fn swap_work(&mut self, spare: &mut Work) {
        debug_assert!(spare.is_empty(), "the executor did all the work it took");
        std::mem::swap(&mut self.work, spare);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the executor has to do now, as `Engine::drain` takes it.
    fn take_work(t: &mut Tasks) -> Work {
        let mut work = Work::default();
        t.swap_work(&mut work);
        work
    }

    fn pod(task: TaskId) -> (TaskOwner, Spawn) {
        let key = ObjectKey::new("ns", "p");
        let owner = TaskOwner::Pod { key: key.clone(), uid: "u".into() };
        let spawn =
            Spawn::Manager { task, pod: "p".into(), role: JobRole::Backup, target: key, attempt: None, log: None };
        (owner, spawn)
    }

    #[test]
    fn a_killed_task_is_not_woken_and_reports_no_owner_when_it_finishes() {
        let mut t = Tasks::default();
        let (owner, spawn) = pod(1);
        t.spawn(1, owner, spawn);
        assert_eq!(take_work(&mut t).spawned.len(), 1);
        t.kill(1);
        assert!(!t.wake(1));
        let work = take_work(&mut t);
        assert_eq!((work.killed, work.woken), (vec![1], vec![]));
        assert!(t.finish(1).is_none());
        assert!(take_work(&mut t).is_empty());
    }

    #[test]
    fn a_live_task_is_woken_once_per_wake_and_finishes_with_its_owner() {
        let mut t = Tasks::default();
        let (owner, spawn) = pod(7);
        t.spawn(7, owner, spawn);
        take_work(&mut t);
        assert!(t.wake(7));
        assert_eq!(take_work(&mut t).woken, vec![7]);
        assert!(matches!(t.finish(7), Some(TaskOwner::Pod { .. })));
        assert!(!t.is_alive(7));
    }

    #[test]
    fn work_is_handed_over_once_and_the_spare_buffers_come_back_for_the_next() {
        let mut t = Tasks::default();
        let mut spare = Work { woken: Vec::with_capacity(64), ..Work::default() };
        let buffer = spare.woken.as_ptr();
        t.swap_work(&mut spare);
        assert!(spare.is_empty(), "nothing to do yet");
        let (owner, spawn) = pod(3);
        t.spawn(3, owner, spawn);
        assert!(t.wake(3));
        let mut taken = Work::default();
        t.swap_work(&mut taken);
        assert_eq!((taken.spawned.len(), taken.woken.clone()), (1, vec![3]));
        assert_eq!(taken.woken.as_ptr(), buffer, "the woken tasks land in the buffer handed back");
        taken.spawned.clear();
        taken.woken.clear();
        t.swap_work(&mut taken);
        assert!(taken.is_empty(), "work comes only once");
    }
}

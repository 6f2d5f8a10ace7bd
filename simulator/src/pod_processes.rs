//! `PodProcesses`: the kubelet's own record of the backup-manager process running in each pod, and of the pods
//! `podFailures` doomed to fail part way.

use std::collections::{BTreeMap, BTreeSet};

use crate::task_id::TaskId;

#[derive(Default)]
pub struct PodProcesses {
    running: BTreeMap<String, TaskId>,
    doomed: BTreeSet<String>,
}

impl PodProcesses {
    /// `pod`'s process started as `task`.
    pub fn started(&mut self, pod: &str, task: TaskId) {
        self.running.insert(pod.to_string(), task);
    }

    /// `pod`'s process is over (it exited, or is to be killed): its task, if it was running.
    pub fn stopped(&mut self, pod: &str) -> Option<TaskId> {
        self.running.remove(pod)
    }

    /// `podFailures` (`mode: fail`) doomed `pod`: its tool will fail part way.
    pub fn doom(&mut self, pod: &str) {
        self.doomed.insert(pod.to_string());
    }

    /// Whether `pod` was doomed, asked once by its tool.
    pub fn take_doom(&mut self, pod: &str) -> bool {
        self.doomed.remove(pod)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_doom_is_told_once() {
        let mut p = PodProcesses::default();
        p.doom("b-1");
        assert!(p.take_doom("b-1"));
        assert!(!p.take_doom("b-1"));
        assert!(!p.take_doom("b-2"));
    }

    #[test]
    fn a_stopped_process_is_forgotten() {
        let mut p = PodProcesses::default();
        p.started("b-1", 4);
        assert_eq!(p.stopped("b-1"), Some(4));
        assert_eq!(p.stopped("b-1"), None);
    }
}

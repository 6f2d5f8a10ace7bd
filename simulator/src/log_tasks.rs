//! Simulated log backup tasks of the TiDB clusters: what `br log start/pause/resume/stop/truncate` change and what
//! `br log status` reports (a checkpoint that follows simulated time while the task runs).

use std::collections::BTreeMap;
use std::time::Duration;

use operator::api::tso::Tso;

use crate::time::SimTime;

/// How far a running task's checkpoint trails the present.
pub const CHECKPOINT_LAG: Duration = Duration::from_secs(5);

/// One task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogTask {
    pub start: Tso,
    /// The checkpoint while paused (frozen), `None` while running.
    pub paused_at: Option<Tso>,
    /// Where the log was truncated to, if it was.
    pub truncated_until: Option<Tso>,
    pub storage: String,
}

impl LogTask {
    /// Every change before it is in the log.
    pub fn checkpoint(&self, now: SimTime) -> Tso {
        let live = Tso::from_time(now.to_utc() - chrono::Duration::from_std(CHECKPOINT_LAG).unwrap_or_default());
        self.paused_at.unwrap_or(live).max(self.start)
    }
}

/// Why a `br log` command failed, in br's words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LogTaskError {
    #[error("[BR:Stream:ErrStreamLogTaskExist]stream task already exists: {0}")]
    Exists(String),
    #[error("[BR:Stream:ErrStreamLogTaskNotFound]stream task not found: {0}")]
    NotFound(String),
}

/// The tasks, by cluster (its PD address) and task name.
#[derive(Clone, Debug, Default)]
pub struct LogTasks {
    tasks: BTreeMap<(String, String), LogTask>,
}

impl LogTasks {
    pub fn start(&mut self, pd: &str, name: &str, start: Tso, storage: &str) -> Result<(), LogTaskError> {
        let key = (pd.to_string(), name.to_string());
        if self.tasks.contains_key(&key) {
            return Err(LogTaskError::Exists(name.into()));
        }
        let task = LogTask { start, paused_at: None, truncated_until: None, storage: storage.into() };
        self.tasks.insert(key, task);
        Ok(())
    }

    pub fn get(&self, pd: &str, name: &str) -> Option<&LogTask> {
        self.tasks.get(&(pd.to_string(), name.to_string()))
    }

    fn get_mut(&mut self, pd: &str, name: &str) -> Result<&mut LogTask, LogTaskError> {
        self.tasks.get_mut(&(pd.to_string(), name.to_string())).ok_or_else(|| LogTaskError::NotFound(name.into()))
    }

    pub fn pause(&mut self, pd: &str, name: &str, now: SimTime) -> Result<(), LogTaskError> {
        let task = self.get_mut(pd, name)?;
        let at = task.checkpoint(now);
        task.paused_at.get_or_insert(at);
        Ok(())
    }

    pub fn resume(&mut self, pd: &str, name: &str) -> Result<(), LogTaskError> {
        self.get_mut(pd, name)?.paused_at = None;
        Ok(())
    }

    pub fn stop(&mut self, pd: &str, name: &str) -> Result<(), LogTaskError> {
        self.tasks
            .remove(&(pd.to_string(), name.to_string()))
            .map(|_| ())
            .ok_or_else(|| LogTaskError::NotFound(name.into()))
    }

    /// Truncation works on the storage, task or not: it is recorded on every task writing there.
    pub fn truncate(&mut self, storage: &str, until: Tso) {
        for task in self.tasks.values_mut().filter(|t| t.storage == storage) {
            task.truncated_until = Some(task.truncated_until.map_or(until, |t| t.max(until)));
        }
    }

    /// A task writing to `storage`, if one does.
    pub fn writing_to(&self, storage: &str) -> Option<&LogTask> {
        self.tasks.values().find(|t| t.storage == storage)
    }

    /// Running tasks (not paused), for invariants.
    pub fn running(&self) -> impl Iterator<Item = (&(String, String), &LogTask)> {
        self.tasks.iter().filter(|(_, t)| t.paused_at.is_none())
    }

    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_is_started_once_follows_time_freezes_while_paused_and_goes_when_stopped() {
        let t0 = SimTime::from_utc(chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap());
        let mut tasks = LogTasks::default();
        let start = Tso::from_time(t0.to_utc());
        tasks.start("pd", "log", start, "s3://b/log").unwrap();
        assert!(matches!(tasks.start("pd", "log", start, "s3://b/log"), Err(LogTaskError::Exists(_))));
        let later = t0.plus(Duration::from_secs(600));
        let lagging = Tso::from_time(later.to_utc() - chrono::Duration::seconds(5));
        assert_eq!(tasks.get("pd", "log").unwrap().checkpoint(later), lagging);
        assert_eq!(tasks.get("pd", "log").unwrap().checkpoint(t0), start, "never before the start");
        tasks.pause("pd", "log", later).unwrap();
        let frozen = tasks.get("pd", "log").unwrap().checkpoint(later.plus(Duration::from_secs(600)));
        assert_eq!(frozen, lagging);
        tasks.resume("pd", "log").unwrap();
        tasks.stop("pd", "log").unwrap();
        assert!(matches!(tasks.stop("pd", "log"), Err(LogTaskError::NotFound(_))));
    }
}

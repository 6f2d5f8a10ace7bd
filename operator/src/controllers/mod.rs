//! The backup, restore, compact and schedule reconcilers: thin async shells that read, call a pure `plan`, and write.
//!
//! Each reconciler takes the object from its controller's cache and loops: observe, `plan` one step, perform it,
//! fold the write's response back into what it observed, plan again, until the plan says to wait. A write that hits
//! a `Conflict` re-reads the object live and plans again, so no decision is ever written over a newer state.
//!
//! # What triggers what (see [`triggers`])
//!
//! | controller | reconciles | triggered by | requeues |
//! |---|---|---|---|
//! | backup | Backup | the Backup; its Jobs (`backup-`, `clean-`, by owner); their pods (by annotation) | at a pod's start deadline, a retry's due time, a clean retry |
//! | restore | Restore | the Restore; its Job; the Job's pods | at a pod's start deadline |
//! | compact | CompactBackup | the CompactBackup; its Job; the Job's pods | at a pod's start deadline |
//! | schedule | BackupSchedule | the schedule; its Backups and CompactBackups (by owner reference) | at the next cron tick, the next expiry or the next compaction, whichever is first |

pub mod action;
pub mod attempt;
pub mod backup;
pub mod compact;
pub mod jobs;
pub mod restore;
pub mod schedule;
pub mod settings;
pub mod triggers;

pub use action::Action;
pub use settings::Settings;

/// How many plan/perform steps one reconcile may take before it gives up and errors (a livelock guard).
pub(crate) const MAX_STEPS: usize = 32;

#[cfg(test)]
mod tests {
    use crate::api::labels::{NAMING, component};

    /// A store may index the naming labels alone (the simulator's does): every selector a controller lists with must
    /// carry one, or its lists scan the namespace.
    #[test]
    fn every_selector_the_controllers_list_with_carries_a_naming_label() {
        let selectors = [
            super::backup::pod_selector("b", component::BACKUP),
            super::backup::pod_selector("b", component::CLEAN),
            super::restore::pod_selector("r"),
            super::compact::pod_selector("c"),
            super::schedule::template::schedule_selector("s"),
        ];
        for selector in selectors {
            assert!(selector.keys().any(|k| NAMING.contains(&k.as_str())), "{selector:?}");
        }
    }
}

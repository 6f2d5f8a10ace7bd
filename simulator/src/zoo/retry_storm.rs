//! Round 2's retry storm, as a controller without backoff has it: a reconcile that failed runs again a second later,
//! forever, and nothing remembers the refusal (no client-side backoff either), so a create the API server keeps
//! refusing is sent every second: the schedule's API cost is unbounded though its end state may be right.

use operator::api::BackupSchedule;
use operator::cluster::Cluster;
use operator::controllers::{Action, Settings};
use std::sync::Arc;
use std::time::Duration;

pub async fn reconcile<C: Cluster>(
    client: C,
    settings: Settings,
    schedule: Arc<BackupSchedule>,
) -> Result<Action, String> {
    match operator::controllers::schedule::reconcile(&client, &settings, schedule).await {
        Ok(action) => Ok(action),
        Err(_) => Ok(Action::requeue(Duration::from_secs(1))),
    }
}

//! Read-your-own-writes for a controller: the resourceVersion of each object it wrote lately, so a reconcile that
//! finds its cache behind its own write waits for the watch event instead of reading live (or re-creating).
//!
//! This is the read-your-own-writes rule Kubernetes' own controllers adopted: an informer delivers events in order,
//! so a cached object older than the controller's own last write means the cache has not caught up, and anything
//! decided from it would be decided on the past. Waiting is bounded by [`OWN_WRITE_WAIT`]: if the event has not
//! arrived by then (a stalled watch), the controller goes back to live reads. resourceVersions are compared as
//! numbers, as the API server's etcd revisions are; a non-numeric one is simply not remembered.
//!
//! It also remembers creates the API server refused by policy or validation (`Forbidden`, as an exhausted
//! ResourceQuota answers; `Invalid`): the same create is not sent again before a backoff that doubles from
//! [`REFUSAL_BACKOFF`] to [`MAX_REFUSAL_BACKOFF`], whatever triggers the reconcile. A controller's error backoff
//! does not cover this: every watch event about the object's siblings starts a reconcile at once, and each would
//! send the refused create again (a retry storm while the quota stays full). The reconcile gets the remembered
//! refusal back as its answer, so its decisions are the same as if it had been sent.
//!
//! And it remembers which creates it sent lately (whatever the answer), from when it started: an object born after
//! that, less than [`OWN_WRITE_WAIT`] ago, that has no create of a given name on record since its birth never had
//! one from this controller. The backup controller starts a Backup's first Job on that proof instead of a live read.

use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Cluster, ClusterError, Deletion, Event, KeyRef, Kind, Labels, Object, ObjectKey, ObjectMap, Precondition};

/// How long a reconcile may wait for its cache to show its own write before it reads live instead.
pub const OWN_WRITE_WAIT: Duration = Duration::from_secs(30);

/// How long a confirmation is remembered after the time it is about.
pub const CONFIRMED_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);

/// Object -> (resourceVersion written, when).
type Written = ObjectMap<(u64, DateTime<Utc>)>;

/// The first wait before a refused create is sent again.
pub const REFUSAL_BACKOFF: Duration = Duration::from_secs(10);
/// The longest wait before a refused create is sent again.
pub const MAX_REFUSAL_BACKOFF: Duration = Duration::from_secs(300);

/// A create the API server refused: its answer, when, and how many times in a row.
#[derive(Clone, Debug)]
struct Refusal {
    error: ClusterError,
    at: DateTime<Utc>,
    times: u32,
}

impl Refusal {
    fn until(&self) -> DateTime<Utc> {
        let doublings = self.times.saturating_sub(1).min(16);
        let wait = REFUSAL_BACKOFF.saturating_mul(1 << doublings).min(MAX_REFUSAL_BACKOFF);
        self.at + chrono::Duration::from_std(wait).unwrap_or_default()
    }
}

/// Whether an answer refuses the request itself, so that sending it again unchanged gets the same answer.
fn is_refusal(e: &ClusterError) -> bool {
    matches!(e, ClusterError::Forbidden { .. } | ClusterError::Invalid { .. })
}

/// The controller's recent writes: object -> (resourceVersion written, when); and the facts a live read confirmed
/// in this process (object -> a marker such as the cron tick it was about).
#[derive(Debug)]
pub struct OwnWrites {
    /// When this memory began: nothing before it is known.
    started: DateTime<Utc>,
    written: Mutex<Written>,
    /// Creates sent (whatever the answer): object -> when, for the last [`OWN_WRITE_WAIT`].
    sent_creates: Mutex<ObjectMap<DateTime<Utc>>>,
    /// Object -> the marker a live read confirmed, for [`CONFIRMED_KEPT`].
    confirmed: Mutex<ObjectMap<DateTime<Utc>>>,
    /// Never forgotten but by a success: a refusal's backoff keeps doubling.
    refused: Mutex<ObjectMap<Refusal>>,
}

fn rv_of<K: Object>(obj: &K) -> Option<u64> {
    obj.meta().resource_version.as_deref()?.parse().ok()
}

impl OwnWrites {
    /// An empty memory that begins at `now` (when its controller starts).
    pub fn new(now: DateTime<Utc>) -> Arc<Self> {
        Arc::new(OwnWrites {
            started: now,
            written: Mutex::default(),
            sent_creates: Mutex::default(),
            confirmed: Mutex::default(),
            refused: Mutex::default(),
        })
    }

    /// Notes that a create of `key` is being sent (forgetting those older than the wait).
    pub fn sending_create(&self, kind: Kind, key: &ObjectKey, now: DateTime<Utc>) {
        let horizon = now - chrono::Duration::from_std(OWN_WRITE_WAIT).unwrap_or_default();
        let mut map = self.sent_creates.lock().unwrap_or_else(|p| p.into_inner());
        map.sweep_if_due(|at| *at <= horizon);
        map.insert(kind, key, now);
    }

    /// True when this memory proves that no create of `key` was sent at or after `since`: it began before `since`
    /// and still holds everything sent since. False when it cannot tell.
    pub fn sent_no_create_since(&self, kind: Kind, key: KeyRef<'_>, since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        let horizon = now - chrono::Duration::from_std(OWN_WRITE_WAIT).unwrap_or_default();
        if self.started >= since || horizon >= since {
            return false;
        }
        let map = self.sent_creates.lock().unwrap_or_else(|p| p.into_inner());
        // An entry older than the horizon (not swept yet) is older than `since` too.
        map.get(kind, &key).is_none_or(|at| *at < since)
    }

    fn map(&self) -> std::sync::MutexGuard<'_, Written> {
        self.written.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Remembers a successful write's answer (writes older than the wait are forgotten in batches, so memory
    /// stays small and a write costs no scan).
    pub fn record<K: Object>(&self, obj: &K, now: DateTime<Utc>) {
        let horizon = now - chrono::Duration::from_std(OWN_WRITE_WAIT).unwrap_or_default();
        if let Some(rv) = rv_of(obj) {
            let mut map = self.map();
            map.sweep_if_due(|(_, at)| *at <= horizon);
            map.insert(K::KIND, &ObjectKey::of(obj), (rv, now));
        }
    }

    /// Whether a write of `key` is remembered (the wait may be over): without one there is nothing to await, and
    /// the cache need not be read.
    pub fn wrote(&self, kind: Kind, key: KeyRef<'_>) -> bool {
        self.map().get(kind, &key).is_some()
    }

    /// Notes that a live read confirmed something about `key`, identified by `marker`; `None` forgets it. Markers
    /// are times (a cron tick, say): those older than [`CONFIRMED_KEPT`] are forgotten, so memory stays bounded by
    /// what happened lately (forgetting costs at most one live read).
    pub fn confirm(&self, kind: Kind, key: &ObjectKey, marker: Option<DateTime<Utc>>, now: DateTime<Utc>) {
        let mut confirmed = self.confirmed.lock().unwrap_or_else(|p| p.into_inner());
        let horizon = now - chrono::Duration::from_std(CONFIRMED_KEPT).unwrap_or_default();
        confirmed.sweep_if_due(|m| *m <= horizon);
        match marker {
            Some(m) => confirmed.insert(kind, key, m),
            None => {
                confirmed.remove(kind, key);
            }
        }
    }

    /// The marker of the last confirmation about `key` in this process.
    pub fn confirmed(&self, kind: Kind, key: &ObjectKey) -> Option<DateTime<Utc>> {
        self.confirmed.lock().unwrap_or_else(|p| p.into_inner()).get(kind, key).copied()
    }

    /// The remembered refusal of a create of `key`, while its backoff lasts.
    pub fn refused(&self, kind: Kind, key: &ObjectKey, now: DateTime<Utc>) -> Option<ClusterError> {
        let map = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        map.get(kind, key).filter(|r| now < r.until()).map(|r| r.error.clone())
    }

    /// The creates of `kind` in `namespace` still in their refusal backoff: (name, until).
    pub fn refusals(&self, kind: Kind, namespace: &str, now: DateTime<Utc>) -> Vec<(String, DateTime<Utc>)> {
        let map = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        map.of_kind(kind)
            .filter(|(key, r)| key.namespace == namespace && now < r.until())
            .map(|(key, r)| (key.name.clone(), r.until()))
            .collect()
    }

    /// Notes the answer to a create of `key` that was sent: a refusal extends the backoff, anything else ends it.
    pub fn answered(&self, kind: Kind, key: &ObjectKey, answer: Result<(), &ClusterError>, now: DateTime<Utc>) {
        let mut map = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        match answer {
            Err(e) if is_refusal(e) => {
                let times = map.get(kind, key).map_or(0, |r| r.times) + 1;
                map.insert(kind, key, Refusal { error: e.clone(), at: now, times });
            }
            _ => {
                map.remove(kind, key);
            }
        }
    }

    /// Forgets an object that is gone.
    pub fn forget(&self, kind: Kind, key: &ObjectKey) {
        self.map().remove(kind, key);
    }

    /// Until when to wait for the cache, when `cached` is older than this controller's own recent write of `key`
    /// (or missing although it wrote it). None once the cache has caught up or the wait is over.
    pub fn awaiting<K: Object>(
        &self,
        key: KeyRef<'_>,
        cached: Option<&K>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let mut map = self.map();
        let (rv, at) = *map.get(K::KIND, &key)?;
        let until = at + chrono::Duration::from_std(OWN_WRITE_WAIT).unwrap_or_default();
        if cached.and_then(rv_of).is_some_and(|seen| seen >= rv) || now >= until {
            map.remove(K::KIND, &key);
            return None;
        }
        Some(until)
    }
}

/// A `Cluster` that remembers its own writes (see the module doc); everything else is the inner cluster's.
pub struct ReadYourWrites<C> {
    inner: C,
    writes: Arc<OwnWrites>,
}

impl<C: Cluster> ReadYourWrites<C> {
    pub fn new(inner: C, writes: Arc<OwnWrites>) -> Self {
        ReadYourWrites { inner, writes }
    }

    /// The inner cluster, for code that must not remember its writes (the bug zoo's controllers).
    pub fn into_inner(self) -> C {
        self.inner
    }

    fn remember<K: Object>(&self, result: Result<Arc<K>, ClusterError>) -> Result<Arc<K>, ClusterError> {
        if let Ok(obj) = &result {
            self.writes.record(&**obj, self.inner.now());
        }
        result
    }
}

impl<C: Cluster> Cluster for ReadYourWrites<C> {
    fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }
    fn cached<K: Object>(&self, key: KeyRef<'_>) -> Option<Arc<K>> {
        self.inner.cached(key)
    }
    fn cached_list<K: Object>(&self, namespace: &str, selector: &Labels) -> Vec<Arc<K>> {
        self.inner.cached_list(namespace, selector)
    }
    fn awaiting_own_write<K: Object>(&self, key: KeyRef<'_>) -> Option<DateTime<Utc>> {
        // Most objects a reconcile looks at were not written lately: that answer costs no owned key.
        if !self.writes.wrote(K::KIND, key) {
            return None;
        }
        let cached = self.inner.cached::<K>(key);
        self.writes.awaiting(key, cached.as_deref(), self.inner.now())
    }
    fn confirm<K: Object>(&self, key: &ObjectKey, marker: Option<DateTime<Utc>>) {
        self.writes.confirm(K::KIND, key, marker, self.inner.now())
    }
    fn confirmed<K: Object>(&self, key: &ObjectKey) -> Option<DateTime<Utc>> {
        self.writes.confirmed(K::KIND, key)
    }
    fn refused_creates<K: Object>(&self, namespace: &str) -> Vec<(String, DateTime<Utc>)> {
        self.writes.refusals(K::KIND, namespace, self.inner.now())
    }
    fn sent_no_create_since<K: Object>(&self, key: KeyRef<'_>, since: DateTime<Utc>) -> bool {
        self.writes.sent_no_create_since(K::KIND, key, since, self.inner.now())
    }
    async fn get<K: Object>(&self, key: &ObjectKey) -> Result<Option<Arc<K>>, ClusterError> {
        self.inner.get(key).await
    }
    async fn list<K: Object>(&self, namespace: &str, selector: &Labels) -> Result<Vec<Arc<K>>, ClusterError> {
        self.inner.list(namespace, selector).await
    }
    async fn create<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        let key = ObjectKey::of(&*obj);
        if let Some(refusal) = self.writes.refused(K::KIND, &key, self.inner.now()) {
            return Err(refusal);
        }
        self.writes.sending_create(K::KIND, &key, self.inner.now());
        let result = self.inner.create(obj).await;
        self.writes.answered(K::KIND, &key, result.as_ref().map(|_| ()), self.inner.now());
        self.remember(result)
    }
    async fn replace<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        let result = self.inner.replace(obj).await;
        self.remember(result)
    }
    async fn replace_status<K: Object>(&self, obj: Arc<K>) -> Result<Arc<K>, ClusterError> {
        let result = self.inner.replace_status(obj).await;
        self.remember(result)
    }
    async fn delete<K: Object>(
        &self,
        key: &ObjectKey,
        precondition: &Precondition,
    ) -> Result<Deletion<K>, ClusterError> {
        let result = self.inner.delete::<K>(key, precondition).await;
        match &result {
            Ok(Deletion::Pending(obj)) => self.writes.record(obj, self.inner.now()),
            Ok(Deletion::Gone) => self.writes.forget(K::KIND, key),
            Err(_) => {}
        }
        result
    }
    async fn publish(&self, event: Event) {
        self.inner.publish(event).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use k8s_openapi::api::batch::v1::Job;

    fn job(rv: &str) -> Job {
        let mut j = Job::default();
        j.metadata.name = Some("backup-x".into());
        j.metadata.namespace = Some("ns".into());
        j.metadata.resource_version = Some(rv.into());
        j
    }

    #[test]
    fn a_cache_behind_its_own_write_waits_until_it_catches_up_or_the_wait_ends() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let w = OwnWrites::new(t0);
        let key = ObjectKey::new("ns", "backup-x");
        assert_eq!(w.awaiting::<Job>(key.borrowed(), None, t0), None, "nothing written");
        w.record(&job("65"), t0);
        let until = t0 + chrono::Duration::seconds(30);
        assert_eq!(w.awaiting::<Job>(key.borrowed(), None, t0), Some(until), "written, not yet seen");
        assert_eq!(w.awaiting(key.borrowed(), Some(&job("64")), t0), Some(until), "an older version is not enough");
        assert_eq!(w.awaiting(key.borrowed(), Some(&job("70")), t0), None, "caught up");
        assert_eq!(w.awaiting::<Job>(key.borrowed(), None, t0), None, "and forgotten");
        w.record(&job("80"), t0);
        assert_eq!(w.awaiting::<Job>(key.borrowed(), None, until), None, "the wait is bounded");
    }

    /// The proof the backup controller starts a first Job on: memory began before the birth, still reaches back to
    /// it, and holds no create of the name since.
    #[test]
    fn no_create_since_is_proven_only_while_memory_reaches_back_that_far() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let s = |n: i64| t0 + chrono::Duration::seconds(n);
        let w = OwnWrites::new(t0);
        let key = ObjectKey::new("ns", "backup-x");
        assert!(w.sent_no_create_since(Kind::Job, key.borrowed(), s(1), s(2)), "born after the start, nothing sent");
        assert!(!w.sent_no_create_since(Kind::Job, key.borrowed(), t0, s(2)), "born when memory began: cannot tell");
        assert!(!w.sent_no_create_since(Kind::Job, key.borrowed(), s(1), s(31)), "born longer ago than memory reaches");
        w.sending_create(Kind::Job, &key, s(3));
        assert!(!w.sent_no_create_since(Kind::Job, key.borrowed(), s(1), s(4)), "a create was sent since");
        assert!(
            w.sent_no_create_since(Kind::Job, key.borrowed(), s(5), s(6)),
            "an earlier object of that name does not count"
        );
        assert!(w.sent_no_create_since(Kind::Pod, key.borrowed(), s(1), s(4)), "another kind");
    }

    #[test]
    fn opaque_resource_versions_are_not_remembered() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let w = OwnWrites::new(t0);
        w.record(&job("abc"), t0);
        assert_eq!(w.awaiting::<Job>(KeyRef::new("ns", "backup-x"), None, t0), None);
    }

    #[test]
    fn a_refused_create_is_not_sent_again_before_its_backoff_which_doubles_and_a_success_ends() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let w = OwnWrites::new(t0);
        let key = ObjectKey::new("ns", "demo-tick");
        let quota = ClusterError::Forbidden {
            verb: super::super::Verb::Create,
            kind: Kind::Backup,
            key: key.clone(),
            message: "exceeded quota".into(),
        };
        let at = |s: i64| t0 + chrono::Duration::seconds(s);
        w.answered(Kind::Backup, &key, Err(&quota), t0);
        assert_eq!(w.refused(Kind::Backup, &key, at(9)), Some(quota.clone()), "within 10 s: the remembered answer");
        assert_eq!(w.refused(Kind::Backup, &key, at(10)), None, "sent again after 10 s");
        assert_eq!(w.refused(Kind::Job, &key, at(1)), None, "per kind and object");
        w.answered(Kind::Backup, &key, Err(&quota), at(10));
        assert!(w.refused(Kind::Backup, &key, at(29)).is_some(), "the second refusal waits 20 s");
        assert!(w.refused(Kind::Backup, &key, at(30)).is_none());
        for i in 0..20 {
            w.answered(Kind::Backup, &key, Err(&quota), at(100 + i));
        }
        assert!(w.refused(Kind::Backup, &key, at(119 + 299)).is_some(), "capped at five minutes");
        assert!(w.refused(Kind::Backup, &key, at(119 + 300)).is_none());
        w.answered(Kind::Backup, &key, Ok(()), at(500));
        assert!(w.refused(Kind::Backup, &key, at(500)).is_none(), "a success ends the backoff");
        let timeout = ClusterError::Transient {
            verb: super::super::Verb::Create,
            kind: Kind::Backup,
            key: key.clone(),
            message: "timeout".into(),
        };
        w.answered(Kind::Backup, &key, Err(&timeout), at(600));
        assert!(w.refused(Kind::Backup, &key, at(600)).is_none(), "a timeout is not a refusal");
    }
}

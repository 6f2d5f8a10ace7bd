//! The controllers' error policy: per-object exponential backoff after failed reconciles, reset by a success.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::cluster::ObjectKey;

/// Failure counts kept at most for this many objects; beyond it the table starts over (a bound on memory when
/// objects that failed are deleted before they succeed).
const MAX_TRACKED: usize = 4096;

/// The delay before retrying after `failures` consecutive failures (1-based): `base`, doubling, capped at `max`.
pub fn backoff_delay(failures: u32, base: Duration, max: Duration) -> Duration {
    let exponent = failures.saturating_sub(1).min(31);
    base.checked_mul(1u32 << exponent).unwrap_or(max).min(max)
}

/// Consecutive failures per object of one controller.
#[derive(Debug)]
pub struct ErrorBackoff {
    base: Duration,
    max: Duration,
    failures: Mutex<HashMap<ObjectKey, u32>>,
}

impl ErrorBackoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        ErrorBackoff { base, max, failures: Mutex::default() }
    }

    /// Records a failure of `key` and returns how long to wait before retrying it.
    pub fn failed(&self, key: &ObjectKey) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_TRACKED && !failures.contains_key(key) {
            failures.clear();
        }
        let n = failures.entry(key.clone()).or_insert(0);
        *n = n.saturating_add(1);
        backoff_delay(*n, self.base, self.max)
    }

    /// Forgets the failures of `key` after it reconciled successfully.
    pub fn succeeded(&self, key: &ObjectKey) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

impl Default for ErrorBackoff {
    /// 5s doubling up to 5m.
    fn default() -> Self {
        ErrorBackoff::new(Duration::from_secs(5), Duration::from_secs(300))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn delays_double_from_the_base_and_stop_at_the_cap() {
        let delays: Vec<_> = (1..=8).map(|n| backoff_delay(n, S(5), S(300)).as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(backoff_delay(0, S(5), S(300)), S(5));
        assert_eq!(backoff_delay(u32::MAX, S(5), S(300)), S(300));
    }

    #[test]
    fn a_success_resets_the_backoff_of_that_object_only() {
        let b = ErrorBackoff::default();
        let (x, y) = (ObjectKey::new("ns", "x"), ObjectKey::new("ns", "y"));
        assert_eq!(b.failed(&x), S(5));
        assert_eq!(b.failed(&x), S(10));
        assert_eq!(b.failed(&y), S(5));
        b.succeeded(&x);
        assert_eq!(b.failed(&x), S(5));
        assert_eq!(b.failed(&y), S(10));
    }
}

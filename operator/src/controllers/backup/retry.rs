//! When a failed backup attempt is retried, per `backoffRetryPolicy` (exponential from `minRetryDuration`).

use chrono::{DateTime, Utc};

use crate::api::backup::{BackoffRetryRecord, RetryPolicy};
use crate::api::time::opt_from_k8s;

/// The time the next attempt may start after a failure detected at `now`, or `None` when retries are exhausted
/// (`maxRetryTimes` reached, or `retryTimeout` passed since the first failure).
pub fn retry_at(policy: RetryPolicy, records: &[BackoffRetryRecord], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let done = records.len() as u32;
    if done >= policy.max_retries {
        return None;
    }
    let first_failure = records.first().and_then(|r| opt_from_k8s(r.detect_failed_at.as_ref())).unwrap_or(now);
    let timeout = chrono::Duration::from_std(policy.retry_timeout).unwrap_or(chrono::Duration::MAX);
    if now - first_failure >= timeout {
        return None;
    }
    let factor = 1u32.checked_shl(done).unwrap_or(u32::MAX);
    let delay = policy.min_retry.checked_mul(factor).unwrap_or(policy.retry_timeout);
    Some(now + chrono::Duration::from_std(delay).unwrap_or(timeout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::time::to_k8s;
    use chrono::TimeZone;
    use std::time::Duration;

    fn at(m: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(m)
    }

    fn record(n: i32, m: i64) -> BackoffRetryRecord {
        BackoffRetryRecord { retry_num: n, detect_failed_at: Some(to_k8s(at(m))), ..Default::default() }
    }

    #[test]
    fn retries_double_until_the_count_is_exhausted() {
        let p = RetryPolicy {
            min_retry: Duration::from_secs(300),
            max_retries: 3,
            retry_timeout: Duration::from_secs(7200),
        };
        assert_eq!(retry_at(p, &[], at(0)), Some(at(5)));
        assert_eq!(retry_at(p, &[record(1, 0)], at(10)), Some(at(20)));
        assert_eq!(retry_at(p, &[record(1, 0), record(2, 10)], at(30)), Some(at(50)));
        assert_eq!(retry_at(p, &[record(1, 0), record(2, 10), record(3, 30)], at(60)), None);
    }

    #[test]
    fn no_retry_after_the_timeout() {
        let p = RetryPolicy {
            min_retry: Duration::from_secs(60),
            max_retries: 10,
            retry_timeout: Duration::from_secs(1800),
        };
        assert_eq!(retry_at(p, &[record(1, 0)], at(30)), None);
        assert!(retry_at(p, &[record(1, 0)], at(29)).is_some());
    }

    #[test]
    fn zero_retries_means_fail_at_once() {
        let p = RetryPolicy { max_retries: 0, ..RetryPolicy::DEFAULT };
        assert_eq!(retry_at(p, &[], at(0)), None);
    }
}

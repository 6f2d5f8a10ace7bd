//! The storage seam for `clean`: delete exactly one backup's objects, never anything outside its prefix.

use crate::api::storage::StorageLocation;

/// Why a clean failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("permission denied on {url}: {reason}")]
    Denied { url: String, reason: String },
    #[error("refusing to clean {url}: {reason}")]
    Refused { url: String, reason: String },
}

/// Object storage as `clean` needs it.
#[allow(async_fn_in_trait)]
pub trait BackupStore {
    /// Deletes every object under `location` (the prefix and everything below it, not its neighbours: `demo` never
    /// touches `demo-1`). Idempotent: an empty or missing prefix is success. Returns how many objects were deleted.
    async fn delete_prefix(&self, location: &StorageLocation) -> Result<u64, StoreError>;
}

/// Refuses locations that would delete a whole bucket or container, or whose prefix could leave itself
/// (`..`, `.`, empty segments, control characters).
pub fn check_cleanable(location: &StorageLocation) -> Result<(), StoreError> {
    let refuse = |reason: &str| Err(StoreError::Refused { url: location.url(), reason: reason.into() });
    let prefix = location.prefix.trim_matches('/');
    if prefix.is_empty() {
        return refuse("the backup has no prefix; cleaning would delete the whole bucket");
    }
    if prefix.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return refuse("the prefix has an empty, `.` or `..` segment");
    }
    if prefix.chars().any(char::is_control) {
        return refuse("the prefix has a control character");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::storage::ProviderKind;

    fn loc(prefix: &str) -> StorageLocation {
        StorageLocation { kind: ProviderKind::Local, root: "/nfs".into(), prefix: prefix.into() }
    }

    #[test]
    fn prefixes_that_could_leave_themselves_are_refused() {
        for bad in ["", "/", "a/../b", "..", "a//b", "./a", "a\nb"] {
            assert!(check_cleanable(&loc(bad)).is_err(), "{bad:?}");
        }
        for good in ["demo", "team/demo-2026-01-01t00-10-00", "a.b/..c"] {
            assert!(check_cleanable(&loc(good)).is_ok(), "{good:?}");
        }
    }
}

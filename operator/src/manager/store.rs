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

/// Refuses locations that would delete a whole bucket or container.
pub fn check_cleanable(location: &StorageLocation) -> Result<(), StoreError> {
    if location.prefix.trim_matches('/').is_empty() {
        return Err(StoreError::Refused {
            url: location.url(),
            reason: "the backup has no prefix; cleaning would delete the whole bucket".into(),
        });
    }
    Ok(())
}

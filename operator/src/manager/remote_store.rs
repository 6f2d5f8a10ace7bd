//! `RemoteStore`: the [`BackupStore`] of the real `clean`, over the `object_store` crate (S3 and S3-compatible
//! stores, GCS, Azure Blob Storage, a mounted volume). It lists the backup's prefix, deletes what it found in
//! batches with retries and backoff, and repeats until the prefix is empty. Every key is checked against the
//! prefix before it is deleted: nothing outside it is ever touched, whatever the store lists.

use std::sync::{Arc, Once};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt, stream};
use object_store::aws::AmazonS3Builder;
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ObjectStore, RetryConfig};
use tracing::{info, warn};

use crate::api::storage::{ProviderKind, StorageLocation, StorageProvider};

use super::credentials::{
    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY,
    AZURE_STORAGE_SAS_TOKEN, Credentials, GCS_SERVICE_ACCOUNT_JSON_KEY,
};
use super::redact::Redactor;
use super::store::{BackupStore, StoreError};

/// How `clean` paces itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CleanOptions {
    /// Keys per delete request (S3 deletes up to 1000 per request).
    pub batch: usize,
    /// Attempts per list or delete before giving up.
    pub attempts: u32,
    /// The first retry waits this long; each further one twice as long, up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// List-and-delete rounds before giving up on a prefix that keeps refilling.
    pub rounds: u32,
}

impl Default for CleanOptions {
    fn default() -> Self {
        CleanOptions {
            batch: 1000,
            attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            rounds: 5,
        }
    }
}

/// The wait before retry number `attempt` (1 for the first retry): `base * 2^(attempt-1)`, at most `max`.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    base.checked_mul(factor).unwrap_or(max).min(max)
}

/// The listed keys split into those inside `location` (to delete) and those outside (never touched).
pub fn partition_keys(location: &StorageLocation, keys: Vec<String>) -> (Vec<String>, Vec<String>) {
    keys.into_iter().partition(|k| location.contains(k))
}

/// What a failed store call means for `clean`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    /// The object is already gone: done.
    Gone,
    /// Credentials are missing or refused: retrying will not help.
    Denied,
    /// The key cannot be used as a path: refuse.
    Invalid,
    /// The store answered with a client error (no such bucket, bad request): retrying will not help.
    Permanent,
    /// Anything else: retry.
    Transient,
}

/// The HTTP status inside a store error, when the request got an answer. Listing errors arrive as `Generic`
/// with the status only in their text, so the cause chain is read.
fn http_status(e: &object_store::Error) -> Option<u16> {
    static STATUS: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"status code: (\d{3})").expect("the status pattern is valid"));
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        if let Some(c) = STATUS.captures(&err.to_string()) {
            return c[1].parse().ok();
        }
        cur = err.source();
    }
    None
}

fn classify(e: &object_store::Error) -> Failure {
    match e {
        object_store::Error::NotFound { .. } => Failure::Gone,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => Failure::Denied,
        object_store::Error::InvalidPath { .. } => Failure::Invalid,
        _ => match http_status(e) {
            Some(401 | 403) => Failure::Denied,
            Some(408 | 429) => Failure::Transient,
            Some(400..=499) => Failure::Permanent,
            _ => Failure::Transient,
        },
    }
}

/// rustls in this process has only the ring provider; reqwest (under object_store) asks for the process default.
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only if another provider was installed first, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Deletes exactly `location`'s objects from storage reached with `credentials`.
#[derive(Debug)]
pub struct RemoteStore {
    storage: StorageProvider,
    credentials: Credentials,
    redactor: Redactor,
    options: CleanOptions,
}

impl RemoteStore {
    /// A store for the provider of one Backup (its endpoint, region and account come from the spec).
    pub fn new(storage: StorageProvider, credentials: Credentials) -> Self {
        install_crypto_provider();
        let redactor = Redactor::new(credentials.secret_values());
        RemoteStore { storage, credentials, redactor, options: CleanOptions::default() }
    }

    pub fn with_options(mut self, options: CleanOptions) -> Self {
        self.options = options;
        self
    }

    fn error(&self, location: &StorageLocation, e: &object_store::Error) -> StoreError {
        let url = location.url();
        let reason = self.redactor.redact(&e.to_string());
        match classify(e) {
            Failure::Denied => StoreError::Denied { url, reason },
            Failure::Invalid => StoreError::Refused { url, reason },
            Failure::Gone | Failure::Permanent | Failure::Transient => StoreError::Unreachable { url, reason },
        }
    }

    fn retry_config(&self) -> RetryConfig {
        RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(10),
                base: 2.0,
            },
            max_retries: 3,
            retry_timeout: Duration::from_secs(120),
        }
    }

    /// Opens the bucket, container or mount of `location`.
    pub fn open(&self, location: &StorageLocation) -> Result<Arc<dyn ObjectStore>, StoreError> {
        let invalid = |reason: String| StoreError::Refused { url: location.url(), reason };
        let built = match location.kind {
            ProviderKind::S3 => {
                let s3 = self.storage.s3.clone().unwrap_or_default();
                let mut b = match self.credentials.get(AWS_ACCESS_KEY_ID) {
                    Some(id) => {
                        let mut b = AmazonS3Builder::new()
                            .with_access_key_id(id)
                            .with_secret_access_key(self.credentials.get(AWS_SECRET_ACCESS_KEY).unwrap_or_default());
                        if let Some(token) = self.credentials.get(AWS_SESSION_TOKEN) {
                            b = b.with_token(token);
                        }
                        b
                    }
                    // No keys: the pod's IAM role (web identity or instance metadata), as br would use.
                    None => AmazonS3Builder::from_env(),
                };
                b = b
                    .with_bucket_name(&location.root)
                    .with_region(s3.region.as_deref().filter(|r| !r.is_empty()).unwrap_or("us-east-1"))
                    .with_retry(self.retry_config());
                match s3.endpoint.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
                    Some(endpoint) => {
                        b = b
                            .with_endpoint(endpoint)
                            .with_allow_http(endpoint.starts_with("http://"))
                            .with_virtual_hosted_style_request(false);
                    }
                    None => b = b.with_virtual_hosted_style_request(s3.provider == "aws"),
                }
                b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
            }
            ProviderKind::Gcs => {
                let b = match self.credentials.get(GCS_SERVICE_ACCOUNT_JSON_KEY) {
                    Some(key) => GoogleCloudStorageBuilder::new().with_service_account_key(key),
                    // No key: workload identity or the node's service account.
                    None => GoogleCloudStorageBuilder::from_env(),
                };
                b.with_bucket_name(&location.root)
                    .with_retry(self.retry_config())
                    .build()
                    .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
            }
            ProviderKind::Azblob => {
                let az = self.storage.azblob.clone().unwrap_or_default();
                let account = self
                    .credentials
                    .get(AZURE_STORAGE_ACCOUNT)
                    .map(str::to_string)
                    .or(az.storage_account.filter(|a| !a.is_empty()))
                    .ok_or_else(|| {
                        invalid(
                            "no storage account: set azblob.storageAccount or AZURE_STORAGE_ACCOUNT in the Secret"
                                .into(),
                        )
                    })?;
                let mut b = MicrosoftAzureBuilder::from_env().with_account(account).with_container_name(&location.root);
                if let Some(key) = self.credentials.get(AZURE_STORAGE_KEY) {
                    b = b.with_access_key(key);
                } else if let Some(sas) = self.credentials.get(AZURE_STORAGE_SAS_TOKEN) {
                    b = b.with_config(AzureConfigKey::SasKey, sas.trim_start_matches('?'));
                }
                b.with_retry(self.retry_config()).build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
            }
            ProviderKind::Local => {
                let root = std::path::Path::new(&location.root);
                if !root.is_dir() {
                    return Err(StoreError::Unreachable {
                        url: location.url(),
                        reason: format!("the volume is not mounted at {}", location.root),
                    });
                }
                LocalFileSystem::new_with_prefix(root)
                    .map(|s| Arc::new(s.with_automatic_cleanup(true)) as Arc<dyn ObjectStore>)
            }
        };
        built.map_err(|e| self.error(location, &e))
    }
}

impl BackupStore for RemoteStore {
    async fn delete_prefix(&self, location: &StorageLocation) -> Result<u64, StoreError> {
        if self.storage.location().as_ref() != Some(location) {
            return Err(StoreError::Refused {
                url: location.url(),
                reason: "the location is not the one of the Backup this store was opened for".into(),
            });
        }
        let store = self.open(location)?;
        delete_under(store.as_ref(), location, &self.options, &self.redactor).await
    }
}

/// The prefix as an object path; `..`, `.` and empty segments are refused (they could leave the prefix).
fn prefix_path(location: &StorageLocation) -> Result<ObjectPath, StoreError> {
    ObjectPath::parse(&location.prefix).map_err(|e| StoreError::Refused {
        url: location.url(),
        reason: format!("the prefix is not a clean path: {e}"),
    })
}

/// Runs `op` up to `options.attempts` times, waiting between attempts; gone counts as success.
async fn with_retries<T, F, Fut>(
    options: &CleanOptions,
    what: &str,
    mut op: F,
) -> Result<Option<T>, (object_store::Error, Failure)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = object_store::Result<T>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match op().await {
            Ok(v) => return Ok(Some(v)),
            Err(e) => match classify(&e) {
                Failure::Gone => return Ok(None),
                Failure::Transient if attempt < options.attempts => {
                    let wait = backoff(attempt, options.base_delay, options.max_delay);
                    warn!(attempt, ?wait, error = %e, "{what} failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                other => return Err((e, other)),
            },
        }
    }
}

/// Deletes every object under `location` in `store`, in batches; returns how many it deleted. Idempotent: an
/// empty or missing prefix is success. Keys outside the prefix are never deleted, even if the store lists them.
pub async fn delete_under(
    store: &dyn ObjectStore,
    location: &StorageLocation,
    options: &CleanOptions,
    redactor: &Redactor,
) -> Result<u64, StoreError> {
    super::store::check_cleanable(location)?;
    let prefix = prefix_path(location)?;
    let url = location.url();
    let fail = |e: object_store::Error, f: Failure| {
        let reason = redactor.redact(&e.to_string());
        match f {
            Failure::Denied => StoreError::Denied { url: url.clone(), reason },
            Failure::Invalid => StoreError::Refused { url: url.clone(), reason },
            Failure::Gone | Failure::Permanent | Failure::Transient => {
                StoreError::Unreachable { url: url.clone(), reason }
            }
        }
    };
    let mut deleted = 0u64;
    for round in 1..=options.rounds.max(1) {
        let listed = with_retries(options, "listing", || {
            store.list(Some(&prefix)).map_ok(|m| m.location.to_string()).try_collect::<Vec<_>>()
        })
        .await
        .map_err(|(e, f)| fail(e, f))?
        .unwrap_or_default();
        let (doomed, outside) = partition_keys(location, listed);
        if !outside.is_empty() {
            warn!(count = outside.len(), first = %outside[0], "the store listed keys outside {url}; they are left alone");
        }
        if doomed.is_empty() {
            info!(%url, deleted, rounds = round, "the backup's prefix is empty");
            return Ok(deleted);
        }
        for batch in doomed.chunks(options.batch.max(1)) {
            deleted += delete_batch(store, batch, options).await.map_err(|(e, f)| fail(e, f))?;
        }
        info!(%url, deleted, round, "deleted a round of objects");
    }
    Err(StoreError::Unreachable {
        url: url.clone(),
        reason: format!("objects keep appearing under the prefix after {} rounds of deletes", options.rounds),
    })
}

/// Deletes one batch, retrying the keys whose delete failed transiently; returns how many were deleted.
async fn delete_batch(
    store: &dyn ObjectStore,
    batch: &[String],
    options: &CleanOptions,
) -> Result<u64, (object_store::Error, Failure)> {
    let mut pending: Vec<String> = batch.to_vec();
    let mut deleted = 0u64;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let paths: Vec<object_store::Result<ObjectPath>> =
            pending.iter().map(|k| ObjectPath::parse(k).map_err(Into::into)).collect();
        let results: Vec<object_store::Result<ObjectPath>> =
            store.delete_stream(stream::iter(paths).boxed()).collect().await;
        let mut retry = Vec::new();
        let mut last_error = None;
        for (key, result) in pending.iter().zip(results.into_iter().chain(std::iter::repeat_with(|| {
            Err(object_store::Error::Generic { store: "clean", source: "the store returned no result".into() })
        }))) {
            match result {
                Ok(_) => deleted += 1,
                Err(e) => match classify(&e) {
                    Failure::Gone => {}
                    Failure::Transient => {
                        retry.push(key.clone());
                        last_error = Some(e);
                    }
                    f => return Err((e, f)),
                },
            }
        }
        let Some(e) = last_error else { return Ok(deleted) };
        if attempt >= options.attempts {
            return Err((e, Failure::Transient));
        }
        let wait = backoff(attempt, options.base_delay, options.max_delay);
        warn!(attempt, ?wait, keys = retry.len(), error = %e, "deleting failed; retrying");
        tokio::time::sleep(wait).await;
        pending = retry;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let (b, m) = (Duration::from_secs(1), Duration::from_secs(5));
        let waits: Vec<u64> = (1..=5).map(|a| backoff(a, b, m).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
        assert_eq!(backoff(200, b, m), m);
    }

    #[test]
    fn only_keys_inside_the_prefix_are_deleted() {
        let loc = StorageLocation { kind: ProviderKind::S3, root: "b".into(), prefix: "demo".into() };
        let keys = ["demo/backupmeta", "demo-1/backupmeta", "demo/x/1.sst", "demox", "dem", "other/demo/x"];
        let (doomed, outside) = partition_keys(&loc, keys.iter().map(|s| s.to_string()).collect());
        assert_eq!(doomed, ["demo/backupmeta", "demo/x/1.sst"]);
        assert_eq!(outside, ["demo-1/backupmeta", "demox", "dem", "other/demo/x"]);
    }

    #[test]
    fn http_answers_decide_whether_a_failure_is_retried() {
        let generic = |status: &str| object_store::Error::Generic {
            store: "S3",
            source: format!("Error performing list request: Server returned non-2xx status code: {status}").into(),
        };
        assert_eq!(classify(&generic("403 Forbidden")), Failure::Denied);
        assert_eq!(classify(&generic("404 Not Found")), Failure::Permanent);
        assert_eq!(classify(&generic("503 Service Unavailable")), Failure::Transient);
        assert_eq!(classify(&generic("429 Too Many Requests")), Failure::Transient);
        let reset = object_store::Error::Generic { store: "S3", source: "connection reset by peer".into() };
        assert_eq!(classify(&reset), Failure::Transient);
    }
}

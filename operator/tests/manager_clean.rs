//! `clean` for real: `RemoteStore` over a local filesystem and over an S3 API served in-process on loopback
//! (s3s with its filesystem backend), a fault-injecting store for retries, batching and a lying listing, and the
//! status it reports. The claim throughout: exactly the backup's prefix is deleted, never a neighbour.

mod support;

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, ObjectStoreExt,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use operator::api::storage::{LocalStorageProvider, ProviderKind, S3StorageProvider, StorageLocation, StorageProvider};
use operator::api::{Backup, BackupPhase};
use operator::cluster::ObjectKey;
use operator::manager::credentials::{AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, Credentials};
use operator::manager::redact::Redactor;
use operator::manager::remote_store::{CleanOptions, RemoteStore, delete_under};
use operator::manager::store::{BackupStore, StoreError};
use support::builders::{BackupBuilder, t};
use support::fake::FakeCluster;

/// Objects of the backup `demo` and of its neighbours, as object keys.
const INSIDE: [&str; 3] = ["demo/backupmeta", "demo/1.sst", "demo/sub/2.sst"];
const NEIGHBOURS: [&str; 5] = ["demo-1/backupmeta", "demo-1/1.sst", "demo.txt", "demox/a", "other/demo/x"];

fn local(root: &Path, prefix: &str) -> StorageProvider {
    let local: LocalStorageProvider = serde_json::from_value(serde_json::json!({
        "prefix": prefix,
        "volume": {"name": "nfs", "emptyDir": {}},
        "volumeMount": {"name": "nfs", "mountPath": root.display().to_string()}
    }))
    .unwrap();
    StorageProvider { local: Some(Box::new(local)), ..Default::default() }
}

fn write_files(root: &Path, keys: &[&str]) {
    for k in keys {
        let p = root.join(k);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, k).unwrap();
    }
}

/// Every file under `root`, as sorted keys.
fn files(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, root, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn sorted(keys: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn quick() -> CleanOptions {
    CleanOptions {
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        ..CleanOptions::default()
    }
}

#[tokio::test]
async fn clean_never_deletes_a_neighbouring_prefix() {
    let root = tempfile::tempdir().unwrap();
    write_files(root.path(), &INSIDE);
    write_files(root.path(), &NEIGHBOURS);
    let storage = local(root.path(), "demo");
    let store = RemoteStore::new(storage.clone(), Credentials::default());
    let deleted = store.delete_prefix(&storage.location().unwrap()).await.unwrap();
    assert_eq!(deleted, 3);
    assert_eq!(files(root.path()), sorted(&NEIGHBOURS));
    assert!(!root.path().join("demo").exists(), "the emptied directory is removed too");
}

#[tokio::test]
async fn clean_is_idempotent_and_an_absent_prefix_is_already_clean() {
    let root = tempfile::tempdir().unwrap();
    write_files(root.path(), &INSIDE);
    let storage = local(root.path(), "demo");
    let store = RemoteStore::new(storage.clone(), Credentials::default());
    let loc = storage.location().unwrap();
    assert_eq!(store.delete_prefix(&loc).await.unwrap(), 3);
    assert_eq!(store.delete_prefix(&loc).await.unwrap(), 0);
    let never = local(root.path(), "never-written");
    assert_eq!(
        RemoteStore::new(never.clone(), Credentials::default()).delete_prefix(&never.location().unwrap()).await,
        Ok(0)
    );
}

#[tokio::test]
async fn prefixes_that_could_leave_themselves_are_refused_and_nothing_is_deleted() {
    let root = tempfile::tempdir().unwrap();
    write_files(root.path(), &NEIGHBOURS);
    for prefix in ["", "demo/../demo-1", "./demo-1"] {
        let storage = local(root.path(), prefix);
        let store = RemoteStore::new(storage.clone(), Credentials::default());
        let result = store.delete_prefix(&storage.location().unwrap()).await;
        assert!(matches!(result, Err(StoreError::Refused { .. })), "{prefix:?}: {result:?}");
    }
    assert_eq!(files(root.path()), sorted(&NEIGHBOURS));
}

#[tokio::test]
async fn a_store_only_cleans_the_location_of_its_own_backup() {
    let root = tempfile::tempdir().unwrap();
    write_files(root.path(), &NEIGHBOURS);
    let store = RemoteStore::new(local(root.path(), "demo"), Credentials::default());
    let other = local(root.path(), "demo-1").location().unwrap();
    assert!(matches!(store.delete_prefix(&other).await, Err(StoreError::Refused { .. })));
    assert_eq!(files(root.path()), sorted(&NEIGHBOURS));
}

#[tokio::test]
async fn an_unmounted_volume_is_reported_unreachable() {
    let storage = local(Path::new("/nonexistent/backup-volume"), "demo");
    let err = RemoteStore::new(storage.clone(), Credentials::default())
        .delete_prefix(&storage.location().unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot reach local:///nonexistent/backup-volume/demo: the volume is not mounted at /nonexistent/backup-volume"
    );
}

/// An in-memory store that fails, lists extra keys or records batch sizes, as a test asks.
#[derive(Debug, Default)]
struct Faulty {
    inner: Arc<InMemory>,
    /// Deletes that fail transiently before any succeeds.
    fail_deletes: Arc<AtomicU32>,
    /// Deletes are refused.
    deny: bool,
    /// Deletes report success but delete nothing (a prefix that keeps refilling).
    ignore_deletes: bool,
    /// Keys the listing returns whatever the prefix (a lying store).
    extra_listed: Vec<String>,
    batches: Arc<Mutex<Vec<usize>>>,
}

impl fmt::Display for Faulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Faulty")
    }
}

#[async_trait]
impl ObjectStore for Faulty {
    async fn put_opts(&self, l: &ObjectPath, p: PutPayload, o: PutOptions) -> object_store::Result<PutResult> {
        self.inner.put_opts(l, p, o).await
    }
    async fn put_multipart_opts(
        &self,
        l: &ObjectPath,
        o: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(l, o).await
    }
    async fn get_opts(&self, l: &ObjectPath, o: GetOptions) -> object_store::Result<GetResult> {
        self.inner.get_opts(l, o).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
        let (inner, failures, deny, ignore) =
            (self.inner.clone(), self.fail_deletes.clone(), self.deny, self.ignore_deletes);
        let batches = self.batches.clone();
        let batch = {
            let mut b = batches.lock().unwrap();
            b.push(0);
            b.len() - 1
        };
        locations
            .then(move |location| {
                let (inner, failures, batches) = (inner.clone(), failures.clone(), batches.clone());
                async move {
                    let location = location?;
                    batches.lock().unwrap()[batch] += 1;
                    if deny {
                        return Err(object_store::Error::PermissionDenied {
                            path: location.to_string(),
                            source: "denied".into(),
                        });
                    }
                    if failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
                        return Err(object_store::Error::Generic {
                            store: "Faulty",
                            source: "connection reset".into(),
                        });
                    }
                    if !ignore {
                        inner.delete(&location).await?;
                    }
                    Ok(location)
                }
            })
            .boxed()
    }
    fn list(&self, prefix: Option<&ObjectPath>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let extra: Vec<object_store::Result<ObjectMeta>> = self
            .extra_listed
            .iter()
            .map(|k| {
                Ok(ObjectMeta {
                    location: ObjectPath::from(k.as_str()),
                    last_modified: Default::default(),
                    size: 1,
                    e_tag: None,
                    version: None,
                })
            })
            .collect();
        self.inner.list(prefix).chain(stream::iter(extra)).boxed()
    }
    async fn list_with_delimiter(&self, prefix: Option<&ObjectPath>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(&self, from: &ObjectPath, to: &ObjectPath, o: CopyOptions) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, o).await
    }
}

async fn put_all(store: &dyn ObjectStore, keys: &[&str]) {
    for k in keys {
        store.put(&ObjectPath::from(*k), PutPayload::from_static(b"x")).await.unwrap();
    }
}

async fn keys(store: &dyn ObjectStore) -> Vec<String> {
    let mut v: Vec<String> = store.list(None).map_ok(|m| m.location.to_string()).try_collect().await.unwrap();
    v.sort();
    v
}

fn s3_loc(prefix: &str) -> StorageLocation {
    StorageLocation { kind: ProviderKind::S3, root: "backup".into(), prefix: prefix.into() }
}

#[tokio::test]
async fn transient_delete_failures_are_retried_with_backoff() {
    let store = Faulty { fail_deletes: Arc::new(AtomicU32::new(2)), ..Default::default() };
    put_all(&store, &INSIDE).await;
    put_all(&store, &NEIGHBOURS).await;
    let deleted = delete_under(&store, &s3_loc("demo"), &quick(), &Redactor::default()).await.unwrap();
    assert_eq!(deleted, 3);
    assert_eq!(keys(&store).await, sorted(&NEIGHBOURS));
}

#[tokio::test]
async fn persistent_failures_give_up_after_the_attempts() {
    let store = Faulty { fail_deletes: Arc::new(AtomicU32::new(u32::MAX)), ..Default::default() };
    put_all(&store, &INSIDE).await;
    let options = CleanOptions { attempts: 3, ..quick() };
    let err = delete_under(&store, &s3_loc("demo"), &options, &Redactor::default()).await.unwrap_err();
    assert!(matches!(&err, StoreError::Unreachable { reason, .. } if reason.contains("connection reset")), "{err}");
    assert_eq!(store.batches.lock().unwrap().len(), 3, "one delete call per attempt");
}

#[tokio::test]
async fn refused_deletes_fail_at_once_as_denied() {
    let store = Faulty { deny: true, ..Default::default() };
    put_all(&store, &INSIDE).await;
    let err = delete_under(&store, &s3_loc("demo"), &quick(), &Redactor::default()).await.unwrap_err();
    assert!(matches!(err, StoreError::Denied { .. }), "{err}");
    assert_eq!(store.batches.lock().unwrap().len(), 1, "no retry");
}

#[tokio::test]
async fn keys_a_store_lists_outside_the_prefix_are_never_deleted() {
    let store = Faulty { extra_listed: NEIGHBOURS.iter().map(|s| s.to_string()).collect(), ..Default::default() };
    put_all(&store, &INSIDE).await;
    put_all(&store, &NEIGHBOURS).await;
    assert_eq!(delete_under(&store, &s3_loc("demo"), &quick(), &Redactor::default()).await, Ok(3));
    assert_eq!(keys(store.inner.as_ref()).await, sorted(&NEIGHBOURS));
}

#[tokio::test]
async fn deletes_go_in_batches_of_the_configured_size() {
    let store = Faulty::default();
    let many: Vec<String> = (0..25).map(|i| format!("demo/{i:02}.sst")).collect();
    put_all(&store, &many.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let options = CleanOptions { batch: 10, ..quick() };
    assert_eq!(delete_under(&store, &s3_loc("demo"), &options, &Redactor::default()).await, Ok(25));
    assert_eq!(*store.batches.lock().unwrap(), [10, 10, 5]);
}

#[tokio::test]
async fn a_prefix_that_keeps_refilling_is_given_up_after_the_rounds() {
    let store = Faulty { ignore_deletes: true, ..Default::default() };
    put_all(&store, &INSIDE).await;
    let options = CleanOptions { rounds: 2, ..quick() };
    let err = delete_under(&store, &s3_loc("demo"), &options, &Redactor::default()).await.unwrap_err();
    assert!(err.to_string().contains("objects keep appearing under the prefix after 2 rounds"), "{err}");
}

/// An S3 API on 127.0.0.1 (s3s over a directory), and the URL it listens on.
async fn s3_server(dir: &Path, access_key: &str, secret_key: &str) -> String {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder;
    let fs = s3s_fs::FileSystem::new(dir).unwrap();
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(access_key, secret_key));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else { return };
            let service = service.clone();
            tokio::spawn(async move {
                let _ = Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(socket), service).await;
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_deletes_exactly_the_prefix_over_a_real_s3_api() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("backup")).unwrap();
    let endpoint = s3_server(dir.path(), "AKIDTEST", "s3cr3t-key").await;
    let storage = StorageProvider {
        s3: Some(Box::new(S3StorageProvider {
            provider: "minio".into(),
            region: Some("us-east-1".into()),
            endpoint: Some(endpoint.clone()),
            bucket: Some("backup".into()),
            prefix: Some("demo".into()),
            secret_name: Some("s3-secret".into()),
            ..Default::default()
        })),
        ..Default::default()
    };
    let creds = Credentials::default().with(AWS_ACCESS_KEY_ID, "AKIDTEST").with(AWS_SECRET_ACCESS_KEY, "s3cr3t-key");
    let store = RemoteStore::new(storage.clone(), creds.clone());
    let location = storage.location().unwrap();
    let bucket = store.open(&location).unwrap();
    put_all(bucket.as_ref(), &INSIDE).await;
    put_all(bucket.as_ref(), &NEIGHBOURS).await;

    assert_eq!(store.delete_prefix(&location).await, Ok(3));
    assert_eq!(keys(bucket.as_ref()).await, sorted(&NEIGHBOURS));
    assert_eq!(store.delete_prefix(&location).await, Ok(0), "a second clean finds nothing left");

    put_all(bucket.as_ref(), &INSIDE).await;
    let wrong_key = "wrong-secret-789";
    let wrong = RemoteStore::new(
        storage,
        Credentials::default().with(AWS_ACCESS_KEY_ID, "AKIDTEST").with(AWS_SECRET_ACCESS_KEY, wrong_key),
    );
    let err = wrong.delete_prefix(&location).await.unwrap_err();
    assert!(matches!(err, StoreError::Denied { .. }), "a refused signature is a permission problem: {err}");
    assert!(!err.to_string().contains(wrong_key), "{err}");
    assert_eq!(keys(bucket.as_ref()).await.len(), INSIDE.len() + NEIGHBOURS.len(), "nothing was deleted");
}

#[tokio::test]
async fn clean_reports_clean_with_the_number_of_objects_deleted() {
    let root = tempfile::tempdir().unwrap();
    write_files(root.path(), &INSIDE);
    write_files(root.path(), &NEIGHBOURS);
    let storage = local(root.path(), "demo");
    let backup: Backup = BackupBuilder::new("demo")
        .phase(BackupPhase::Cleaning)
        .finalizer()
        .deleting(t(0))
        .spec(|s| s.storage = storage.clone())
        .build();
    let cluster = FakeCluster::new(t(0));
    cluster.put(&backup);
    let key = ObjectKey::new("test1", "demo");
    let deleted =
        operator::manager::clean(&cluster, &RemoteStore::new(storage, Credentials::default()), &key).await.unwrap();
    assert_eq!(deleted, 3);
    let s = cluster.api_get::<Backup>("test1", "demo").unwrap().status.unwrap();
    assert_eq!(s.phase, Some(BackupPhase::Clean));
    let clean = operator::api::condition::find_condition(&s.conditions, "Clean").unwrap();
    assert_eq!(
        clean.message.as_deref(),
        Some(format!("deleted 3 object(s) under local://{}/demo", root.path().display()).as_str())
    );
}

#[tokio::test]
async fn a_refused_clean_reports_clean_failed_with_the_reason() {
    let root = tempfile::tempdir().unwrap();
    write_files(root.path(), &NEIGHBOURS);
    let storage = local(root.path(), "");
    let backup: Backup = BackupBuilder::new("demo")
        .phase(BackupPhase::Cleaning)
        .finalizer()
        .deleting(t(0))
        .spec(|s| s.storage = storage.clone())
        .build();
    let cluster = FakeCluster::new(t(0));
    cluster.put(&backup);
    let key = ObjectKey::new("test1", "demo");
    let err =
        operator::manager::clean(&cluster, &RemoteStore::new(storage, Credentials::default()), &key).await.unwrap_err();
    assert_eq!(err.exit_code(), 1);
    let s = cluster.api_get::<Backup>("test1", "demo").unwrap().status.unwrap();
    assert_eq!(s.phase, Some(BackupPhase::CleanFailed));
    let failed = operator::api::condition::find_condition(&s.conditions, "CleanFailed").unwrap();
    assert!(failed.message.as_deref().unwrap().contains("cleaning would delete the whole bucket"));
    assert_eq!(files(root.path()), sorted(&NEIGHBOURS));
}

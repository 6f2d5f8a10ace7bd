//! Where a backup's data lives: the `s3`, `gcs`, `azblob` and `local` providers (flattened into Backup/Restore specs).

use k8s_openapi::api::core::v1::{Volume, VolumeMount};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Exactly one provider must be set; `validation` reports none or several.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StorageProvider {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<Box<S3StorageProvider>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs: Option<Box<GcsStorageProvider>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azblob: Option<Box<AzblobStorageProvider>>,
    // Boxed: a `Volume` is 3 KiB, and every Backup, Restore and schedule template would carry it inline (and every
    // reconcile future that holds one). Not a doc comment: it would become the CRD field's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<Box<LocalStorageProvider>>,
}

/// S3 or an S3-compatible store (ceph, minio, ...).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct S3StorageProvider {
    /// `aws`, `ceph`, `minio`, ... (as TiDB Operator).
    #[serde(default)]
    pub provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Deprecated by TiDB Operator in favour of bucket + prefix; kept so old manifests apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<String>,
    /// Secret with `access_key` and `secret_key`; absent when the pod has an IAM role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    // TiDB Operator's; kept, not acted on (reported in the `Unsupported` condition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_path_style: Option<bool>,
}

/// Google Cloud Storage.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GcsStorageProvider {
    #[serde(default)]
    pub project_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_acl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_acl: Option<String>,
    /// Secret with the service account JSON under `credentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// Azure Blob Storage.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AzblobStorageProvider {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_account: Option<String>,
    /// Secret with `AZURE_STORAGE_ACCOUNT` and `AZURE_STORAGE_KEY` (or a client secret set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    // TiDB Operator's; kept, not acted on (reported in the `Unsupported` condition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sas_token: Option<String>,
}

/// A volume mounted into the Job's pod (for example an NFS persistent volume).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LocalStorageProvider {
    pub volume: Volume,
    pub volume_mount: VolumeMount,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// The provider kind, used in messages and metrics labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProviderKind {
    S3,
    Gcs,
    Azblob,
    Local,
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProviderKind::S3 => "s3",
            ProviderKind::Gcs => "gcs",
            ProviderKind::Azblob => "azblob",
            ProviderKind::Local => "local",
        })
    }
}

/// The location of one backup in its store, split so callers never concatenate paths by hand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageLocation {
    pub kind: ProviderKind,
    /// Bucket, container, or the mount path for `local`.
    pub root: String,
    /// Prefix inside the root, without leading or trailing `/` (may be empty).
    pub prefix: String,
}

impl StorageLocation {
    /// The URL br/dumpling/lightning understand: `s3://bucket/prefix`, `gcs://...`, `azure://...`, `local://...`.
    pub fn url(&self) -> String {
        let scheme = match self.kind {
            ProviderKind::S3 => "s3",
            ProviderKind::Gcs => "gcs",
            ProviderKind::Azblob => "azure",
            ProviderKind::Local => "local",
        };
        let root = self.root.trim_end_matches('/');
        if self.prefix.is_empty() { format!("{scheme}://{root}") } else { format!("{scheme}://{root}/{}", self.prefix) }
    }

    /// True when `key` (an object key relative to the root) lies inside this location's prefix: `demo/x` is
    /// inside `demo`, `demo-1/x` is not. An empty prefix contains everything under the root.
    pub fn contains(&self, key: &str) -> bool {
        self.prefix.is_empty()
            || key == self.prefix
            || key.strip_prefix(&self.prefix).is_some_and(|rest| rest.starts_with('/'))
    }
}

fn clean_prefix(p: Option<&str>) -> String {
    p.unwrap_or("").trim_matches('/').to_string()
}

/// Splits a legacy `path` (`bucket/prefix` or `s3://bucket/prefix`) into root and prefix.
fn split_path(path: &str) -> (String, String) {
    let path = path.split_once("://").map(|(_, rest)| rest).unwrap_or(path).trim_matches('/');
    match path.split_once('/') {
        Some((root, prefix)) => (root.to_string(), prefix.trim_matches('/').to_string()),
        None => (path.to_string(), String::new()),
    }
}

impl StorageProvider {
    /// The providers that are set, in a fixed order.
    pub fn kinds(&self) -> impl Iterator<Item = ProviderKind> + use<> {
        [
            (self.s3.is_some(), ProviderKind::S3),
            (self.gcs.is_some(), ProviderKind::Gcs),
            (self.azblob.is_some(), ProviderKind::Azblob),
            (self.local.is_some(), ProviderKind::Local),
        ]
        .into_iter()
        .filter_map(|(set, kind)| set.then_some(kind))
    }

    /// Whether [`location`](Self::location) finds one, without building it (validation asks at every reconcile).
    pub fn has_location(&self) -> bool {
        if let Some(s3) = &self.s3 {
            return s3.bucket.is_some() || s3.path.is_some();
        }
        if let Some(gcs) = &self.gcs {
            return gcs.bucket.is_some() || gcs.path.is_some();
        }
        if let Some(az) = &self.azblob {
            return az.container.is_some() || az.path.is_some();
        }
        self.local.is_some()
    }

    /// Where the data goes, or `None` when no provider (or no bucket) is configured.
    pub fn location(&self) -> Option<StorageLocation> {
        if let Some(s3) = &self.s3 {
            let (root, prefix) = match (&s3.bucket, &s3.path) {
                (Some(bucket), _) => (bucket.clone(), clean_prefix(s3.prefix.as_deref())),
                (None, Some(path)) => split_path(path),
                (None, None) => return None,
            };
            return Some(StorageLocation { kind: ProviderKind::S3, root, prefix });
        }
        if let Some(gcs) = &self.gcs {
            let (root, prefix) = match (&gcs.bucket, &gcs.path) {
                (Some(bucket), _) => (bucket.clone(), clean_prefix(gcs.prefix.as_deref())),
                (None, Some(path)) => split_path(path),
                (None, None) => return None,
            };
            return Some(StorageLocation { kind: ProviderKind::Gcs, root, prefix });
        }
        if let Some(az) = &self.azblob {
            let (root, prefix) = match (&az.container, &az.path) {
                (Some(container), _) => (container.clone(), clean_prefix(az.prefix.as_deref())),
                (None, Some(path)) => split_path(path),
                (None, None) => return None,
            };
            return Some(StorageLocation { kind: ProviderKind::Azblob, root, prefix });
        }
        if let Some(local) = &self.local {
            return Some(StorageLocation {
                kind: ProviderKind::Local,
                root: local.volume_mount.mount_path.clone(),
                prefix: clean_prefix(local.prefix.as_deref()),
            });
        }
        None
    }

    /// The secret that holds the store's credentials, if any.
    pub fn secret_name(&self) -> Option<&str> {
        self.s3
            .as_ref()
            .and_then(|s| s.secret_name.as_deref())
            .or_else(|| self.gcs.as_ref().and_then(|s| s.secret_name.as_deref()))
            .or_else(|| self.azblob.as_ref().and_then(|s| s.secret_name.as_deref()))
    }

    /// Appends `segment` to the prefix of whichever provider is set (used to give each scheduled Backup its own
    /// directory, as TiDB Operator does).
    pub fn push_prefix(&mut self, segment: &str) {
        let join = |p: &mut Option<String>| {
            let base = clean_prefix(p.as_deref());
            *p = Some(if base.is_empty() { segment.to_string() } else { format!("{base}/{segment}") });
        };
        if let Some(s3) = &mut self.s3 {
            join(&mut s3.prefix);
        } else if let Some(gcs) = &mut self.gcs {
            join(&mut gcs.prefix);
        } else if let Some(az) = &mut self.azblob {
            join(&mut az.prefix);
        } else if let Some(local) = &mut self.local {
            join(&mut local.prefix);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_location_answers_as_location_does_for_every_provider_and_field() {
        let opt = |set: bool, v: &str| set.then(|| v.to_string());
        for bits in 0u32..(1 << 10) {
            let on = |i: u32| bits & (1 << i) != 0;
            let p = StorageProvider {
                s3: on(0).then(|| {
                    Box::new(S3StorageProvider {
                        bucket: opt(on(1), "b"),
                        path: opt(on(2), "b/p"),
                        ..Default::default()
                    })
                }),
                gcs: on(3).then(|| {
                    Box::new(GcsStorageProvider {
                        bucket: opt(on(4), "b"),
                        path: opt(on(5), "b/p"),
                        ..Default::default()
                    })
                }),
                azblob: on(6).then(|| {
                    Box::new(AzblobStorageProvider {
                        container: opt(on(7), "c"),
                        path: opt(on(8), "c/p"),
                        ..Default::default()
                    })
                }),
                local: on(9).then(|| Box::new(LocalStorageProvider::default())),
            };
            assert_eq!(p.has_location(), p.location().is_some(), "{p:?}");
        }
    }

    fn s3(bucket: &str, prefix: &str) -> StorageProvider {
        StorageProvider {
            s3: Some(Box::new(S3StorageProvider {
                provider: "aws".into(),
                bucket: Some(bucket.into()),
                prefix: Some(prefix.into()),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[test]
    fn urls_per_provider() {
        assert_eq!(s3("backup", "/test1-demo1/").location().unwrap().url(), "s3://backup/test1-demo1");
        let gcs = StorageProvider {
            gcs: Some(Box::new(GcsStorageProvider {
                project_id: "gcp".into(),
                bucket: Some("backup".into()),
                prefix: Some("test1-demo1".into()),
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_eq!(gcs.location().unwrap().url(), "gcs://backup/test1-demo1");
        let legacy = StorageProvider {
            s3: Some(Box::new(S3StorageProvider { path: Some("s3://b/p/q".into()), ..Default::default() })),
            ..Default::default()
        };
        assert_eq!(legacy.location().unwrap().url(), "s3://b/p/q");
    }

    #[test]
    fn neighbouring_prefixes_are_not_contained() {
        let loc = s3("b", "demo").location().unwrap();
        assert!(loc.contains("demo/backupmeta"));
        assert!(loc.contains("demo"));
        assert!(!loc.contains("demo-1/backupmeta"));
        assert!(!loc.contains("dem"));
    }

    #[test]
    fn push_prefix_nests_under_the_template_prefix() {
        let mut p = s3("b", "team");
        p.push_prefix("demo-2026-01-01t00-10-00");
        assert_eq!(p.location().unwrap().prefix, "team/demo-2026-01-01t00-10-00");
    }
}

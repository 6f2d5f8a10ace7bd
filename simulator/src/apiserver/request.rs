//! An HTTP request to the simulated API server, and where it points: discovery, or a resource (collection, object,
//! status subresource) with its query.

use http::Method;
use std::collections::BTreeMap;

use super::resources::{ResourceInfo, by_path};
use super::selector::{FieldSelector, LabelSelector, SelectorError};
use super::table::{IncludeObject, requested};

/// What the served world needs of an HTTP request.
#[derive(Clone, Debug)]
pub struct ApiRequest {
    pub method: Method,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub content_type: Option<String>,
    /// The `Accept` header (kubectl asks for Tables).
    pub accept: Option<String>,
    pub body: bytes::Bytes,
}

/// A resource path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub info: &'static ResourceInfo,
    /// `None`: across all namespaces.
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub status: bool,
}

/// What a path asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Version,
    CoreVersions,
    Groups,
    GroupVersion {
        group: String,
        version: String,
    },
    Resource(Target),
    /// `/openapi/v3`, or one group version's document under it (`api/v1`, `apis/group/version`).
    OpenApiIndex,
    OpenApi {
        group: String,
        version: String,
    },
    NotFound,
}

/// Routes a path (without its query).
pub fn route(path: &str) -> Route {
    let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|p| !p.is_empty()).collect();
    let resource = |group: &str, version: &str, rest: &[&str]| -> Route {
        let (namespace, rest) = match rest {
            ["namespaces", ns, tail @ ..] if !tail.is_empty() => (Some(ns.to_string()), tail),
            other => (None, other),
        };
        let (plural, name, status) = match rest {
            [plural] => (*plural, None, false),
            [plural, name] => (*plural, Some(name.to_string()), false),
            [plural, name, "status"] => (*plural, Some(name.to_string()), true),
            _ => return Route::NotFound,
        };
        match by_path(group, version, plural) {
            Some(info) if !status || info.status => Route::Resource(Target { info, namespace, name, status }),
            _ => Route::NotFound,
        }
    };
    match parts.as_slice() {
        ["version"] => Route::Version,
        ["openapi", "v3"] => Route::OpenApiIndex,
        ["openapi", "v3", "api", version] => Route::OpenApi { group: String::new(), version: version.to_string() },
        ["openapi", "v3", "apis", group, version] => {
            Route::OpenApi { group: group.to_string(), version: version.to_string() }
        }
        ["api"] => Route::CoreVersions,
        ["apis"] => Route::Groups,
        ["api", version] => Route::GroupVersion { group: String::new(), version: version.to_string() },
        ["apis", group, version] => Route::GroupVersion { group: group.to_string(), version: version.to_string() },
        ["api", version, rest @ ..] => resource("", version, rest),
        ["apis", group, version, rest @ ..] => resource(group, version, rest),
        _ => Route::NotFound,
    }
}

/// The list and watch parameters.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub watch: bool,
    pub resource_version: Option<u64>,
    pub timeout_secs: Option<u64>,
    pub bookmarks: bool,
    /// `sendInitialEvents=true`: the current objects, then a bookmark marking their end (a streaming list).
    pub initial_events: bool,
    /// At most this many items per page (`limit`), from after `continue`.
    pub limit: Option<usize>,
    pub continue_after: Option<String>,
    /// Answer with Tables (kubectl), carrying this much of each object.
    pub table: Option<IncludeObject>,
}

impl ListQuery {
    pub fn parse(query: &BTreeMap<String, String>, accept: Option<&str>) -> Result<ListQuery, SelectorError> {
        let flag = |k: &str| query.get(k).is_some_and(|v| v == "true" || v == "1");
        Ok(ListQuery {
            labels: LabelSelector::parse(query.get("labelSelector").map(String::as_str).unwrap_or(""))?,
            fields: FieldSelector::parse(query.get("fieldSelector").map(String::as_str).unwrap_or(""))?,
            watch: flag("watch"),
            resource_version: query.get("resourceVersion").and_then(|v| v.parse().ok()).filter(|v| *v > 0),
            timeout_secs: query.get("timeoutSeconds").and_then(|v| v.parse().ok()),
            bookmarks: flag("allowWatchBookmarks"),
            initial_events: flag("sendInitialEvents"),
            limit: query.get("limit").and_then(|v| v.parse().ok()).filter(|l| *l > 0),
            continue_after: query.get("continue").filter(|c| !c.is_empty()).cloned(),
            table: requested(accept, query.get("includeObject").map(String::as_str)),
        })
    }
}

impl ListQuery {
    /// Whether the selectors select an object given as JSON (the label and field selectors; not the namespace).
    pub fn selects(&self, object: &serde_json::Value) -> bool {
        let meta = &object["metadata"];
        let labels: Option<BTreeMap<String, String>> = serde_json::from_value(meta["labels"].clone()).ok();
        self.fields.matches_json(object) && self.labels.matches(labels.as_ref())
    }
}

/// Decodes a URL query string.
pub fn parse_query(query: Option<&str>) -> BTreeMap<String, String> {
    query
        .map(|q| form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_paths_route_to_their_targets() {
        let Route::Resource(t) = route("/apis/pingcap.com/v1alpha1/namespaces/test1/backups/demo/status") else {
            panic!()
        };
        assert_eq!(
            (t.info.kind, t.namespace.as_deref(), t.name.as_deref(), t.status),
            ("Backup", Some("test1"), Some("demo"), true)
        );
        let Route::Resource(t) = route("/api/v1/pods") else { panic!() };
        assert_eq!((t.info.kind, t.namespace, t.name), ("Pod", None, None));
        let Route::Resource(t) = route("/apis/coordination.k8s.io/v1/namespaces/ops/leases/backup-operator") else {
            panic!()
        };
        assert_eq!(t.info.kind, "Lease");
        assert_eq!(
            route("/apis/pingcap.com/v1alpha1"),
            Route::GroupVersion { group: "pingcap.com".into(), version: "v1alpha1".into() }
        );
        assert_eq!(route("/apis/apps/v1/deployments"), Route::NotFound);
        assert_eq!(route("/apis/coordination.k8s.io/v1/namespaces/ops/leases/x/status"), Route::NotFound);
    }
}

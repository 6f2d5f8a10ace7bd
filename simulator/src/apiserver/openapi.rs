//! The OpenAPI v3 documents the served API publishes (`/openapi/v3` and one per group version): for every served
//! resource the operations it supports, each tagged with its group, version and kind, with the query parameters a
//! client looks for (kubectl sends `fieldValidation=Strict` to a server whose PATCH declares it, and validates on
//! the server instead of downloading schemas), and the CRD schemas of the custom resources as components.

use serde_json::{Map, Value, json};

use super::resources::{RESOURCES, Res, ResourceInfo};

/// `api/v1`, or `apis/group/version`: the key of a group version in the index.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") }
}

/// The served group versions, in discovery order, without repeats.
fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
}

/// `/openapi/v3`: where each group version's document is.
pub fn index() -> Value {
    let paths: Map<String, Value> = group_versions()
        .into_iter()
        .map(|(g, v)| {
            let path = gv_path(g, v);
            (path.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{path}")}))
        })
        .collect();
    json!({"paths": paths})
}

fn parameter(name: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}})
}

/// One operation of `r`, tagged with its kind.
fn operation(r: &ResourceInfo, action: &str, params: &[&str]) -> Value {
    json!({
        "operationId": format!("{action}{}", r.kind),
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
        "parameters": params.iter().map(|p| parameter(p)).collect::<Vec<_>>(),
        "responses": {"200": {"description": "OK"}}
    })
}

const WRITE_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation"];
const LIST_PARAMS: &[&str] =
    &["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "timeoutSeconds", "watch"];

/// The paths of one resource: its collection, its objects and, if any, their status.
fn paths_of(r: &ResourceInfo, paths: &mut Map<String, Value>) {
    let prefix = format!("/{}/namespaces/{{namespace}}/{}", gv_path(r.group, r.version), r.plural);
    paths.insert(
        prefix.clone(),
        json!({"get": operation(r, "list", LIST_PARAMS), "post": operation(r, "post", WRITE_PARAMS)}),
    );
    let object = json!({
        "get": operation(r, "get", &[]),
        "put": operation(r, "put", WRITE_PARAMS),
        "patch": operation(r, "patch", &["dryRun", "fieldManager", "fieldValidation", "force"]),
        "delete": operation(r, "delete", &["dryRun", "gracePeriodSeconds", "propagationPolicy"]),
    });
    paths.insert(format!("{prefix}/{{name}}"), object);
    if r.status {
        let status = json!({
            "get": operation(r, "get", &[]),
            "put": operation(r, "put", WRITE_PARAMS),
            "patch": operation(r, "patch", &["dryRun", "fieldManager", "fieldValidation", "force"]),
        });
        paths.insert(format!("{prefix}/{{name}}/status"), status);
    }
}

/// The schemas of the custom resources, from the CRDs the operator installs.
fn crd_schemas(group: &str, version: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for crd in operator::api::crd::crds() {
        if crd.spec.group != group {
            continue;
        }
        for v in crd.spec.versions.iter().filter(|v| v.name == version) {
            let Some(schema) = v.schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref()) else { continue };
            let Ok(mut schema) = serde_json::to_value(schema) else { continue };
            let kind = &crd.spec.names.kind;
            schema["x-kubernetes-group-version-kind"] = json!([{"group": group, "version": version, "kind": kind}]);
            let reversed: Vec<&str> = group.split('.').rev().collect();
            out.insert(format!("{}.{version}.{kind}", reversed.join(".")), schema);
        }
    }
    out
}

/// The document of `group`/`version`, if served.
pub fn document(group: &str, version: &str) -> Option<Value> {
    let mut paths = Map::new();
    for r in RESOURCES.iter().filter(|r| r.group == group && r.version == version) {
        paths_of(r, &mut paths);
    }
    if paths.is_empty() {
        return None;
    }
    let custom =
        RESOURCES.iter().any(|r| r.group == group && matches!(r.res, Res::Typed(_)) && group.ends_with("pingcap.com"));
    let schemas = if custom { crd_schemas(group, version) } else { Map::new() };
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (simulated)", "version": "unversioned"},
        "paths": paths,
        "components": {"schemas": schemas}
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_group_version_has_a_document_whose_patches_take_field_validation() {
        let index = index();
        for (g, v) in group_versions() {
            let path = gv_path(g, v);
            assert_eq!(index["paths"][&path]["serverRelativeURL"], format!("/openapi/v3/{path}"));
            let doc = document(g, v).unwrap();
            let patches: Vec<&Value> =
                doc["paths"].as_object().unwrap().values().filter_map(|p| p.get("patch")).collect();
            assert!(!patches.is_empty(), "{path}");
            for p in patches {
                assert!(p["parameters"].as_array().unwrap().iter().any(|x| x["name"] == "fieldValidation"));
                assert_eq!(p["x-kubernetes-group-version-kind"]["version"], v);
            }
        }
        assert!(document("apps", "v1").is_none());
    }

    #[test]
    fn the_custom_resources_schemas_are_their_crds() {
        let doc = document("pingcap.com", "v1alpha1").unwrap();
        let backup = &doc["components"]["schemas"]["com.pingcap.v1alpha1.Backup"];
        assert_eq!(backup["type"], "object");
        assert!(backup["properties"]["spec"]["properties"].get("br").is_some());
    }
}

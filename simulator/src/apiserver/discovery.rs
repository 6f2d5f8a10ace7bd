//! Discovery documents: `/version`, `/api`, `/apis`, and each group version's resource list (with short names, so
//! `kubectl get bks,bk` resolves).

use serde_json::{Value, json};

use super::resources::{RESOURCES, group_versions};

pub fn version() -> Value {
    json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-sim", "platform": "simulated/deterministic"})
}

pub fn core_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
}

pub fn groups() -> Value {
    let groups: Vec<Value> = group_versions()
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// The resource list of `group`/`version`, if served.
pub fn resources(group: &str, version: &str) -> Option<Value> {
    let list: Vec<Value> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .flat_map(|r| {
            // Collections of the typed kinds can be deleted at once; Leases and Events cannot here.
            let verbs: &[&str] = match r.res {
                super::resources::Res::Typed(_) => {
                    &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
                }
                super::resources::Res::Dyn(_) => &["create", "delete", "get", "list", "patch", "update", "watch"],
            };
            let mut out = vec![json!({
                "name": r.plural,
                "singularName": r.singular,
                "namespaced": true,
                "kind": r.kind,
                "verbs": verbs,
                "shortNames": r.short_names,
            })];
            if r.status {
                out.push(json!({"name": format!("{}/status", r.plural), "singularName": "", "namespaced": true, "kind": r.kind, "verbs": ["get", "patch", "update"]}));
            }
            out
        })
        .collect();
    if list.is_empty() {
        return None;
    }
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list}))
}

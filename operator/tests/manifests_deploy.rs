//! `operator/deploy`: every resource the kustomization lists parses as a valid object of its kind without losing a
//! field; the Deployment and its flags are what `backup-operator run` accepts, hardened, probed and bounded; the RBAC
//! has no wildcard and binds the operator's service account; `kubectl kustomize` renders it when kubectl exists.

use clap::Parser;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use operator::runtime::RunArgs;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn read(name: &str) -> String {
    let path = deploy_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every document of a YAML file, as JSON values.
fn documents(name: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(&read(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

/// The resource files the kustomization lists.
fn resources() -> Vec<String> {
    let k: Value = serde_saphyr::from_str(&read("kustomization.yaml")).unwrap();
    k["resources"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect()
}

/// Every object of the kustomization, by `kind`.
fn objects() -> BTreeMap<String, Vec<Value>> {
    let mut by_kind: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for file in resources() {
        for doc in documents(&file) {
            let kind = doc["kind"].as_str().unwrap_or_else(|| panic!("{file}: a document without kind")).to_string();
            by_kind.entry(kind).or_default().push(doc);
        }
    }
    by_kind
}

/// Parses `raw` as `K` and requires the round trip to keep every field (a misspelt field would be dropped).
fn typed<K: Serialize + DeserializeOwned>(raw: &Value) -> K {
    let name = format!("{} {}", raw["kind"], raw["metadata"]["name"]);
    let obj: K = serde_json::from_value(raw.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(&serde_json::to_value(&obj).unwrap(), raw, "{name} has a field its kind does not know");
    obj
}

fn one<K: Serialize + DeserializeOwned>(kind: &str, name: &str) -> K {
    let all = objects();
    let raw = all[kind].iter().find(|o| o["metadata"]["name"] == name).unwrap_or_else(|| panic!("no {kind} {name}"));
    typed(raw)
}

#[test]
fn every_listed_resource_parses_as_a_valid_object_of_its_kind() {
    let all = objects();
    let mut counts = BTreeMap::new();
    for (kind, docs) in &all {
        for raw in docs {
            assert!(raw["apiVersion"].is_string(), "{kind} without apiVersion");
            assert!(raw["metadata"]["name"].is_string(), "{kind} without a name");
            match kind.as_str() {
                "Namespace" => drop(typed::<Namespace>(raw)),
                "CustomResourceDefinition" => drop(typed::<CustomResourceDefinition>(raw)),
                "ServiceAccount" => drop(typed::<ServiceAccount>(raw)),
                "ClusterRole" => drop(typed::<ClusterRole>(raw)),
                "ClusterRoleBinding" => drop(typed::<ClusterRoleBinding>(raw)),
                "Role" => drop(typed::<Role>(raw)),
                "RoleBinding" => drop(typed::<RoleBinding>(raw)),
                "Deployment" => drop(typed::<Deployment>(raw)),
                "Service" => drop(typed::<Service>(raw)),
                other => panic!("unexpected kind {other} in operator/deploy"),
            }
        }
        counts.insert(kind.as_str(), docs.len());
    }
    let expected = BTreeMap::from([
        ("ClusterRole", 2),
        ("ClusterRoleBinding", 1),
        ("CustomResourceDefinition", 4),
        ("Deployment", 1),
        ("Namespace", 1),
        ("Role", 1),
        ("RoleBinding", 1),
        ("Service", 1),
        ("ServiceAccount", 1),
    ]);
    assert_eq!(counts, expected);
}

#[test]
fn the_kustomization_lists_every_manifest_in_the_folder() {
    let listed = resources();
    for entry in std::fs::read_dir(deploy_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".yaml") && name != "kustomization.yaml" {
            assert!(listed.contains(&name), "{name} is not listed in kustomization.yaml");
        }
    }
}

#[test]
fn the_listed_crds_are_the_generated_ones() {
    let docs = documents("crds.yaml");
    let on_disk: Vec<CustomResourceDefinition> = docs.iter().map(typed).collect();
    assert_eq!(on_disk, operator::api::crd::crds());
}

#[test]
fn the_deployment_is_hardened_probed_and_bounded() {
    let d: Deployment = one("Deployment", "backup-operator");
    let spec = d.spec.unwrap();
    assert!(spec.replicas.unwrap() >= 1);
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("backup-operator"));
    let psc = pod.security_context.unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert!(psc.run_as_user.is_some_and(|u| u != 0));
    assert_eq!(psc.seccomp_profile.unwrap().type_, "RuntimeDefault");
    assert_eq!(pod.containers.len(), 1);
    let c = &pod.containers[0];
    let sc = c.security_context.clone().unwrap();
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.capabilities.unwrap().drop.unwrap(), ["ALL"]);
    assert_eq!(sc.seccomp_profile.unwrap().type_, "RuntimeDefault");
    assert!(sc.privileged.is_none_or(|p| !p));
    let res = c.resources.clone().unwrap();
    for key in ["cpu", "memory"] {
        assert!(res.requests.as_ref().unwrap().contains_key(key), "requests.{key}");
        assert!(res.limits.as_ref().unwrap().contains_key(key), "limits.{key}");
    }
    let path = |p: &Option<k8s_openapi::api::core::v1::Probe>| p.clone().unwrap().http_get.unwrap().path.unwrap();
    assert_eq!(path(&c.liveness_probe), "/healthz");
    assert_eq!(path(&c.readiness_probe), "/readyz");
    assert!(pod.termination_grace_period_seconds.unwrap() > 25, "longer than --shutdown-timeout");
}

#[test]
fn the_deployment_runs_flags_backup_operator_accepts_with_leader_election() {
    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Sub,
    }
    #[derive(clap::Subcommand)]
    enum Sub {
        Run(RunArgs),
    }
    let d: Deployment = one("Deployment", "backup-operator");
    let pod = d.spec.unwrap().template.spec.unwrap();
    let c = &pod.containers[0];
    let args = c.args.clone().unwrap();
    let parsed = Cli::try_parse_from(std::iter::once("backup-operator".to_string()).chain(args))
        .unwrap_or_else(|e| panic!("the Deployment's args are not valid flags: {e}"));
    let Sub::Run(run) = parsed.command;
    run.validate().unwrap();
    assert!(run.leader_elect, "more than one replica may run: leader election must stay on");
    let port = c.ports.clone().unwrap()[0].container_port;
    assert_eq!(i32::from(run.metrics_addr.port()), port, "the probes and Service reach --metrics-addr");
    let env: Vec<_> = c.env.clone().unwrap().into_iter().map(|e| e.name).collect();
    assert!(env.contains(&"POD_NAME".to_string()) && env.contains(&"POD_NAMESPACE".to_string()));
}

#[test]
fn no_rbac_rule_uses_a_wildcard() {
    let all = objects();
    for kind in ["ClusterRole", "Role"] {
        for raw in &all[kind] {
            let text = raw["rules"].to_string();
            assert!(!text.contains('*'), "{kind} {} grants a wildcard: {text}", raw["metadata"]["name"]);
        }
    }
}

#[test]
fn the_bindings_grant_the_roles_to_the_operators_service_account() {
    let sa: ServiceAccount = one("ServiceAccount", "backup-operator");
    let ns = sa.metadata.namespace.clone().unwrap();
    let crb: ClusterRoleBinding = one("ClusterRoleBinding", "backup-operator");
    assert_eq!((crb.role_ref.kind.as_str(), crb.role_ref.name.as_str()), ("ClusterRole", "backup-operator"));
    let rb: RoleBinding = one("RoleBinding", "backup-operator-leader-election");
    assert_eq!(rb.role_ref.name, "backup-operator-leader-election");
    let role: Role = one("Role", "backup-operator-leader-election");
    assert_eq!(role.metadata.namespace.as_deref(), Some(ns.as_str()), "the Lease Role lives with the operator");
    for subjects in [crb.subjects.unwrap(), rb.subjects.unwrap()] {
        assert_eq!(subjects.len(), 1);
        let s = &subjects[0];
        assert_eq!(
            (s.kind.as_str(), s.name.as_str(), s.namespace.as_deref()),
            ("ServiceAccount", "backup-operator", Some(ns.as_str()))
        );
    }
    let svc: Service = one("Service", "backup-operator-metrics");
    let d: Deployment = one("Deployment", "backup-operator");
    let labels = d.spec.unwrap().template.metadata.unwrap().labels.unwrap();
    for (k, v) in svc.spec.unwrap().selector.unwrap() {
        assert_eq!(labels.get(&k), Some(&v), "the Service selects the operator's pods");
    }
}

/// Runs `kubectl kustomize` when kubectl is installed (CI images may lack it; the parse tests above do not).
#[test]
fn kubectl_kustomize_renders_the_folder_when_kubectl_exists() {
    let Ok(out) = std::process::Command::new("kubectl").arg("kustomize").arg(deploy_dir()).output() else {
        eprintln!("kubectl not found: skipping the render check");
        return;
    };
    assert!(out.status.success(), "kubectl kustomize failed: {}", String::from_utf8_lossy(&out.stderr));
    let rendered = String::from_utf8(out.stdout).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&rendered).unwrap();
    let kinds: Vec<_> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(kinds.len(), 13, "{kinds:?}");
    for d in &docs {
        if d["kind"] == "Deployment" || d["kind"] == "ServiceAccount" || d["kind"] == "Role" {
            assert_eq!(d["metadata"]["namespace"], "backup-operator");
        }
    }
}

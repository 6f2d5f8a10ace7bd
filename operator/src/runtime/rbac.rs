//! The API permissions the code uses, per resource: the one list `operator/deploy/rbac.yaml` must grant exactly.
//!
//! `operator/tests/rbac_coverage.rs` keeps this honest: it runs the reconcilers and backup-manager through their
//! lifecycles recording every `Cluster` call, replays each kind of call through `KubeCluster` against a mocked API
//! server to see the HTTP request it really makes, adds the controllers' watches, Events and the leader Lease, and
//! requires the result to equal these tables, and the deploy manifests to grant exactly these tables.

use crate::cluster::{Kind, Verb};

/// Some verbs on one resource of one API group (`""` is the core group; `plural/sub` names a subresource).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permission {
    pub group: &'static str,
    pub resource: &'static str,
    pub verbs: &'static [&'static str],
}

const fn p(group: &'static str, resource: &'static str, verbs: &'static [&'static str]) -> Permission {
    Permission { group, resource, verbs }
}

/// The controllers (ClusterRole `backup-operator`).
///
/// `<plural>/finalizers: update` is not a request the code makes: the API server's OwnerReferencesPermission
/// admission demands it from whoever creates an object whose ownerReference sets `blockOwnerDeletion` (Jobs owned
/// by Backups and Restores, Backups owned by BackupSchedules).
pub const OPERATOR: &[Permission] = &[
    p("pingcap.com", "backups", &["get", "list", "watch", "create", "update", "delete"]),
    p("pingcap.com", "backups/status", &["update"]),
    p("pingcap.com", "backups/finalizers", &["update"]),
    p("pingcap.com", "restores", &["get", "list", "watch"]),
    p("pingcap.com", "restores/status", &["update"]),
    p("pingcap.com", "restores/finalizers", &["update"]),
    p("pingcap.com", "backupschedules", &["get", "list", "watch"]),
    p("pingcap.com", "backupschedules/status", &["update"]),
    p("pingcap.com", "backupschedules/finalizers", &["update"]),
    p("pingcap.com", "compactbackups", &["get", "list", "watch", "create", "delete"]),
    p("pingcap.com", "compactbackups/status", &["update"]),
    p("pingcap.com", "compactbackups/finalizers", &["update"]),
    p("batch", "jobs", &["get", "list", "watch", "create", "delete"]),
    p("", "pods", &["list", "watch"]),
    p("events.k8s.io", "events", &["create", "patch"]),
];

/// Leader election, in the operator's own namespace (Role `backup-operator-leader-election`).
pub const LEADER_ELECTION: &[Permission] = &[p("coordination.k8s.io", "leases", &["get", "create", "patch"])];

/// backup-manager inside the Jobs (ClusterRole `backup-manager`, bound per namespace to the Jobs' service account).
pub const MANAGER: &[Permission] = &[
    p("pingcap.com", "backups", &["get"]),
    p("pingcap.com", "backups/status", &["update"]),
    p("pingcap.com", "restores", &["get"]),
    p("pingcap.com", "restores/status", &["update"]),
    p("pingcap.com", "compactbackups", &["get"]),
    p("pingcap.com", "compactbackups/status", &["update"]),
];

/// The API group and resource of a kind.
pub fn resource_of(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Backup => ("pingcap.com", "backups"),
        Kind::Restore => ("pingcap.com", "restores"),
        Kind::BackupSchedule => ("pingcap.com", "backupschedules"),
        Kind::CompactBackup => ("pingcap.com", "compactbackups"),
        Kind::Job => ("batch", "jobs"),
        Kind::Pod => ("", "pods"),
    }
}

/// The RBAC (group, resource, verb) a `Cluster` call needs, as `KubeCluster` makes it.
pub fn needed(kind: Kind, verb: Verb) -> (&'static str, String, &'static str) {
    let (group, resource) = resource_of(kind);
    match verb {
        Verb::Get => (group, resource.into(), "get"),
        Verb::List => (group, resource.into(), "list"),
        Verb::Create => (group, resource.into(), "create"),
        Verb::Update => (group, resource.into(), "update"),
        Verb::UpdateStatus => (group, format!("{resource}/status"), "update"),
        Verb::Delete => (group, resource.into(), "delete"),
    }
}

/// True when `table` grants `verb` on `group`/`resource`.
pub fn grants(table: &[Permission], group: &str, resource: &str, verb: &str) -> bool {
    table.iter().any(|p| p.group == group && p.resource == resource && p.verbs.contains(&verb))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_table_has_a_wildcard_or_a_duplicate_row() {
        for table in [OPERATOR, LEADER_ELECTION, MANAGER] {
            let mut seen = std::collections::BTreeSet::new();
            for p in table {
                assert!(seen.insert((p.group, p.resource)), "duplicate row {p:?}");
                assert!(!p.resource.contains('*') && !p.group.contains('*') && !p.verbs.contains(&"*"), "{p:?}");
            }
        }
    }

    #[test]
    fn every_call_the_manager_may_make_is_granted_to_it() {
        for kind in [Kind::Backup, Kind::Restore, Kind::CompactBackup] {
            for verb in [Verb::Get, Verb::UpdateStatus] {
                let (g, r, v) = needed(kind, verb);
                assert!(grants(MANAGER, g, &r, v), "{kind} {verb}");
            }
        }
    }
}

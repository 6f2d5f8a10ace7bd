//! The resources the simulated API server serves, with what discovery says about each.

use operator::cluster::Kind;

pub use crate::dyn_kind::DynKind;

/// A served resource: a kind the reconcilers use, or a dynamic one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Res {
    Typed(Kind),
    Dyn(DynKind),
}

/// What discovery and routing know about a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceInfo {
    pub res: Res,
    /// Empty for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub short_names: &'static [&'static str],
    pub status: bool,
}

impl ResourceInfo {
    /// `group/version`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.to_string() } else { format!("{}/{}", self.group, self.version) }
    }
}

/// Every served resource, in discovery order.
pub const RESOURCES: &[ResourceInfo] = &[
    ResourceInfo {
        res: Res::Typed(Kind::Backup),
        group: "pingcap.com",
        version: "v1alpha1",
        kind: "Backup",
        plural: "backups",
        singular: "backup",
        short_names: &["bk"],
        status: true,
    },
    ResourceInfo {
        res: Res::Typed(Kind::Restore),
        group: "pingcap.com",
        version: "v1alpha1",
        kind: "Restore",
        plural: "restores",
        singular: "restore",
        short_names: &["rt"],
        status: true,
    },
    ResourceInfo {
        res: Res::Typed(Kind::BackupSchedule),
        group: "pingcap.com",
        version: "v1alpha1",
        kind: "BackupSchedule",
        plural: "backupschedules",
        singular: "backupschedule",
        short_names: &["bks"],
        status: true,
    },
    ResourceInfo {
        res: Res::Typed(Kind::CompactBackup),
        group: "pingcap.com",
        version: "v1alpha1",
        kind: "CompactBackup",
        plural: "compactbackups",
        singular: "compactbackup",
        short_names: &["cpbk"],
        status: true,
    },
    ResourceInfo {
        res: Res::Typed(Kind::Job),
        group: "batch",
        version: "v1",
        kind: "Job",
        plural: "jobs",
        singular: "job",
        short_names: &[],
        status: true,
    },
    ResourceInfo {
        res: Res::Typed(Kind::Pod),
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        singular: "pod",
        short_names: &["po"],
        status: true,
    },
    ResourceInfo {
        res: Res::Dyn(DynKind::CoreEvent),
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        short_names: &["ev"],
        status: false,
    },
    ResourceInfo {
        res: Res::Dyn(DynKind::Lease),
        group: "coordination.k8s.io",
        version: "v1",
        kind: "Lease",
        plural: "leases",
        singular: "lease",
        short_names: &[],
        status: false,
    },
    ResourceInfo {
        res: Res::Dyn(DynKind::Event),
        group: "events.k8s.io",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        short_names: &["ev"],
        status: false,
    },
];

/// The resource served at `group`/`version` under `plural`.
pub fn by_path(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    RESOURCES.iter().find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The info of `res`.
pub fn info(res: Res) -> &'static ResourceInfo {
    RESOURCES.iter().find(|r| r.res == res).expect("every resource is in the table")
}

/// The served group versions, core first.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out.sort_by_key(|(g, _)| (!g.is_empty(), *g));
    out
}

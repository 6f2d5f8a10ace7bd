//! Typed API errors: what a write or live read can fail with, named by verb, kind and object.

use std::fmt;

use super::object::{Kind, ObjectKey};

/// The API verbs the operator uses (also the RBAC verbs it needs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    Get,
    List,
    Create,
    Update,
    UpdateStatus,
    Delete,
}

impl Verb {
    pub const ALL: [Verb; 6] = [Verb::Get, Verb::List, Verb::Create, Verb::Update, Verb::UpdateStatus, Verb::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::UpdateStatus => "update-status",
            Verb::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Option<Verb> {
        Verb::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// True for verbs that change the world.
    pub fn is_write(self) -> bool {
        !matches!(self, Verb::Get | Verb::List)
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an API call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    #[error("{kind} {key} not found")]
    NotFound { kind: Kind, key: ObjectKey },
    #[error("{kind} {key} already exists")]
    AlreadyExists { kind: Kind, key: ObjectKey },
    #[error("{kind} {key} was modified concurrently: {message}")]
    Conflict { kind: Kind, key: ObjectKey, message: String },
    #[error("{kind} {key} is invalid: {message}")]
    Invalid { kind: Kind, key: ObjectKey, message: String },
    /// Refused by policy, for example a create in a namespace that is being terminated.
    #[error("{verb} {kind} {key} is forbidden: {message}")]
    Forbidden { verb: Verb, kind: Kind, key: ObjectKey, message: String },
    /// A timeout, 5xx, broken connection or an authorization refusal (retried: RBAC can be fixed while the operator
    /// runs); a write may or may not have been applied.
    #[error("{verb} {kind} {key} failed{}: {message}", if verb.is_write() { " (it may or may not have applied)" } else { "" })]
    Transient { verb: Verb, kind: Kind, key: ObjectKey, message: String },
}

impl ClusterError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClusterError::NotFound { .. })
    }

    pub fn is_conflict(&self) -> bool {
        matches!(self, ClusterError::Conflict { .. })
    }

    /// A short class name for metrics and traces (`NotFound`, `Conflict`, ...).
    pub fn class(&self) -> &'static str {
        match self {
            ClusterError::NotFound { .. } => "NotFound",
            ClusterError::AlreadyExists { .. } => "AlreadyExists",
            ClusterError::Conflict { .. } => "Conflict",
            ClusterError::Invalid { .. } => "Invalid",
            ClusterError::Forbidden { .. } => "Forbidden",
            ClusterError::Transient { .. } => "Transient",
        }
    }
}

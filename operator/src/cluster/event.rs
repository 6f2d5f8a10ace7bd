//! Kubernetes Events the reconcilers publish for users (on state transitions only).

use std::fmt;

use super::object::{Kind, ObjectKey};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventType {
    Normal,
    Warning,
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        })
    }
}

/// One Event about one object: `Warning PodStuck backup test1/demo: pod ... waited 10m in ContainerCreating`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    pub key: ObjectKey,
    pub uid: Option<String>,
    pub type_: EventType,
    /// CamelCase, stable: users and alerts match on it.
    pub reason: &'static str,
    pub message: String,
}

impl Event {
    /// An Event about `obj`.
    pub fn about<K: super::Object>(
        obj: &K,
        type_: EventType,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Event {
            kind: K::KIND,
            key: ObjectKey::of(obj),
            uid: obj.meta().uid.clone(),
            type_,
            reason,
            message: message.into(),
        }
    }
}

//! `DynKind`: the kinds the world stores as plain JSON, which no reconciler reads (the leader Lease and Events).

/// A kind stored as JSON: the leader Lease, Events (events.k8s.io/v1) and their core v1 view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DynKind {
    Lease,
    Event,
    CoreEvent,
}

//! `Actor`: who did something in the simulated world, for the trace, the stats and fault targeting.

/// Who did something (for the trace, the stats and fault targeting).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    Controller(usize),
    /// A client of the served API (the production operator).
    External,
    Manager(String),
    User,
    Kubelet,
    JobController,
    Gc,
}

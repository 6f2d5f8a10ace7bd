//! The operator's four controllers, named by a type rather than a string: fault rules, informers, the trace and the
//! checkers all say which controller they mean with a `ControllerId`.

/// One of the operator's controllers (or the zoo entry standing in for it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ControllerId {
    Backup,
    Restore,
    Compact,
    Schedule,
}

impl ControllerId {
    pub const ALL: [ControllerId; 4] =
        [ControllerId::Backup, ControllerId::Restore, ControllerId::Compact, ControllerId::Schedule];

    /// The name scenarios use (`informerLag: {controller: backup-schedule}`) and the trace prints as the actor.
    pub const fn as_str(self) -> &'static str {
        match self {
            ControllerId::Backup => "backup",
            ControllerId::Restore => "restore",
            ControllerId::Compact => "compact",
            ControllerId::Schedule => "backup-schedule",
        }
    }

    pub fn parse(s: &str) -> Option<ControllerId> {
        ControllerId::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The names, for messages listing what is accepted.
    pub fn names() -> [&'static str; 4] {
        ControllerId::ALL.map(ControllerId::as_str)
    }
}

impl std::fmt::Display for ControllerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_controller_parses_back_from_its_name() {
        for c in ControllerId::ALL {
            assert_eq!(ControllerId::parse(c.as_str()), Some(c));
        }
        assert_eq!(ControllerId::parse("schedule"), None);
    }
}

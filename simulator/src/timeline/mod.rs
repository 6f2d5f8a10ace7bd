//! A run's timeline page: one self-contained HTML file (inline SVG, CSS and a little script) drawn from the same
//! changes and records as the trace, so a QA engineer sees which Backups were alive, which pods hung, which faults
//! were on and where an invariant broke.

pub mod history;
pub mod layout;
pub mod page;

pub use history::History;
pub use page::Header;

use crate::time::SimTime;
use crate::world::Change;

/// Gathers a run's history while it runs (attached to the trace), and renders it at the end.
#[derive(Debug, Default)]
pub struct Timeline {
    history: History,
}

impl Timeline {
    /// A change of the world, by `actor` (the trace's actor name).
    pub fn change(&mut self, actor: &str, change: &Change) {
        self.history.change(actor, change);
    }

    /// A trace record.
    pub fn record(&mut self, t: SimTime, actor: &str, action: &str, object: &str, detail: &str) {
        self.history.record(t, actor, action, object, detail);
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    /// The page.
    pub fn render(&self, header: &Header) -> String {
        page::render(&self.history, header)
    }
}

//! `Spans`: pairs of consecutive cron ticks already searched, so a schedule asked again inside one pays no search.
//!
//! A schedule is asked for the tick at or before now, the one after now and the one after its anchor at every
//! reconcile, and croner walks the calendar for each answer (the largest share of planning a schedule). Between two
//! consecutive ticks `lo < hi` every answer is known: there is no tick strictly between them. The remembered pairs
//! answer exactly as croner does, which reads an instant to the whole second (so "strictly before 10:00:00.5" is
//! 09:50 for `*/10`, as croner says, not 10:00); a property test compares them with croner on random instants.
//!
//! Only for schedules read in UTC: there the calendar croner walks forwards and the one it walks backwards are the
//! same set of instants. Across a daylight saving change the two searches treat a skipped or repeated hour by their
//! own rules, so other zones search every time.

use chrono::{DateTime, Utc};
use std::sync::Mutex;

/// How many pairs are remembered (the current interval, the one before it for "strictly before", an anchor's).
const SLOTS: usize = 4;

/// Consecutive tick pairs of one schedule, shared by every copy of the parsed schedule.
#[derive(Debug, Default)]
pub struct Spans {
    slots: Mutex<Memory>,
}

#[derive(Debug, Default)]
struct Memory {
    pairs: [Option<(DateTime<Utc>, DateTime<Utc>)>; SLOTS],
    /// The slot the next new pair replaces (round robin).
    next: usize,
}

/// Which tick a question asks for, relative to an instant read to the whole second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    /// The latest tick at or before it.
    AtOrBefore,
    /// The latest tick strictly before it.
    Before,
    /// The first tick strictly after it.
    After,
}

impl Spans {
    /// The remembered answer to `ask` at `t`, if a pair covers it.
    pub fn answer(&self, ask: Ask, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let s = whole_second(t);
        let memory = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        memory.pairs.iter().flatten().find_map(|&(lo, hi)| match ask {
            Ask::AtOrBefore if lo <= s && s < hi => Some(lo),
            Ask::After if lo <= s && s < hi => Some(hi),
            Ask::Before if lo < s && s <= hi => Some(lo),
            _ => None,
        })
    }

    /// Remembers that `lo` and `hi` are consecutive ticks (`lo < hi`, none between).
    pub fn remember(&self, lo: DateTime<Utc>, hi: DateTime<Utc>) {
        debug_assert!(lo < hi, "ticks {lo} and {hi} are not in order");
        let mut memory = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if memory.pairs.contains(&Some((lo, hi))) {
            return;
        }
        let slot = memory.next;
        memory.pairs[slot] = Some((lo, hi));
        memory.next = (slot + 1) % SLOTS;
    }
}

/// `t` without its fraction of a second (croner reads instants so).
pub fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(m: u32, s: u32, ms: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, m, s).unwrap() + chrono::Duration::milliseconds(ms)
    }

    #[test]
    fn a_pair_answers_inside_it_and_nowhere_else() {
        let spans = Spans::default();
        spans.remember(t(10, 0, 0), t(20, 0, 0));
        assert_eq!(spans.answer(Ask::AtOrBefore, t(10, 0, 0)), Some(t(10, 0, 0)));
        assert_eq!(spans.answer(Ask::AtOrBefore, t(19, 59, 999)), Some(t(10, 0, 0)));
        assert_eq!(spans.answer(Ask::AtOrBefore, t(20, 0, 0)), None, "20:00 is the next pair's");
        assert_eq!(spans.answer(Ask::After, t(10, 0, 0)), Some(t(20, 0, 0)));
        assert_eq!(spans.answer(Ask::After, t(9, 59, 0)), None);
        assert_eq!(spans.answer(Ask::Before, t(20, 0, 0)), Some(t(10, 0, 0)));
        assert_eq!(spans.answer(Ask::Before, t(10, 0, 0)), None);
    }

    #[test]
    fn strictly_before_reads_the_instant_to_the_second_as_croner_does() {
        let spans = Spans::default();
        spans.remember(t(0, 0, 0), t(10, 0, 0));
        spans.remember(t(10, 0, 0), t(20, 0, 0));
        assert_eq!(spans.answer(Ask::Before, t(10, 0, 500)), Some(t(0, 0, 0)));
        assert_eq!(spans.answer(Ask::AtOrBefore, t(10, 0, 500)), Some(t(10, 0, 0)));
        assert_eq!(spans.answer(Ask::After, t(10, 0, 500)), Some(t(20, 0, 0)));
    }

    #[test]
    fn the_oldest_pair_is_forgotten_first() {
        let spans = Spans::default();
        for k in 0..=SLOTS as u32 {
            spans.remember(t(k, 0, 0), t(k + 1, 0, 0));
        }
        assert_eq!(spans.answer(Ask::AtOrBefore, t(0, 30, 0)), None);
        assert_eq!(spans.answer(Ask::AtOrBefore, t(SLOTS as u32, 30, 0)), Some(t(SLOTS as u32, 0, 0)));
        assert_eq!(spans.answer(Ask::AtOrBefore, t(1, 30, 0)), Some(t(1, 0, 0)));
    }
}

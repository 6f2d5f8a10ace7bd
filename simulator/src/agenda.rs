//! `Agenda`: the simulated clock's events, ordered by (time, sequence), so that events due at the same instant run
//! in the order they were planned.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::event::Event;
use crate::time::SimTime;

/// The events planned and not yet handled. The heap orders small entries (time, sequence, slot); the events stay
/// in their slots, so that ordering moves sixteen bytes and a slot, not an event.
#[derive(Default)]
pub struct Agenda {
    seq: u64,
    heap: BinaryHeap<Reverse<(SimTime, u64, u32)>>,
    slots: Vec<Option<Event>>,
    /// Slots emptied by `pop_until`, reused first.
    free: Vec<u32>,
}

impl Agenda {
    /// Plans `event` at `t`.
    pub fn at(&mut self, t: SimTime, event: Event) {
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => {
                self.slots.push(Some(event));
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 events planned at once")
            }
        };
        self.heap.push(Reverse((t, self.seq, slot)));
    }

    /// When the next event is due, if any.
    pub fn next_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Takes the next event if it is due at or before `until`.
    pub fn pop_until(&mut self, until: SimTime) -> Option<(SimTime, Event)> {
        if self.next_time()? > until {
            return None;
        }
        let Reverse((t, _, slot)) = self.heap.pop().expect("peeked");
        self.free.push(slot);
        let event = self.slots[slot as usize].take().expect("a planned slot holds its event");
        Some((t, event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> SimTime {
        SimTime::from_utc(chrono::DateTime::from_timestamp(s as i64, 0).unwrap())
    }

    #[test]
    fn events_come_out_by_time_then_in_the_order_they_were_planned() {
        let mut a = Agenda::default();
        a.at(at(20), Event::Step(3));
        a.at(at(10), Event::Step(1));
        a.at(at(10), Event::Step(2));
        let order: Vec<(SimTime, usize)> = std::iter::from_fn(|| a.pop_until(at(100)))
            .map(|(t, e)| match e {
                Event::Step(i) => (t, i),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(order, vec![(at(10), 1), (at(10), 2), (at(20), 3)]);
    }

    #[test]
    fn an_event_after_the_limit_stays_planned() {
        let mut a = Agenda::default();
        a.at(at(30), Event::Step(0));
        assert!(a.pop_until(at(29)).is_none());
        assert_eq!(a.next_time(), Some(at(30)));
        assert!(a.pop_until(at(30)).is_some());
        assert_eq!(a.next_time(), None);
    }
}

//! The notifier's state under its one lock: the priority queue with its overflow rule,
//! the per-sink counters, the dead-letter queue and the aggregation windows of
//! [`Notifier::notify_coalesced`](super::Notifier::notify_coalesced).
//!
//! Everything here is synchronous and runs under the lock; the delivery tasks and the
//! worker (`delivery.rs`, `batcher.rs`) decide when to call it.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap, VecDeque},
    time::Duration,
};

use tokio::time::Instant;

use super::{
    dlq::{DeadLetter, DeadLetterQueue},
    notification::{Notification, Priority},
    stats::NotifyOutcome,
};

/// `at + d`, saturating at about thirty years from `at` instead of panicking on overflow
/// (a user may well configure `Duration::MAX` to mean "never").
pub(super) fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .unwrap_or_else(|| at + Duration::from_secs(30 * 365 * 86_400))
}

/// How many aggregation windows may be open at once before new keys share one overflow
/// window per kind (so a flood from ever-changing keys still yields few notifications).
const MAX_AGGREGATION_KEYS: usize = 10_000;

/// The outcome counts of one sink (see [`SinkStats`](super::SinkStats)).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Counters {
    pub(super) in_flight: u64,
    pub(super) delivered: u64,
    pub(super) retried: u64,
    pub(super) dead_lettered: u64,
    pub(super) dropped: u64,
    pub(super) abandoned: u64,
}

struct Queued {
    notification: Notification,
    enqueued_at: Instant,
}

struct Aggregate {
    window_end: Instant,
    window: Duration,
    suppressed: u64,
    template: Notification,
}

/// What [`State::coalesce`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Coalesce {
    /// A window for the key is open: the occurrence is counted into its summary.
    Counted,
    /// Submit the notification; `first_window` when no other window was open (the worker
    /// must learn when this one ends).
    Submit { first_window: bool },
}

pub(super) struct State {
    /// One FIFO per priority, indexed by `Priority::index` (Low = 0 ... Critical = 3).
    queues: [VecDeque<Queued>; 4],
    capacity: usize,
    pub(super) len: usize,
    pub(super) closed: bool,
    pub(super) submitted: u64,
    pub(super) counters: Vec<Counters>,
    pub(super) dlq: DeadLetterQueue,
    pub(super) in_flight_batches: usize,
    aggregates: HashMap<String, Aggregate>,
    window_ends: BinaryHeap<Reverse<(Instant, String)>>,
}

impl State {
    /// An empty state for `sinks` sinks, a queue of `capacity` and a dead-letter queue of
    /// `dead_letter_capacity`.
    pub(super) fn new(sinks: usize, capacity: usize, dead_letter_capacity: usize) -> Self {
        Self {
            queues: Default::default(),
            capacity,
            len: 0,
            closed: false,
            submitted: 0,
            counters: vec![Counters::default(); sinks],
            dlq: DeadLetterQueue::new(dead_letter_capacity),
            in_flight_batches: 0,
            aggregates: HashMap::new(),
            window_ends: BinaryHeap::new(),
        }
    }

    /// When the oldest queued item was queued.
    pub(super) fn oldest(&self) -> Option<Instant> {
        self.queues
            .iter()
            .filter_map(|q| q.front().map(|i| i.enqueued_at))
            .min()
    }

    /// Whether a `Critical` item is waiting (it is sent at once).
    pub(super) fn has_critical(&self) -> bool {
        !self.queues[Priority::Critical.index()].is_empty()
    }

    /// Takes up to `max` items, highest priority first, oldest first within a priority.
    pub(super) fn take_batch(&mut self, max: usize) -> Vec<Notification> {
        let mut out = Vec::with_capacity(max.min(self.len));
        for p in Priority::ALL {
            let q = &mut self.queues[p.index()];
            while out.len() < max {
                match q.pop_front() {
                    Some(item) => out.push(item.notification),
                    None => break,
                }
            }
        }
        self.len -= out.len();
        out
    }

    /// Counts one notification as dropped for every sink.
    pub(super) fn drop_everywhere(&mut self) {
        for c in &mut self.counters {
            c.dropped += 1;
        }
    }

    /// Takes `n` notifications of sink `i` out of flight to record their outcome: from
    /// `in_flight`, or from `abandoned` when shutdown gave up waiting for them first.
    pub(super) fn settle(&mut self, i: usize, n: u64) {
        let c = &mut self.counters[i];
        let from_flight = n.min(c.in_flight);
        c.in_flight -= from_flight;
        c.abandoned -= (n - from_flight).min(c.abandoned);
    }

    /// Counts everything still in flight as abandoned (shutdown stopped waiting for it).
    pub(super) fn abandon_in_flight(&mut self) -> u64 {
        let mut total = 0;
        for c in &mut self.counters {
            total += c.in_flight;
            c.abandoned += c.in_flight;
            c.in_flight = 0;
        }
        total
    }

    /// Appends a dead-letter entry, counting an eviction as dropped for its sink.
    pub(super) fn dead_letter(&mut self, sink_index: usize, entry: DeadLetter) {
        self.counters[sink_index].dead_lettered += 1;
        if let Some(evicted) = self.dlq.push(sink_index, entry) {
            self.counters[evicted].dead_lettered -= 1;
            self.counters[evicted].dropped += 1;
        }
    }

    /// Queues a notification; on a full queue the lowest priority (the oldest at equal
    /// priority, or the incoming item when it is the least important) is dropped.
    pub(super) fn enqueue(&mut self, notification: Notification) -> NotifyOutcome {
        let mut outcome = NotifyOutcome::Queued;
        if self.len >= self.capacity {
            // The lowest priority present; the incoming item competes too.
            let lowest = Priority::ALL
                .iter()
                .rev()
                .copied()
                .find(|p| !self.queues[p.index()].is_empty());
            match lowest {
                Some(lowest) if lowest <= notification.priority() => {
                    self.queues[lowest.index()].pop_front();
                    self.len -= 1;
                    self.drop_everywhere();
                    outcome = NotifyOutcome::QueuedAfterDrop;
                }
                _ => {
                    self.drop_everywhere();
                    return NotifyOutcome::Dropped;
                }
            }
        }
        let p = notification.priority();
        self.queues[p.index()].push_back(Queued {
            notification,
            enqueued_at: Instant::now(),
        });
        self.len += 1;
        outcome
    }

    /// Counts `notification` into the open aggregation window for `key`, or opens one
    /// (summarising a window for `key` that ended but was not closed yet, so its count is
    /// not lost). After shutdown started nothing is opened: the caller submits, and the
    /// submission is refused and counted.
    pub(super) fn coalesce(
        &mut self,
        key: &str,
        window: Duration,
        notification: &Notification,
    ) -> Coalesce {
        if self.closed {
            return Coalesce::Submit {
                first_window: false,
            };
        }
        let now = Instant::now();
        let key =
            if self.aggregates.contains_key(key) || self.aggregates.len() < MAX_AGGREGATION_KEYS {
                key.to_owned()
            } else {
                format!("{}:*", notification.kind())
            };
        if let Some(agg) = self.aggregates.get_mut(&key) {
            if now < agg.window_end {
                agg.suppressed += 1;
                return Coalesce::Counted;
            }
        }
        if let Some(ended) = self.aggregates.remove(&key) {
            self.queue_summary(ended);
        }
        let window_end = later(now, window);
        self.window_ends.push(Reverse((window_end, key.clone())));
        self.aggregates.insert(
            key,
            Aggregate {
                window_end,
                window,
                suppressed: 0,
                template: notification.clone(),
            },
        );
        Coalesce::Submit {
            first_window: self.window_ends.len() == 1,
        }
    }

    /// Closes the windows that have ended (every window when `all`), queueing a summary
    /// for each that counted more occurrences; returns when the next window ends.
    pub(super) fn close_windows(&mut self, now: Instant, all: bool) -> Option<Instant> {
        while let Some(Reverse((end, _))) = self.window_ends.peek() {
            if *end > now && !all {
                return Some(*end);
            }
            let Some(Reverse((end, key))) = self.window_ends.pop() else {
                break;
            };
            // A key reopened later has a newer end; only close the matching window.
            let matches = self
                .aggregates
                .get(&key)
                .is_some_and(|a| a.window_end == end);
            if !matches {
                continue;
            }
            if let Some(agg) = self.aggregates.remove(&key) {
                self.queue_summary(agg);
            }
        }
        None
    }

    /// Queues the summary of a closed aggregation window, if it counted anything beyond
    /// the first occurrence (which was sent when the window opened).
    fn queue_summary(&mut self, agg: Aggregate) {
        if agg.suppressed == 0 {
            return;
        }
        let summary = agg
            .template
            .renewed()
            .count(agg.suppressed)
            .message(format!(
                "{} more occurrence(s) within {} s after: {}",
                agg.suppressed,
                agg.window.as_secs_f64(),
                agg.template.message_text()
            ))
            .field("aggregated", true)
            .field("window_seconds", agg.window.as_secs_f64());
        self.submitted += 1;
        let _ = self.enqueue(summary);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::notification::Kind;

    fn note(priority: Priority, title: &'static str) -> Notification {
        Notification::new(Kind::custom("test"), priority, title)
    }

    fn titles(items: &[Notification]) -> Vec<&str> {
        items.iter().map(Notification::title).collect()
    }

    #[test]
    fn batches_take_the_highest_priority_first_and_the_oldest_within_one() {
        let mut st = State::new(1, 10, 10);
        st.enqueue(note(Priority::Low, "low"));
        st.enqueue(note(Priority::High, "high-1"));
        st.enqueue(note(Priority::Normal, "normal"));
        st.enqueue(note(Priority::High, "high-2"));
        assert!(!st.has_critical());
        assert_eq!(titles(&st.take_batch(3)), ["high-1", "high-2", "normal"]);
        assert_eq!(st.len, 1);
        assert_eq!(titles(&st.take_batch(3)), ["low"]);
        assert_eq!(st.len, 0);
        assert_eq!(st.oldest(), None);
    }

    #[test]
    fn a_full_queue_makes_room_by_priority_and_counts_every_drop() {
        let mut st = State::new(2, 2, 10);
        assert_eq!(
            st.enqueue(note(Priority::Normal, "a")),
            NotifyOutcome::Queued
        );
        assert_eq!(st.enqueue(note(Priority::Low, "b")), NotifyOutcome::Queued);
        assert_eq!(
            st.enqueue(note(Priority::Low, "c")),
            NotifyOutcome::QueuedAfterDrop,
            "at equal priority the oldest goes"
        );
        assert_eq!(
            st.enqueue(note(Priority::Low, "d")),
            NotifyOutcome::QueuedAfterDrop
        );
        assert_eq!(
            st.enqueue(note(Priority::Critical, "e")),
            NotifyOutcome::QueuedAfterDrop
        );
        assert_eq!(st.enqueue(note(Priority::Low, "f")), NotifyOutcome::Dropped);
        assert!(st.has_critical());
        assert!(st.counters.iter().all(|c| c.dropped == 4));
        assert_eq!(titles(&st.take_batch(10)), ["e", "a"]);
    }

    #[test]
    fn a_full_dead_letter_queue_moves_the_evicted_count_to_dropped() {
        let mut st = State::new(2, 10, 1);
        let entry = |sink: &str| DeadLetter {
            sink: sink.into(),
            reason: "r".to_owned(),
            attempts: 1,
            dead_lettered_at: std::time::SystemTime::now(),
            batch_id: None,
            notification: note(Priority::Low, "x"),
        };
        st.dead_letter(0, entry("a"));
        st.dead_letter(1, entry("b"));
        assert_eq!(
            (st.counters[0].dead_lettered, st.counters[0].dropped),
            (0, 1)
        );
        assert_eq!(
            (st.counters[1].dead_lettered, st.counters[1].dropped),
            (1, 0)
        );
        assert_eq!(st.dlq.len(), 1);
    }

    #[test]
    fn a_window_counts_repeats_and_its_summary_carries_the_count() {
        let mut st = State::new(1, 10, 10);
        let n = note(Priority::Normal, "throttled");
        let window = Duration::from_secs(60);
        assert_eq!(
            st.coalesce("k", window, &n),
            Coalesce::Submit { first_window: true }
        );
        for _ in 0..4 {
            assert_eq!(st.coalesce("k", window, &n), Coalesce::Counted);
        }
        assert_eq!(
            st.coalesce("other", window, &n),
            Coalesce::Submit {
                first_window: false
            }
        );
        assert!(st.close_windows(Instant::now(), false).is_some());
        assert_eq!(st.len, 0, "no window has ended yet");
        assert_eq!(st.close_windows(Instant::now(), true), None);
        let summaries = st.take_batch(10);
        assert_eq!(summaries.len(), 1, "only the window that counted repeats");
        assert_eq!(summaries[0].occurrences(), 4);
        assert_eq!(summaries[0].fields()["aggregated"], true);
        assert_eq!(st.submitted, 1);
    }

    #[test]
    fn a_closed_state_opens_no_window() {
        let mut st = State::new(1, 10, 10);
        st.closed = true;
        let n = note(Priority::Normal, "t");
        for _ in 0..2 {
            assert_eq!(
                st.coalesce("k", Duration::from_secs(1), &n),
                Coalesce::Submit {
                    first_window: false
                }
            );
        }
    }

    #[test]
    fn later_saturates_instead_of_overflowing() {
        let now = Instant::now();
        assert!(later(now, Duration::MAX) > now);
        assert_eq!(
            later(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
    }
}

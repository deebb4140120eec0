//! The bounded dead-letter queue and its entries ([`DeadLetter`]), and what a replay
//! achieved ([`ReplayReport`]).

use std::{collections::VecDeque, sync::Arc, time::SystemTime};

use serde::Serialize;

use super::notification::{serialize_arc_str, serialize_time, Notification};

/// A notification that one sink refused for good, gave up on, or could not take before
/// shutdown, kept in the dead-letter queue with the reason.
///
/// A notification that several sinks refused has one entry per sink; one that another sink
/// accepted is delivered there and dead-lettered only here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The sink that did not take it (the name it was registered with).
    #[serde(serialize_with = "serialize_arc_str")]
    pub sink: Arc<str>,
    /// Why: the sink's last error, "gave up after N attempts", or the shutdown deadline.
    pub reason: String,
    /// How many delivery attempts were made (0 when it never left the queue).
    pub attempts: u32,
    /// When it was dead-lettered.
    #[serde(serialize_with = "serialize_time")]
    pub dead_lettered_at: SystemTime,
    /// The id of the batch it was last sent in (the webhook sink's `webhook-id`), or
    /// `None` when it never left the queue. A replay sends the entries of one batch again
    /// under this id, so receivers that de-duplicate on it see the same delivery.
    pub batch_id: Option<String>,
    /// The notification itself, unchanged.
    pub notification: Notification,
}

/// What a dead-letter replay achieved, per entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReplayReport {
    /// Entries taken out of the dead-letter queue and sent again.
    pub replayed: u64,
    /// Of those, how many their sink accepted this time.
    pub delivered: u64,
    /// Of those, how many failed again and are back in the dead-letter queue.
    pub dead_lettered: u64,
}

/// The queue itself: oldest first, bounded; pushing onto a full queue evicts the oldest.
#[derive(Debug)]
pub(crate) struct DeadLetterQueue {
    entries: VecDeque<(usize, DeadLetter)>,
    capacity: usize,
}

impl DeadLetterQueue {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            capacity,
        }
    }

    /// Appends an entry for sink `sink_index`; returns the sink index of the evicted entry,
    /// if the queue was full.
    pub(crate) fn push(&mut self, sink_index: usize, entry: DeadLetter) -> Option<usize> {
        let evicted = if self.entries.len() >= self.capacity {
            self.entries.pop_front().map(|(i, _)| i)
        } else {
            None
        };
        self.entries.push_back((sink_index, entry));
        evicted
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn snapshot(&self) -> Vec<DeadLetter> {
        self.entries.iter().map(|(_, d)| d.clone()).collect()
    }

    /// Removes and returns the entries `select` picks, oldest first.
    pub(crate) fn take_where(
        &mut self,
        mut select: impl FnMut(&DeadLetter) -> bool,
    ) -> Vec<(usize, DeadLetter)> {
        let mut taken = Vec::new();
        let mut kept = VecDeque::with_capacity(self.entries.len());
        for (i, d) in self.entries.drain(..) {
            if select(&d) {
                taken.push((i, d));
            } else {
                kept.push_back((i, d));
            }
        }
        self.entries = kept;
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::notification::{Kind, Priority};

    fn entry(sink: &str, title: &'static str) -> DeadLetter {
        DeadLetter {
            sink: sink.into(),
            reason: "refused".to_owned(),
            attempts: 1,
            dead_lettered_at: SystemTime::UNIX_EPOCH,
            batch_id: None,
            notification: Notification::new(Kind::custom("t"), Priority::Low, title),
        }
    }

    #[test]
    fn a_full_queue_evicts_the_oldest_and_names_its_sink() {
        let mut q = DeadLetterQueue::new(2);
        assert_eq!(q.push(0, entry("a", "1")), None);
        assert_eq!(q.push(1, entry("b", "2")), None);
        assert_eq!(q.push(1, entry("b", "3")), Some(0));
        let titles: Vec<String> = q
            .snapshot()
            .iter()
            .map(|d| d.notification.title().to_owned())
            .collect();
        assert_eq!(titles, ["2", "3"]);
    }

    #[test]
    fn take_where_removes_only_the_selected_entries_in_order() {
        let mut q = DeadLetterQueue::new(10);
        q.push(0, entry("a", "1"));
        q.push(1, entry("b", "2"));
        q.push(0, entry("a", "3"));
        let taken = q.take_where(|d| &*d.sink == "a");
        let taken: Vec<(usize, &str)> = taken
            .iter()
            .map(|(i, d)| (*i, d.notification.title()))
            .collect();
        assert_eq!(taken, [(0, "1"), (0, "3")]);
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn an_entry_serialises_with_its_sink_and_an_rfc3339_time() {
        let json = serde_json::to_value(entry("pager", "t")).unwrap();
        assert_eq!(json["sink"], "pager");
        assert_eq!(json["dead_lettered_at"], "1970-01-01T00:00:00.000Z");
        assert_eq!(json["notification"]["title"], "t");
    }
}

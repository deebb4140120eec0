//! The bounded dead-letter queue.

use std::{collections::VecDeque, sync::Arc, time::SystemTime};

use serde::Serialize;

use super::notifier::{rfc3339, serialize_arc_str, Notification};

/// A notification that one sink refused for good, gave up on, or could not take before
/// shutdown, kept in the dead-letter queue with the reason.
///
/// A notification that several sinks refused has one entry per sink; one that another sink
/// accepted is delivered there and dead-lettered only here.
#[derive(Debug, Clone, Serialize)]
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
    /// The notification itself, unchanged.
    pub notification: Notification,
}

fn serialize_time<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
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

    /// Removes and returns the entries `keep_out` selects, oldest first.
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

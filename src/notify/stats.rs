//! The counts the notifier reports: what [`Notifier::notify`](super::Notifier::notify) did
//! with one notification ([`NotifyOutcome`]), per-sink statistics ([`NotifyStats`],
//! [`SinkStats`]) and the [`ShutdownReport`].

use std::sync::Arc;

use serde::Serialize;

use super::{dlq::DeadLetter, notification::serialize_arc_str};

/// What [`Notifier::notify`](super::Notifier::notify) did with a notification. Every case
/// is counted in [`Notifier::stats`](super::Notifier::stats); nothing is lost silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotifyOutcome {
    /// Queued for delivery.
    Queued,
    /// Queued; the queue was full, so a lower-priority (or, at equal priority, older) item
    /// was dropped to make room and counted as dropped.
    QueuedAfterDrop,
    /// The queue was full of items at least as important: this one was dropped and counted.
    Dropped,
    /// Intake is closed (shutdown started): dropped and counted.
    Closed,
    /// An aggregation window for the same key is open: counted into the summary sent when
    /// the window closes (see [`Notifier::notify_coalesced`](super::Notifier::notify_coalesced)).
    Coalesced,
}
/// A snapshot of the notifier's counts, taken under one lock so they add up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NotifyStats {
    /// Notifications passed to [`Notifier::notify`](super::Notifier::notify), including those dropped on arrival.
    pub submitted: u64,
    /// Notifications waiting in the queue.
    pub queued: u64,
    /// Entries currently in the dead-letter queue (all sinks).
    pub dead_letter_queue_len: u64,
    /// Per sink, in registration order.
    pub sinks: Vec<SinkStats>,
}

impl NotifyStats {
    /// The statistics of the sink registered as `name`.
    pub fn sink(&self, name: &str) -> Option<&SinkStats> {
        self.sinks.iter().find(|s| &*s.name == name)
    }
}

/// The outcome counts of one sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SinkStats {
    /// The name the sink was registered with.
    #[serde(serialize_with = "serialize_arc_str")]
    pub name: Arc<str>,
    /// Notifications in a batch being delivered or retried to this sink.
    pub in_flight: u64,
    /// Notifications this sink accepted.
    pub delivered: u64,
    /// Retries (one per notification per extra attempt).
    pub retried: u64,
    /// Notifications dead-lettered for this sink (drained entries stay counted; evicted
    /// and replayed ones leave this count).
    pub dead_lettered: u64,
    /// Notifications dropped: by the full queue (for every sink), refused after
    /// shutdown, or evicted from the full dead-letter queue.
    pub dropped: u64,
    /// Notifications whose delivery attempt was still running when
    /// [`Notifier::shutdown`](super::Notifier::shutdown) stopped waiting (its deadline and
    /// a one-second grace period had passed): their outcome is unknown, so they are
    /// counted here and not as in flight. Should such an attempt still finish, its outcome
    /// moves it to `delivered` or `dead_lettered`.
    pub abandoned: u64,
}

/// What [`Notifier::shutdown`](super::Notifier::shutdown) achieved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// The counts when shutdown returned.
    pub stats: NotifyStats,
    /// Notifications (per sink entries) moved to the dead-letter queue because the
    /// deadline passed before they could be delivered.
    pub dead_lettered_at_deadline: u64,
    /// Whether everything was settled (delivered or dead-lettered) before the deadline.
    pub completed_before_deadline: bool,
    /// Notifications (per sink) whose attempt was still running when shutdown returned,
    /// also counted in each sink's [`SinkStats::abandoned`].
    pub abandoned: u64,
    /// The entries still in the dead-letter queue when shutdown returned, oldest first
    /// (a copy: the queue keeps them), so the caller can persist them before exiting.
    pub dead_letters: Vec<DeadLetter>,
}

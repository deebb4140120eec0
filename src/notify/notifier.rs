//! `Notification`, the `Notifier` handle, its builder and the statistics it reports.

use std::{
    borrow::Cow,
    collections::BTreeMap,
    fmt,
    sync::{atomic::Ordering, Arc},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Serialize, Serializer};

use super::{
    batcher::{NotifyWorker, Shared},
    dlq::{DeadLetter, ReplayReport},
    sink::Sink,
};
use crate::ConfigError;

/// How urgent a notification is.
///
/// `Critical` notifications are sent at once, bypassing batching; within a batch higher
/// priorities come first; when the queue is full the lowest priority is dropped first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Dropped first when the queue is full.
    Low,
    /// The default.
    Normal,
    /// Sent before `Normal` and `Low` items in the same batch.
    High,
    /// Sent at once; dropped only when the queue holds nothing but `Critical` items.
    Critical,
}

impl Priority {
    /// All priorities, highest first.
    pub const ALL: [Priority; 4] = [
        Priority::Critical,
        Priority::High,
        Priority::Normal,
        Priority::Low,
    ];

    /// `critical`, `high`, `normal` or `low`.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a notification is about.
///
/// The built-in kinds are the ones [`NotifyLayer`](super::NotifyLayer) produces; an
/// application names its own events with [`Kind::Custom`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Kind {
    /// A rate-limit policy refused requests (`rate_limited`).
    RateLimited,
    /// The injection layer found an attack (`injection_detected`).
    InjectionDetected,
    /// Requests named a host that is not on the allow-list (`untrusted_host`).
    UntrustedHost,
    /// A backend failed and a layer fell back (`backend_error`).
    BackendError,
    /// The service answered with a 5xx status (`server_error`).
    ServerError,
    /// A request took longer than the configured threshold (`slow_request`).
    SlowRequest,
    /// An application event, such as `order_filled`.
    Custom(Arc<str>),
}

impl Kind {
    /// An application kind.
    pub fn custom(name: impl Into<Arc<str>>) -> Self {
        Kind::Custom(name.into())
    }

    /// The snake_case name used in JSON and as the Redis stream field.
    pub fn as_str(&self) -> &str {
        match self {
            Kind::RateLimited => "rate_limited",
            Kind::InjectionDetected => "injection_detected",
            Kind::UntrustedHost => "untrusted_host",
            Kind::BackendError => "backend_error",
            Kind::ServerError => "server_error",
            Kind::SlowRequest => "slow_request",
            Kind::Custom(name) => name,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A unique, time-ordered notification id: 48 bits of Unix milliseconds then 80 random
/// bits, shown as `ntf_` and 32 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NotificationId(u128);

impl NotificationId {
    fn generate(at: SystemTime) -> Self {
        let ms = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let random: u128 = rand::random::<u128>() & ((1u128 << 80) - 1);
        Self(((ms & ((1u128 << 48) - 1)) << 80) | random)
    }

    /// The raw 128-bit value.
    pub fn as_u128(self) -> u128 {
        self.0
    }
}

impl fmt::Display for NotificationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ntf_{:032x}", self.0)
    }
}

impl Serialize for NotificationId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One thing to tell people or systems about.
///
/// # JSON shape
///
/// ```json
/// {
///   "id": "ntf_0193f1c2a4b87d6e5f40312a9b8c7d6e",
///   "kind": "rate_limited",
///   "priority": "normal",
///   "title": "Rate limit exceeded",
///   "message": "policy per-ip refused 203.0.113.7",
///   "fields": { "policy": "per-ip", "key": "203.0.113.7" },
///   "count": 1,
///   "timestamp": "2026-11-25T10:00:00.123Z",
///   "source": "tower-fortify"
/// }
/// ```
///
/// `count` is greater than 1 when [`NotifyLayer`](super::NotifyLayer) aggregated several
/// occurrences into this one; `fields` holds any JSON values; `timestamp` is RFC 3339 UTC
/// with milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    id: NotificationId,
    kind: Kind,
    priority: Priority,
    title: Cow<'static, str>,
    message: String,
    fields: BTreeMap<Cow<'static, str>, serde_json::Value>,
    count: u64,
    #[serde(serialize_with = "serialize_time")]
    timestamp: SystemTime,
    source: Cow<'static, str>,
}

pub(crate) fn serialize_arc_str<S: Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

fn serialize_time<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

impl Notification {
    /// A notification of `kind` and `priority` with a short `title`, stamped now with a
    /// fresh id and the source `tower-fortify`.
    pub fn new(kind: Kind, priority: Priority, title: impl Into<Cow<'static, str>>) -> Self {
        let timestamp = SystemTime::now();
        Self {
            id: NotificationId::generate(timestamp),
            kind,
            priority,
            title: title.into(),
            message: String::new(),
            fields: BTreeMap::new(),
            count: 1,
            timestamp,
            source: Cow::Borrowed("tower-fortify"),
        }
    }

    /// Sets the human-readable message.
    #[must_use]
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Adds a structured field (any JSON value: strings, numbers, booleans...).
    #[must_use]
    pub fn field(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.fields.insert(name.into(), value.into());
        self
    }

    /// Sets the source (the service or component that raised it).
    #[must_use]
    pub fn source(mut self, source: impl Into<Cow<'static, str>>) -> Self {
        self.source = source.into();
        self
    }

    /// Sets how many occurrences this notification stands for (at least 1).
    #[must_use]
    pub fn count(mut self, count: u64) -> Self {
        self.count = count.max(1);
        self
    }

    /// The unique id.
    pub fn id(&self) -> NotificationId {
        self.id
    }
    /// The kind.
    pub fn kind(&self) -> &Kind {
        &self.kind
    }
    /// The priority.
    pub fn priority(&self) -> Priority {
        self.priority
    }
    /// The title.
    pub fn title(&self) -> &str {
        &self.title
    }
    /// The message (empty when none was set).
    pub fn message_text(&self) -> &str {
        &self.message
    }
    /// The structured fields.
    pub fn fields(&self) -> &BTreeMap<Cow<'static, str>, serde_json::Value> {
        &self.fields
    }
    /// How many occurrences this notification stands for.
    pub fn occurrences(&self) -> u64 {
        self.count
    }
    /// When it was created.
    pub fn timestamp(&self) -> SystemTime {
        self.timestamp
    }
    /// The source.
    pub fn source_name(&self) -> &str {
        &self.source
    }

    /// A copy with a fresh id and timestamp (for aggregation summaries).
    pub(crate) fn renewed(&self) -> Self {
        let timestamp = SystemTime::now();
        Self {
            id: NotificationId::generate(timestamp),
            timestamp,
            ..self.clone()
        }
    }

    /// The documented JSON shape, as a string.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Formats a time as RFC 3339 UTC with milliseconds, e.g. `2026-11-25T10:00:00.123Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// What [`Notifier::notify`] did with a notification. Every case is counted in
/// [`Notifier::stats`]; nothing is lost silently.
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
    /// the window closes (see [`Notifier::notify_coalesced`]).
    Coalesced,
}

/// The backoff policy each sink's deliveries follow: exponential backoff with full
/// jitter (`sleep = random(0, min(max_backoff, initial_backoff * 2^attempt))`), at least the
/// sink's `Retry-After`, bounded in attempts and in total time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub(crate) max_attempts: u32,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) max_elapsed: Duration,
    pub(crate) attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, backoff from 100 ms up to 10 s, 60 s in total, 30 s per attempt.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// How many attempts in all (the first one included); at least 1.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }
    /// The backoff cap before jitter for the first retry.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }
    /// The largest backoff before jitter.
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }
    /// The total time a batch may spend retrying on one sink before it is dead-lettered.
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = elapsed;
        self
    }
    /// How long one attempt may take before it counts as a (retryable) failure.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_attempts == 0 {
            return Err(ConfigError::new(
                "retry.max_attempts",
                "at least one attempt is needed",
            ));
        }
        if self.initial_backoff > self.max_backoff {
            return Err(ConfigError::new(
                "retry.initial_backoff",
                "the initial backoff must not exceed max_backoff",
            ));
        }
        if self.attempt_timeout.is_zero() {
            return Err(ConfigError::new(
                "retry.attempt_timeout",
                "the per-attempt timeout must be greater than zero",
            ));
        }
        Ok(())
    }
}

/// The most batches [`NotifierBuilder::max_in_flight_batches`] accepts.
pub const MAX_IN_FLIGHT_BATCHES: usize = 1 << 20;

/// Validated settings, shared by the handle and the worker.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) max_items: usize,
    pub(crate) max_latency: Duration,
    pub(crate) queue_capacity: usize,
    pub(crate) max_in_flight_batches: usize,
    pub(crate) dead_letter_capacity: usize,
    pub(crate) retry: RetryPolicy,
}

/// Builds a [`Notifier`] and its worker. Start with [`Notifier::builder`].
#[must_use]
pub struct NotifierBuilder {
    settings: Settings,
    sinks: Vec<(Arc<str>, Arc<dyn Sink>)>,
}

impl fmt::Debug for NotifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifierBuilder")
            .field("settings", &self.settings)
            .field(
                "sinks",
                &self.sinks.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl NotifierBuilder {
    /// Send a batch when it holds this many items (default 10).
    pub fn max_items(mut self, n: usize) -> Self {
        self.settings.max_items = n;
        self
    }
    /// Send a batch when its oldest item has waited this long (default 100 ms).
    pub fn max_latency(mut self, latency: Duration) -> Self {
        self.settings.max_latency = latency;
        self
    }
    /// How many notifications may wait in the queue (default 10,000). When it is full the
    /// lowest-priority item is dropped and counted.
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.settings.queue_capacity = n;
        self
    }
    /// How many batches may be in delivery (or retrying) at once (default 16); further
    /// items wait in the queue.
    pub fn max_in_flight_batches(mut self, n: usize) -> Self {
        self.settings.max_in_flight_batches = n;
        self
    }
    /// How many entries the dead-letter queue keeps (default 10,000); when it is full the
    /// oldest entry is evicted and counted as dropped.
    pub fn dead_letter_capacity(mut self, n: usize) -> Self {
        self.settings.dead_letter_capacity = n;
        self
    }
    /// The retry policy every sink follows.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.settings.retry = policy;
        self
    }
    /// Adds a sink under a unique `name` (used in statistics and dead-letter entries).
    pub fn sink(mut self, name: impl Into<Arc<str>>, sink: impl Sink) -> Self {
        self.sinks.push((name.into(), Arc::new(sink)));
        self
    }
    /// Adds a sink that is already shared.
    pub fn shared_sink(mut self, name: impl Into<Arc<str>>, sink: Arc<dyn Sink>) -> Self {
        self.sinks.push((name.into(), sink));
        self
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.settings;
        if s.max_items == 0 {
            return Err(ConfigError::new(
                "max_items",
                "a batch holds at least 1 item",
            ));
        }
        if s.queue_capacity == 0 {
            return Err(ConfigError::new(
                "queue_capacity",
                "the queue must hold at least 1 item",
            ));
        }
        if s.max_in_flight_batches == 0 || s.max_in_flight_batches > MAX_IN_FLIGHT_BATCHES {
            return Err(ConfigError::new(
                "max_in_flight_batches",
                format!("allow between 1 and {MAX_IN_FLIGHT_BATCHES} batches in flight"),
            ));
        }
        if s.dead_letter_capacity == 0 {
            return Err(ConfigError::new(
                "dead_letter_capacity",
                "the dead-letter queue must hold at least 1 entry",
            ));
        }
        s.retry.validate()?;
        if self.sinks.is_empty() {
            return Err(ConfigError::new("sinks", "add at least one sink"));
        }
        for (i, (name, _)) in self.sinks.iter().enumerate() {
            if name.is_empty() {
                return Err(ConfigError::new("sinks", "a sink name must not be empty"));
            }
            if self.sinks[..i].iter().any(|(other, _)| other == name) {
                return Err(ConfigError::new(
                    "sinks",
                    format!("the sink name `{name}` is used twice"),
                ));
            }
        }
        Ok(())
    }

    /// Returns the handle and the worker that delivers, for the caller to run on the
    /// executor of its choice (a tokio runtime: the worker uses tokio timers and spawns one
    /// task per batch and sink).
    pub fn pair(self) -> Result<(Notifier, NotifyWorker), ConfigError> {
        self.validate()?;
        let shared = Arc::new(Shared::new(self.settings, self.sinks));
        let notifier = Notifier::from_shared(shared.clone());
        Ok((notifier, NotifyWorker::new(shared)))
    }

    /// Returns the handle, with its worker spawned on the current tokio runtime.
    ///
    /// Fails with a [`ConfigError`] for `runtime` when called outside a tokio runtime.
    pub fn spawn(self) -> Result<Notifier, ConfigError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| {
            ConfigError::new("runtime", "Notifier::spawn must be called inside a tokio runtime; use pair() to run the worker yourself")
        })?;
        let (notifier, worker) = self.pair()?;
        handle.spawn(worker.run());
        Ok(notifier)
    }
}

/// The cheap, clonable handle applications and [`NotifyLayer`](super::NotifyLayer) submit
/// notifications through.
///
/// [`notify`](Notifier::notify) never blocks and never waits for delivery. Dropping every
/// handle flushes the queue (while the runtime keeps running); call
/// [`shutdown`](Notifier::shutdown) on exit to flush within a deadline and get a report.
pub struct Notifier {
    pub(crate) shared: Arc<Shared>,
}

impl Notifier {
    /// A builder with the defaults: batches of 10, 100 ms latency, a queue of 10,000,
    /// 16 batches in flight, a dead-letter queue of 10,000 and [`RetryPolicy::default`].
    pub fn builder() -> NotifierBuilder {
        NotifierBuilder {
            settings: Settings {
                max_items: 10,
                max_latency: Duration::from_millis(100),
                queue_capacity: 10_000,
                max_in_flight_batches: 16,
                dead_letter_capacity: 10_000,
                retry: RetryPolicy::default(),
            },
            sinks: Vec::new(),
        }
    }

    fn from_shared(shared: Arc<Shared>) -> Self {
        shared.handles.fetch_add(1, Ordering::AcqRel);
        Self { shared }
    }

    /// Queues a notification. Never blocks, never waits for delivery; see
    /// [`NotifyOutcome`] for what can happen when the queue is full or closed.
    pub fn notify(&self, notification: Notification) -> NotifyOutcome {
        self.shared.submit(notification)
    }

    /// Aggregates a flood: the first notification for `key` is queued at once and opens a
    /// window of `window`; further ones for the same key within the window are only counted,
    /// and when the window closes one summary carrying the count
    /// ([`Notification::occurrences`]) is queued. At most 10,000 windows are open at once;
    /// beyond that, new keys share one window per kind (`<kind>:*`).
    pub fn notify_coalesced(
        &self,
        key: &str,
        window: Duration,
        notification: Notification,
    ) -> NotifyOutcome {
        self.shared.submit_coalesced(key, window, notification)
    }

    /// Counts so far: queued, and per sink in flight / delivered / retried /
    /// dead-lettered / dropped. For every sink,
    /// `submitted == queued + in_flight + delivered + dead_lettered + dropped`.
    pub fn stats(&self) -> NotifyStats {
        self.shared.stats()
    }

    /// A copy of the dead-letter queue, oldest first.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.shared.dead_letters()
    }

    /// Removes every dead-letter entry and hands it to the caller (to store, inspect or
    /// forward elsewhere). The entries stay counted as dead-lettered.
    pub fn drain_dead_letters(&self) -> Vec<DeadLetter> {
        self.shared.drain_dead_letters(|_| true)
    }

    /// Removes the dead-letter entries `select` picks and hands them to the caller.
    pub fn drain_dead_letters_where(
        &self,
        select: impl FnMut(&DeadLetter) -> bool,
    ) -> Vec<DeadLetter> {
        self.shared.drain_dead_letters(select)
    }

    /// Sends every dead-letter entry again, to the sink that refused it (and only that
    /// one), with the usual retries, and waits for the outcome. Entries that fail again go
    /// back to the dead-letter queue. Does nothing once shutdown has started.
    pub async fn replay_dead_letters(&self) -> ReplayReport {
        self.shared.clone().replay(|_| true).await
    }

    /// Like [`replay_dead_letters`](Notifier::replay_dead_letters), for the entries
    /// `select` picks (for example one sink's).
    pub async fn replay_dead_letters_where(
        &self,
        select: impl FnMut(&DeadLetter) -> bool,
    ) -> ReplayReport {
        self.shared.clone().replay(select).await
    }

    /// Stops intake, flushes everything queued and in flight (retrying until `deadline`
    /// has passed), moves what is left to the dead-letter queue and reports.
    ///
    /// Call it on exit: a runtime that shuts down cancels the worker.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        self.shared.shutdown(deadline).await
    }
}

impl Clone for Notifier {
    fn clone(&self) -> Self {
        Self::from_shared(self.shared.clone())
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        if self.shared.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.close_intake();
        }
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("settings", &self.shared.settings)
            .finish_non_exhaustive()
    }
}

/// A snapshot of the notifier's counts, taken under one lock so they add up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NotifyStats {
    /// Notifications passed to [`Notifier::notify`], including those dropped on arrival.
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
}

/// What [`Notifier::shutdown`] achieved.
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        let at = |secs: u64, ms: u64| UNIX_EPOCH + Duration::from_millis(secs * 1000 + ms);
        assert_eq!(rfc3339(at(0, 0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(at(951_782_400, 0)), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(at(1_700_000_000, 123)), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(at(4_102_444_799, 999)), "2099-12-31T23:59:59.999Z");
    }

    #[test]
    fn ids_are_time_ordered() {
        let early = NotificationId::generate(UNIX_EPOCH + Duration::from_secs(1));
        let late = NotificationId::generate(UNIX_EPOCH + Duration::from_secs(2));
        assert!(early < late);
    }
}

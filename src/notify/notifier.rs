//! [`Notifier`], the handle every submission goes through, and its [`NotifierBuilder`].

use std::{
    fmt,
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use super::{
    batcher::NotifyWorker,
    delivery::{Settings, Shared},
    dlq::{DeadLetter, ReplayReport},
    notification::Notification,
    retry::RetryPolicy,
    sink::Sink,
    stats::{NotifyOutcome, NotifyStats, ShutdownReport},
};
use crate::ConfigError;

/// The most batches [`NotifierBuilder::max_in_flight_batches`] accepts.
pub const MAX_IN_FLIGHT_BATCHES: usize = 1 << 20;

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
    /// Adds a sink under a unique, non-empty `name` (used in statistics and dead-letter
    /// entries); at least one is needed.
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
                "notify.max_items",
                "a batch holds at least 1 item",
            ));
        }
        if s.queue_capacity == 0 {
            return Err(ConfigError::new(
                "notify.queue_capacity",
                "the queue must hold at least 1 item",
            ));
        }
        if s.max_in_flight_batches == 0 || s.max_in_flight_batches > MAX_IN_FLIGHT_BATCHES {
            return Err(ConfigError::new(
                "notify.max_in_flight_batches",
                format!("allow between 1 and {MAX_IN_FLIGHT_BATCHES} batches in flight"),
            ));
        }
        if s.dead_letter_capacity == 0 {
            return Err(ConfigError::new(
                "notify.dead_letter_capacity",
                "the dead-letter queue must hold at least 1 entry",
            ));
        }
        s.retry.validate()?;
        if self.sinks.is_empty() {
            return Err(ConfigError::new("notify.sink", "add at least one sink"));
        }
        for (i, (name, _)) in self.sinks.iter().enumerate() {
            if name.is_empty() {
                return Err(ConfigError::new(
                    "notify.sink",
                    "a sink name must not be empty",
                ));
            }
            if self.sinks[..i].iter().any(|(other, _)| other == name) {
                return Err(ConfigError::new(
                    "notify.sink",
                    format!("the sink name `{name}` is used twice"),
                ));
            }
        }
        Ok(())
    }

    /// Validates the settings like [`build`](NotifierBuilder::build) and returns the handle
    /// and the worker that delivers, for the caller to run on the executor of its choice (a tokio runtime: the worker uses tokio timers and spawns one
    /// task per batch and sink).
    pub fn pair(self) -> Result<(Notifier, NotifyWorker), ConfigError> {
        self.validate()?;
        let shared = Arc::new(Shared::new(self.settings, self.sinks));
        let notifier = Notifier::from_shared(shared.clone());
        Ok((notifier, NotifyWorker::new(shared)))
    }

    /// Validates the settings and returns the handle, with its worker spawned on the
    /// current tokio runtime. [`pair`](NotifierBuilder::pair) hands you the worker instead.
    ///
    /// Reports the first bad setting as `notify.<setter>` (`notify.retry_policy.<setter>`
    /// for the [`RetryPolicy`]), and `notify.runtime` when called outside a tokio runtime.
    pub fn build(self) -> Result<Notifier, ConfigError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| {
            ConfigError::new(
                "notify.runtime",
                "NotifierBuilder::build must be called inside a tokio runtime; use pair() to run the worker yourself",
            )
        })?;
        let (notifier, worker) = self.pair()?;
        handle.spawn(worker.run());
        Ok(notifier)
    }
}

/// The cheap, clonable handle applications and [`NotifyLayer`](super::NotifyLayer) submit
/// notifications through; [`layer`](Notifier::layer) hands out the layer.
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
    /// dead-lettered / dropped / abandoned. For every sink,
    /// `submitted == queued + in_flight + delivered + dead_lettered + dropped + abandoned`.
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
    /// one), with the usual retries, and waits for the outcome. Entries that were sent in
    /// a batch go again in that batch, under its id (the webhook sink's `webhook-id`), so
    /// receivers that de-duplicate on it see the same delivery. Entries that fail again go
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
    /// has passed; an attempt still running at the deadline is cut there), moves what is
    /// left to the dead-letter queue and reports, with a copy of every entry still
    /// dead-lettered ([`ShutdownReport::dead_letters`]) for the caller to persist. An
    /// attempt that has not returned one second after the deadline (a sink ignoring
    /// cancellation, a starved runtime) is counted as abandoned, not in flight.
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

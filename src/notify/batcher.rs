//! The queue, the worker that batches it, and delivery with retries to every sink.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap, VecDeque},
    fmt,
    sync::{atomic::AtomicUsize, Arc, Mutex, MutexGuard},
    time::{Duration, SystemTime},
};

use rand::Rng;
use tokio::{
    sync::{watch, Notify, Semaphore},
    task::JoinSet,
    time::Instant,
};

use super::{
    dlq::{DeadLetter, DeadLetterQueue, ReplayReport},
    notifier::{
        Notification, NotifyOutcome, NotifyStats, Priority, Settings, ShutdownReport, SinkStats,
    },
    sink::{Batch, Sink, SinkErrorKind},
};

/// `at + d`, saturating at about thirty years from `at` instead of panicking on overflow
/// (a user may well configure `Duration::MAX` to mean "never").
fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .unwrap_or_else(|| at + Duration::from_secs(30 * 365 * 86_400))
}

/// How many aggregation windows may be open at once before new keys share one overflow
/// window per kind (so a flood from ever-changing keys still yields few notifications).
const MAX_AGGREGATION_KEYS: usize = 10_000;

/// Delivers the queue: sends a batch when it reaches `max_items`, when its oldest item has
/// waited `max_latency`, or at once for a `Critical` item.
///
/// Run it with [`run`](NotifyWorker::run) on a tokio runtime (or use
/// [`NotifierBuilder::spawn`](super::NotifierBuilder::spawn)). It returns once intake is
/// closed (by [`Notifier::shutdown`](super::Notifier::shutdown) or by dropping every
/// handle) and the queue is empty.
pub struct NotifyWorker {
    shared: Arc<Shared>,
}

impl fmt::Debug for NotifyWorker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyWorker").finish_non_exhaustive()
    }
}

struct SinkSlot {
    name: Arc<str>,
    sink: Arc<dyn Sink>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    in_flight: u64,
    delivered: u64,
    retried: u64,
    dead_lettered: u64,
    dropped: u64,
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

pub(crate) struct State {
    /// One FIFO per priority, indexed by `Priority::index` (Low = 0 ... Critical = 3).
    queues: [VecDeque<Queued>; 4],
    len: usize,
    closed: bool,
    submitted: u64,
    counters: Vec<Counters>,
    dlq: DeadLetterQueue,
    in_flight_batches: usize,
    aggregates: HashMap<String, Aggregate>,
    window_ends: BinaryHeap<Reverse<(Instant, String)>>,
}

impl State {
    fn oldest(&self) -> Option<Instant> {
        self.queues
            .iter()
            .filter_map(|q| q.front().map(|i| i.enqueued_at))
            .min()
    }

    fn take_batch(&mut self, max: usize) -> Vec<Notification> {
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

    fn drop_everywhere(&mut self) {
        for c in &mut self.counters {
            c.dropped += 1;
        }
    }

    /// Appends a dead-letter entry, counting an eviction as dropped for its sink.
    fn dead_letter(&mut self, sink_index: usize, entry: DeadLetter) {
        self.counters[sink_index].dead_lettered += 1;
        if let Some(evicted) = self.dlq.push(sink_index, entry) {
            self.counters[evicted].dead_lettered -= 1;
            self.counters[evicted].dropped += 1;
        }
    }

    fn enqueue(&mut self, capacity: usize, notification: Notification) -> NotifyOutcome {
        let mut outcome = NotifyOutcome::Queued;
        if self.len >= capacity {
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
}

pub(crate) struct Shared {
    pub(crate) settings: Settings,
    sinks: Vec<SinkSlot>,
    state: Mutex<State>,
    /// Wakes the worker: a batch is full, a critical item or the first item arrived, or
    /// intake closed.
    wakeup: Notify,
    /// Signalled whenever a batch finishes delivery or the queue empties.
    idle: Notify,
    /// The shutdown deadline, once shutdown has started.
    deadline: watch::Sender<Option<Instant>>,
    permits: Arc<Semaphore>,
    pub(crate) handles: AtomicUsize,
}

impl Shared {
    pub(crate) fn new(settings: Settings, sinks: Vec<(Arc<str>, Arc<dyn Sink>)>) -> Self {
        let n = sinks.len();
        Self {
            permits: Arc::new(Semaphore::new(settings.max_in_flight_batches)),
            state: Mutex::new(State {
                queues: Default::default(),
                len: 0,
                closed: false,
                submitted: 0,
                counters: vec![Counters::default(); n],
                dlq: DeadLetterQueue::new(settings.dead_letter_capacity),
                in_flight_batches: 0,
                aggregates: HashMap::new(),
                window_ends: BinaryHeap::new(),
            }),
            settings,
            sinks: sinks
                .into_iter()
                .map(|(name, sink)| SinkSlot { name, sink })
                .collect(),
            wakeup: Notify::new(),
            idle: Notify::new(),
            deadline: watch::channel(None).0,
            handles: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in a user sink cannot happen under this lock; recover rather than panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn submit(&self, notification: Notification) -> NotifyOutcome {
        let critical = notification.priority() == Priority::Critical;
        let wake;
        let outcome = {
            let mut st = self.lock();
            st.submitted += 1;
            if st.closed {
                st.drop_everywhere();
                return NotifyOutcome::Closed;
            }
            let outcome = st.enqueue(self.settings.queue_capacity, notification);
            wake = critical || st.len == 1 || st.len >= self.settings.max_items;
            outcome
        };
        if wake {
            self.wakeup.notify_one();
        }
        outcome
    }

    /// Submits `notification` unless an aggregation window for `key` is open, in which case
    /// it only counts it; the window's summary (with the count) is sent when it closes.
    pub(crate) fn submit_coalesced(
        &self,
        key: &str,
        window: Duration,
        notification: Notification,
    ) -> NotifyOutcome {
        {
            let mut st = self.lock();
            if !st.closed {
                let now = Instant::now();
                let key = if st.aggregates.contains_key(key)
                    || st.aggregates.len() < MAX_AGGREGATION_KEYS
                {
                    key.to_owned()
                } else {
                    format!("{}:*", notification.kind())
                };
                if let Some(agg) = st.aggregates.get_mut(&key) {
                    if now < agg.window_end {
                        agg.suppressed += 1;
                        return NotifyOutcome::Coalesced;
                    }
                }
                // A window that ended but that the worker has not closed yet: summarise it
                // before reopening the key, so its count is not lost.
                if let Some(ended) = st.aggregates.remove(&key) {
                    self.queue_summary(&mut st, ended);
                }
                let window_end = later(now, window);
                st.window_ends.push(Reverse((window_end, key.clone())));
                st.aggregates.insert(
                    key,
                    Aggregate {
                        window_end,
                        window,
                        suppressed: 0,
                        template: notification.clone(),
                    },
                );
                let first = st.window_ends.len() == 1;
                drop(st);
                if first {
                    // The worker must learn about the new window's end.
                    self.wakeup.notify_one();
                }
            }
        }
        self.submit(notification)
    }

    pub(crate) fn close_intake(&self) {
        let mut st = self.lock();
        if !st.closed {
            // Counts of open aggregation windows are summarised now, not lost.
            self.close_windows(&mut st, Instant::now(), true);
            st.closed = true;
        }
        drop(st);
        self.wakeup.notify_one();
        self.idle.notify_waiters();
    }

    pub(crate) fn stats(&self) -> NotifyStats {
        let st = self.lock();
        NotifyStats {
            submitted: st.submitted,
            queued: st.len as u64,
            dead_letter_queue_len: st.dlq.len() as u64,
            sinks: self
                .sinks
                .iter()
                .zip(&st.counters)
                .map(|(slot, c)| SinkStats {
                    name: slot.name.clone(),
                    in_flight: c.in_flight,
                    delivered: c.delivered,
                    retried: c.retried,
                    dead_lettered: c.dead_lettered,
                    dropped: c.dropped,
                })
                .collect(),
        }
    }

    pub(crate) fn dead_letters(&self) -> Vec<DeadLetter> {
        self.lock().dlq.snapshot()
    }

    pub(crate) fn drain_dead_letters(
        &self,
        select: impl FnMut(&DeadLetter) -> bool,
    ) -> Vec<DeadLetter> {
        let mut st = self.lock();
        st.dlq
            .take_where(select)
            .into_iter()
            .map(|(_, d)| d)
            .collect()
    }

    /// Closes the windows that have ended (every window when `all`), queueing a summary
    /// for each that counted more occurrences; returns when the next window ends.
    fn close_windows(&self, st: &mut State, now: Instant, all: bool) -> Option<Instant> {
        while let Some(Reverse((end, _))) = st.window_ends.peek() {
            if *end > now && !all {
                return Some(*end);
            }
            let Some(Reverse((end, key))) = st.window_ends.pop() else {
                break;
            };
            // A key reopened later has a newer end; only close the matching window.
            let matches = st.aggregates.get(&key).is_some_and(|a| a.window_end == end);
            if !matches {
                continue;
            }
            if let Some(agg) = st.aggregates.remove(&key) {
                self.queue_summary(st, agg);
            }
        }
        None
    }

    /// Queues the summary of a closed aggregation window, if it counted anything beyond
    /// the first occurrence (which was sent when the window opened).
    fn queue_summary(&self, st: &mut State, agg: Aggregate) {
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
        st.submitted += 1;
        let _ = st.enqueue(self.settings.queue_capacity, summary);
    }

    /// Delivers one batch to every sink concurrently: a slow or failing sink delays only
    /// its own copy.
    async fn deliver_batch(self: Arc<Self>, batch: Batch) {
        if self.sinks.len() == 1 {
            self.deliver_to(0, batch).await;
            return;
        }
        let mut set = JoinSet::new();
        for i in 0..self.sinks.len() {
            let shared = self.clone();
            let batch = batch.clone();
            set.spawn(async move { shared.deliver_to(i, batch).await });
        }
        while set.join_next().await.is_some() {}
    }

    /// Delivers one batch to one sink with retries; returns whether it was delivered.
    /// Every outcome is recorded: delivered, or dead-lettered with the reason.
    async fn deliver_to(self: Arc<Self>, i: usize, batch: Batch) -> bool {
        let retry = self.settings.retry;
        let n = batch.len() as u64;
        let start = Instant::now();
        let mut deadline_rx = self.deadline.subscribe();
        let mut attempt: u32 = 0;
        let reason = loop {
            attempt += 1;
            let shutdown_deadline = *deadline_rx.borrow_and_update();
            let mut attempt_end = later(Instant::now(), retry.attempt_timeout);
            if let Some(d) = shutdown_deadline {
                attempt_end = attempt_end.min(d);
            }
            // Each attempt runs as its own task: a hung attempt is aborted at its timeout and
            // a panicking sink costs only that attempt, never the accounting.
            let sink = self.sinks[i].sink.clone();
            let attempt_batch = batch.clone();
            let mut task = tokio::spawn(async move { sink.send(&attempt_batch).await });
            let result = tokio::time::timeout_at(attempt_end, &mut task).await;
            if result.is_err() {
                task.abort();
            }
            let err = match result {
                Ok(Ok(Ok(()))) => {
                    let mut st = self.lock();
                    let c = &mut st.counters[i];
                    c.in_flight -= n;
                    c.delivered += n;
                    return true;
                }
                Ok(Ok(Err(e))) => e,
                Ok(Err(_)) => super::sink::SinkError::permanent("the sink panicked"),
                Err(_) => super::sink::SinkError::retryable("the attempt timed out"),
            };
            if err.kind() == SinkErrorKind::Permanent {
                break format!("refused: {}", err.message());
            }
            if attempt >= retry.max_attempts {
                break format!("gave up after {attempt} attempt(s): {}", err.message());
            }
            let exp = retry
                .initial_backoff
                .saturating_mul(1u32.checked_shl(attempt - 1).unwrap_or(u32::MAX))
                .min(retry.max_backoff);
            let jitter = rand::rng().random_range(0..=exp.as_nanos().min(u64::MAX as u128) as u64);
            let mut backoff = Duration::from_nanos(jitter);
            if let Some(after) = err.retry_after() {
                backoff = backoff.max(after);
            }
            let wake = later(Instant::now(), backoff);
            if wake.duration_since(start) > retry.max_elapsed {
                break format!(
                    "gave up after {attempt} attempt(s) ({} s retry budget): {}",
                    retry.max_elapsed.as_secs_f64(),
                    err.message()
                );
            }
            // Sleep until `wake`, unless a shutdown deadline that comes first is set meanwhile.
            let mut hit_deadline = false;
            loop {
                if let Some(d) = *deadline_rx.borrow_and_update() {
                    if wake >= d {
                        hit_deadline = true;
                        break;
                    }
                }
                match tokio::time::timeout_at(wake, deadline_rx.changed()).await {
                    Ok(Ok(())) => continue,
                    // Sender dropped (cannot happen while `self` lives) or woke up: go on.
                    Ok(Err(_)) => {
                        tokio::time::sleep_until(wake).await;
                        break;
                    }
                    Err(_) => break,
                }
            }
            if hit_deadline {
                break format!(
                    "shutdown deadline passed while retrying after {attempt} attempt(s): {}",
                    err.message()
                );
            }
            self.lock().counters[i].retried += n;
        };
        let now = SystemTime::now();
        let mut st = self.lock();
        st.counters[i].in_flight -= n;
        for notification in batch.notifications() {
            let entry = DeadLetter {
                sink: self.sinks[i].name.clone(),
                reason: reason.clone(),
                attempts: attempt,
                dead_lettered_at: now,
                notification: notification.clone(),
            };
            st.dead_letter(i, entry);
        }
        false
    }

    fn finish_batch(&self) {
        let mut st = self.lock();
        st.in_flight_batches -= 1;
        drop(st);
        self.idle.notify_waiters();
    }

    pub(crate) async fn replay(
        self: Arc<Self>,
        select: impl FnMut(&DeadLetter) -> bool,
    ) -> ReplayReport {
        let taken = {
            let mut st = self.lock();
            if st.closed {
                return ReplayReport::default();
            }
            let taken = st.dlq.take_where(select);
            for (i, _) in &taken {
                st.counters[*i].dead_lettered -= 1;
                st.counters[*i].in_flight += 1;
            }
            st.in_flight_batches += 1;
            taken
        };
        // The deliveries run on their own task: a caller that drops this future (a timeout,
        // a `select!`, a cancelled request) cannot abort them halfway and lose the entries
        // it took out of the dead-letter queue.
        let shared = self.clone();
        let deliveries = tokio::spawn(async move { shared.deliver_replay(taken).await });
        deliveries.await.unwrap_or_default()
    }

    async fn deliver_replay(self: Arc<Self>, taken: Vec<(usize, DeadLetter)>) -> ReplayReport {
        let mut per_sink: Vec<Vec<Notification>> = vec![Vec::new(); self.sinks.len()];
        for (i, d) in taken {
            per_sink[i].push(d.notification);
        }
        let mut set = JoinSet::new();
        let mut report = ReplayReport::default();
        for (i, items) in per_sink.into_iter().enumerate() {
            let mut items = items.into_iter().peekable();
            while items.peek().is_some() {
                let chunk: Vec<Notification> =
                    items.by_ref().take(self.settings.max_items).collect();
                let len = chunk.len() as u64;
                report.replayed += len;
                let shared = self.clone();
                set.spawn(async move { (len, shared.deliver_to(i, Batch::new(chunk)).await) });
            }
        }
        while let Some(res) = set.join_next().await {
            if let Ok((len, delivered)) = res {
                if delivered {
                    report.delivered += len;
                } else {
                    report.dead_lettered += len;
                }
            }
        }
        self.finish_batch();
        report
    }

    pub(crate) async fn shutdown(self: &Arc<Self>, deadline: Duration) -> ShutdownReport {
        let deadline_at = later(Instant::now(), deadline);
        {
            let mut st = self.lock();
            if !st.closed {
                self.close_windows(&mut st, Instant::now(), true);
                st.closed = true;
            }
        }
        self.deadline.send_if_modified(|d| match d {
            Some(existing) if *existing <= deadline_at => false,
            _ => {
                *d = Some(deadline_at);
                true
            }
        });
        self.wakeup.notify_one();

        let settled = |st: &State| st.len == 0 && st.in_flight_batches == 0;
        let mut completed = false;
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if settled(&self.lock()) {
                completed = true;
                break;
            }
            if tokio::time::timeout_at(deadline_at, notified)
                .await
                .is_err()
            {
                break;
            }
        }

        let mut dead_lettered_at_deadline = 0;
        if !completed {
            let now = SystemTime::now();
            {
                let mut st = self.lock();
                let left = st.len;
                let items = st.take_batch(left);
                for notification in items {
                    for (i, slot) in self.sinks.iter().enumerate() {
                        dead_lettered_at_deadline += 1;
                        st.dead_letter(
                            i,
                            DeadLetter {
                                sink: slot.name.clone(),
                                reason: "shutdown deadline passed before delivery".to_owned(),
                                attempts: 0,
                                dead_lettered_at: now,
                                notification: notification.clone(),
                            },
                        );
                    }
                }
            }
            self.wakeup.notify_one();
            // In-flight attempts end at the deadline; give them a moment to record it.
            let grace = later(Instant::now(), Duration::from_secs(1));
            loop {
                let notified = self.idle.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.lock().in_flight_batches == 0 {
                    break;
                }
                if tokio::time::timeout_at(grace, notified).await.is_err() {
                    break;
                }
            }
        }
        ShutdownReport {
            stats: self.stats(),
            dead_lettered_at_deadline,
            completed_before_deadline: completed,
        }
    }
}

enum Step {
    Send(Vec<Notification>),
    Wait(Option<Instant>),
    Exit,
}

impl NotifyWorker {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Runs until intake is closed and the queue is empty.
    pub async fn run(self) {
        let shared = self.shared;
        loop {
            let Ok(permit) = shared.permits.clone().acquire_owned().await else {
                return;
            };
            let step = {
                let mut st = shared.lock();
                let now = Instant::now();
                let next_window = shared.close_windows(&mut st, now, false);
                if st.len == 0 {
                    if st.closed {
                        Step::Exit
                    } else {
                        Step::Wait(next_window)
                    }
                } else {
                    let oldest = st.oldest().unwrap_or(now);
                    let due = later(oldest, shared.settings.max_latency);
                    if st.closed
                        || st.len >= shared.settings.max_items
                        || !st.queues[Priority::Critical.index()].is_empty()
                        || due <= now
                    {
                        let items = st.take_batch(shared.settings.max_items);
                        let n = items.len() as u64;
                        for c in &mut st.counters {
                            c.in_flight += n;
                        }
                        st.in_flight_batches += 1;
                        Step::Send(items)
                    } else {
                        Step::Wait(Some(next_window.map_or(due, |w| w.min(due))))
                    }
                }
            };
            match step {
                Step::Exit => {
                    shared.idle.notify_waiters();
                    return;
                }
                Step::Wait(until) => {
                    drop(permit);
                    match until {
                        Some(t) => {
                            let _ = tokio::time::timeout_at(t, shared.wakeup.notified()).await;
                        }
                        None => shared.wakeup.notified().await,
                    }
                }
                Step::Send(items) => {
                    let batch = Batch::new(items);
                    let s = shared.clone();
                    tokio::spawn(async move {
                        let _permit = permit;
                        s.clone().deliver_batch(batch).await;
                        s.finish_batch();
                    });
                }
            }
        }
    }
}

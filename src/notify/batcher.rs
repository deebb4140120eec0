//! [`NotifyWorker`]: the loop that cuts the queue into batches and hands each to a
//! delivery task.

use std::{fmt, sync::Arc};

use tokio::time::Instant;

use super::{delivery::Shared, notification::Notification, queue::later, sink::Batch};

/// Delivers the queue: sends a batch when it reaches `max_items`, when its oldest item has
/// waited `max_latency`, or at once for a `Critical` item.
///
/// Run it with [`run`](NotifyWorker::run) on a tokio runtime (or use
/// [`NotifierBuilder::build`](super::NotifierBuilder::build)). It returns once intake is
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

enum Step {
    Send(Vec<Notification>),
    Wait(Option<Instant>),
    Exit,
}

impl NotifyWorker {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
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
                let next_window = st.close_windows(now, false);
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
                        || st.has_critical()
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

//! Test sinks for the notifier: scripted failures, a switch, a panicking and a hanging
//! sink. Every test binary that exercises `notify` uses these instead of its own copy.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU32, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use tokio::time::Instant;
use tower_fortify::notify::{Batch, Notification, Sink, SinkError, SinkFuture};

/// Every accepted batch, with the (paused) time it arrived.
pub(crate) type DeliveryLog = Arc<Mutex<Vec<(Instant, Vec<Notification>)>>>;

/// A sink that records every attempt and fails according to a script.
#[derive(Clone, Default)]
pub(crate) struct ScriptedSink {
    /// Fail this many attempts (retryably) before succeeding; `u32::MAX` fails forever.
    pub(crate) failures: u32,
    pub(crate) permanent: bool,
    pub(crate) attempts: Arc<AtomicU32>,
    pub(crate) delivered: DeliveryLog,
}

impl ScriptedSink {
    /// Fails `failures` attempts with a retryable `503 unavailable`, then accepts.
    pub(crate) fn failing(failures: u32) -> Self {
        Self {
            failures,
            ..Self::default()
        }
    }

    /// Refuses every attempt for good with `410 gone`.
    pub(crate) fn refusing() -> Self {
        Self {
            permanent: true,
            failures: u32::MAX,
            ..Self::default()
        }
    }

    /// The titles of every delivered notification, in delivery order.
    pub(crate) fn delivered_titles(&self) -> Vec<String> {
        self.delivered
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(_, b)| b.iter().map(|n| n.title().to_owned()))
            .collect()
    }
}

impl Sink for ScriptedSink {
    fn send<'a>(&'a self, batch: &'a Batch) -> SinkFuture<'a> {
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst);
        let result = if attempt < self.failures {
            if self.permanent {
                Err(SinkError::permanent("410 gone"))
            } else {
                Err(SinkError::retryable("503 unavailable"))
            }
        } else {
            self.delivered
                .lock()
                .unwrap()
                .push((Instant::now(), batch.notifications().to_vec()));
            Ok(())
        };
        Box::pin(std::future::ready(result))
    }
}

/// A sink that refuses for good (`410 gone`) until it is switched on, then records the
/// titles it receives.
#[derive(Clone, Default)]
pub(crate) struct Switch {
    pub(crate) on: Arc<AtomicBool>,
    pub(crate) got: Arc<Mutex<Vec<String>>>,
}

impl Sink for Switch {
    fn send<'a>(&'a self, batch: &'a Batch) -> SinkFuture<'a> {
        let result = if self.on.load(Ordering::SeqCst) {
            let mut got = self.got.lock().unwrap();
            got.extend(batch.notifications().iter().map(|n| n.title().to_owned()));
            Ok(())
        } else {
            Err(SinkError::permanent("410 gone"))
        };
        Box::pin(std::future::ready(result))
    }
}

/// A [`Switch`] that, once switched on, takes a second to accept; refuses at once before.
#[derive(Clone, Default)]
pub(crate) struct SlowSwitch(pub(crate) Switch);

impl Sink for SlowSwitch {
    fn send<'a>(&'a self, batch: &'a Batch) -> SinkFuture<'a> {
        Box::pin(async move {
            if self.0.on.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            self.0.send(batch).await
        })
    }
}

/// A sink that panics.
pub(crate) struct Panicking;

impl Sink for Panicking {
    fn send<'a>(&'a self, _batch: &'a Batch) -> SinkFuture<'a> {
        Box::pin(async { panic!("bug in a user sink") })
    }
}

/// A sink that never answers.
pub(crate) struct Hangs;

impl Sink for Hangs {
    fn send<'a>(&'a self, _batch: &'a Batch) -> SinkFuture<'a> {
        Box::pin(std::future::pending())
    }
}

/// `(batch id, titles, accepted)` per attempt, in order.
pub(crate) type AttemptLog = Arc<Mutex<Vec<(String, Vec<String>, bool)>>>;

/// A sink that logs the batch id and titles of every attempt, and refuses for good
/// (`410 gone`) until it is switched on.
#[derive(Clone, Default)]
pub(crate) struct IdLog {
    pub(crate) on: Arc<AtomicBool>,
    pub(crate) attempts: AttemptLog,
}

impl Sink for IdLog {
    fn send<'a>(&'a self, batch: &'a Batch) -> SinkFuture<'a> {
        let on = self.on.load(Ordering::SeqCst);
        self.attempts.lock().unwrap().push((
            batch.id().to_owned(),
            batch
                .notifications()
                .iter()
                .map(|n| n.title().to_owned())
                .collect(),
            on,
        ));
        let result = if on {
            Ok(())
        } else {
            Err(SinkError::permanent("410 gone"))
        };
        Box::pin(std::future::ready(result))
    }
}

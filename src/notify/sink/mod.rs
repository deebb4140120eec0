//! The [`Sink`] trait, the [`Batch`] every sink receives, [`SinkError`], and the sinks this
//! crate ships (one file each). Sinks only see notifications: they know nothing of the
//! queue, the retries or the dead-letter queue.

use std::{fmt, future::Future, pin::Pin, sync::Arc, time::Duration};

use super::notification::Notification;

pub(crate) mod channel;
#[cfg(feature = "redis")]
pub(crate) mod redis;
#[cfg(feature = "webhook")]
mod resolver;
#[cfg(feature = "webhook")]
pub(crate) mod webhook;

/// The future a [`Sink`] returns for one delivery attempt.
pub type SinkFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>;

/// Somewhere notifications go: a channel, a webhook, a Redis stream, or your own.
///
/// The worker calls [`send`](Sink::send) once per attempt with the whole batch; a batch is
/// accepted or refused as a whole. Return [`SinkError::retryable`] for failures worth
/// retrying (timeouts, 5xx, connection errors) and [`SinkError::permanent`] for those
/// that will never succeed (the batch is dead-lettered at once).
///
/// ```
/// use tower_fortify::notify::{Batch, Sink, SinkError, SinkFuture};
///
/// struct Stdout;
///
/// impl Sink for Stdout {
///     fn send<'a>(&'a self, batch: &'a Batch) -> SinkFuture<'a> {
///         Box::pin(async move {
///             for n in batch.notifications() {
///                 println!("{}", n.to_json());
///             }
///             Ok::<(), SinkError>(())
///         })
///     }
/// }
/// ```
pub trait Sink: Send + Sync + 'static {
    /// Delivers one batch (one attempt).
    fn send<'a>(&'a self, batch: &'a Batch) -> SinkFuture<'a>;
}

impl<S: Sink + ?Sized> Sink for Arc<S> {
    fn send<'a>(&'a self, batch: &'a Batch) -> SinkFuture<'a> {
        (**self).send(batch)
    }
}

/// A batch of notifications, highest priority first, as handed to every sink.
///
/// Cheap to clone: the notifications are shared. The id is stable across retries of the
/// same batch (the webhook sink sends it as `webhook-id` so receivers can deduplicate).
#[derive(Debug, Clone)]
pub struct Batch {
    id: Arc<str>,
    notifications: Arc<[Notification]>,
}

impl Batch {
    /// A batch of `notifications` with a fresh id (`bat_` and 32 hex digits).
    pub fn new(notifications: Vec<Notification>) -> Self {
        Self {
            id: Arc::from(format!("bat_{:032x}", rand::random::<u128>())),
            notifications: notifications.into(),
        }
    }

    /// A batch sent again under the id it was first sent with (a dead-letter replay), so
    /// receivers that de-duplicate on it see the same delivery.
    pub(crate) fn with_id(id: Arc<str>, notifications: Vec<Notification>) -> Self {
        Self {
            id,
            notifications: notifications.into(),
        }
    }

    /// The batch id, stable across retries and dead-letter replays.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The notifications, highest priority first.
    pub fn notifications(&self) -> &[Notification] {
        &self.notifications
    }

    /// The number of notifications.
    pub fn len(&self) -> usize {
        self.notifications.len()
    }

    /// Whether the batch is empty (the worker never sends an empty batch).
    pub fn is_empty(&self) -> bool {
        self.notifications.is_empty()
    }
}

/// Whether a failed delivery is worth another attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SinkErrorKind {
    /// Try again after a backoff (at least `retry_after`, when given).
    Retryable,
    /// Never going to work: dead-letter the batch for this sink now.
    Permanent,
}

/// Why a sink did not take a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkError {
    kind: SinkErrorKind,
    message: String,
    retry_after: Option<Duration>,
}

impl SinkError {
    /// A failure worth retrying (timeout, overload, connection refused).
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            kind: SinkErrorKind::Retryable,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A failure that will not go away (bad request, forbidden): dead-letter at once.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            kind: SinkErrorKind::Permanent,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The receiver asked to wait at least this long (a `Retry-After`).
    #[must_use]
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// Retryable or permanent.
    pub fn kind(&self) -> SinkErrorKind {
        self.kind
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The delay the receiver asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SinkError {}

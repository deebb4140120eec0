//! In-process sinks: a broadcast fan-out (for example to WebSocket clients) and a bounded
//! queue with one consumer.

use std::fmt;

use tokio::sync::{broadcast, mpsc};

use super::{Batch, Sink, SinkError, SinkFuture};
use crate::ConfigError;

/// The largest capacity [`ChannelSink::broadcast`] and [`ChannelSink::bounded`] accept
/// (tokio's channels refuse larger ones).
pub const MAX_CHANNEL_CAPACITY: usize = 1 << 24;

fn check_capacity(capacity: usize) -> Result<(), ConfigError> {
    if capacity == 0 || capacity > MAX_CHANNEL_CAPACITY {
        return Err(ConfigError::new(
            "notify.channel_sink.capacity",
            format!("a channel buffers between 1 and {MAX_CHANNEL_CAPACITY} batches"),
        ));
    }
    Ok(())
}

/// An in-process sink.
///
/// - [`ChannelSink::broadcast`]: every [`Subscriber`] receives every batch sent after it
///   subscribed. A batch sent while nobody listens counts as delivered (there is nobody to
///   retry for); a subscriber that falls more than `capacity` batches behind skips the
///   oldest and can read how many it missed ([`Subscriber::missed`]).
/// - [`ChannelSink::bounded`]: one [`ChannelReceiver`] takes every batch. A full queue is a
///   retryable failure (the worker backs off and retries), a dropped receiver a permanent
///   one (the batch is dead-lettered), so nothing is lost silently.
///
/// Cloning a broadcast sink keeps the same channel, so keep a clone to subscribe later.
#[derive(Clone)]
pub struct ChannelSink {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Broadcast(broadcast::Sender<Batch>),
    Bounded(mpsc::Sender<Batch>),
}

impl fmt::Debug for ChannelSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Broadcast(tx) => f
                .debug_struct("ChannelSink::Broadcast")
                .field("subscribers", &tx.receiver_count())
                .finish(),
            Inner::Bounded(tx) => f
                .debug_struct("ChannelSink::Bounded")
                .field("capacity", &tx.max_capacity())
                .finish(),
        }
    }
}

impl ChannelSink {
    /// A fan-out to any number of [`Subscriber`]s, each buffering up to `capacity` batches
    /// (1 to [`MAX_CHANNEL_CAPACITY`]; otherwise a [`ConfigError`] for
    /// `notify.channel_sink.capacity`).
    pub fn broadcast(capacity: usize) -> Result<Self, ConfigError> {
        check_capacity(capacity)?;
        Ok(Self {
            inner: Inner::Broadcast(broadcast::channel(capacity).0),
        })
    }

    /// A queue of up to `capacity` batches with one consumer (1 to
    /// [`MAX_CHANNEL_CAPACITY`], as for [`broadcast`](ChannelSink::broadcast)).
    pub fn bounded(capacity: usize) -> Result<(Self, ChannelReceiver), ConfigError> {
        check_capacity(capacity)?;
        let (tx, rx) = mpsc::channel(capacity);
        Ok((
            Self {
                inner: Inner::Bounded(tx),
            },
            ChannelReceiver { rx },
        ))
    }

    /// A new subscriber of a broadcast sink; `None` for a bounded sink (it has one receiver).
    pub fn subscribe(&self) -> Option<Subscriber> {
        match &self.inner {
            Inner::Broadcast(tx) => Some(Subscriber {
                rx: tx.subscribe(),
                missed: 0,
            }),
            Inner::Bounded(_) => None,
        }
    }
}

impl Sink for ChannelSink {
    fn send<'a>(&'a self, batch: &'a Batch) -> SinkFuture<'a> {
        let result = match &self.inner {
            // No subscriber is not a failure: a fan-out delivers to whoever listens now.
            Inner::Broadcast(tx) => {
                let _ = tx.send(batch.clone());
                Ok(())
            }
            Inner::Bounded(tx) => tx.try_send(batch.clone()).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => SinkError::retryable("the channel is full"),
                mpsc::error::TrySendError::Closed(_) => {
                    SinkError::permanent("the channel's receiver was dropped")
                }
            }),
        };
        Box::pin(std::future::ready(result))
    }
}

/// Receives the batches of a broadcast [`ChannelSink`].
#[derive(Debug)]
pub struct Subscriber {
    rx: broadcast::Receiver<Batch>,
    missed: u64,
}

impl Subscriber {
    /// The next batch; `None` once every sender (the sink and its clones) is gone. Batches
    /// skipped because this subscriber lagged are added to [`missed`](Subscriber::missed).
    pub async fn recv(&mut self) -> Option<Batch> {
        loop {
            match self.rx.recv().await {
                Ok(batch) => return Some(batch),
                Err(broadcast::error::RecvError::Lagged(n)) => self.missed += n,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// How many batches this subscriber skipped because it fell behind.
    pub fn missed(&self) -> u64 {
        self.missed
    }
}

/// Receives the batches of a bounded [`ChannelSink`].
#[derive(Debug)]
pub struct ChannelReceiver {
    rx: mpsc::Receiver<Batch>,
}

impl ChannelReceiver {
    /// The next batch; `None` once the sink (and its clones) is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<Batch> {
        self.rx.recv().await
    }

    /// The next batch if one is waiting.
    pub fn try_recv(&mut self) -> Option<Batch> {
        self.rx.try_recv().ok()
    }
}

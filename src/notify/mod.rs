//! Batched, prioritised notification delivery with retries, a dead-letter queue and a
//! drain on shutdown.
//!
//! ```
//! use std::{convert::Infallible, time::Duration};
//! use http::{Request, Response, StatusCode};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_fortify::notify::{ChannelSink, Kind, Notification, Notifier, Priority};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (sink, mut received) = ChannelSink::bounded(16)?;
//! let notifier = Notifier::builder()
//!     .max_items(10)
//!     .max_latency(Duration::from_millis(100))
//!     .sink("in-process", sink)
//!     .build()?;
//!
//! // The layer reports what happens to requests (here a 5xx) and never changes a response.
//! let svc = ServiceBuilder::new()
//!     .layer(notifier.layer())
//!     .service(service_fn(|_req: Request<String>| async {
//!         let mut res = Response::new(String::new());
//!         *res.status_mut() = StatusCode::BAD_GATEWAY;
//!         Ok::<_, Infallible>(res)
//!     }));
//! let res = svc.oneshot(Request::new(String::new())).await?;
//! assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
//!
//! // The application reports its own events through the same handle.
//! notifier.notify(
//!     Notification::new(Kind::custom("order_filled"), Priority::Critical, "Order filled")
//!         .field("order", 42),
//! );
//!
//! let report = notifier.shutdown(Duration::from_secs(5)).await;
//! assert_eq!(report.stats.sink("in-process").unwrap().delivered, 2);
//! let mut kinds = Vec::new();
//! while let Some(batch) = received.try_recv() {
//!     kinds.extend(batch.notifications().iter().map(|n| n.kind().clone()));
//! }
//! kinds.sort();
//! assert_eq!(kinds, [Kind::ServerError, Kind::custom("order_filled")]);
//! # Ok(()) }
//! ```
//!
//! # Why a handle and not a layer builder
//!
//! Every other layer in this crate starts with `XLayer::builder()`. The notifier is a
//! handle instead, like the metrics registry, because it owns a background task (the
//! worker that batches, retries and flushes) and state that outlives any one layer value:
//! the queue, the dead-letter queue and the statistics are shared by the application
//! (which calls [`Notifier::notify`] for its own events), by every [`NotifyLayer`] and by
//! the monitoring endpoints, and they must be flushed by [`Notifier::shutdown`] after the
//! layers are gone. So [`Notifier::builder`] builds the handle once, and the handle hands
//! out the layer: [`Notifier::layer`] for the defaults, [`NotifyLayer::builder`] (taking
//! the notifier) for the layer's own settings.
//!
//! # How it works
//!
//! A [`Notifier`] is a cheap, clonable handle: [`Notifier::notify`] puts a [`Notification`]
//! in a bounded queue and returns at once, never waiting for delivery. A worker
//! ([`NotifierBuilder::pair`] hands it to you, [`NotifierBuilder::build`] runs it on tokio)
//! sends a [`Batch`] to every [`Sink`] when it holds `max_items` (default 10), when its
//! oldest item has waited `max_latency` (default 100 ms), or at once for a
//! [`Priority::Critical`] item; within a batch, higher priorities come first.
//!
//! Every notification ends, **for each sink**, in exactly one of: delivered,
//! dead-lettered (with the sink's name and the reason) or dropped (counted); only an
//! attempt still running when shutdown gives up on it is counted as abandoned.
//! [`Notifier::stats`] reports, per sink,
//! `submitted == queued + in_flight + delivered + dead_lettered + dropped + abandoned`.
//!
//! - **Full queue**: the lowest-priority queued item (at equal priority the oldest) is
//!   dropped to make room, or the incoming one if it is the least important; a `Critical`
//!   item is dropped only when the queue holds nothing else.
//! - **Retries**: per sink, exponential backoff with full jitter, at least the receiver's
//!   `Retry-After`, bounded in attempts and total time ([`RetryPolicy`]). A batch failing
//!   on one of several sinks is retried only there, and one failing batch delays only
//!   itself (up to `max_in_flight_batches` batches are delivered concurrently).
//! - **Dead-letter queue**: bounded (the oldest entry is evicted and counted as dropped),
//!   inspectable ([`Notifier::dead_letters`]), replayable
//!   ([`Notifier::replay_dead_letters`], each batch again under its original id, which
//!   the webhook sink sends as `webhook-id`) and drainable ([`Notifier::drain_dead_letters`]);
//!   with the `monitoring` feature, also over HTTP through the monitoring service
//!   (`NotifyExtension`: `GET /notify/stats`, `GET /notify/dead-letters`,
//!   `POST /notify/dead-letters/replay`, `POST /notify/dead-letters/drain`).
//! - **Shutdown**: [`Notifier::shutdown`] stops intake, flushes everything queued and in
//!   flight (retrying until the deadline, where running attempts are cut), dead-letters
//!   what is left and returns a [`ShutdownReport`] holding the entries still
//!   dead-lettered, for the caller to persist. Dropping every handle also flushes while the runtime keeps
//!   running, but a runtime that shuts down cancels the worker: call `shutdown` on exit.
//!
//! [`NotifyLayer`] turns request outcomes (guard-layer [`SecurityEvent`]s, 5xx responses,
//! slow requests) into notifications and aggregates floods per key and window. A
//! guard-layer event keeps its [`EventKind`] name as the notification's [`Kind`]
//! (`rate_limited`, `injection_detected`, ...): one spelling across notifications, metrics
//! and dashboards.
//!
//! # Configuration errors
//!
//! Setters never fail; `build()` reports the first bad setting as a [`ConfigError`] named
//! `notify.<setter>` for [`NotifierBuilder`], `notify.retry_policy.<setter>` for its
//! [`RetryPolicy`], `notify.layer.<setter>` for [`NotifyLayerBuilder`],
//! `notify.channel_sink.capacity`, `notify.webhook_sink.<setter>` and
//! `notify.redis_stream_sink.<setter>` for the sinks, which are values built on their own
//! and check their settings where they are built.
//!
//! # Sinks
//!
//! - [`ChannelSink`]: in-process broadcast fan-out (WebSocket clients) or a bounded queue.
//! - `WebhookSink` (feature `webhook`): signed HTTP POST per the Standard Webhooks
//!   specification; non-public targets are refused, IPv6 transition addresses (NAT64,
//!   6to4, Teredo) judged by the IPv4 address they carry.
//! - `RedisStreamSink` (feature `redis`): `XADD` to a Redis stream with `MAXLEN ~`, each
//!   batch at most once (an idempotency key per batch id, checked in the same Lua script).
//! - Your own: implement [`Sink`].
//!
//! # Why not tower-batch-control
//!
//! tower's batching service fails permanently after one failed flush, loses its queue
//! when the handle is dropped, and has no retry, priority or dead-letter queue; this
//! module is written here for those guarantees.
//!
//! # Deployment caveats
//!
//! - The queue and the dead-letter queue live in memory: a process that crashes (rather
//!   than calling [`Notifier::shutdown`]) loses what they hold. Use the Redis stream sink
//!   for durability across replicas.
//! - Notifications carry what the guard layers report (client addresses, redacted keys,
//!   request paths); sinks receive them as they are.
//!
//! # Source layout
//!
//! Imports go one way: `notification` (the value types) <- `sink` <- `dlq`, `stats`,
//! `retry` <- `queue` (the state under the lock) <- `delivery` (shared state, retries,
//! replay, shutdown) <- `batcher` (the worker) <- `notifier` (the handle) <- `observe` <-
//! `future` <- `service` <- `layer`; `monitoring` and `openapi` serve the handle over HTTP.
//!
//! [`SecurityEvent`]: crate::event::SecurityEvent
//! [`EventKind`]: crate::event::EventKind
//! [`ConfigError`]: crate::ConfigError

mod batcher;
mod delivery;
mod dlq;
mod future;
mod layer;
#[cfg(feature = "monitoring")]
mod monitoring;
mod notification;
mod notifier;
mod observe;
#[cfg(feature = "monitoring")]
mod openapi;
mod queue;
mod retry;
mod service;
mod sink;
mod stats;

pub use batcher::NotifyWorker;
pub use dlq::{DeadLetter, ReplayReport};
pub use future::NotifyFuture;
pub use layer::{NotifyLayer, NotifyLayerBuilder};
#[cfg(feature = "monitoring")]
#[cfg_attr(docsrs, doc(cfg(feature = "monitoring")))]
pub use monitoring::NotifyExtension;
pub use notification::{Kind, Notification, NotificationId, Priority};
pub use notifier::{Notifier, NotifierBuilder, MAX_IN_FLIGHT_BATCHES};
pub use retry::RetryPolicy;
pub use service::Notify;
pub use sink::channel::{ChannelReceiver, ChannelSink, Subscriber, MAX_CHANNEL_CAPACITY};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use sink::redis::{RedisStreamSink, RedisStreamSinkBuilder};
#[cfg(feature = "webhook")]
#[cfg_attr(docsrs, doc(cfg(feature = "webhook")))]
pub use sink::webhook::{WebhookSecret, WebhookSink, WebhookSinkBuilder};
pub use sink::{Batch, Sink, SinkError, SinkErrorKind, SinkFuture};
pub use stats::{NotifyOutcome, NotifyStats, ShutdownReport, SinkStats};

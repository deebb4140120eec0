//! [`RedisStreamSink`]: `XADD` to a Redis stream that consumers in any language read.

use std::{fmt, time::Duration};

use redis::{aio::ConnectionManager, aio::ConnectionManagerConfig, RetryMethod};

use super::{Batch, Sink, SinkError, SinkFuture};
use crate::{notify::notification::rfc3339, ConfigError};

/// Appends each notification to a Redis stream with `XADD <stream> MAXLEN ~ <max_len> *`
/// (feature `redis`), so consumer groups (`XREADGROUP`/`XACK`, recovery with `XAUTOCLAIM`)
/// in any language can read them.
///
/// Every entry has the fields `id` (the notification id, for consumers to deduplicate),
/// `kind`, `priority`, `title`, `message`, `count`, `timestamp`, `source` and `json` (the
/// whole notification in its documented JSON shape). A batch is written in one
/// `MULTI`/`EXEC` transaction, so a retry never leaves half a batch behind.
///
/// Connection errors and timeouts are retried (the connection is re-established in the
/// background); errors Redis will repeat (a key of the wrong type, for example) dead-letter
/// the batch.
///
/// ```no_run
/// use tower_fortify::notify::{Notifier, RedisStreamSink};
///
/// # async fn run() -> Result<(), tower_fortify::ConfigError> {
/// let sink = RedisStreamSink::builder("redis://127.0.0.1:6379")
///     .stream("fortify:notifications")
///     .max_len(100_000)
///     .build()?;
/// let notifier = Notifier::builder().sink("redis", sink).build()?;
/// # let _ = notifier; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStreamSink {
    conn: ConnectionManager,
    stream: String,
    max_len: usize,
}

impl fmt::Debug for RedisStreamSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStreamSink")
            .field("stream", &self.stream)
            .field("max_len", &self.max_len)
            .finish_non_exhaustive()
    }
}

/// Builds a [`RedisStreamSink`].
#[derive(Debug, Clone)]
#[must_use]
pub struct RedisStreamSinkBuilder {
    url: String,
    stream: String,
    max_len: usize,
    timeout: Duration,
}

impl RedisStreamSink {
    /// A builder for a sink writing to the Redis server at `url` (`redis://...`).
    pub fn builder(url: impl Into<String>) -> RedisStreamSinkBuilder {
        RedisStreamSinkBuilder {
            url: url.into(),
            stream: "tower-fortify:notifications".to_owned(),
            max_len: 100_000,
            timeout: Duration::from_secs(5),
        }
    }
}

impl RedisStreamSinkBuilder {
    /// The stream key (default `tower-fortify:notifications`).
    pub fn stream(mut self, key: impl Into<String>) -> Self {
        self.stream = key.into();
        self
    }

    /// The approximate length the stream is trimmed to (`MAXLEN ~`, default 100,000).
    /// Redis trims whole internal nodes, so the stream may hold somewhat more.
    pub fn max_len(mut self, max_len: usize) -> Self {
        self.max_len = max_len;
        self
    }

    /// How long one connection attempt or command may take (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Validates the settings and builds the sink. It connects lazily, on the first
    /// delivery, so a Redis server that is down at start-up only delays delivery.
    ///
    /// Reports a bad setting as `notify.redis_stream_sink.<setter>` (the URL as
    /// `notify.redis_stream_sink.url`), and `notify.redis_stream_sink.runtime` when called
    /// outside a tokio runtime.
    pub fn build(self) -> Result<RedisStreamSink, ConfigError> {
        if self.stream.is_empty() {
            return Err(ConfigError::new(
                "notify.redis_stream_sink.stream",
                "the stream key must not be empty",
            ));
        }
        if self.max_len == 0 {
            return Err(ConfigError::new(
                "notify.redis_stream_sink.max_len",
                "the stream must keep at least 1 entry",
            ));
        }
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(86_400) {
            return Err(ConfigError::new(
                "notify.redis_stream_sink.timeout",
                "the timeout must be greater than zero and at most one day",
            ));
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ConfigError::new(
                "notify.redis_stream_sink.runtime",
                "RedisStreamSink must be built inside a tokio runtime",
            ));
        }
        let client = redis::Client::open(self.url.as_str())
            .map_err(|e| ConfigError::new("notify.redis_stream_sink.url", e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        let conn = client
            .get_connection_manager_lazy(config)
            .map_err(|e| ConfigError::new("notify.redis_stream_sink.url", e.to_string()))?;
        Ok(RedisStreamSink {
            conn,
            stream: self.stream,
            max_len: self.max_len,
        })
    }
}

impl RedisStreamSink {
    async fn deliver(&self, batch: &Batch) -> Result<(), SinkError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for n in batch.notifications() {
            pipe.cmd("XADD")
                .arg(&self.stream)
                .arg("MAXLEN")
                .arg("~")
                .arg(self.max_len)
                .arg("*")
                .arg("id")
                .arg(n.id().to_string())
                .arg("kind")
                .arg(n.kind().as_str())
                .arg("priority")
                .arg(n.priority().as_str())
                .arg("title")
                .arg(n.title())
                .arg("message")
                .arg(n.message_text())
                .arg("count")
                .arg(n.occurrences())
                .arg("timestamp")
                .arg(rfc3339(n.timestamp()))
                .arg("source")
                .arg(n.source_name())
                .arg("json")
                .arg(n.to_json())
                .ignore();
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn)
            .await
            .map_err(|e| classify(&e))
    }
}

fn classify(e: &redis::RedisError) -> SinkError {
    let message = format!("redis: {e}");
    let transient = e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || !matches!(e.retry_method(), RetryMethod::NoRetry);
    if transient {
        SinkError::retryable(message)
    } else {
        SinkError::permanent(message)
    }
}

impl Sink for RedisStreamSink {
    fn send<'a>(&'a self, batch: &'a Batch) -> SinkFuture<'a> {
        Box::pin(self.deliver(batch))
    }
}

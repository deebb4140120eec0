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
/// whole notification in its documented JSON shape).
///
/// A batch is written by one Lua script, atomically, and at most once: the script first
/// sets an idempotency key `<stream>:batch:<batch id>` (`SET NX`, kept for
/// [`dedupe_window`](RedisStreamSinkBuilder::dedupe_window), default one hour) and adds
/// the entries only if the key was not there. A write that timed out on the client may
/// still have run on the server; its retry (same batch id) then finds the key and adds
/// nothing, and so does a dead-letter replay of that batch within the window.
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
    dedupe_window: Duration,
}

impl fmt::Debug for RedisStreamSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStreamSink")
            .field("stream", &self.stream)
            .field("max_len", &self.max_len)
            .field("dedupe_window", &self.dedupe_window)
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
    dedupe_window: Duration,
}

impl RedisStreamSink {
    /// A builder for a sink writing to the Redis server at `url` (`redis://...`).
    pub fn builder(url: impl Into<String>) -> RedisStreamSinkBuilder {
        RedisStreamSinkBuilder {
            url: url.into(),
            stream: "tower-fortify:notifications".to_owned(),
            max_len: 100_000,
            timeout: Duration::from_secs(5),
            dedupe_window: Duration::from_secs(3600),
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

    /// How long a batch's idempotency key is kept (default one hour): a retry or replay
    /// of the same batch within this window adds nothing to the stream. At least 1 s and
    /// at most 30 days; Redis holds one small key per batch for this long.
    pub fn dedupe_window(mut self, window: Duration) -> Self {
        self.dedupe_window = window;
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
        if self.dedupe_window < Duration::from_secs(1)
            || self.dedupe_window > Duration::from_secs(30 * 86_400)
        {
            return Err(ConfigError::new(
                "notify.redis_stream_sink.dedupe_window",
                "the dedupe window must be between 1 second and 30 days",
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
            dedupe_window: self.dedupe_window,
        })
    }
}

/// Adds a batch to the stream once: `KEYS[1]` the stream, `KEYS[2]` the batch's
/// idempotency key; `ARGV[1]` the `MAXLEN ~` bound, `ARGV[2]` the key's lifetime in ms,
/// `ARGV[3]` the number of field/value arguments per entry, then the entries. Returns the
/// number of entries added (0 when the batch was written before). The stream's type is
/// checked first, so a refused write never leaves the key behind.
const ADD_ONCE: &str = r"
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'stream' and t ~= 'none' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[1] .. ' holds a ' .. t .. ', not a stream')
end
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then
  return 0
end
local width = tonumber(ARGV[3])
local added = 0
local i = 4
while i <= #ARGV do
  local args = {'XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*'}
  for j = 0, width - 1 do
    args[#args + 1] = ARGV[i + j]
  end
  redis.call(unpack(args))
  added = added + 1
  i = i + width
end
return added
";

/// Field/value arguments per entry in [`ADD_ONCE`].
const ENTRY_WIDTH: usize = 18;

impl RedisStreamSink {
    async fn deliver(&self, batch: &Batch) -> Result<(), SinkError> {
        let script = redis::Script::new(ADD_ONCE);
        let mut invocation = script.prepare_invoke();
        invocation
            .key(&self.stream)
            .key(format!("{}:batch:{}", self.stream, batch.id()))
            .arg(self.max_len)
            .arg(u64::try_from(self.dedupe_window.as_millis()).unwrap_or(u64::MAX))
            .arg(ENTRY_WIDTH);
        for n in batch.notifications() {
            invocation
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
                .arg(n.to_json());
        }
        let mut conn = self.conn.clone();
        invocation
            .invoke_async::<u64>(&mut conn)
            .await
            .map(|_| ())
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

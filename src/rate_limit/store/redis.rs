//! [`RedisStore`]: GCRA state in Redis, shared by replicas (feature `redis`).
//!
//! # Why this file is long
//!
//! About 820 lines without its tests, a sixth of them the docs of [`RedisStore`]: it is one backend whose
//! parts share the private store state and its health flag (the builder, the script call
//! with its `NOSCRIPT` reload, the reprobe, the local fallback and the reply parser). Split
//! apart they would have to expose that state to one another; the Lua itself is already in
//! `redis.lua`.

use std::{
    fmt,
    sync::{
        atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use ::redis::{
    aio::{ConnectionManager, ConnectionManagerConfig},
    Client, Script,
};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use super::{
    clock::Clock,
    decision::{
        Cell, CellOutcome, DecideFuture, DecideResult, Decision, RateLimitStore, StoreError,
    },
    memory::MemoryStore,
};
use crate::{
    rate_limit::{key::Key, quota::Gcra},
    ConfigError,
};

const COMPONENT: &str = "rate_limit.redis";
const SCRIPT: &str = include_str!("redis.lua");
/// The longest window (burst x interval) the script computes exactly: differences from
/// "now" must stay below 2^53 ns, and a new TAT is up to two windows plus a second away.
pub(crate) const MAX_WINDOW: Duration = Duration::from_secs(50 * 86_400);
/// Characters of a policy name that are percent-encoded in key names.
const POLICY_ESCAPES: &AsciiSet = &CONTROLS.add(b':').add(b'%').add(b'{').add(b'}');

/// Shared GCRA state in Redis, so that replicas share one quota.
///
/// ```
/// use std::{convert::Infallible, time::Duration};
/// use http::{Request, Response, StatusCode};
/// use tower::{ServiceBuilder, ServiceExt};
/// use tower_fortify::{
///     event::{SecurityEvent, SecurityEvents},
///     rate_limit::{store::RedisStore, Global, OnStoreError, Policy, Quota, RateLimitLayer},
/// };
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// // Nothing listens on port 1: every decision fails, and the layer's rule applies.
/// let store = RedisStore::builder("redis://127.0.0.1:1/")
///     .timeout(Duration::from_millis(50))
///     .build()
///     .unwrap();
/// let layer = RateLimitLayer::builder()
///     .policy(Policy::new("global", Global, Quota::per_second(100)).unwrap())
///     .store(store)
///     .on_store_error(OnStoreError::FailClosed)
///     .build()
///     .unwrap();
/// let svc = ServiceBuilder::new()
///     .layer(layer)
///     .service_fn(|_: Request<String>| async { Ok::<_, Infallible>(Response::new(String::new())) });
///
/// let res = svc.oneshot(Request::new(String::new())).await.unwrap();
/// assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
/// let events = res.extensions().get::<SecurityEvents>().unwrap();
/// assert!(matches!(events.iter().next(), Some(SecurityEvent::BackendError { .. })));
/// # });
/// ```
///
/// # What it does
///
/// [`RedisStore`] is a [`RateLimitStore`]: switching from the in-memory store is one line,
/// `.store(RedisStore::builder(url).build()?)` on the [`RateLimitLayerBuilder`]. Every
/// replica that uses the same Redis, the same [key prefix](RedisStoreBuilder::prefix) and
/// the same policy names shares the same quotas.
///
/// - **One round trip per request**, whatever the number of policies: all the policies of a
///   request are decided by one Lua script, sent as `EVALSHA` (loaded once, loaded again
///   when Redis answers `NOSCRIPT`, for example after a restart).
/// - **The same arithmetic** as the in-memory store ([`Gcra::step`], to the nanosecond). Lua
///   numbers are doubles, exact only below 2^53 ns (104 days), so the script keeps absolute
///   times split into seconds and nanoseconds and computes on differences from "now". For
///   that to stay exact, a quota's window (burst x interval) may be at most 50 days; a
///   longer one is a store error.
/// - **Redis's clock**: "now" is Redis `TIME`, so replicas need no synchronised clocks. With
///   [`RedisStoreBuilder::clock`] the caller supplies "now" instead (tests and simulations:
///   the same scripted timeline then drives the in-memory store and this one).
/// - **All or nothing**: the script runs atomically; when one policy refuses, nothing is
///   written for any policy.
/// - **Keys expire by themselves**: an allowed request writes its new TAT with
///   `SET ... PX`, the time until the quota is fully back; once the key is gone the state is
///   the same as a key never seen. A refusal writes nothing. No cleanup job. (With
///   [`RedisStoreBuilder::clock`], Redis still expires keys on its own time, which that
///   clock does not drive, so keys are then kept for at least an hour: a frozen test clock
///   must not see a quota come back because real time passed.)
/// - **One connection**, multiplexed: the `redis` crate's
///   [`ConnectionManager`], which reconnects by itself.
///   Clones of a store share it.
///
/// # Key layout and Redis Cluster
///
/// A policy's key is stored under `{<prefix>}:<policy>:<key>`, for example
/// `{tower-fortify}:per-ip:ip:203.0.113.7`, `{tower-fortify}:global:global` or
/// `{tower-fortify}:per-key:h:<128-bit hash>` ([`Key::stable_name`]: secrets are hashed,
/// never stored verbatim; `:` and `%` in policy names are percent-encoded).
/// [`RedisStore::key_name`] gives the name for a policy and key.
///
/// The prefix is a **hash tag**: every key of a store is in one cluster slot, so a request's
/// keys are always in the same slot and one script can decide them atomically. The cost is
/// that a store's whole rate-limiting traffic lands on the one node that owns that slot: one
/// node's script throughput is the ceiling (the `rate_limit_redis` bench measures it on
/// your hardware). Spreading keys
/// over slots instead (a tag per client) cannot work with a [`Global`](crate::rate_limit::Global)
/// or route policy, whose single key would have to be in every request's slot; so this store
/// keeps one slot and you shard by giving independent services different prefixes. The
/// `redis` dependency is built without its cluster client: point the store at a primary
/// (or a proxy that routes by slot).
///
/// # When Redis is slow or down
///
/// Every Redis call has a timeout (default 50 ms). After
/// [`failure_threshold`](RedisStoreBuilder::failure_threshold) consecutive calls fail or
/// time out (default 3; a success resets the count), Redis is marked **unavailable**: from
/// then on requests do not wait for Redis at all, and one background
/// `PING` re-probes it every [`reprobe_interval`](RedisStoreBuilder::reprobe_interval)
/// (default 100 ms, checked on the request path: no traffic, no probes). When a probe
/// answers, decisions go back to Redis. While Redis is unavailable you choose what happens:
///
/// | mode | how to choose it | what a request gets |
/// |---|---|---|
/// | fail open (the default) | [`OnStoreError::FailOpen`] on the layer | allowed, no rate-limit headers |
/// | fail closed | [`OnStoreError::FailClosed`] on the layer | 503 problem+json (gRPC: `UNAVAILABLE`) |
/// | local fallback | [`RedisStoreBuilder::local_fallback`] on the store | decided by an in-memory [`MemoryStore`] at a fraction of each quota |
///
/// In every mode the response carries a
/// [`SecurityEvent::BackendError`](crate::event::SecurityEvent::BackendError) (component
/// `rate_limit.redis` for the fallback, `rate_limit.store` for fail open and closed), so
/// metrics and notifications see the outage; nothing panics and no request waits longer than
/// the timeout. A failed call below the threshold is answered the same way. With `N`
/// replicas, a fallback fraction of `1/N` keeps the fleet near the shared quota while Redis
/// is away (each replica then counts alone, from an empty state).
/// [`RedisStore::stats`] counts failed calls and the down and up transitions.
///
/// **A timed-out call may still have run.** The script may have reached Redis and consumed
/// quota there although its answer never arrived (the timeout only stops waiting). Such a
/// request is then decided by the local fallback (or the layer's rule) and, when the
/// fallback allows it, charged there too: it is counted twice, never zero times, so a slow
/// Redis makes limits briefly stricter, never looser. The fleet-wide allowance during an
/// outage stays what the table says: what Redis allowed plus, per replica, `fraction` of
/// each quota.
///
/// # Deployment caveats
///
/// - Whoever can write to Redis can reset or exhaust every quota: keep it private.
/// - Replicas must agree on the prefix and the policy names; different services sharing one
///   Redis must use different prefixes or they share quotas.
/// - With [`RedisStoreBuilder::clock`], replicas' clocks must agree; leave it unset in
///   production.
///
/// [`RateLimitLayerBuilder`]: crate::rate_limit::RateLimitLayerBuilder
/// [`OnStoreError::FailOpen`]: crate::rate_limit::OnStoreError::FailOpen
/// [`OnStoreError::FailClosed`]: crate::rate_limit::OnStoreError::FailClosed
///
/// Clones share the connection and the availability state.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: ConnectionManager,
    script: Script,
    prefix: String,
    timeout: Duration,
    reprobe: Duration,
    failure_threshold: u32,
    clock: Option<Arc<dyn Clock>>,
    fallback: Option<Fallback>,
    health: Health,
}

/// Counters describing a [`RedisStore`]'s health, from [`RedisStore::stats`].
///
/// The rate-limit module does not depend on the metrics module: export these next to your
/// metrics (for example from a collector registered in the `prometheus_client` registry you
/// give the metrics registry), and alert on `down_transitions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RedisStoreStats {
    /// Script calls that failed or timed out.
    pub failures: u64,
    /// Times the store declared Redis unavailable (the failure threshold was reached).
    pub down_transitions: u64,
    /// Times a probe found Redis available again.
    pub up_transitions: u64,
}

struct Fallback {
    fraction: f64,
    store: MemoryStore,
}

/// Whether Redis is believed reachable, and when to probe it next.
struct Health {
    origin: Instant,
    down: AtomicBool,
    /// Failed calls since the last successful one.
    consecutive: AtomicU32,
    failures: AtomicU64,
    downs: AtomicU64,
    ups: AtomicU64,
    next_probe: AtomicU64,
    probing: AtomicBool,
}

impl Health {
    fn now(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("RedisStore")
            .field("prefix", &i.prefix)
            .field("timeout", &i.timeout)
            .field("reprobe_interval", &i.reprobe)
            .field("failure_threshold", &i.failure_threshold)
            .field("clock", &i.clock)
            .field("local_fallback", &i.fallback.as_ref().map(|f| f.fraction))
            .field("available", &self.is_available())
            .finish_non_exhaustive()
    }
}

/// Builds a [`RedisStore`].
#[must_use]
pub struct RedisStoreBuilder {
    connection: Result<Connection, ConfigError>,
    prefix: String,
    timeout: Duration,
    reprobe: Duration,
    failure_threshold: u32,
    clock: Option<Arc<dyn Clock>>,
    fallback: Option<Result<f64, ConfigError>>,
}

enum Connection {
    Url(Client),
    Manager(ConnectionManager),
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("reprobe_interval", &self.reprobe)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A builder for a store on the Redis at `url` (`redis://host:port/db`, with
    /// `redis://:password@host` or `redis://user:password@host` for authentication).
    ///
    /// Nothing connects until the first decision (or [`RedisStore::preload`]), so a service
    /// starts even while Redis is down.
    pub fn builder(url: &str) -> RedisStoreBuilder {
        let connection = Client::open(url).map(Connection::Url).map_err(|e| {
            ConfigError::new(
                "rate_limit.redis_store.url",
                format!("`{url}` is not a Redis URL: {e}"),
            )
        });
        RedisStoreBuilder::new(connection)
    }

    /// A builder for a store on an existing connection manager (its own reconnection and
    /// timeout settings apply; the store's timeout still bounds every call).
    pub fn builder_with_connection(connection: ConnectionManager) -> RedisStoreBuilder {
        RedisStoreBuilder::new(Ok(Connection::Manager(connection)))
    }

    /// The Redis key under which `policy` keeps the state of `key`.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use tower_fortify::rate_limit::{store::RedisStore, Key};
    ///
    /// let store = RedisStore::builder("redis://127.0.0.1/").prefix("shop").build().unwrap();
    /// assert_eq!(store.key_name("per-ip", &Key::ip("203.0.113.7".parse().unwrap(), 64)), "{shop}:per-ip:ip:203.0.113.7");
    /// assert_eq!(store.key_name("a:b", &Key::Global), "{shop}:a%3Ab:global");
    /// # });
    /// ```
    pub fn key_name(&self, policy: &str, key: &Key<'_>) -> String {
        key_name(&self.inner.prefix, policy, key)
    }

    /// The key prefix (the hash tag of every key).
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// `false` while Redis is marked unavailable (the
    /// [failure threshold](RedisStoreBuilder::failure_threshold) was reached and no probe
    /// has answered since).
    pub fn is_available(&self) -> bool {
        !self.inner.health.down.load(Ordering::Acquire)
    }

    /// Counters: failed calls and availability transitions.
    pub fn stats(&self) -> RedisStoreStats {
        let h = &self.inner.health;
        RedisStoreStats {
            failures: h.failures.load(Ordering::Relaxed),
            down_transitions: h.downs.load(Ordering::Relaxed),
            up_transitions: h.ups.load(Ordering::Relaxed),
        }
    }

    /// Connects and loads the script now, so the first request does not pay for it. Also a
    /// readiness check: it fails when Redis cannot be reached within the timeout.
    pub async fn preload(&self) -> Result<(), StoreError> {
        let mut conn = self.inner.conn.clone();
        match tokio::time::timeout(self.inner.timeout, self.inner.script.load_async(&mut conn))
            .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(StoreError::new(
                COMPONENT,
                format!("loading the script: {e}"),
            )),
            Err(_) => Err(StoreError::new(
                COMPONENT,
                format!(
                    "loading the script: no answer within {:?}",
                    self.inner.timeout
                ),
            )),
        }
    }

    fn run(&self, cells: &[Cell<'_>], consume: bool) -> DecideFuture {
        let inner = self.inner.clone();
        let request = match inner.request(cells, consume) {
            Ok(r) => r,
            Err(e) => return DecideFuture::ready(Err(e)),
        };
        // The fallback needs the cells after the call; copy them only when it exists.
        let owned: Option<Vec<OwnedCell>> = inner.fallback.as_ref().map(|_| {
            cells
                .iter()
                .map(|c| OwnedCell {
                    policy: c.policy,
                    name: c.policy_name.to_owned(),
                    key: c.key.clone().into_owned(),
                    gcra: c.gcra,
                    cost: c.cost,
                })
                .collect()
        });
        DecideFuture::pending(async move {
            let failure = if inner.health.down.load(Ordering::Acquire) {
                inner.maybe_probe();
                "Redis is unavailable (waiting for a probe to answer)".to_owned()
            } else {
                match inner.call(&request).await {
                    Ok(decision) => {
                        if inner.health.consecutive.load(Ordering::Relaxed) != 0 {
                            inner.health.consecutive.store(0, Ordering::Relaxed);
                        }
                        return Ok(decision);
                    }
                    Err(message) => {
                        inner.failed(&message);
                        message
                    }
                }
            };
            match (&inner.fallback, owned) {
                (Some(fallback), Some(cells)) => fallback.decide(&cells, consume, &failure).await,
                _ => Err(StoreError::new(COMPONENT, failure)),
            }
        })
    }
}

impl RateLimitStore for RedisStore {
    fn decide(&self, cells: &[Cell<'_>]) -> DecideFuture {
        self.run(cells, true)
    }

    fn peek(&self, cells: &[Cell<'_>]) -> DecideFuture {
        self.run(cells, false)
    }

    /// 50 days: the script computes exactly only below that (see "What it does").
    fn max_window(&self) -> Option<Duration> {
        Some(MAX_WINDOW)
    }
}

/// The keys and arguments of one script call.
struct ScriptRequest {
    keys: Vec<String>,
    args: Vec<String>,
}

struct OwnedCell {
    policy: usize,
    name: String,
    key: Key<'static>,
    gcra: Gcra,
    cost: u32,
}

impl Inner {
    fn request(&self, cells: &[Cell<'_>], consume: bool) -> Result<ScriptRequest, StoreError> {
        let mut keys = Vec::with_capacity(cells.len());
        let mut args = Vec::with_capacity(3 + 3 * cells.len());
        args.push(if consume { "decide" } else { "peek" }.to_owned());
        match &self.clock {
            Some(clock) => {
                let now = clock.now();
                args.push((now / 1_000_000_000).to_string());
                args.push((now % 1_000_000_000).to_string());
            }
            None => {
                args.push(String::new());
                args.push(String::new());
            }
        }
        for c in cells {
            if c.gcra.window() > MAX_WINDOW {
                return Err(StoreError::new(
                    COMPONENT,
                    format!(
                        "policy `{}` has a window of {:?}; the Redis store computes windows up to 50 days",
                        c.policy_name,
                        c.gcra.window()
                    ),
                ));
            }
            keys.push(key_name(&self.prefix, c.policy_name, &c.key));
            let interval = c.gcra.interval_ns();
            args.push(interval.to_string());
            args.push(c.gcra.window().as_nanos().to_string());
            args.push(interval.saturating_mul(u64::from(c.cost)).to_string());
        }
        Ok(ScriptRequest { keys, args })
    }

    async fn call(&self, request: &ScriptRequest) -> Result<Decision, String> {
        let mut invocation = self.script.prepare_invoke();
        for k in &request.keys {
            invocation.key(k);
        }
        for a in &request.args {
            invocation.arg(a);
        }
        let mut conn = self.conn.clone();
        let reply: Vec<i64> =
            match tokio::time::timeout(self.timeout, invocation.invoke_async(&mut conn)).await {
                Ok(Ok(reply)) => reply,
                Ok(Err(e)) => return Err(format!("Redis call failed: {e}")),
                Err(_) => return Err(format!("Redis did not answer within {:?}", self.timeout)),
            };
        parse_reply(&reply, request.keys.len())
    }

    /// Counts a failed call; the one that reaches the threshold marks Redis down.
    fn failed(&self, message: &str) {
        let h = &self.health;
        h.failures.fetch_add(1, Ordering::Relaxed);
        let consecutive = h
            .consecutive
            .fetch_add(1, Ordering::AcqRel)
            .saturating_add(1);
        if consecutive < self.failure_threshold {
            tracing::debug!(
                error = message,
                consecutive,
                threshold = self.failure_threshold,
                "rate limit Redis call failed"
            );
            return;
        }
        if !h.down.swap(true, Ordering::AcqRel) {
            h.downs.fetch_add(1, Ordering::Relaxed);
            let next = self.health.now().saturating_add(nanos(self.reprobe));
            self.health.next_probe.store(next, Ordering::Release);
            tracing::warn!(
                error = message,
                reprobe_interval = ?self.reprobe,
                local_fallback = ?self.fallback.as_ref().map(|f| f.fraction),
                "rate limit Redis store is unavailable"
            );
        }
    }

    /// Starts one background probe when one is due and none is running.
    fn maybe_probe(self: &Arc<Self>) {
        let now = self.health.now();
        if now < self.health.next_probe.load(Ordering::Acquire)
            || self.health.probing.swap(true, Ordering::AcqRel)
        {
            return;
        }
        self.health
            .next_probe
            .store(now.saturating_add(nanos(self.reprobe)), Ordering::Release);
        let inner = self.clone();
        tokio::spawn(async move {
            let mut conn = inner.conn.clone();
            let ping = ::redis::cmd("PING");
            let answered = matches!(
                tokio::time::timeout(inner.timeout, ping.query_async::<String>(&mut conn)).await,
                Ok(Ok(_))
            );
            if answered {
                inner.health.consecutive.store(0, Ordering::Release);
                if inner.health.down.swap(false, Ordering::AcqRel) {
                    inner.health.ups.fetch_add(1, Ordering::Relaxed);
                    tracing::info!("rate limit Redis store is available again");
                }
            }
            inner.health.probing.store(false, Ordering::Release);
        });
    }
}

impl Fallback {
    async fn decide(&self, cells: &[OwnedCell], consume: bool, failure: &str) -> DecideResult {
        let mut scaled = Vec::with_capacity(cells.len());
        for c in cells {
            scaled.push(Cell::new(
                c.policy,
                &c.name,
                c.key.clone(),
                scale(&c.gcra, self.fraction),
                c.cost,
            ));
        }
        let future = if consume {
            self.store.decide(&scaled)
        } else {
            self.store.peek(&scaled)
        };
        let decision = future.await?;
        Ok(decision.degraded_by(StoreError::new(
            COMPONENT,
            format!(
                "{failure}; decided locally at {} of each quota",
                self.fraction
            ),
        )))
    }
}

/// `gcra` at `fraction` of its rate and burst (at least a burst of one).
pub(crate) fn scale(gcra: &Gcra, fraction: f64) -> Gcra {
    let burst = ((f64::from(gcra.burst()) * fraction).floor() as u32).max(1);
    let interval = (gcra.interval_ns() as f64 / fraction).ceil();
    let interval = if interval >= u64::MAX as f64 {
        u64::MAX
    } else {
        interval as u64
    };
    // Overflow only for absurd quotas; then keep the original rather than fail the request.
    Gcra::from_parts(interval, burst).unwrap_or(*gcra)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

pub(crate) fn key_name(prefix: &str, policy: &str, key: &Key<'_>) -> String {
    format!(
        "{{{prefix}}}:{}:{}",
        utf8_percent_encode(policy, POLICY_ESCAPES),
        key.stable_name()
    )
}

fn parse_reply(reply: &[i64], cells: usize) -> Result<Decision, String> {
    if reply.len() != cells * 5 {
        return Err(format!(
            "the script answered {} values for {cells} policies (expected {})",
            reply.len(),
            cells * 5
        ));
    }
    let mut decision = Decision::new();
    for v in reply.chunks_exact(5) {
        let get = |i: usize| {
            u64::try_from(v[i])
                .map_err(|_| format!("the script answered a negative value {}", v[i]))
        };
        decision.push(CellOutcome {
            allowed: get(0)? == 1,
            remaining: get(1)?,
            reset: Duration::from_nanos(get(2)?),
            retry_after: Duration::from_nanos(get(3)?),
            exceeds_burst: get(4)? == 1,
        });
    }
    Ok(decision)
}

/// Makes a clock shared behind an `Arc` usable where `impl Clock` is asked for.
#[derive(Debug)]
struct SharedClock(Arc<dyn Clock>);

impl Clock for SharedClock {
    fn now(&self) -> u64 {
        self.0.now()
    }
}

impl RedisStoreBuilder {
    fn new(connection: Result<Connection, ConfigError>) -> Self {
        Self {
            connection,
            prefix: "tower-fortify".to_owned(),
            timeout: Duration::from_millis(50),
            reprobe: Duration::from_millis(100),
            failure_threshold: 3,
            clock: None,
            fallback: None,
        }
    }

    /// How many consecutive calls must fail (error or timeout) before Redis is declared
    /// unavailable (default 3; 1 declares it down at the first failure). A success resets
    /// the count. Below the threshold each failed request is still decided by the
    /// [local fallback](Self::local_fallback) or the layer's
    /// [`OnStoreError`](crate::rate_limit::OnStoreError), so one slow call does not switch
    /// limiting off for everyone; up to the threshold, requests may each wait the
    /// [timeout](Self::timeout).
    pub fn failure_threshold(mut self, failures: u32) -> Self {
        self.failure_threshold = failures;
        self
    }

    /// The key prefix, used as the hash tag of every key (default `tower-fortify`). It may
    /// not be empty nor contain `{` or `}`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one Redis call may take before the store gives up on it (default 50 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How often Redis is probed while it is unavailable (default 100 ms).
    pub fn reprobe_interval(mut self, interval: Duration) -> Self {
        self.reprobe = interval;
        self
    }

    /// While Redis is unavailable, decide with an in-memory store at `fraction` (greater
    /// than 0, at most 1) of each quota's rate and burst (the burst rounded down, at least
    /// 1). Decisions carry a degraded marker, so responses get a
    /// [`SecurityEvent::BackendError`](crate::event::SecurityEvent::BackendError). Without
    /// it, the layer's [`OnStoreError`](crate::rate_limit::OnStoreError) applies.
    ///
    /// ```
    /// use std::{convert::Infallible, time::Duration};
    /// use http::{Request, Response, StatusCode};
    /// use tower::{ServiceBuilder, ServiceExt};
    /// use tower_fortify::{
    ///     event::{SecurityEvent, SecurityEvents},
    ///     rate_limit::{store::RedisStore, Global, Policy, Quota, RateLimitLayer},
    /// };
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// // Redis is unreachable: a burst of 4 becomes a local burst of 2.
    /// let store = RedisStore::builder("redis://127.0.0.1:1/")
    ///     .local_fallback(0.5)
    ///     .build()
    ///     .unwrap();
    /// let layer = RateLimitLayer::builder()
    ///     .policy(Policy::new("global", Global, Quota::per_minute(4)).unwrap())
    ///     .store(store)
    ///     .build()
    ///     .unwrap();
    /// let svc = ServiceBuilder::new()
    ///     .layer(layer)
    ///     .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(String::new())) });
    ///
    /// let mut statuses = Vec::new();
    /// for _ in 0..3 {
    ///     let res = svc.clone().oneshot(Request::new(())).await.unwrap();
    ///     let events = res.extensions().get::<SecurityEvents>().unwrap();
    ///     assert!(events.iter().any(|e| matches!(
    ///         e,
    ///         SecurityEvent::BackendError { component: "rate_limit.redis", .. }
    ///     )));
    ///     statuses.push(res.status());
    /// }
    /// assert_eq!(statuses, [StatusCode::OK, StatusCode::OK, StatusCode::TOO_MANY_REQUESTS]);
    /// # });
    /// ```
    pub fn local_fallback(mut self, fraction: f64) -> Self {
        self.fallback = Some(if fraction > 0.0 && fraction <= 1.0 {
            Ok(fraction)
        } else {
            Err(ConfigError::new(
                "rate_limit.redis_store.local_fallback",
                format!("the fraction of each quota must be in (0, 1], got {fraction}"),
            ))
        });
        self
    }

    /// Takes "now" from `clock` instead of Redis `TIME`. For tests and simulations (one
    /// [`ManualClock`](super::ManualClock) can drive this store and a
    /// [`MemoryStore`] through the same timeline); in production replicas' clocks would have
    /// to agree, which Redis `TIME` makes unnecessary. Keys written then live at least an
    /// hour of real time (Redis's expiry does not follow this clock), longer than the
    /// quota needs, which decides the same.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Checks the configuration and builds the store. With a URL, this must run inside a
    /// tokio runtime (the connection manager starts a task); it does not connect.
    pub fn build(self) -> Result<RedisStore, ConfigError> {
        if self.prefix.is_empty() || self.prefix.contains(['{', '}']) {
            return Err(ConfigError::new(
                "rate_limit.redis_store.prefix",
                format!(
                    "`{}`: the key prefix is used as a hash tag; it may not be empty nor contain braces",
                    self.prefix
                ),
            ));
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::new(
                "rate_limit.redis_store.timeout",
                "must be longer than zero",
            ));
        }
        if self.failure_threshold == 0 {
            return Err(ConfigError::new(
                "rate_limit.redis_store.failure_threshold",
                "must be at least 1",
            ));
        }
        if self.reprobe.is_zero() {
            return Err(ConfigError::new(
                "rate_limit.redis_store.reprobe_interval",
                "must be longer than zero",
            ));
        }
        let fraction = self.fallback.transpose()?;
        let conn = match self.connection? {
            Connection::Manager(m) => m,
            Connection::Url(client) => {
                if tokio::runtime::Handle::try_current().is_err() {
                    return Err(ConfigError::new(
                        "rate_limit.redis_store.url",
                        "build the Redis store inside a tokio runtime (the connection manager runs a task)",
                    ));
                }
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout.max(Duration::from_millis(250))))
                    .set_response_timeout(Some(self.timeout))
                    .set_min_delay(Duration::from_millis(10))
                    .set_max_delay(Duration::from_millis(500));
                ConnectionManager::new_lazy_with_config(client, config).map_err(|e| {
                    ConfigError::new(
                        "rate_limit.redis_store.url",
                        format!("cannot set up the connection: {e}"),
                    )
                })?
            }
        };
        let fallback = fraction.map(|fraction| {
            let store = MemoryStore::new();
            let store = match &self.clock {
                Some(c) => store.clock(SharedClock(c.clone())),
                None => store,
            };
            Fallback { fraction, store }
        });
        Ok(RedisStore {
            inner: Arc::new(Inner {
                conn,
                script: Script::new(SCRIPT),
                prefix: self.prefix,
                timeout: self.timeout,
                reprobe: self.reprobe,
                failure_threshold: self.failure_threshold,
                clock: self.clock,
                fallback,
                health: Health {
                    origin: Instant::now(),
                    down: AtomicBool::new(false),
                    consecutive: AtomicU32::new(0),
                    failures: AtomicU64::new(0),
                    downs: AtomicU64::new(0),
                    ups: AtomicU64::new(0),
                    next_probe: AtomicU64::new(0),
                    probing: AtomicBool::new(false),
                },
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::Quota;

    #[test]
    fn store_fits_a_layer() {
        fn assert_traits<T: RateLimitStore + Clone + Send + Sync + 'static>() {}
        assert_traits::<RedisStore>();
    }

    #[test]
    fn key_names_are_tagged_and_unambiguous() {
        assert_eq!(
            key_name("p", "per-ip", &Key::ip("2001:db8::1".parse().unwrap(), 64)),
            "{p}:per-ip:ip:2001:db8::/64"
        );
        // A `:` in a policy name cannot make two policies share a key.
        let a = key_name("p", "a:pub", &Key::Public("x".into()));
        let b = key_name("p", "a", &Key::Public("pub:x".into()));
        assert_ne!(a, b);
        assert!(
            key_name("p", "k", &Key::Secret(b"sk_live_123".as_slice().into()))
                .starts_with("{p}:k:h:")
        );
        assert!(
            !key_name("p", "k", &Key::Secret(b"sk_live_123".as_slice().into())).contains("sk_live")
        );
    }

    #[test]
    fn fallback_scales_rate_and_burst() {
        let g = Quota::per_second(10).burst(9).validate().unwrap();
        let s = scale(&g, 1.0 / 3.0);
        assert_eq!(s.burst(), 3);
        assert_eq!(s.interval_ns(), 300_000_000);
        let tiny = scale(&Quota::per_second(1).validate().unwrap(), 0.1);
        assert_eq!(tiny.burst(), 1, "a burst never scales below one");
        assert_eq!(scale(&g, 1.0), g);
    }

    #[test]
    fn reply_parsing_rejects_malformed_answers() {
        assert!(parse_reply(&[1, 2, 3, 0, 0], 1).is_ok());
        assert!(parse_reply(&[1, 2, 3, 0], 1).is_err());
        assert!(parse_reply(&[1, -2, 3, 0, 0], 1).is_err());
        let d = parse_reply(&[0, 0, 5, 7, 1], 1).unwrap();
        assert!(!d.allowed());
        assert_eq!(d.cells()[0].retry_after, Duration::from_nanos(7));
        assert!(d.cells()[0].exceeds_burst);
    }

    #[tokio::test]
    async fn configuration_errors_are_values() {
        let e = RedisStore::builder("not a url").build().unwrap_err();
        assert_eq!(e.setting(), "rate_limit.redis_store.url");
        let url = "redis://127.0.0.1:1/";
        for (builder, setting) in [
            (
                RedisStore::builder(url).prefix("a{b}"),
                "rate_limit.redis_store.prefix",
            ),
            (
                RedisStore::builder(url).prefix(""),
                "rate_limit.redis_store.prefix",
            ),
            (
                RedisStore::builder(url).timeout(Duration::ZERO),
                "rate_limit.redis_store.timeout",
            ),
            (
                RedisStore::builder(url).reprobe_interval(Duration::ZERO),
                "rate_limit.redis_store.reprobe_interval",
            ),
            (
                RedisStore::builder(url).failure_threshold(0),
                "rate_limit.redis_store.failure_threshold",
            ),
            (
                RedisStore::builder(url).local_fallback(0.0),
                "rate_limit.redis_store.local_fallback",
            ),
            (
                RedisStore::builder(url).local_fallback(1.5),
                "rate_limit.redis_store.local_fallback",
            ),
            (
                RedisStore::builder(url).local_fallback(f64::NAN),
                "rate_limit.redis_store.local_fallback",
            ),
        ] {
            assert_eq!(builder.build().unwrap_err().setting(), setting);
        }
    }

    #[test]
    fn building_outside_a_runtime_is_an_error_not_a_panic() {
        let e = RedisStore::builder("redis://127.0.0.1:1/")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("tokio runtime"), "{e}");
    }

    /// A server that accepts connections and never answers: every call times out, as
    /// when Redis is overloaded (the script may still run there later).
    async fn silent_server() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        format!("redis://{addr}/")
    }

    fn global(q: Quota) -> Cell<'static> {
        Cell::new(0, "global", Key::Global, q.validate().unwrap(), 1)
    }

    /// Issue #13 item 8: one timeout does not declare Redis down; a timed-out call is
    /// charged to the local fallback (Redis may have counted it too: stricter, never looser).
    #[tokio::test]
    async fn redis_is_declared_down_after_a_threshold_and_timeouts_are_charged_locally() {
        let store = RedisStore::builder(&silent_server().await)
            .timeout(Duration::from_millis(50))
            .local_fallback(0.5)
            .build()
            .unwrap();
        let q = Quota::per_minute(4);
        let mut allowed = Vec::new();
        for i in 0..3 {
            let d = store.decide(&[global(q)]).await.unwrap();
            assert!(d.degraded().is_some(), "request {i} was decided locally");
            allowed.push(d.allowed());
            if i < 2 {
                assert!(store.is_available(), "{i} timeouts are not an outage");
            }
        }
        // Half of a burst of 4, and every timed-out request was charged locally.
        assert_eq!(allowed, [true, true, false]);
        assert!(!store.is_available(), "three consecutive failures are");
        let stats = store.stats();
        assert_eq!(
            (stats.failures, stats.down_transitions),
            (3, 1),
            "{stats:?}"
        );
        // Once down, requests no longer wait for Redis: no new failed call.
        for _ in 0..5 {
            assert!(store
                .decide(&[global(q)])
                .await
                .unwrap()
                .degraded()
                .is_some());
        }
        assert_eq!(store.stats().failures, 3);
    }

    #[tokio::test]
    async fn windows_past_fifty_days_are_refused() {
        let store = RedisStore::builder("redis://127.0.0.1:1/").build().unwrap();
        let cell = Cell::new(
            0,
            "yearly",
            Key::Global,
            Quota::per_day(1).burst(365).validate().unwrap(),
            1,
        );
        let e = store.decide(&[cell]).await.unwrap_err();
        assert!(e.message().contains("50 days"), "{e}");
    }
}

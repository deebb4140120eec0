//! The Redis rate-limit store against a real `redis-server` (never a mock).
//!
//! Each test starts its own server on a free loopback port (see `support/redis.rs`).
#![cfg(feature = "redis")]

use std::{
    convert::Infallible,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use crate::support::redis::TestRedis;
use http::{Request, Response, StatusCode};
use tokio::{sync::Semaphore, task::JoinSet};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_fortify::{
    body::GuardBody,
    event::{SecurityEvent, SecurityEvents},
    proxy::PeerAddr,
    rate_limit::{
        store::{
            Cell, Decision, ManualClock, MemoryStore, RateLimitStore, RedisStore, RedisStoreBuilder,
        },
        Global, Key, OnStoreError, PeerIp, Policy, Quota, RateLimitLayer, RequestInfo,
    },
};

type Res = Response<GuardBody<String>>;

fn unique_prefix(test: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "test-{test}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn store(redis: &TestRedis, prefix: &str) -> RedisStoreBuilder {
    RedisStore::builder(redis.url()).prefix(prefix)
}

fn service(
    layer: RateLimitLayer,
) -> impl Service<Request<String>, Response = Res, Error = Infallible, Future: Send>
       + Clone
       + Send
       + 'static {
    ServiceBuilder::new()
        .layer(layer)
        .service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        })
}

fn from_ip(ip: &str) -> Request<String> {
    let mut req = Request::new(String::new());
    req.extensions_mut()
        .insert(PeerAddr(format!("{ip}:4000").parse().unwrap()));
    req
}

fn backend_errors(res: &Res) -> Vec<&'static str> {
    res.extensions()
        .get::<SecurityEvents>()
        .map(|events| {
            events
                .iter()
                .filter_map(|e| match e {
                    SecurityEvent::BackendError { component, .. } => Some(*component),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn keys(redis: &TestRedis, prefix: &str) -> Vec<String> {
    let mut conn = redis.connection().await;
    redis::cmd("KEYS")
        .arg(format!("{{{prefix}}}:*"))
        .query_async(&mut conn)
        .await
        .unwrap()
}

/// Sends `requests` through the services (round robin), at most 32 in flight; returns the
/// statuses.
async fn send_all<S>(services: &[S], requests: Vec<Request<String>>) -> Vec<StatusCode>
where
    S: Service<Request<String>, Response = Res, Error = Infallible, Future: Send>
        + Clone
        + Send
        + 'static,
{
    let permits = Arc::new(Semaphore::new(32));
    let mut set = JoinSet::new();
    for (i, req) in requests.into_iter().enumerate() {
        let svc = services[i % services.len()].clone();
        let permit = permits.clone().acquire_owned().await.unwrap();
        set.spawn(async move {
            let res = svc.oneshot(req).await.unwrap();
            drop(permit);
            res.status()
        });
    }
    let mut out = Vec::new();
    while let Some(status) = set.join_next().await {
        out.push(status.unwrap());
    }
    out
}

fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_quota() {
    let Some(redis) = TestRedis::start("two_replicas_share_one_quota") else {
        return;
    };
    let prefix = unique_prefix("share");
    // Two layers with two stores: two connections, as two replicas would have. A generous
    // timeout and fail-closed, so a slow moment shows up as 503 rather than as extra passes.
    let replica = || {
        let store = store(&redis, &prefix)
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        service(
            RateLimitLayer::builder()
                .policy(Policy::new("global", Global, Quota::per_hour(100)).unwrap())
                .store(store)
                .on_store_error(OnStoreError::FailClosed)
                .build()
                .unwrap(),
        )
    };
    let services = [replica(), replica()];
    let requests = (0..1000).map(|_| Request::new(String::new())).collect();
    let statuses = send_all(&services, requests).await;
    assert_eq!(count(&statuses, StatusCode::SERVICE_UNAVAILABLE), 0);
    assert_eq!(count(&statuses, StatusCode::OK), 100);
    assert_eq!(count(&statuses, StatusCode::TOO_MANY_REQUESTS), 900);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_or_nothing_across_policies_under_concurrency() {
    let Some(redis) = TestRedis::start("all_or_nothing_across_policies_under_concurrency") else {
        return;
    };
    let prefix = unique_prefix("aon");
    let redis_store = store(&redis, &prefix)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let per_ip = Quota::per_hour(5);
    let global = Quota::per_hour(1000);
    let layer = RateLimitLayer::builder()
        .policy(Policy::new("per-ip", PeerIp::new(), per_ip).unwrap())
        .policy(Policy::new("global", Global, global).unwrap())
        .store(redis_store.clone())
        .on_store_error(OnStoreError::FailClosed)
        .build()
        .unwrap();
    let svc = service(layer);
    // 20 clients, 20 requests each: per-ip refuses 15 of each client's 20.
    let requests = (0..400)
        .map(|i| from_ip(&format!("198.51.100.{}", i % 20)))
        .collect();
    let statuses = send_all(&[svc], requests).await;
    assert_eq!(count(&statuses, StatusCode::SERVICE_UNAVAILABLE), 0);
    assert_eq!(count(&statuses, StatusCode::OK), 100);
    // The 300 requests refused by per-ip consumed nothing from global: exactly 100 taken.
    let peek = redis_store
        .peek(&[Cell::new(
            1,
            "global",
            Key::Global,
            global.validate().unwrap(),
            1,
        )])
        .await
        .unwrap();
    assert_eq!(peek.cells()[0].remaining, 900);

    // The other way round: a tight global policy refuses, the roomy per-ip one keeps its quota.
    let prefix = unique_prefix("aon2");
    let redis_store = store(&redis, &prefix)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let layer = RateLimitLayer::builder()
        .policy(Policy::new("per-ip", PeerIp::new(), Quota::per_hour(1000)).unwrap())
        .policy(Policy::new("global", Global, Quota::per_hour(50)).unwrap())
        .store(redis_store.clone())
        .on_store_error(OnStoreError::FailClosed)
        .build()
        .unwrap();
    let requests = (0..200)
        .map(|i| from_ip(&format!("198.51.100.{}", i % 4)))
        .collect();
    let statuses = send_all(&[service(layer)], requests).await;
    assert_eq!(count(&statuses, StatusCode::OK), 50);
    let mut left = 0;
    for i in 0..4 {
        let d = redis_store
            .peek(&[Cell::new(
                0,
                "per-ip",
                Key::ip(format!("198.51.100.{i}").parse().unwrap(), 64),
                Quota::per_hour(1000).validate().unwrap(),
                1,
            )])
            .await
            .unwrap();
        left += d.cells()[0].remaining;
    }
    assert_eq!(left, 4 * 1000 - 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_expire_by_themselves() {
    let Some(redis) = TestRedis::start("keys_expire_by_themselves") else {
        return;
    };
    let prefix = unique_prefix("expire");
    // 2 per second, burst 1: an idle key's quota is fully back 500 ms after a request.
    let quota = Quota::per_second(2).burst(1);
    let layer = RateLimitLayer::builder()
        .policy(Policy::new("per-ip", PeerIp::new(), quota).unwrap())
        .policy(Policy::new("global", Global, quota).unwrap())
        .store(
            store(&redis, &prefix)
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let svc = service(layer);
    let res = svc.clone().oneshot(from_ip("192.0.2.1")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut found = keys(&redis, &prefix).await;
    found.sort();
    assert_eq!(
        found,
        [
            format!("{{{prefix}}}:global:global"),
            format!("{{{prefix}}}:per-ip:ip:192.0.2.1"),
        ]
    );
    let mut conn = redis.connection().await;
    for key in &found {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        // The TTL is the time until the quota is back (-2: already gone).
        assert!(ttl == -2 || (1..=500).contains(&ttl), "{key}: {ttl} ms");
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(keys(&redis, &prefix).await, Vec::<String>::new());
}

/// With a caller's clock, Redis still expires keys on its own time: a frozen clock must not
/// see its quota come back because real time passed (the keys were once written with the
/// quota's own TTL, 200 ms here, and a slow test then got a fresh burst).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_caller_clock_real_time_does_not_give_the_quota_back() {
    let Some(redis) = TestRedis::start("with_a_caller_clock_real_time") else {
        return;
    };
    let prefix = unique_prefix("frozen");
    let clock = ManualClock::new();
    clock.set(1_764_000_000_000_000_000);
    // 5 per second, burst 3: the first request alone would be forgotten after 200 ms.
    let layer = RateLimitLayer::builder()
        .policy(Policy::new("per-ip", PeerIp::new(), Quota::per_second(5).burst(3)).unwrap())
        .store(
            store(&redis, &prefix)
                .timeout(Duration::from_secs(2))
                .clock(clock.clone())
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let svc = service(layer);
    let first = svc.clone().oneshot(from_ip("192.0.2.9")).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let key = format!("{{{prefix}}}:per-ip:ip:192.0.2.9");
    let mut conn = redis.connection().await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        ttl > 3_500_000,
        "{key}: PTTL {ttl} ms, expected about an hour"
    );
    // Real time passes (a lower bound: sleeping longer proves the same), the clock does not.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            svc.clone()
                .oneshot(from_ip("192.0.2.9"))
                .await
                .unwrap()
                .status(),
        );
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ],
        "the burst of 3 counts the first request, 400 ms of real time later"
    );
    // Once the clock moves, the quota comes back as it should.
    clock.advance(Duration::from_millis(200));
    let res = svc.clone().oneshot(from_ip("192.0.2.9")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// One pseudo-random number generator, so the timeline is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_decisions_as_the_memory_store_on_a_scripted_timeline() {
    let Some(redis) = TestRedis::start("same_decisions_as_the_memory_store") else {
        return;
    };
    let clock = ManualClock::new();
    // A realistic epoch (nanoseconds since 1970 are past 2^53: the script must stay exact).
    clock.set(1_764_000_000_123_456_789);
    let memory = MemoryStore::new().clock(clock.clone());
    let redis_store = store(&redis, &unique_prefix("timeline"))
        .timeout(Duration::from_secs(2))
        .clock(clock.clone())
        .build()
        .unwrap();
    let quotas = [
        ("per-key", Quota::per_minute(6).burst(3)),
        ("global", Quota::per_minute(30).burst(10)),
        ("odd", Quota::new(7, Duration::from_secs(13)).burst(2)),
    ];
    let keys = ["alice", "bob", "carol", "dave"];
    let mut rng = Lcg(42);
    let (mut allowed, mut refused, mut too_big) = (0, 0, 0);
    for step in 0..400 {
        clock.advance(Duration::from_nanos(
            rng.next(3_000) * 1_000_000 + rng.next(1_000_000),
        ));
        let key = keys[rng.next(keys.len() as u64) as usize];
        let cost = match rng.next(20) {
            0 => 3, // more than the burst of `odd`
            1..=3 => 2,
            _ => 1,
        };
        // Each request applies a subset of the policies (at least one).
        let mask = 1 + rng.next(7);
        let cells: Vec<Cell<'_>> = quotas
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(i, (name, q))| {
                Cell::new(
                    i,
                    name,
                    if *name == "global" {
                        Key::Global
                    } else {
                        Key::Public(key.into())
                    },
                    q.validate().unwrap(),
                    cost,
                )
            })
            .collect();
        let peek = step % 10 == 9;
        let (expected, got): (Decision, Decision) = if peek {
            (
                memory.peek(&cells).await.unwrap(),
                redis_store.peek(&cells).await.unwrap(),
            )
        } else {
            (
                memory.decide(&cells).await.unwrap(),
                redis_store.decide(&cells).await.unwrap(),
            )
        };
        assert_eq!(got, expected, "step {step} (peek: {peek}), cells {cells:?}");
        if !peek {
            if expected.allowed() {
                allowed += 1;
            } else {
                refused += 1;
            }
            too_big += expected.cells().iter().filter(|c| c.exceeds_burst).count();
        }
    }
    // The timeline exercised every branch.
    assert!(
        allowed > 50 && refused > 50,
        "{allowed} allowed, {refused} refused"
    );
    assert!(too_big > 0);
}

/// Runs `n` requests one after another during an outage. That requests stop waiting for
/// Redis is asserted by counting calls (see [`assert_no_wait_once_down`]); the wall-clock
/// bound here is only a generous guard against a request hanging.
async fn during_outage<S>(svc: &S, n: usize, timeout: Duration) -> Vec<Res>
where
    S: Service<Request<String>, Response = Res, Error = Infallible> + Clone,
{
    let mut out = Vec::new();
    for i in 0..n {
        let started = Instant::now();
        let res = svc.clone().oneshot(from_ip("203.0.113.9")).await.unwrap();
        let took = started.elapsed();
        assert!(
            took < timeout + Duration::from_secs(10),
            "request {i} hung for {took:?} with a {timeout:?} timeout"
        );
        out.push(res);
    }
    out
}

/// Once the failure threshold (3) declared Redis down, no request calls it again: the
/// outage cost exactly three failed calls, and one down transition.
fn assert_no_wait_once_down(store: &RedisStore) {
    let stats = store.stats();
    assert_eq!(stats.failures, 3, "{stats:?}");
    assert_eq!(stats.down_transitions, 1, "{stats:?}");
}

/// Tests that kill or reset Redis need their own server. Without one they are skipped
/// locally, and fail under `CI=true`, so CI never passes by not running them.
fn owned_or_skip(redis: &TestRedis, test: &str) -> bool {
    if redis.owned() {
        return true;
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "{test} needs redis-server on PATH (it kills or resets its own server); REDIS_URL is not enough under CI=true"
    );
    eprintln!("skipping {test}: it needs its own redis-server on PATH");
    false
}

/// After a restart, waits (10 s at most) until a request is decided by Redis again.
async fn until_back<S>(svc: &S, redis: &TestRedis, prefix: &str, store: &RedisStore)
where
    S: Service<Request<String>, Response = Res, Error = Infallible> + Clone,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let res = svc.clone().oneshot(from_ip("203.0.113.9")).await.unwrap();
        if backend_errors(&res).is_empty() {
            assert_eq!(res.status(), StatusCode::OK);
            assert!(res.headers().contains_key("ratelimit"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "decisions did not go back to Redis within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(store.is_available());
    // Decided in Redis: the key is there (the restarted server started empty).
    assert_eq!(
        keys(redis, prefix).await,
        [format!("{{{prefix}}}:per-ip:ip:203.0.113.9")]
    );
}

struct Outage {
    redis: TestRedis,
    prefix: String,
    store: RedisStore,
    timeout: Duration,
}

fn outage_setup(test: &str, fallback: Option<f64>) -> Option<Outage> {
    let redis = TestRedis::start(test)?;
    if !owned_or_skip(&redis, test) {
        return None;
    }
    let prefix = unique_prefix(test);
    let timeout = Duration::from_millis(50);
    let mut builder = store(&redis, &prefix)
        .timeout(timeout)
        .reprobe_interval(Duration::from_millis(50));
    if let Some(f) = fallback {
        builder = builder.local_fallback(f);
    }
    let store = builder.build().unwrap();
    Some(Outage {
        redis,
        prefix,
        store,
        timeout,
    })
}

fn outage_layer(o: &Outage, on_error: OnStoreError) -> RateLimitLayer {
    RateLimitLayer::builder()
        .policy(Policy::new("per-ip", PeerIp::new(), Quota::per_hour(10)).unwrap())
        .store(o.store.clone())
        .on_store_error(on_error)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fail_open_allows_and_reports() {
    let Some(mut o) = outage_setup("fail_open", None) else {
        return;
    };
    let svc = service(outage_layer(&o, OnStoreError::FailOpen));
    o.store.preload().await.unwrap();
    let res = svc.clone().oneshot(from_ip("203.0.113.9")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(backend_errors(&res).is_empty());

    o.redis.kill();
    for res in during_outage(&svc, 30, o.timeout).await {
        assert_eq!(res.status(), StatusCode::OK, "fail open allows");
        assert_eq!(backend_errors(&res), ["rate_limit.store"]);
    }
    assert!(!o.store.is_available());
    assert_no_wait_once_down(&o.store);

    o.redis.restart();
    until_back(&svc, &o.redis, &o.prefix, &o.store).await;
    assert_eq!(o.store.stats().up_transitions, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fail_closed_rejects_with_503_and_grpc_unavailable() {
    let Some(mut o) = outage_setup("fail_closed", None) else {
        return;
    };
    let svc = service(outage_layer(&o, OnStoreError::FailClosed));
    let res = svc.clone().oneshot(from_ip("203.0.113.9")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    o.redis.kill();
    for res in during_outage(&svc, 30, o.timeout).await {
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        assert_eq!(backend_errors(&res), ["rate_limit.store"]);
    }
    let mut grpc = from_ip("203.0.113.9");
    grpc.headers_mut()
        .insert("content-type", "application/grpc".parse().unwrap());
    let res = svc.clone().oneshot(grpc).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["grpc-status"], "14");
    assert_no_wait_once_down(&o.store);

    o.redis.restart();
    until_back(&svc, &o.redis, &o.prefix, &o.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_local_fallback_limits_at_a_fraction_of_the_quota() {
    let Some(mut o) = outage_setup("local_fallback", Some(0.5)) else {
        return;
    };
    // FailClosed on the layer: the fallback decides, so the layer's rule never applies.
    let svc = service(outage_layer(&o, OnStoreError::FailClosed));
    let res = svc.clone().oneshot(from_ip("203.0.113.9")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(backend_errors(&res).is_empty());

    o.redis.kill();
    let responses = during_outage(&svc, 30, o.timeout).await;
    // Half of the burst of 10, counted locally from an empty state.
    let allowed = responses
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    assert_eq!(allowed, 5);
    for res in &responses {
        assert!(
            res.status() == StatusCode::OK || res.status() == StatusCode::TOO_MANY_REQUESTS,
            "{}",
            res.status()
        );
        assert_eq!(backend_errors(res), ["rate_limit.redis"]);
    }
    assert_no_wait_once_down(&o.store);
    let limited = responses.last().unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        limited.headers()["ratelimit-policy"],
        r#""per-ip";q=10;w=3600"#
    );

    o.redis.restart();
    // Redis restarted empty, so once decisions are back there the client is allowed again.
    until_back(&svc, &o.redis, &o.prefix, &o.store).await;
}

fn cmdstat_calls(info: &str) -> Vec<(String, u64)> {
    info.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("cmdstat_")?;
            let (name, stats) = rest.split_once(':')?;
            let calls = stats.split(',').find_map(|s| s.strip_prefix("calls="))?;
            Some((name.to_owned(), calls.parse().ok()?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_evalsha_per_request_and_reload_after_script_flush() {
    let Some(redis) = TestRedis::start("one_evalsha_per_request") else {
        return;
    };
    if !owned_or_skip(&redis, "one_evalsha_per_request") {
        return;
    }
    let prefix = unique_prefix("evalsha");
    let layer = RateLimitLayer::builder()
        .policy(Policy::new("per-ip", PeerIp::new(), Quota::per_minute(100)).unwrap())
        .policy(Policy::new("global", Global, Quota::per_minute(1000)).unwrap())
        .policy(Policy::new("tenant", tenant, Quota::per_minute(500)).unwrap())
        .store(
            store(&redis, &prefix)
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap(),
        )
        .on_store_error(OnStoreError::FailClosed)
        .build()
        .unwrap();
    let svc = service(layer);
    let mut conn = redis.connection().await;
    // The script is not loaded yet: the first call gets NOSCRIPT and loads it.
    let res = svc.clone().oneshot(from_ip("192.0.2.8")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut conn)
        .await
        .unwrap();
    for _ in 0..10 {
        let res = svc.clone().oneshot(from_ip("192.0.2.8")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await
        .unwrap();
    // Commands the script runs inside Redis are counted too (TIME, and one GET and one SET
    // per policy); the only command that crossed the network per request is EVALSHA.
    let mut calls: Vec<_> = cmdstat_calls(&info)
        .into_iter()
        .filter(|(name, _)| name != "info" && name != "config|resetstat")
        .collect();
    calls.sort();
    let expected =
        [("evalsha", 10), ("get", 30), ("set", 30), ("time", 10)].map(|(n, c)| (n.to_owned(), c));
    assert_eq!(calls, expected, "{info}");

    // After SCRIPT FLUSH (as after a restart), the store loads the script again.
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut conn)
        .await
        .unwrap();
    let res = svc.clone().oneshot(from_ip("192.0.2.8")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(backend_errors(&res).is_empty());
    let state = res.headers()["ratelimit"].to_str().unwrap();
    assert_eq!(state.split(", ").count(), 3, "{state}");
}

fn tenant<'a>(_: &RequestInfo<'a>) -> Option<Key<'a>> {
    Some(Key::Public("acme".into()))
}

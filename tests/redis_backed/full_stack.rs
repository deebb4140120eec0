//! `examples/full_stack.rs` with `REDIS_URL`: two replicas of its `app()` on two loopback
//! ports against one `redis-server`, driven by a real HTTP client.
//!
//! Both replicas share one `ManualClock` (replicas given one clock agree on "now"), frozen
//! unless a test advances it, so the counts below do not depend on how fast the machine is.
#![cfg(all(
    feature = "rate-limit",
    feature = "security-headers",
    feature = "injection",
    feature = "metrics",
    feature = "notify",
    feature = "monitoring",
    feature = "redis",
    feature = "axum",
    feature = "utoipa"
))]

#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/full_stack.rs"]
mod example;

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};
use tower_fortify::rate_limit::{
    store::{ManualClock, RedisStore},
    Key,
};

use crate::support::redis::TestRedis;

const TOKEN: &str = "full-stack-redis-test-token-0123";
const STANDARD: &str = "demo-standard-key-0001";
const BROKER: &str = "demo-broker-key-0001";
/// The stream full_stack writes (README, "full_stack: deployment caveats").
const STREAM: &str = "tower-fortify:notifications";
/// A bound for every network wait: generous, and never the basis of an assertion.
const BOUND: Duration = Duration::from_secs(20);

struct Replica {
    addr: SocketAddr,
    notifier: tower_fortify::notify::Notifier,
    store: RedisStore,
}

async fn replica(url: &str, clock: &ManualClock) -> Replica {
    let app = example::app(example::Options {
        admin_token: TOKEN.to_owned(),
        hosts: Vec::new(),
        origins: vec!["https://app.example.com".to_owned()],
        redis_url: Some(url.to_owned()),
        shadow_limits: false,
        anonymous_per_second: 5,
        clock: Some(clock.clone()),
        notify_latency: Duration::from_millis(20),
    })
    .unwrap();
    assert!(
        app.storage.starts_with("state: Redis at "),
        "the start-up line: {}",
        app.storage
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router;
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Replica {
        addr,
        notifier: app.notifier,
        store: app.redis_store.expect("a Redis store with redis_url"),
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
}

impl Answer {
    fn has(&self, name: &str) -> bool {
        self.headers.contains_key(name)
    }
}

async fn get(
    client: &Client<HttpConnector, Full<Bytes>>,
    replica: &Replica,
    path: &str,
    api_key: Option<&str>,
) -> Answer {
    let mut req = Request::get(format!("http://{}{path}", replica.addr));
    if let Some(key) = api_key {
        req = req.header("x-api-key", key);
    }
    let res = tokio::time::timeout(BOUND, client.request(req.body(Full::default()).unwrap()))
        .await
        .expect("an answer within the bound")
        .expect("the request went through");
    let (parts, body) = res.into_parts();
    tokio::time::timeout(BOUND, body.collect())
        .await
        .expect("a body within the bound")
        .unwrap();
    Answer {
        status: parts.status,
        headers: parts.headers,
    }
}

/// Sends `n` GETs alternately to the two replicas; the statuses in order, and checks that
/// every 429 carries `Retry-After` (whole seconds, at least 1).
async fn burst(
    client: &Client<HttpConnector, Full<Bytes>>,
    replicas: &[Replica; 2],
    path: &str,
    api_key: Option<&str>,
    n: usize,
) -> Vec<u16> {
    let mut statuses = Vec::new();
    for i in 0..n {
        let res = get(client, &replicas[i % 2], path, api_key).await;
        if res.status == StatusCode::TOO_MANY_REQUESTS {
            let retry: u64 = res.headers["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry >= 1, "Retry-After {retry}");
        }
        statuses.push(res.status.as_u16());
    }
    statuses
}

fn expected(allowed: usize, refused: usize) -> Vec<u16> {
    let mut v = vec![200; allowed];
    v.extend(vec![429; refused]);
    v
}

type Entries = Vec<(String, HashMap<String, String>)>;

async fn xrange(redis: &TestRedis, from: &str) -> Entries {
    let mut conn = redis.connection().await;
    redis::cmd("XRANGE")
        .arg(STREAM)
        .arg(from)
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap()
}

/// A Redis this test may write to; on a shared one (`REDIS_URL`) the keys the test uses
/// are deleted first, and the stream is read from its current end.
async fn prepare(redis: &TestRedis) -> String {
    if redis.owned() {
        return "-".to_owned();
    }
    let store = RedisStore::builder(redis.url()).build().unwrap();
    let mut conn = redis.connection().await;
    for key in [
        store.key_name("anonymous", &Key::ip("127.0.0.1".parse().unwrap(), 64)),
        store.key_name("api-key", &Key::Secret(STANDARD.as_bytes().into())),
        store.key_name("api-key", &Key::Secret(BROKER.as_bytes().into())),
    ] {
        let _: i64 = redis::cmd("DEL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let last: Entries = redis::cmd("XREVRANGE")
        .arg(STREAM)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut conn)
        .await
        .unwrap();
    last.first()
        .map_or("-".to_owned(), |(id, _)| format!("({id}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_the_limits_and_the_notification_stream() {
    let Some(redis) = TestRedis::start("full_stack two replicas") else {
        return;
    };
    let from = prepare(&redis).await;
    let clock = ManualClock::new();
    clock.set(1_764_000_000_000_000_000);
    let replicas = [
        replica(redis.url(), &clock).await,
        replica(redis.url(), &clock).await,
    ];
    let client = Client::builder(TokioExecutor::new()).build_http();

    // Anonymous, per IP: burst 10. Alone, each replica would let its 8 through.
    let anonymous = burst(&client, &replicas, "/quote/ACME", None, 16).await;
    assert_eq!(
        anonymous,
        expected(10, 6),
        "anonymous burst over two replicas"
    );
    // A keyed tier, per API key: standard, burst 20, unaffected by the anonymous limit.
    let standard = burst(&client, &replicas, "/orders", Some(STANDARD), 30).await;
    assert_eq!(standard, expected(20, 10), "standard key over two replicas");
    // The rate holds too: one second later, 5 more anonymous requests in all.
    clock.advance(Duration::from_secs(1));
    let later = burst(&client, &replicas, "/quote/ACME", None, 8).await;
    assert_eq!(later, expected(5, 3), "anonymous, one second later");

    // Every refusal reaches the stream: the first per replica and key at once, the rest
    // counted into the summary each notifier writes when it drains.
    for r in &replicas {
        let report = r.notifier.shutdown(BOUND).await;
        let sink = report.stats.sink("redis-stream").unwrap();
        assert_eq!(
            (sink.dead_lettered, sink.dropped),
            (0, 0),
            "{:?}",
            report.stats
        );
    }
    let entries = xrange(&redis, &from).await;
    let mut refused: HashMap<String, u64> = HashMap::new();
    for (_, fields) in &entries {
        assert!(
            !fields["json"].contains(STANDARD),
            "an API key in the stream: {}",
            fields["json"]
        );
        if fields["kind"] == "rate_limited" {
            let json: serde_json::Value = serde_json::from_str(&fields["json"]).unwrap();
            let policy = json["fields"]["policy"].as_str().unwrap().to_owned();
            *refused.entry(policy).or_default() += fields["count"].parse::<u64>().unwrap();
        }
    }
    assert_eq!(
        refused,
        HashMap::from([("anonymous".to_owned(), 9), ("api-key".to_owned(), 10)]),
        "refusals counted in {STREAM}: {entries:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_the_limits_fail_open_and_come_back() {
    let Some(mut redis) = TestRedis::start("full_stack redis down") else {
        return;
    };
    if !redis.owned() {
        // A shared Redis cannot be stopped; nothing listens on port 1 instead.
        eprintln!("full_stack redis down: REDIS_URL is shared, testing against port 1 instead");
    }
    let url = if redis.owned() {
        redis.url().to_owned()
    } else {
        "redis://127.0.0.1:1/".to_owned()
    };
    let clock = ManualClock::new();
    clock.set(1_764_000_000_000_000_000);
    let replicas = [replica(&url, &clock).await, replica(&url, &clock).await];
    let client = Client::builder(TokioExecutor::new()).build_http();

    if redis.owned() {
        for r in &replicas {
            let res = get(&client, r, "/orders", Some(BROKER)).await;
            assert_eq!(res.status, StatusCode::OK);
            assert!(res.has("ratelimit"), "decided in Redis: {:?}", res.headers);
        }
        redis.kill();
    }

    // Fail open: 16 anonymous requests (burst 10) and keyed ones all pass, without
    // rate-limit headers; no 5xx from any guard.
    let anonymous = burst(&client, &replicas, "/quote/ACME", None, 16).await;
    assert_eq!(anonymous, vec![200; 16], "anonymous while Redis is down");
    for r in &replicas {
        let res = get(&client, r, "/orders", Some(STANDARD)).await;
        assert_eq!(res.status, StatusCode::OK);
        assert!(!res.has("ratelimit") && !res.has("retry-after"));
        assert!(
            !r.store.is_available(),
            "3 failed calls mark Redis down: {:?}",
            r.store.stats()
        );
        assert!(r.store.stats().down_transitions >= 1);
    }
    // The outage is visible: backend_error events in each replica's metrics.
    for r in &replicas {
        let req = Request::get(format!("http://{}/admin/metrics", r.addr))
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Full::default())
            .unwrap();
        let res = tokio::time::timeout(BOUND, client.request(req))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let text = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&text);
        assert!(
            text.lines()
                .any(|l| l
                    .starts_with("tower_fortify_security_events_total{event=\"backend_error\"")),
            "{text}"
        );
    }
    if !redis.owned() {
        return;
    }

    // Back: each replica's store probes Redis again (on its own request path, every
    // 100 ms) and decides there; a keyed request polls, the anonymous quota stays untouched.
    redis.restart();
    let deadline = tokio::time::Instant::now() + BOUND;
    for r in &replicas {
        loop {
            let res = get(&client, r, "/orders", Some(BROKER)).await;
            assert_eq!(res.status, StatusCode::OK);
            if res.has("ratelimit") {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "Redis not used again within {BOUND:?}: {:?}",
                r.store.stats()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(r.store.stats().up_transitions >= 1);
    }
    // The restarted Redis is empty: one fresh shared burst of 10.
    let anonymous = burst(&client, &replicas, "/quote/ACME", None, 14).await;
    assert_eq!(anonymous, expected(10, 4), "anonymous after the restart");

    // Nothing lost in the notifier: every notification for the stream was delivered or
    // dead-lettered (the retries of a batch may outlast the outage or not).
    for r in &replicas {
        let report = r.notifier.shutdown(BOUND).await;
        let sink = report.stats.sink("redis-stream").unwrap();
        assert_eq!(
            report.stats.submitted,
            sink.delivered + sink.dead_lettered + sink.dropped,
            "{:?}",
            report.stats
        );
        assert_eq!(sink.dropped, 0, "{:?}", report.stats);
    }
    let entries = xrange(&redis, "-").await;
    assert!(
        entries.iter().any(|(_, f)| f["kind"] == "rate_limited"),
        "the refusals after the restart reach the stream: {entries:?}"
    );
}

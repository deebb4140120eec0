#![allow(missing_docs)]
//! The Redis store against the in-memory store and a bare service, in the same run: the
//! added latency per request and the decisions per second, with 1 and 3 policies, against a
//! private local `redis-server` (or `REDIS_URL`). At the end it counts the Redis commands
//! each request sent (`INFO commandstats`), which must be one `EVALSHA`.
//!
//! Run with
//! `cargo bench --all-features --bench rate_limit_redis -- --warm-up-time 1 --measurement-time 3`.
//!
//! Groups:
//! - `rate_limit_redis/latency`: one request at a time (`bare`, `memory/N`, `redis/N`);
//! - `rate_limit_redis/throughput`: 64 requests in flight per iteration, so Redis round
//!   trips overlap on the multiplexed connection (elements per second = decisions per second).

#[path = "../tests/support/redis.rs"]
mod redis_support;

use std::{convert::Infallible, time::Duration};

use criterion::{Criterion, Throughput};
use http::{Request, Response};
use redis_support::TestRedis;
use tokio::{runtime::Runtime, task::JoinSet};
use tower::{util::BoxCloneSyncService, ServiceBuilder, ServiceExt};
use tower_fortify::{
    body::GuardBody,
    proxy::PeerAddr,
    rate_limit::{store::RedisStore, Global, Header, PeerIp, Policy, Quota, RateLimitLayer},
};

type Svc = BoxCloneSyncService<Request<()>, Response<GuardBody<String>>, Infallible>;

/// Effectively unlimited, so every request takes the "allowed" path (the common one).
fn quota() -> Quota {
    Quota::new(1_000_000_000, Duration::from_secs(1))
}

fn layer(policies: usize, redis: Option<RedisStore>) -> RateLimitLayer {
    let mut b =
        RateLimitLayer::builder().policy(Policy::new("ip", PeerIp::new(), quota()).unwrap());
    if policies == 3 {
        b = b
            .policy(Policy::new("api-key", Header::new("x-api-key").unwrap(), quota()).unwrap())
            .policy(Policy::new("global", Global, quota()).unwrap());
    }
    if let Some(store) = redis {
        b = b.store(store);
    }
    b.build().unwrap()
}

fn bare() -> Svc {
    BoxCloneSyncService::new(
        ServiceBuilder::new()
            .map_response(|r: Response<String>| r.map(GuardBody::new))
            .service_fn(|_: Request<()>| async {
                Ok::<_, Infallible>(Response::new(String::new()))
            }),
    )
}

fn limited(layer: RateLimitLayer) -> Svc {
    BoxCloneSyncService::new(
        ServiceBuilder::new()
            .layer(layer)
            .service_fn(|_: Request<()>| async {
                Ok::<_, Infallible>(Response::new(String::new()))
            }),
    )
}

fn request() -> Request<()> {
    let mut req = Request::new(());
    req.extensions_mut()
        .insert(PeerAddr("198.51.100.7:40000".parse().unwrap()));
    req.headers_mut()
        .insert("x-api-key", "sk_test_0123456789abcdef".parse().unwrap());
    req
}

async fn one(svc: &Svc) {
    let res = svc.clone().oneshot(request()).await.unwrap();
    assert_eq!(res.status(), 200);
}

async fn many(svc: &Svc, n: usize) {
    let mut set = JoinSet::new();
    for _ in 0..n {
        let svc = svc.clone();
        set.spawn(async move { one(&svc).await });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
}

fn redis_store(rt: &Runtime, url: &str, prefix: &str) -> RedisStore {
    rt.block_on(async {
        let store = RedisStore::builder(url)
            .prefix(prefix)
            .timeout(Duration::from_secs(1))
            .build()
            .unwrap();
        store.preload().await.unwrap();
        store
    })
}

fn services(rt: &Runtime, url: Option<&str>) -> Vec<(String, Svc)> {
    let mut out = vec![("bare".to_owned(), bare())];
    for n in [1, 3] {
        out.push((format!("memory/{n}"), limited(layer(n, None))));
        if let Some(url) = url {
            let store = redis_store(rt, url, &format!("bench-{n}"));
            out.push((format!("redis/{n}"), limited(layer(n, Some(store)))));
        }
    }
    out
}

fn bench(c: &mut Criterion, rt: &Runtime, services: &[(String, Svc)]) {
    let mut g = c.benchmark_group("rate_limit_redis/latency");
    for (name, svc) in services {
        g.bench_function(name.as_str(), |b| b.to_async(rt).iter(|| one(svc)));
    }
    g.finish();

    const IN_FLIGHT: usize = 64;
    let mut g = c.benchmark_group("rate_limit_redis/throughput");
    g.throughput(Throughput::Elements(IN_FLIGHT as u64));
    for (name, svc) in services {
        g.bench_function(name.as_str(), |b| {
            b.to_async(rt).iter(|| many(svc, IN_FLIGHT))
        });
    }
    g.finish();
}

/// Sends `n` requests through each Redis service and reads how many commands reached Redis.
fn commands_per_request(rt: &Runtime, redis: &TestRedis, services: &[(String, Svc)]) {
    rt.block_on(async {
        let mut conn = redis.connection().await;
        for (name, svc) in services.iter().filter(|(n, _)| n.starts_with("redis/")) {
            let _: () = redis::cmd("CONFIG")
                .arg("RESETSTAT")
                .query_async(&mut conn)
                .await
                .unwrap();
            let n = 1000u64;
            for _ in 0..n {
                one(svc).await;
            }
            let info: String = redis::cmd("INFO")
                .arg("commandstats")
                .query_async(&mut conn)
                .await
                .unwrap();
            // Commands the script runs inside Redis (TIME, GET, SET) do not cross the network.
            let mut sent = Vec::new();
            for line in info.lines() {
                let Some((cmd, stats)) = line
                    .strip_prefix("cmdstat_")
                    .and_then(|l| l.split_once(':'))
                else {
                    continue;
                };
                if matches!(cmd, "info" | "config|resetstat" | "time" | "get" | "set") {
                    continue;
                }
                let calls: u64 = stats
                    .split(',')
                    .find_map(|s| s.strip_prefix("calls="))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                sent.push(format!("{cmd} {:.2}", calls as f64 / n as f64));
            }
            println!(
                "{name}: Redis commands per request over {n} requests: {}",
                sent.join(", ")
            );
        }
    });
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let redis = TestRedis::start("rate_limit_redis bench");
    let services = {
        let _guard = rt.enter();
        services(&rt, redis.as_ref().map(TestRedis::url))
    };
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &rt, &services);
    if let Some(redis) = &redis {
        commands_per_request(&rt, redis, &services);
    }
    c.final_summary();
}

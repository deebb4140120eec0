#![allow(missing_docs)]
//! Rate limiting overhead: this crate's `RateLimitLayer` against `tower_governor`, on the
//! same inner service and the same quota, in the same run.
//!
//! Run with `cargo bench --bench rate_limit`. Groups:
//!
//! - `one_key`: one hot client address;
//! - `rotating_10k`: 10,000 client addresses in turn;
//! - `three_policies`: per-IP + per-API-key + global in one layer (ours), against our single
//!   policy and against three stacked `tower_governor` layers.
//!
//! - `interleaved` (printed first, not a criterion group): the `one_key` and
//!   `three_policies` comparisons again, but with both layers timed in alternation inside
//!   one loop (batches of 64 requests, order flipped every round), so a load that changes
//!   during the run hits both sides alike. It prints each side's median ns per request and
//!   the median of the per-round ratios: on a shared machine this ratio is the one to quote,
//!   criterion's sequential groups can drift by 30% between two sides.
//!   `cargo bench --bench rate_limit -- interleaved` runs it alone.
//!
//! Like is compared with like: ours without headers against tower_governor's default (no
//! headers), ours with the IETF headers against tower_governor's `use_headers()`. Both
//! wrap the same inner service, get the same requests (built outside the timed part) and
//! the same quota; inputs and outputs go through `black_box` the same way.

use std::{
    convert::Infallible,
    future::Future,
    hint::black_box,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    pin::pin,
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};

use axum::{body::Body, extract::ConnectInfo};
use criterion::{criterion_group, BatchSize, Criterion};
use http::{Request, Response};
use tower::{Layer, Service};
use tower_fortify::proxy::PeerAddr;
use tower_fortify::rate_limit::{
    Global, Header, PeerIp, Policy, Quota, RateLimitHeaders, RateLimitLayer,
};
use tower_governor::{governor::GovernorConfigBuilder, GovernorLayer};

#[path = "support/peers.rs"]
mod peers;

/// Effectively unlimited, so every request takes the "allowed" path (the common one):
/// one cell per nanosecond, a burst of a billion.
const COUNT: u32 = 1_000_000_000;

/// The inner service both layers wrap: answers 200 at once.
#[derive(Clone, Copy)]
struct Ok200;

impl Service<Request<()>> for Ok200 {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request<()>) -> Self::Future {
        std::future::ready(Ok(Response::new(Body::empty())))
    }
}

fn inner() -> Ok200 {
    Ok200
}

/// Polls a future that completes without waiting (both layers decide synchronously).
fn run<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the benchmarked future did not complete synchronously"),
    }
}

fn request(ip: IpAddr) -> Request<()> {
    let mut req = Request::new(());
    // tower_governor reads axum's `ConnectInfo`; this crate reads it too with its `axum`
    // feature, else its own `PeerAddr` (what a plain hyper server inserts). Both are present
    // so either build finds its peer with one lookup.
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(ip, 40_000)));
    req.extensions_mut()
        .insert(PeerAddr(SocketAddr::new(ip, 40_000)));
    req.headers_mut()
        .insert("x-api-key", "sk_test_0123456789abcdef".parse().unwrap());
    req
}

fn ours(headers: RateLimitHeaders, policies: usize) -> RateLimitLayer {
    let q = Quota::new(COUNT, Duration::from_secs(1));
    let mut b = RateLimitLayer::builder()
        .headers(headers)
        .policy(Policy::new("ip", PeerIp::new(), q).unwrap());
    if policies == 3 {
        b = b
            .policy(Policy::new("key", Header::new("x-api-key").unwrap(), q).unwrap())
            .policy(Policy::new("global", Global, q).unwrap());
    }
    b.build().unwrap()
}

fn ips(n: u32) -> Vec<IpAddr> {
    (0..n)
        .map(|i| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)))
        .collect()
}

macro_rules! bench_service {
    ($group:expr, $name:expr, $svc:expr, $ips:expr) => {{
        let mut svc = $svc;
        let ips = $ips;
        let mut i = 0usize;
        $group.bench_function($name, |b| {
            b.iter_batched(
                || {
                    i = (i + 1) % ips.len();
                    request(ips[i])
                },
                |req| {
                    let res = run(svc.call(black_box(req))).unwrap();
                    assert!(res.status().is_success());
                    black_box(res)
                },
                BatchSize::SmallInput,
            )
        });
    }};
}

fn governor_layer_with_headers() -> GovernorLayer<
    tower_governor::key_extractor::PeerIpKeyExtractor,
    governor::middleware::StateInformationMiddleware,
    Body,
> {
    let config = GovernorConfigBuilder::default()
        .period(Duration::from_nanos(1))
        .burst_size(COUNT)
        .use_headers()
        .finish()
        .unwrap();
    GovernorLayer::new(config)
}

fn keys(c: &mut Criterion, group_name: &str, n: u32) {
    let mut g = c.benchmark_group(group_name);
    bench_service!(
        g,
        "tower_governor",
        peers::governor_layer(COUNT).layer(inner()),
        ips(n)
    );
    bench_service!(
        g,
        "tower_fortify",
        ours(RateLimitHeaders::None, 1).layer(inner()),
        ips(n)
    );
    bench_service!(
        g,
        "tower_governor_headers",
        governor_layer_with_headers().layer(inner()),
        ips(n)
    );
    bench_service!(
        g,
        "tower_fortify_headers",
        ours(RateLimitHeaders::Ietf, 1).layer(inner()),
        ips(n)
    );
    g.finish();
}

fn one_key(c: &mut Criterion) {
    keys(c, "one_key", 1);
}

fn rotating_10k(c: &mut Criterion) {
    keys(c, "rotating_10k", 10_000);
}

fn three_policies(c: &mut Criterion) {
    let mut g = c.benchmark_group("three_policies");
    bench_service!(
        g,
        "tower_fortify_1_policy",
        ours(RateLimitHeaders::None, 1).layer(inner()),
        ips(1)
    );
    bench_service!(
        g,
        "tower_fortify_3_policies",
        ours(RateLimitHeaders::None, 3).layer(inner()),
        ips(1)
    );
    bench_service!(
        g,
        "tower_fortify_3_policies_headers",
        ours(RateLimitHeaders::Ietf, 3).layer(inner()),
        ips(1)
    );
    bench_service!(
        g,
        "tower_governor_3_layers",
        peers::governor_layer(COUNT)
            .layer(peers::governor_layer(COUNT).layer(peers::governor_layer(COUNT).layer(inner()))),
        ips(1)
    );
    g.finish();
}

/// Nanoseconds per request for `n` requests from one address (requests built and
/// responses dropped outside the timed part).
fn time_batch<S, B>(svc: &mut S, n: usize) -> f64
where
    S: Service<Request<()>, Response = Response<B>, Error = Infallible>,
{
    let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let reqs: Vec<_> = (0..n).map(|_| request(ip)).collect();
    let mut out = Vec::with_capacity(n);
    let start = Instant::now();
    for req in reqs {
        let res = run(svc.call(black_box(req))).unwrap();
        assert!(res.status().is_success());
        out.push(black_box(res));
    }
    let elapsed = start.elapsed();
    drop(out);
    elapsed.as_nanos() as f64 / n as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Times `ours` and `theirs` in alternation and prints the medians and the median ratio.
fn interleave<A, B, RA, RB>(name: &str, ours: &mut A, theirs: &mut B, rounds: usize)
where
    A: Service<Request<()>, Response = Response<RA>, Error = Infallible>,
    B: Service<Request<()>, Response = Response<RB>, Error = Infallible>,
{
    const BATCH: usize = 64;
    // Warm up both (caches, the store's first insert).
    for _ in 0..rounds.min(200) {
        time_batch(ours, BATCH);
        time_batch(theirs, BATCH);
    }
    let (mut a, mut b, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (x, y) = if round % 2 == 0 {
            let x = time_batch(ours, BATCH);
            (x, time_batch(theirs, BATCH))
        } else {
            let y = time_batch(theirs, BATCH);
            (time_batch(ours, BATCH), y)
        };
        a.push(x);
        b.push(y);
        r.push(x / y);
    }
    println!(
        "interleaved/{name:<28} tower_fortify {:7.1} ns  tower_governor {:7.1} ns  ratio {:.3}x",
        median(&mut a),
        median(&mut b),
        median(&mut r)
    );
}

/// The interleaved comparisons (see the module docs).
fn interleaved(rounds: usize) {
    interleave(
        "one_key",
        &mut ours(RateLimitHeaders::None, 1).layer(inner()),
        &mut peers::governor_layer(COUNT).layer(inner()),
        rounds,
    );
    interleave(
        "one_key_headers",
        &mut ours(RateLimitHeaders::Ietf, 1).layer(inner()),
        &mut governor_layer_with_headers().layer(inner()),
        rounds,
    );
    interleave(
        "three_policies_vs_3_layers",
        &mut ours(RateLimitHeaders::None, 3).layer(inner()),
        &mut peers::governor_layer(COUNT)
            .layer(peers::governor_layer(COUNT).layer(peers::governor_layer(COUNT).layer(inner()))),
        rounds,
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = one_key, rotating_10k, three_policies
}

fn main() {
    // Criterion's arguments: `--bench` when benchmarking (absent under `cargo test`), and
    // an optional name filter.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let benchmarking = args.iter().any(|a| a == "--bench");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if filters.is_empty() || filters.iter().any(|f| "interleaved".contains(f.as_str())) {
        interleaved(if benchmarking { 10_000 } else { 10 });
        if filters.iter().any(|f| f.as_str() == "interleaved") {
            return;
        }
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

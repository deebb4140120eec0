//! What the whole stack costs: a bare axum route, each peer alone (tower_governor 0.8,
//! axum-prometheus 0.10, axum-helmet 1.0), the peers' three layers together, each guard
//! layer of this crate alone and this crate's whole stack in the recommended order, in
//! one process and one run.
//!
//! Run with
//!
//! ```sh
//! cargo bench --bench stack --all-features -- --warm-up-time 1 --measurement-time 2
//! # the interleaved table alone (the figures the README quotes):
//! cargo bench --bench stack --all-features -- interleaved
//! ```
//!
//! Two request kinds from `benches/support/requests.rs` (shared with
//! `benches/injection.rs`): a simple browser GET (full browser header set, cookies, 0-2
//! query parameters) and a GET with 10 query parameters. Each iteration takes the next of
//! 512 distinct requests of its kind and the next of 10,000 client addresses (a quarter of
//! them IPv6), so no cache of the code under test (rate-limit keys, decoded values, route
//! lookups) flatters a figure. Every configuration is an axum `Router` with the same two
//! routes and handler; the layers are added with `Router::layer`, as an axum user (and
//! `examples/full_stack.rs`) does, and the response body is read to the end (metrics
//! layers record at the end of the body).
//!
//! Configurations (layers outermost first):
//!
//! - `bare`: the router alone;
//! - `tower_governor`: one per-IP limit (tower_governor's default: no headers);
//! - `axum_prometheus`: `PrometheusMetricLayer`;
//! - `axum_helmet`: axum-helmet's `Helmet::default()` (helmet's default header set);
//! - `peers_together`: axum-prometheus, axum-helmet, tower_governor;
//! - `rate_limit`: a per-IP policy with the default IETF `RateLimit` headers (as
//!   `full_stack`), and `rate_limit_no_headers` (like for like with tower_governor);
//! - `security_headers`: the strict preset with a per-request CSP nonce (as `full_stack`),
//!   and `security_headers_helmet`: the `helmet()` preset (like for like with axum-helmet);
//! - `trusted_host`, `cors` (the same-origin API preset), `injection` (blocking defaults),
//!   `metrics`, `notify` (a null sink);
//! - `fortify_stack`: metrics, notify, security headers, trusted host, CORS, rate limit,
//!   injection: the README's recommended order, configured as in `full_stack`; and
//!   `fortify_stack_no_injection`, the same without the injection layer (the peers do no
//!   injection checking).
//!
//! Quotas are a billion requests per second with a burst of a billion, so the bench client
//! is never refused and every request takes the "allowed" path; a check before measuring
//! asserts that every configuration answers every request with 200.
//!
//! Two ways to measure, both in this run:
//!
//! - `interleaved` (printed first, not a criterion group): every configuration timed in
//!   turn inside one loop (batches of 64 requests, the order rotated every round), so a
//!   load that changes during the run hits all of them alike. It prints each
//!   configuration's median ns per request, the time it adds to `bare` (median of the
//!   per-round differences) and the ratios of added times, among them
//!   `fortify_stack / peers_together`. On this shared machine these are the figures to
//!   quote; criterion's sequential groups can drift by tens of percent between two
//!   configurations measured a minute apart.
//! - the criterion groups `stack/simple_get` and `stack/get_10_params`, one function per
//!   configuration.

use std::{
    cell::Cell,
    convert::Infallible,
    hint::black_box,
    net::SocketAddr,
    time::{Duration, Instant},
};

use axum::{body::Body, extract::ConnectInfo, routing::get, Router};
use criterion::{BatchSize, Criterion};
use http::Request;
use http_body_util::BodyExt;
use tokio::runtime::Runtime;
use tower::{ServiceBuilder, ServiceExt};
use tower_fortify::{
    cors::CorsLayer,
    injection::InjectionLayer,
    metrics::MetricsRegistry,
    notify::{Batch, Notifier, Sink, SinkError, SinkFuture},
    rate_limit::{PeerIp, Policy, Quota, RateLimitHeaders, RateLimitLayer},
    security_headers::{ContentSecurityPolicy, CspSource, SecurityHeadersLayer},
    trusted_host::TrustedHostLayer,
};

#[path = "support/peers.rs"]
mod peers;
#[path = "support/requests.rs"]
mod requests;

use requests::Fixture;

/// Effectively unlimited: every request takes the "allowed" path.
const COUNT: u32 = 1_000_000_000;

/// The host every fixture is addressed to.
const HOST: &str = "shop.example.com";

/// Requests per timed batch in the interleaved loop.
const BATCH: usize = 64;

/// The handler of every route: a small page.
async fn page() -> &'static str {
    "<!doctype html><title>shop</title><p>ok</p>"
}

/// The routes every configuration serves (the fixtures' paths all match one of them).
fn routes() -> Router {
    Router::new()
        .route("/{section}", get(page))
        .route("/{section}/{item}", get(page))
}

/// Accepts every batch (the notify layer has nothing to send on allowed requests anyway).
struct NullSink;

impl Sink for NullSink {
    fn send<'a>(&'a self, _batch: &'a Batch) -> SinkFuture<'a> {
        Box::pin(std::future::ready(Ok::<(), SinkError>(())))
    }
}

fn rate_limit(headers: RateLimitHeaders) -> RateLimitLayer {
    let quota = Quota::new(COUNT, Duration::from_secs(1));
    RateLimitLayer::builder()
        .headers(headers)
        .policy(Policy::new("per-ip", PeerIp::new(), quota).expect("policy"))
        .build()
        .expect("rate limit")
}

fn security_headers() -> SecurityHeadersLayer {
    let csp = ContentSecurityPolicy::strict()
        .script_src([CspSource::Nonce])
        .build()
        .expect("csp");
    SecurityHeadersLayer::strict()
        .content_security_policy(csp)
        .build()
        .expect("security headers")
}

fn trusted_host() -> TrustedHostLayer {
    TrustedHostLayer::builder([HOST, "localhost"])
        .build()
        .expect("trusted host")
}

fn cors() -> CorsLayer {
    CorsLayer::same_origin_api([format!("https://{HOST}")])
        .allow_headers(["content-type", "authorization", "x-api-key"])
        .build()
        .expect("cors")
}

fn injection() -> InjectionLayer {
    InjectionLayer::builder().build().expect("injection")
}

fn helmet() -> axum_helmet::HelmetLayer {
    axum_helmet::Helmet::default().try_into().expect("helmet")
}

/// Every configuration, `bare` first. Built inside `rt` (the notifier's worker and
/// axum-prometheus's upkeep run on it).
fn configurations(rt: &Runtime) -> Vec<(&'static str, Router)> {
    let _guard = rt.enter();
    let metrics = MetricsRegistry::builder().build().expect("metrics");
    let notifier = Notifier::builder()
        .sink("null", NullSink)
        .build()
        .expect("notifier");
    // axum-prometheus installs a global recorder: one pair for the whole process.
    let (prometheus, _handle) = axum_prometheus::PrometheusMetricLayer::pair();

    vec![
        ("bare", routes()),
        (
            "tower_governor",
            routes().layer(peers::governor_layer(COUNT)),
        ),
        ("axum_prometheus", routes().layer(prometheus.clone())),
        ("axum_helmet", routes().layer(helmet())),
        (
            "peers_together",
            routes().layer(
                ServiceBuilder::new()
                    .layer(prometheus)
                    .layer(helmet())
                    .layer(peers::governor_layer(COUNT)),
            ),
        ),
        (
            "rate_limit",
            routes().layer(rate_limit(RateLimitHeaders::Ietf)),
        ),
        (
            "rate_limit_no_headers",
            routes().layer(rate_limit(RateLimitHeaders::None)),
        ),
        ("security_headers", routes().layer(security_headers())),
        (
            "security_headers_helmet",
            routes().layer(
                SecurityHeadersLayer::helmet()
                    .build()
                    .expect("helmet preset"),
            ),
        ),
        ("trusted_host", routes().layer(trusted_host())),
        ("cors", routes().layer(cors())),
        ("injection", routes().layer(injection())),
        ("metrics", routes().layer(metrics.layer())),
        ("notify", routes().layer(notifier.layer())),
        (
            "fortify_stack",
            // Router::layer runs after routing, so the metrics see the matched route.
            routes().layer(
                ServiceBuilder::new()
                    .layer(metrics.layer())
                    .layer(notifier.layer())
                    .layer(security_headers())
                    .layer(trusted_host())
                    .layer(cors())
                    .layer(rate_limit(RateLimitHeaders::Ietf))
                    .layer(injection()),
            ),
        ),
        (
            "fortify_stack_no_injection",
            routes().layer(
                ServiceBuilder::new()
                    .layer(metrics.layer())
                    .layer(notifier.layer())
                    .layer(security_headers())
                    .layer(trusted_host())
                    .layer(cors())
                    .layer(rate_limit(RateLimitHeaders::Ietf)),
            ),
        ),
    ]
}

/// Request `k`: fixture `k % 512` from client `k % 10,000`, with the peer address an axum
/// server inserts (`into_make_service_with_connect_info`), which both rate limiters read.
fn request(set: &[Fixture], k: usize) -> Request<Body> {
    let mut req = set[k % set.len()].request::<Body>();
    req.extensions_mut()
        .insert(ConnectInfo::<SocketAddr>(requests::client_addr(k)));
    req
}

/// Sends one request and reads the response body to the end; true on a 2xx.
async fn one(router: &Router, req: Request<Body>) -> bool {
    let res = router
        .clone()
        .oneshot(black_box(req))
        .await
        .unwrap_or_else(|e: Infallible| match e {});
    let ok = res.status().is_success();
    black_box(res.into_body().collect().await.expect("body"));
    ok
}

/// Nanoseconds per request for the next `BATCH` requests of `set` (built before the
/// clock starts); `cursor` is the configuration's own position in the rotation.
async fn time_batch(router: &Router, set: &[Fixture], cursor: &mut usize) -> f64 {
    let reqs: Vec<_> = (0..BATCH).map(|i| request(set, *cursor + i)).collect();
    *cursor += BATCH;
    let start = Instant::now();
    let mut ok = 0;
    for req in reqs {
        ok += usize::from(one(router, req).await);
    }
    let elapsed = start.elapsed();
    assert_eq!(ok, BATCH, "a request was refused");
    elapsed.as_nanos() as f64 / BATCH as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The interleaved table for one request kind (see the module docs).
fn interleave(
    rt: &Runtime,
    configs: &[(&'static str, Router)],
    kind: &str,
    set: &[Fixture],
    rounds: usize,
) {
    let n = configs.len();
    let mut cursors = vec![0usize; n];
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); n];
    rt.block_on(async {
        for _ in 0..rounds.min(50) {
            for (k, (_, router)) in configs.iter().enumerate() {
                time_batch(router, set, &mut cursors[k]).await;
            }
        }
        for round in 0..rounds {
            for step in 0..n {
                // Rotate the starting configuration and flip the direction every round.
                let k = if round % 2 == 0 {
                    (round / 2 + step) % n
                } else {
                    (round / 2 + n - 1 - step) % n
                };
                let t = time_batch(&configs[k].1, set, &mut cursors[k]).await;
                times[k].push(t);
            }
        }
    });
    let index = |name: &str| {
        configs
            .iter()
            .position(|(c, _)| *c == name)
            .expect("configuration")
    };
    let bare = index("bare");
    // Added time per round (the same round's bare time subtracted), then the median.
    let added: Vec<Vec<f64>> = times
        .iter()
        .map(|t| t.iter().zip(&times[bare]).map(|(x, b)| x - b).collect())
        .collect();
    println!("interleaved/{kind}: {rounds} rounds of {BATCH} requests per configuration");
    println!(
        "  {:<24} {:>10} {:>12}",
        "configuration", "ns/request", "added ns"
    );
    for (k, (name, _)) in configs.iter().enumerate() {
        println!(
            "  {:<24} {:>10.0} {:>12.0}",
            name,
            median(times[k].clone()),
            median(added[k].clone())
        );
    }
    let ratio = |a: &str, b: &str| {
        let (a, b) = (index(a), index(b));
        median(added[a].iter().zip(&added[b]).map(|(x, y)| x / y).collect())
    };
    let added_ns = |a: &str| median(added[index(a)].clone());
    for (a, b) in [
        ("fortify_stack", "peers_together"),
        ("fortify_stack_no_injection", "peers_together"),
        ("rate_limit", "tower_governor"),
        ("rate_limit_no_headers", "tower_governor"),
        ("security_headers", "axum_helmet"),
        ("security_headers_helmet", "axum_helmet"),
        ("metrics", "axum_prometheus"),
    ] {
        println!(
            "  added {a} / added {b}: {:.2} (median of per-round ratios; {:.0} / {:.0} ns)",
            ratio(a, b),
            added_ns(a),
            added_ns(b)
        );
    }
    let total = |name: &str| median(times[index(name)].clone());
    println!(
        "  total fortify_stack / total peers_together: {:.2}",
        total("fortify_stack") / total("peers_together"),
    );
}

/// Sends every request of both kinds once through every configuration: all 2xx.
fn check(rt: &Runtime, configs: &[(&'static str, Router)], sets: &[(&str, Vec<Fixture>)]) {
    rt.block_on(async {
        for (name, router) in configs {
            for (kind, set) in sets {
                for k in 0..set.len() {
                    assert!(
                        one(router, request(set, k)).await,
                        "{name} refused {kind} request {k}"
                    );
                }
            }
        }
    });
}

fn sets() -> Vec<(&'static str, Vec<Fixture>)> {
    vec![
        ("simple_get", requests::simple_gets()),
        ("get_10_params", requests::gets_10_params()),
    ]
}

/// The criterion groups `stack/simple_get` and `stack/get_10_params`.
fn criterion_groups(
    c: &mut Criterion,
    rt: &Runtime,
    configs: &[(&'static str, Router)],
    sets: &[(&str, Vec<Fixture>)],
) {
    for (kind, set) in sets {
        let mut group = c.benchmark_group(format!("stack/{kind}"));
        for (name, router) in configs {
            let i = Cell::new(0);
            group.bench_function(*name, |b| {
                b.to_async(rt).iter_batched(
                    || {
                        let k = i.get();
                        i.set(k + 1);
                        request(set, k)
                    },
                    |req| one(router, req),
                    BatchSize::SmallInput,
                )
            });
        }
        group.finish();
    }
}

/// The name filters among criterion's arguments: those that neither are an option nor
/// follow one that takes a value (`--measurement-time 2`).
fn filters(args: &[String]) -> Vec<&String> {
    const TAKES_VALUE: &[&str] = &[
        "--warm-up-time",
        "--measurement-time",
        "--sample-size",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--save-baseline",
        "--baseline",
        "--baseline-lenient",
        "--load-baseline",
        "--output-format",
        "--color",
        "--plotting-backend",
        "--profile-time",
        "--format",
    ];
    let mut out = Vec::new();
    let mut skip = false;
    for a in args {
        if std::mem::take(&mut skip) {
            continue;
        }
        if a.starts_with('-') {
            skip = TAKES_VALUE.contains(&a.as_str());
        } else {
            out.push(a);
        }
    }
    out
}

fn main() {
    // Criterion's arguments: `--bench` when benchmarking (absent under `cargo test`), and
    // an optional name filter.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let benchmarking = args.iter().any(|a| a == "--bench");
    let filters = filters(&args);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let configs = configurations(&rt);
    let sets = sets();
    check(&rt, &configs, &sets);
    if filters.is_empty() || filters.iter().any(|f| "interleaved".contains(f.as_str())) {
        let rounds = if benchmarking { 2_000 } else { 3 };
        for (kind, set) in &sets {
            interleave(&rt, &configs, kind, set, rounds);
        }
        if filters.iter().any(|f| f.as_str() == "interleaved") {
            return;
        }
    }
    // One set of configurations for the whole process: axum-prometheus installs a global
    // recorder once.
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    criterion_groups(&mut c, &rt, &configs, &sets);
    c.final_summary();
}

//! Per-request overhead of `MetricsLayer` over a bare axum service, against
//! axum-prometheus in the same run.
//!
//! Run with
//!
//! ```sh
//! cargo bench --bench metrics --all-features -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Overhead = time(with layer) - time(bare); the README reports
//! overhead(tower-fortify) / overhead(axum-prometheus).

use std::hint::black_box;

use axum::{body::Body, routing::get, Router};
use criterion::{criterion_main, Criterion};
use http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;
use tower_fortify::metrics::MetricsRegistry;

fn routes() -> Router {
    Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route("/health", get(|| async { "ok" }))
}

async fn one_request(router: &Router) {
    let req = Request::get("/users/42").body(Body::empty()).unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    // Consume the body: both layers record when (or after) the response is complete.
    black_box(res.into_body().collect().await.unwrap());
}

fn per_request(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let bare = routes();
    // What axum's `Router::layer` costs by itself: a layer that does nothing.
    let identity = routes().layer(tower::layer::layer_fn(|s| s));
    let metrics = MetricsRegistry::builder().build().unwrap();
    let ours = routes().layer(metrics.layer());
    // axum-prometheus spawns its upkeep task on the current runtime.
    let _runtime = rt.enter();
    let (prometheus_layer, prometheus_handle) = axum_prometheus::PrometheusMetricLayer::pair();
    let peer = routes().layer(prometheus_layer);

    // Both record what they measure.
    rt.block_on(async {
        one_request(&ours).await;
        one_request(&peer).await;
    });
    assert!(metrics
        .render(tower_fortify::metrics::ExpositionFormat::Prometheus)
        .contains("/users/{id}"));
    assert!(prometheus_handle.render().contains("/users/{id}"));

    let mut group = c.benchmark_group("metrics_per_request");
    group.bench_function("bare", |b| b.to_async(&rt).iter(|| one_request(&bare)));
    group.bench_function("identity_layer", |b| {
        b.to_async(&rt).iter(|| one_request(&identity))
    });
    group.bench_function("tower_fortify", |b| {
        b.to_async(&rt).iter(|| one_request(&ours))
    });
    group.bench_function("axum_prometheus", |b| {
        b.to_async(&rt).iter(|| one_request(&peer))
    });
    group.finish();
}

/// The layer alone, without axum's routing and body boxing around it.
fn plain_tower(c: &mut Criterion) {
    use std::{borrow::Cow, convert::Infallible};

    use bytes::Bytes;
    use http::Response;
    use http_body_util::Full;
    use prometheus_client::metrics::histogram::Histogram;
    use tower::Layer;

    async fn handler(_req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
        Ok(Response::new(Full::new(Bytes::from_static(b"user"))))
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let metrics = MetricsRegistry::builder()
        .route_fn(|_, uri| {
            uri.path()
                .starts_with("/users/")
                .then_some(Cow::Borrowed("/users/{id}"))
        })
        .build()
        .unwrap();
    let bare = tower::service_fn(handler);
    let ours = metrics.layer().layer(tower::service_fn(handler));
    let mut group = c.benchmark_group("metrics_plain_tower");
    group.bench_function("bare", |b| {
        b.to_async(&rt).iter(|| async {
            let req = Request::get("/users/42").body(Full::default()).unwrap();
            let res = bare.oneshot(req).await.unwrap();
            black_box(res.into_body().collect().await.unwrap());
        })
    });
    group.bench_function("tower_fortify", |b| {
        b.to_async(&rt).iter(|| async {
            let req = Request::get("/users/42").body(Full::default()).unwrap();
            let res = ours.clone().oneshot(req).await.unwrap();
            black_box(res.into_body().collect().await.unwrap());
        })
    });

    // The alternative design: record straight into a prometheus-client `Family`, which
    // needs an owned label set per observation. Duration only (our layer records three
    // histograms, the gauge and the percentile window).
    type Labels = Vec<(&'static str, String)>;
    let mut registry = prometheus_client::registry::Registry::default();
    let family =
        prometheus_client::metrics::family::Family::<Labels, Histogram, _>::new_with_constructor(
            || Histogram::new(tower_fortify::metrics::DEFAULT_DURATION_BUCKETS),
        );
    registry.register(
        "http_server_request_duration_seconds",
        "duration",
        family.clone(),
    );
    let with_family = tower::service_fn(move |req: Request<Full<Bytes>>| {
        let family = family.clone();
        async move {
            let start = std::time::Instant::now();
            let method = req.method().as_str().to_owned();
            let res = handler(req).await?;
            let labels: Labels = vec![
                ("http_request_method", method),
                ("http_route", "/users/{id}".to_owned()),
                (
                    "http_response_status_code",
                    res.status().as_u16().to_string(),
                ),
                ("url_scheme", "http".to_owned()),
            ];
            family
                .get_or_create(&labels)
                .observe(start.elapsed().as_secs_f64());
            Ok::<_, Infallible>(res)
        }
    });
    group.bench_function("prometheus_client_family", |b| {
        b.to_async(&rt).iter(|| async {
            let req = Request::get("/users/42").body(Full::default()).unwrap();
            let res = with_family.clone().oneshot(req).await.unwrap();
            black_box(res.into_body().collect().await.unwrap());
        })
    });
    group.finish();
}

fn exposition(c: &mut Criterion) {
    let metrics = MetricsRegistry::builder().build().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = routes().layer(metrics.layer());
    rt.block_on(async {
        for _ in 0..100 {
            one_request(&app).await;
        }
    });
    c.bench_function("metrics_render_prometheus_text", |b| {
        b.iter(|| black_box(metrics.render(tower_fortify::metrics::ExpositionFormat::Prometheus)))
    });
}

/// Every benchmark of this file (written out: `criterion_group!` emits an undocumented `pub fn`).
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    per_request(&mut c);
    plain_tower(&mut c);
    exposition(&mut c);
}

criterion_main!(benches);

//! Request metrics with OpenTelemetry names, Prometheus and OpenMetrics exposition,
//! sliding-window percentiles, and health checks.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use http::{Request, Response, StatusCode};
//! use http_body_util::{BodyExt, Full};
//! use bytes::Bytes;
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_fortify::metrics::{ExpositionFormat, MetricsRegistry};
//!
//! let metrics = MetricsRegistry::builder()
//!     .route_fn(|_, uri| uri.path().starts_with("/users/").then_some("/users/{id}".into()))
//!     .build()
//!     .unwrap();
//! let svc = ServiceBuilder::new().layer(metrics.layer()).service_fn(|_req: Request<Full<Bytes>>| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from_static(b"hello"))))
//! });
//!
//! let res = svc.oneshot(Request::get("/users/42").body(Full::default()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), StatusCode::OK);
//! res.into_body().collect().await.unwrap(); // the request is recorded when its body ends
//!
//! let text = metrics.render(ExpositionFormat::Prometheus);
//! assert!(text.contains(
//!     r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/users/{id}",http_response_status_code="200",url_scheme="http"} 1"#
//! ));
//! assert!(text.contains(r#"http_server_response_body_size_bytes_sum{http_request_method="GET",http_route="/users/{id}",http_response_status_code="200",url_scheme="http"} 5"#));
//! # });
//! ```
//!
//! # A registry that hands out layers
//!
//! Unlike the guard layers, which start from `XLayer::builder()`, metrics start from a
//! handle: [`MetricsRegistry::builder()`](MetricsRegistry::builder) `...build()?` gives a
//! [`MetricsRegistry`], and [`MetricsRegistry::layer`] hands out the [`MetricsLayer`]
//! (its service is [`Metrics`]). The registry owns state that outlives any one layer
//! value: the series and their label-set caps, the sliding percentile windows that
//! rotate with time, the guard-layer event counters and the cached dashboard. The
//! exposition (the monitoring service's `/metrics`, or your own route) and the dashboard
//! read that state from the registry while the layers write to it, so the same registry
//! serves both sides, and every layer it hands out (one per router, say) records into the
//! same series. The defaults are valid: `MetricsRegistry::builder().build()` never fails,
//! and is the one way to get a registry.
//!
//! # What is recorded
//!
//! [`MetricsLayer`] records, per request, under the OpenTelemetry HTTP server semantic
//! conventions (the Prometheus form replaces dots with underscores and appends the unit):
//!
//! | OpenTelemetry | Prometheus | kind |
//! |---|---|---|
//! | `http.server.request.duration` | `http_server_request_duration_seconds` | histogram, [`DEFAULT_DURATION_BUCKETS`] unless configured |
//! | `http.server.active_requests` | `http_server_active_requests` | gauge (`http_request_method`, `url_scheme`) |
//! | `http.server.request.body.size` | `http_server_request_body_size_bytes` | histogram, [`BODY_SIZE_BUCKETS`] |
//! | `http.server.response.body.size` | `http_server_response_body_size_bytes` | histogram, [`BODY_SIZE_BUCKETS`] |
//! | `rpc.server.call.duration` | `rpc_server_call_duration_seconds` | histogram (gRPC calls only) |
//! | | `tower_fortify_metrics_label_overflow_total` | counter (`metric`) |
//! | | `tower_fortify_security_events_total` | counter (`event`, `mode`, `category`) |
//!
//! HTTP labels: `http_request_method` (unknown methods as `_OTHER`), `http_route`,
//! `http_response_status_code`, `url_scheme`, `error_type` on failures, and `outcome`
//! when a guard layer further in left a refusing
//! [`SecurityEvent`](crate::event::SecurityEvent) on the response: its
//! [`refusal()`](crate::event::SecurityEvent::refusal) name (`rate_limited`,
//! `injection_blocked`, `untrusted_host`, the `event::REFUSED_*` constants). The `event`
//! label of `tower_fortify_security_events_total` is the event's
//! [`EventKind`](crate::event::EventKind) name.
//!
//! - **Route**: axum's `MatchedPath` when present (feature `axum`, and the layer added
//!   with `Router::layer` so routing ran first), else your
//!   [`route_fn`](MetricsRegistryBuilder::route_fn), else one fixed value (`unmatched`). Never
//!   the raw path: 1,000 scanner paths add one series, not 1,000.
//! - **Duration** ends when the response body ends or is dropped, like tower-http's
//!   `InFlightRequests`. The active gauge goes back down in every case.
//! - **Failures** (`error_type`): the status code for 5xx (and for non-OK gRPC statuses),
//!   `service_error` when the inner service returned `Err`, `cancelled` when the future or
//!   the body was dropped before the end (the client went away), `body_error` when the
//!   response body failed, `missing_grpc_status` when a gRPC response ended without a
//!   status.
//! - **Body sizes** are counted once per message. The response size is the sum of the
//!   data frames, recorded at the end of the body (not recorded for a body that never
//!   ended). The request size comes from `Content-Length` (or an exact size hint):
//!   counting a streamed request body would mean wrapping it, which changes the body
//!   type the inner service sees and would not fit `axum::Router::layer`.
//! - **gRPC** requests (`content-type: application/grpc*`) are recorded as
//!   `rpc.server.call.duration` with `rpc_method` (`package.Service/Method` from the
//!   path, or your route function's value) and `rpc_grpc_status_code`, read from the
//!   response headers (Trailers-Only) or from the trailers at the end of the stream. They
//!   are not also counted in the HTTP duration histogram. A method taken from the path
//!   gets its own series only once the server has answered it with a status other than
//!   `UNIMPLEMENTED` (12) and no guard layer refused the call; until then its calls are
//!   recorded under the fixed unmatched value, so 1,000 made-up methods cost one series,
//!   not 1,000. A layer outside your gRPC router that answers every path with another
//!   status (an authentication layer answering `UNAUTHENTICATED`) would let made-up
//!   methods in again, up to the cap: put it inside the router, or name your methods with
//!   a [`route_fn`](MetricsRegistryBuilder::route_fn).
//! - **Time**: the percentile windows and the dashboard cache read tokio's clock
//!   (`tokio::time::Instant`, the system clock unless a test pauses time), so tests can
//!   drive them with `tokio::time::pause` / `advance`; durations are measured with
//!   `std::time::Instant`.
//! - **Cardinality cap** ([`MetricsRegistryBuilder::max_label_sets`], default 10,000 per
//!   metric): past it, observations go to one series labelled
//!   `otel_metric_overflow="true"` (the OpenTelemetry SDK's convention) and
//!   `tower_fortify_metrics_label_overflow_total` counts them.
//!
//! # Files
//!
//! `clock.rs` (the clock of windows and cache), `series.rs` (packed label keys, atomic histograms, families, event counters),
//! `recorder.rs` (the shared state and one request in flight), `exposition.rs` (formats
//! and the `prometheus-client` collector), `dashboard.rs` (the JSON dashboard data),
//! `percentiles.rs`, `health.rs`, `registry.rs` (the handle and its builder), then
//! `layer.rs` -> `service.rs` -> `future.rs` -> `body.rs`.
//!
//! # Why an internal recorder
//!
//! Series live in atomics inside this crate and are handed to a `prometheus-client`
//! [`Registry`](prometheus_client::registry::Registry) at scrape time by a collector,
//! so your own metrics registered in the same registry come out in the same exposition.
//! A request on a known route does not allocate: it looks its route up by `&str`, keeps
//! an `Arc` to it, and at the end looks up a packed integer of the other labels. A
//! `prometheus-client` `Family` would build and hash an owned label set per request.
//! `benches/metrics.rs` measures the cost against a bare service and axum-prometheus.
//!
//! `prometheus-client` is a public dependency of this module (only with the `metrics`
//! feature): [`MetricsRegistryBuilder::prometheus_registry`] takes, and
//! [`MetricsRegistry::prometheus_registry`] returns, its `Registry`. A new major version
//! of `prometheus-client` is a breaking change of this crate.
//!
//! # Exposition
//!
//! [`MetricsRegistry::render`] writes the Prometheus text format 0.0.4 (what `promtool` reads)
//! or OpenMetrics 1.0; [`ExpositionFormat::from_accept`] picks one from `Accept`.
//!
//! # Percentiles
//!
//! Each route keeps a [`PercentileWindow`]: a log-bucketed sketch (the DDSketch mapping)
//! per time slot over a sliding window (default 60 s in 6 slots of 10 s). p50/p95/p99 are
//! within [`RELATIVE_ACCURACY`] (1%) of the exact value at their rank; the maximum is
//! exact. [`MetricsRegistry::dashboard`] computes them at most once per cache interval (default
//! 10 s).
//!
//! # Health checks
//!
//! [`HealthRegistry`] (`HealthRegistry::builder()` `...build()?`) runs named async checks with timeouts; a failed critical check makes
//! the service `unhealthy`, a failed non-critical one `degraded`. Reports are cached. With
//! the `redis` feature, `HealthCheck::redis_ping` sends `PING` on a
//! `redis::aio::ConnectionManager`.
//!
//! # Deployment caveats
//!
//! - `url.scheme` comes from the request URI (HTTP/2 `:scheme`), then from
//!   `X-Forwarded-Proto`/`Forwarded` **only** through [`MetricsRegistryBuilder::trusted_proxies`],
//!   then from [`MetricsRegistryBuilder::https`].
//! - Place the layer outermost so it sees every rejection; with axum, add it with
//!   `Router::layer` (not around the router) so `MatchedPath` is set.

mod body;
mod clock;
mod dashboard;
mod exposition;
mod future;
mod health;
mod layer;
mod percentiles;
mod recorder;
mod registry;
mod series;
mod service;

pub use body::MetricsBody;
pub use dashboard::{Dashboard, RouteStats, SecurityStats};
pub use exposition::ExpositionFormat;
pub use future::MetricsFuture;
pub use health::{
    CheckResult, HealthCheck, HealthRegistry, HealthRegistryBuilder, HealthReport, HealthStatus,
};
pub use layer::MetricsLayer;
pub use percentiles::{PercentileWindow, Percentiles, RELATIVE_ACCURACY};
pub use registry::{MetricsRegistry, MetricsRegistryBuilder};
pub use series::{
    BODY_SIZE_BUCKETS, DEFAULT_DURATION_BUCKETS, DEFAULT_MAX_LABEL_SETS, DEFAULT_UNMATCHED_ROUTE,
};
pub use service::Metrics;

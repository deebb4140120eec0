//! Exact series and values of `MetricsLayer` after scripted requests, through a real axum
//! `Router` and through plain tower services.
#![cfg(all(feature = "metrics", feature = "axum"))]

use std::{
    collections::BTreeMap,
    convert::Infallible,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::Body as AxumBody,
    response::{IntoResponse, Response as AxumResponse},
    routing::{get, post},
    Router,
};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use tower::{service_fn, Layer, ServiceExt};
use tower_fortify::{
    event::{Category, SecurityEvent, SecurityEvents},
    metrics::{ExpositionFormat, MetricsLayer, MetricsRegistry},
};

/// Samples of a Prometheus text exposition: `name{sorted labels}` -> value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("sample line has a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().expect("numeric sample"),
        };
        let key = match series.split_once('{') {
            None => series.to_owned(),
            Some((name, labels)) => {
                let labels = labels.strip_suffix('}').expect("closing brace");
                let mut pairs: Vec<&str> = split_labels(labels);
                pairs.sort_unstable();
                format!("{name}{{{}}}", pairs.join(","))
            }
        };
        assert!(
            out.insert(key.clone(), value).is_none(),
            "duplicate series {key}"
        );
    }
    out
}

fn split_labels(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut in_quotes, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            '\\' if in_quotes && !escaped => {
                escaped = true;
                continue;
            }
            '"' if !escaped => in_quotes = !in_quotes,
            ',' if !in_quotes => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        escaped = false;
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// The key `samples` uses for `name` with `labels` (any order).
fn key(name: &str, labels: &[(&str, &str)]) -> String {
    let mut pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    pairs.sort_unstable();
    if pairs.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", pairs.join(","))
    }
}

fn value(s: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    s.get(&key(name, labels)).copied()
}

fn series_count(s: &BTreeMap<String, f64>, name: &str) -> usize {
    s.keys()
        .filter(|k| k.starts_with(&format!("{name}{{")))
        .count()
}

/// A body of `n` chunks of `size` bytes, each returned after a yield.
struct Chunks {
    left: usize,
    size: usize,
    yielded: bool,
    trailers: Option<HeaderMap>,
}

impl Chunks {
    fn new(n: usize, size: usize) -> Self {
        Self {
            left: n,
            size,
            yielded: false,
            trailers: None,
        }
    }
}

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if !self.yielded {
            self.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.yielded = false;
        if self.left == 0 {
            return Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))));
        }
        self.left -= 1;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; self.size])))))
    }
}

fn guarded(event: SecurityEvent, status: StatusCode) -> AxumResponse {
    let mut res = status.into_response();
    SecurityEvents::push_to(res.extensions_mut(), event);
    res
}

fn app(metrics: &MetricsRegistry) -> Router {
    Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route(
            "/upload",
            post(|body: Bytes| async move { body.len().to_string() }),
        )
        .route("/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .route(
            "/stream",
            get(|| async { AxumBody::new(Chunks::new(5, 1000)) }),
        )
        .route(
            "/limited",
            get(|| async {
                guarded(
                    SecurityEvent::RateLimited {
                        policy: Arc::from("per-ip"),
                        key: Arc::from("203.0.113.7"),
                        retry_after: Duration::from_secs(1),
                        shadow: false,
                    },
                    StatusCode::TOO_MANY_REQUESTS,
                )
            }),
        )
        .route(
            "/attack",
            get(|| async {
                guarded(
                    SecurityEvent::InjectionDetected {
                        category: Category::Sqli,
                        location: Arc::from("query:id"),
                        rule: "942100",
                        score: 5,
                        blocked: true,
                    },
                    StatusCode::FORBIDDEN,
                )
            }),
        )
        .layer(metrics.layer())
}

async fn send(router: &Router, req: Request<AxumBody>) -> (StatusCode, Bytes) {
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    (status, res.into_body().collect().await.unwrap().to_bytes())
}

fn get_req(path: &str) -> Request<AxumBody> {
    Request::get(path).body(AxumBody::empty()).unwrap()
}

#[tokio::test]
async fn scripted_requests_give_exact_series() {
    let metrics = MetricsRegistry::builder().build().unwrap();
    let router = app(&metrics);

    for id in 1..=3 {
        assert_eq!(
            send(&router, get_req(&format!("/users/{id}"))).await.0,
            StatusCode::OK
        );
    }
    let (status, body) = send(
        &router,
        Request::post("/upload")
            .header("content-length", "11")
            .body(AxumBody::from("hello world"))
            .unwrap(),
    )
    .await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"11"[..]));
    assert_eq!(
        send(&router, get_req("/fail")).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let (status, body) = send(&router, get_req("/stream")).await;
    assert_eq!((status, body.len()), (StatusCode::OK, 5000));
    assert_eq!(
        send(&router, get_req("/limited")).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        send(&router, get_req("/attack")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&router, get_req("/nope")).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = send(
        &router,
        Request::builder()
            .method(Method::from_bytes(b"BREW").unwrap())
            .uri("/users/1")
            .body(AxumBody::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

    let s = samples(&metrics.render(ExpositionFormat::Prometheus));
    let d = "http_server_request_duration_seconds_count";
    let base = |route: &'static str, status: &'static str| {
        vec![
            ("http_request_method", "GET"),
            ("http_route", route),
            ("http_response_status_code", status),
            ("url_scheme", "http"),
        ]
    };
    assert_eq!(value(&s, d, &base("/users/{id}", "200")), Some(3.0));
    let mut upload = base("/upload", "200");
    upload[0].1 = "POST";
    assert_eq!(value(&s, d, &upload), Some(1.0));
    assert_eq!(
        value(&s, "http_server_request_body_size_bytes_sum", &upload),
        Some(11.0)
    );
    let mut fail = base("/fail", "500");
    fail.push(("error_type", "500"));
    assert_eq!(value(&s, d, &fail), Some(1.0));
    // The streamed body is one message of 5,000 bytes, not five.
    let stream = base("/stream", "200");
    assert_eq!(
        value(&s, "http_server_response_body_size_bytes_count", &stream),
        Some(1.0)
    );
    assert_eq!(
        value(&s, "http_server_response_body_size_bytes_sum", &stream),
        Some(5000.0)
    );
    let mut limited = base("/limited", "429");
    limited.push(("outcome", "rate_limited"));
    assert_eq!(value(&s, d, &limited), Some(1.0));
    let mut attack = base("/attack", "403");
    attack.push(("outcome", "injection_blocked"));
    assert_eq!(value(&s, d, &attack), Some(1.0));
    // Unmatched requests share one route value; the raw path never appears.
    assert_eq!(value(&s, d, &base("unmatched", "404")), Some(1.0));
    assert!(!s.keys().any(|k| k.contains("/nope")));
    let mut other = base("/users/{id}", "405");
    other[0].1 = "_OTHER";
    assert_eq!(value(&s, d, &other), Some(1.0));
    assert_eq!(series_count(&s, d), 8);

    assert_eq!(
        value(
            &s,
            "tower_fortify_security_events_total",
            &[("event", "rate_limited"), ("mode", "enforced")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &s,
            "tower_fortify_security_events_total",
            &[
                ("event", "injection_detected"),
                ("mode", "enforced"),
                ("category", "sqli")
            ]
        ),
        Some(1.0)
    );
    // Every request ended: nothing is in flight.
    for (k, v) in s
        .iter()
        .filter(|(k, _)| k.starts_with("http_server_active_requests{"))
    {
        assert_eq!(*v, 0.0, "{k}");
    }

    let dashboard = metrics.dashboard();
    let users = dashboard
        .routes
        .iter()
        .find(|r| r.route == "/users/{id}")
        .unwrap();
    assert_eq!((users.requests, users.errors), (4, 0));
    let fail = dashboard
        .routes
        .iter()
        .find(|r| r.route == "/fail")
        .unwrap();
    assert_eq!((fail.requests, fail.errors, fail.error_rate), (1, 1, 1.0));
    assert_eq!(dashboard.security.rate_limited, 1);
    assert_eq!(dashboard.security.injection_blocked.get("sqli"), Some(&1));
}

#[tokio::test]
async fn histogram_invariants_hold() {
    let metrics = MetricsRegistry::builder().build().unwrap();
    let router = app(&metrics);
    for i in 0..20 {
        send(&router, get_req(&format!("/users/{i}"))).await;
        send(&router, get_req("/stream")).await;
    }
    let s = samples(&metrics.render(ExpositionFormat::Prometheus));
    // For each histogram series: buckets are cumulative (non-decreasing in `le`), and the
    // +Inf bucket equals _count.
    let mut checked = 0;
    for (k, count) in s.iter().filter(|(k, _)| k.contains("_count{")) {
        let (name, labels) = k.split_once("_count{").unwrap();
        let labels = labels.strip_suffix('}').unwrap();
        let mut buckets: Vec<(f64, f64)> = s
            .iter()
            .filter_map(|(bk, v)| {
                let rest = bk.strip_prefix(&format!("{name}_bucket{{"))?;
                let rest = rest.strip_suffix('}')?;
                let mut others: Vec<&str> = split_labels(rest);
                let le = others.iter().position(|p| p.starts_with("le="))?;
                let le = others.remove(le);
                (others.join(",") == labels).then(|| {
                    let le = le.trim_start_matches("le=").trim_matches('"');
                    (
                        if le == "+Inf" {
                            f64::INFINITY
                        } else {
                            le.parse().unwrap()
                        },
                        *v,
                    )
                })
            })
            .collect();
        buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        assert!(buckets.len() >= 2, "{k}");
        assert!(
            buckets.windows(2).all(|w| w[0].1 <= w[1].1),
            "{k}: {buckets:?}"
        );
        assert_eq!(buckets.last().unwrap(), &(f64::INFINITY, *count), "{k}");
        checked += 1;
    }
    assert!(checked >= 4);
}

#[tokio::test]
async fn random_unmatched_paths_add_at_most_two_series() {
    let metrics = MetricsRegistry::builder().build().unwrap();
    let router = app(&metrics);
    send(&router, get_req("/users/1")).await;
    let before = samples(&metrics.render(ExpositionFormat::Prometheus)).len();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..1000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let path = format!("/wp-admin/{x:x}/{}", x % 977);
        assert_eq!(send(&router, get_req(&path)).await.0, StatusCode::NOT_FOUND);
    }
    let s = samples(&metrics.render(ExpositionFormat::Prometheus));
    let d = "http_server_request_duration_seconds";
    let new_series = series_count(&s, &format!("{d}_count"));
    assert_eq!(new_series, 2, "one route, one unmatched");
    assert_eq!(
        value(
            &s,
            &format!("{d}_count"),
            &[
                ("http_request_method", "GET"),
                ("http_route", "unmatched"),
                ("http_response_status_code", "404"),
                ("url_scheme", "http"),
            ]
        ),
        Some(1000.0)
    );
    // Samples grew by one histogram series (buckets, sum, count) and its body-size series.
    assert!(s.len() - before <= 2 * (15 + 2) + 2 * (13 + 2));
}

#[tokio::test]
async fn dropped_future_and_inner_error_are_counted() {
    let metrics = MetricsRegistry::builder().build().unwrap();
    let pending = metrics
        .layer()
        .layer(service_fn(|_req: Request<Full<Bytes>>| async {
            std::future::pending::<Result<Response<Full<Bytes>>, Infallible>>().await
        }));
    let fut = pending.oneshot(Request::get("/slow").body(Full::default()).unwrap());
    let handle = tokio::spawn(fut);
    // While it waits, it is in flight.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let s = samples(&metrics.render(ExpositionFormat::Prometheus));
    assert_eq!(
        value(
            &s,
            "http_server_active_requests",
            &[("http_request_method", "GET"), ("url_scheme", "http")]
        ),
        Some(1.0)
    );
    // The client goes away.
    handle.abort();
    assert!(handle.await.unwrap_err().is_cancelled());

    let failing = metrics
        .layer()
        .layer(service_fn(|_req: Request<Full<Bytes>>| async {
            Err::<Response<Full<Bytes>>, _>("backend exploded")
        }));
    let err = failing
        .oneshot(Request::post("/boom").body(Full::default()).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err, "backend exploded");

    let s = samples(&metrics.render(ExpositionFormat::Prometheus));
    let d = "http_server_request_duration_seconds_count";
    assert_eq!(
        value(
            &s,
            d,
            &[
                ("http_request_method", "GET"),
                ("http_route", "unmatched"),
                ("url_scheme", "http"),
                ("error_type", "cancelled"),
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &s,
            d,
            &[
                ("http_request_method", "POST"),
                ("http_route", "unmatched"),
                ("url_scheme", "http"),
                ("error_type", "service_error"),
            ]
        ),
        Some(1.0)
    );
    for (k, v) in s
        .iter()
        .filter(|(k, _)| k.starts_with("http_server_active_requests{"))
    {
        assert_eq!(*v, 0.0, "{k}");
    }
}

#[tokio::test]
async fn dropped_body_ends_the_request_as_cancelled() {
    let metrics = MetricsRegistry::builder().build().unwrap();
    let svc = metrics
        .layer()
        .layer(service_fn(|_req: Request<Full<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Chunks::new(3, 10)))
        }));
    let res = svc
        .oneshot(Request::get("/download").body(Full::default()).unwrap())
        .await
        .unwrap();
    drop(res);
    let s = samples(&metrics.render(ExpositionFormat::Prometheus));
    let labels = [
        ("http_request_method", "GET"),
        ("http_route", "unmatched"),
        ("http_response_status_code", "200"),
        ("url_scheme", "http"),
        ("error_type", "cancelled"),
    ];
    assert_eq!(
        value(&s, "http_server_request_duration_seconds_count", &labels),
        Some(1.0)
    );
    // An unfinished body has no size.
    assert_eq!(
        value(&s, "http_server_response_body_size_bytes_count", &labels),
        None
    );
}

#[tokio::test]
async fn label_sets_are_capped() {
    let metrics = MetricsRegistry::builder()
        .max_label_sets(3)
        .route_fn(|_, uri| Some(uri.path().to_owned().into()))
        .build()
        .unwrap();
    let svc = metrics
        .layer()
        .layer(service_fn(|_req: Request<Full<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        }));
    for i in 0..10 {
        let res = svc
            .clone()
            .oneshot(
                Request::get(format!("/p{i}"))
                    .body(Full::default())
                    .unwrap(),
            )
            .await
            .unwrap();
        res.into_body().collect().await.unwrap();
    }
    let s = samples(&metrics.render(ExpositionFormat::Prometheus));
    let d = "http_server_request_duration_seconds_count";
    assert_eq!(
        series_count(&s, d),
        4,
        "three series and the overflow series"
    );
    assert_eq!(value(&s, d, &[("otel_metric_overflow", "true")]), Some(7.0));
    assert_eq!(
        value(
            &s,
            "tower_fortify_metrics_label_overflow_total",
            &[("metric", "http.server.request.duration")]
        ),
        Some(7.0)
    );
}

/// A gRPC response: Trailers-Only (status in headers) or a stream ending in trailers.
fn grpc_response(trailers_only: Option<u16>) -> Response<Chunks> {
    match trailers_only {
        Some(code) => {
            let mut res = Response::new(Chunks::new(0, 0));
            res.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/grpc"));
            res.headers_mut()
                .insert("grpc-status", HeaderValue::from(code));
            res
        }
        None => {
            let mut body = Chunks::new(2, 20);
            let mut trailers = HeaderMap::new();
            trailers.insert("grpc-status", HeaderValue::from_static("0"));
            body.trailers = Some(trailers);
            let mut res = Response::new(body);
            res.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/grpc"));
            res
        }
    }
}

#[tokio::test]
async fn grpc_calls_use_rpc_metrics_and_read_the_status() {
    let metrics = MetricsRegistry::builder().build().unwrap();
    let svc = metrics
        .layer()
        .layer(service_fn(|req: Request<Full<Bytes>>| async move {
            let code = if req.uri().path().ends_with("Fail") {
                Some(8)
            } else {
                None
            };
            Ok::<_, Infallible>(grpc_response(code))
        }));
    for path in [
        "/pkg.Greeter/SayHello",
        "/pkg.Greeter/SayFail",
        "/not a grpc path",
    ] {
        let req = Request::post(path.replace(' ', "%20"))
            .header("content-type", "application/grpc+proto")
            .body(Full::default())
            .unwrap();
        let res = svc.clone().oneshot(req).await.unwrap();
        res.into_body().collect().await.unwrap();
    }
    let s = samples(&metrics.render(ExpositionFormat::Prometheus));
    let r = "rpc_server_call_duration_seconds_count";
    assert_eq!(
        value(
            &s,
            r,
            &[
                ("rpc_system", "grpc"),
                ("rpc_method", "pkg.Greeter/SayHello"),
                ("rpc_grpc_status_code", "0"),
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &s,
            r,
            &[
                ("rpc_system", "grpc"),
                ("rpc_method", "pkg.Greeter/SayFail"),
                ("rpc_grpc_status_code", "8"),
                ("error_type", "8"),
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &s,
            r,
            &[
                ("rpc_system", "grpc"),
                ("rpc_method", "unmatched"),
                ("rpc_grpc_status_code", "0")
            ]
        ),
        Some(1.0)
    );
    // gRPC calls are not counted again as HTTP requests.
    assert_eq!(
        series_count(&s, "http_server_request_duration_seconds_count"),
        0
    );
}

#[tokio::test]
async fn openmetrics_and_prometheus_formats() {
    let metrics = MetricsRegistry::builder().build().unwrap();
    let router = app(&metrics);
    send(&router, get_req("/users/1")).await;
    let om = metrics.render(ExpositionFormat::OpenMetrics);
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# UNIT http_server_request_duration_seconds seconds"));
    assert!(om.contains("# TYPE tower_fortify_metrics_label_overflow counter"));
    let prom = metrics.render(ExpositionFormat::Prometheus);
    assert!(!prom.contains("# EOF"));
    assert!(prom.contains("# TYPE tower_fortify_metrics_label_overflow_total counter"));

    let accept =
        |v: &'static str| ExpositionFormat::from_accept(Some(&HeaderValue::from_static(v)));
    assert_eq!(
        accept("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
        ExpositionFormat::OpenMetrics
    );
    assert_eq!(accept("text/plain"), ExpositionFormat::Prometheus);
    assert_eq!(
        accept("application/openmetrics-text;q=0"),
        ExpositionFormat::Prometheus
    );
    assert_eq!(
        ExpositionFormat::from_accept(None),
        ExpositionFormat::Prometheus
    );
}

#[tokio::test]
async fn user_metrics_share_the_exposition() {
    use prometheus_client::{metrics::counter::Counter, registry::Registry};
    let mut registry = Registry::default();
    let jobs: Counter = Counter::default();
    registry.register("jobs_processed", "Jobs processed", jobs.clone());
    let metrics = MetricsRegistry::builder()
        .prometheus_registry(registry)
        .build()
        .unwrap();
    jobs.inc_by(3);
    let s = samples(&metrics.render(ExpositionFormat::Prometheus));
    assert_eq!(value(&s, "jobs_processed_total", &[]), Some(3.0));
}

#[test]
fn bad_settings_are_config_errors() {
    let err = |b: tower_fortify::metrics::MetricsRegistryBuilder| b.build().unwrap_err().setting();
    assert_eq!(
        err(MetricsRegistry::builder().duration_buckets(vec![])),
        "metrics.duration_buckets"
    );
    assert_eq!(
        err(MetricsRegistry::builder().duration_buckets(vec![0.5, 0.1])),
        "metrics.duration_buckets"
    );
    assert_eq!(
        err(MetricsRegistry::builder().duration_buckets(vec![f64::NAN])),
        "metrics.duration_buckets"
    );
    assert_eq!(
        err(MetricsRegistry::builder().max_label_sets(0)),
        "metrics.max_label_sets"
    );
    assert_eq!(
        err(MetricsRegistry::builder().unmatched_route("")),
        "metrics.unmatched_route"
    );
    assert_eq!(
        err(MetricsRegistry::builder().percentile_window(Duration::from_secs(60), 1)),
        "metrics.percentile_window"
    );
}

#[test]
fn layer_is_debug_and_clone() {
    let layer: MetricsLayer = MetricsRegistry::builder().build().unwrap().layer();
    let copy = layer.clone();
    assert!(format!("{copy:?}").starts_with("MetricsLayer"));
}

/// Issue #13 item 3: gRPC calls no route matched cost one series, however many random
/// methods a client invents; a method the server implements keeps its own label.
#[tokio::test]
async fn random_unknown_grpc_methods_cost_one_series() {
    let metrics = MetricsRegistry::builder().build().unwrap();
    // Like tonic's router: `UNIMPLEMENTED` (12, Trailers-Only) for methods it does not serve.
    let svc = metrics
        .layer()
        .layer(service_fn(|req: Request<Full<Bytes>>| async move {
            let known = req.uri().path() == "/pkg.Greeter/SayHello";
            Ok::<_, Infallible>(grpc_response(if known { None } else { Some(12) }))
        }));
    let call = |path: String| {
        let svc = svc.clone();
        async move {
            let req = Request::post(path)
                .header("content-type", "application/grpc")
                .body(Full::default())
                .unwrap();
            let res = svc.oneshot(req).await.unwrap();
            res.into_body().collect().await.unwrap();
        }
    };
    call("/pkg.Greeter/SayHello".into()).await;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..1000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        call(format!("/a{:x}.B/m{}", x % 4096, x % 100_003)).await;
    }
    let s = samples(&metrics.render(ExpositionFormat::Prometheus));
    let r = "rpc_server_call_duration_seconds_count";
    assert_eq!(
        series_count(&s, r),
        2,
        "the known method and one fixed label"
    );
    assert_eq!(
        value(
            &s,
            r,
            &[
                ("rpc_system", "grpc"),
                ("rpc_method", "pkg.Greeter/SayHello"),
                ("rpc_grpc_status_code", "0"),
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &s,
            r,
            &[
                ("rpc_system", "grpc"),
                ("rpc_method", "unmatched"),
                ("rpc_grpc_status_code", "12"),
                ("error_type", "12"),
            ]
        ),
        Some(1000.0)
    );
    // The dashboard has one row for them too.
    let d = metrics.dashboard();
    assert_eq!(d.routes.len(), 2, "{:?}", d.routes);
}

//! The recommended layer order, end to end through an axum `Router`: rejections from the
//! inner guards carry the outer layers' headers, and every layer's events arrive.
#![cfg(all(
    feature = "rate-limit",
    feature = "security-headers",
    feature = "metrics",
    feature = "injection",
    feature = "axum"
))]

use std::net::SocketAddr;

use axum::{extract::ConnectInfo, routing::get, Router};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::{ServiceBuilder, ServiceExt};
use tower_fortify::{
    event::{SecurityEvent, SecurityEvents},
    injection::InjectionLayer,
    metrics::{ExpositionFormat, MetricsRegistry},
    rate_limit::{
        store::{ManualClock, MemoryStore},
        PeerIp, Policy, Quota, RateLimitLayer,
    },
    security_headers::SecurityHeadersLayer,
    trusted_host::TrustedHostLayer,
};

fn app() -> Router {
    app_with(MetricsRegistry::builder().build().unwrap())
}

fn app_with(metrics: MetricsRegistry) -> Router {
    let limit = RateLimitLayer::builder()
        .policy(Policy::new("ip", PeerIp::new(), Quota::per_minute(2)).unwrap())
        .store(MemoryStore::new().clock(ManualClock::new()))
        .build()
        .unwrap();
    Router::new().route("/", get(|| async { "hello" })).layer(
        ServiceBuilder::new()
            .layer(metrics.layer())
            .layer(SecurityHeadersLayer::strict().build().unwrap())
            .layer(TrustedHostLayer::builder(["example.com"]).build().unwrap())
            .layer(limit)
            .layer(InjectionLayer::builder().build().unwrap()),
    )
}

fn request(host: &str) -> Request<axum::body::Body> {
    request_to(host, "/")
}

fn request_to(host: &str, uri: &str) -> Request<axum::body::Body> {
    let mut req = Request::get(uri)
        .header("host", host)
        .body(axum::body::Body::empty())
        .unwrap();
    req.extensions_mut().insert(ConnectInfo(
        "198.51.100.4:5000".parse::<SocketAddr>().unwrap(),
    ));
    req
}

#[tokio::test]
async fn rate_limit_rejections_carry_security_headers() {
    let app = app();
    for _ in 0..2 {
        let res = app.clone().oneshot(request("example.com")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    }
    let res = app.clone().oneshot(request("example.com")).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert!(res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src"));
    assert_eq!(res.headers()["retry-after"], "30");
    let events = res.extensions().get::<SecurityEvents>().unwrap();
    assert!(matches!(
        events.iter().next(),
        Some(SecurityEvent::RateLimited { .. })
    ));
}

#[tokio::test]
async fn a_foreign_host_is_refused_before_it_counts_against_the_quota() {
    let app = app();
    for _ in 0..5 {
        let res = app.clone().oneshot(request("evil.example")).await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(res.headers()["x-frame-options"], "DENY");
        let events = res.extensions().get::<SecurityEvents>().unwrap();
        assert!(matches!(
            events.iter().next(),
            Some(SecurityEvent::UntrustedHost { .. })
        ));
    }
    // None of the refused requests reached the rate limiter: the quota of 2 is intact.
    for _ in 0..2 {
        let res = app.clone().oneshot(request("example.com")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn metrics_outermost_counts_rejections_by_outcome() {
    let metrics = MetricsRegistry::builder().build().unwrap();
    let app = app_with(metrics.clone());
    for host in ["example.com", "example.com", "example.com", "evil.example"] {
        let res = app.clone().oneshot(request(host)).await.unwrap();
        // Recorded when the body ends.
        res.into_body().collect().await.unwrap();
    }
    let text = metrics.render(ExpositionFormat::Prometheus);
    let count = |needle: &str| {
        text.lines()
            .filter(|l| {
                l.starts_with("http_server_request_duration_seconds_count{") && l.contains(needle)
            })
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum::<u64>()
    };
    assert_eq!(count(r#"http_response_status_code="200""#), 2, "{text}");
    assert_eq!(count(r#"outcome="rate_limited""#), 1, "{text}");
    assert_eq!(count(r#"outcome="untrusted_host""#), 1, "{text}");
}

#[tokio::test]
async fn an_injection_is_blocked_innermost_with_headers_and_counted() {
    let metrics = MetricsRegistry::builder().build().unwrap();
    let app = app_with(metrics.clone());
    let res = app
        .clone()
        .oneshot(request_to("example.com", "/?id=1%27%20OR%20%271%27%3D%271"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert!(
        res.headers().contains_key("ratelimit"),
        "the rate limiter saw it first"
    );
    let events = res.extensions().get::<SecurityEvents>().unwrap();
    assert!(matches!(
        events.iter().next(),
        Some(SecurityEvent::InjectionDetected { blocked: true, .. })
    ));
    res.into_body().collect().await.unwrap();
    let text = metrics.render(ExpositionFormat::Prometheus);
    assert!(
        text.lines().any(
            |l| l.starts_with("http_server_request_duration_seconds_count{")
                && l.contains(r#"outcome="injection_blocked""#)
        ),
        "{text}"
    );
}

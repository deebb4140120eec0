//! `NotifyLayer` in an axum `Router`: guard-layer events, 5xx and slow requests become
//! notifications, floods are aggregated, responses pass through untouched.
#![cfg(feature = "notify")]

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    http::{Request, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use tower::ServiceExt;
use tower_fortify::{
    event::{Category, EventKind, SecurityEvent, SecurityEvents},
    notify::{
        Batch, ChannelReceiver, ChannelSink, Kind, Notification, Notifier, NotifyLayer,
        NotifyLayerBuilder, Priority,
    },
};

/// A handler standing in for a guard layer: it answers 429 and leaves the event.
async fn throttled() -> Response {
    let mut res = (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response();
    SecurityEvents::push_to(
        res.extensions_mut(),
        SecurityEvent::RateLimited {
            policy: Arc::from("per-ip"),
            key: Arc::from("203.0.113.7"),
            retry_after: Duration::from_secs(2),
            shadow: false,
        },
    );
    res
}

async fn attacked() -> Response {
    let mut res = (StatusCode::FORBIDDEN, "no").into_response();
    SecurityEvents::push_to(
        res.extensions_mut(),
        SecurityEvent::InjectionDetected {
            category: Category::Sqli,
            location: Arc::from("query:id"),
            rule: "942100",
            score: 5,
            blocked: true,
        },
    );
    SecurityEvents::push_to(
        res.extensions_mut(),
        SecurityEvent::UntrustedHost {
            host: Arc::from("evil.example"),
        },
    );
    res
}

async fn broken() -> StatusCode {
    StatusCode::BAD_GATEWAY
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(300)).await;
    "done"
}

fn app(layer: NotifyLayer) -> Router {
    Router::new()
        .route("/throttled", get(throttled))
        .route("/attacked", get(attacked))
        .route("/broken", get(broken))
        .route("/slow", get(slow))
        .route("/ok", get(|| async { "fine" }))
        .layer(layer)
}

fn setup(window: Duration) -> (Notifier, ChannelReceiver, NotifyLayerBuilder) {
    let (sink, rx) = ChannelSink::bounded(1024).unwrap();
    let notifier = Notifier::builder()
        .max_latency(Duration::from_millis(10))
        .sink("ch", sink)
        .build()
        .unwrap();
    let layer = NotifyLayer::builder(&notifier)
        .aggregation_window(window)
        .slow_requests(Duration::from_millis(100))
        .source("shop-api");
    (notifier, rx, layer)
}

async fn get_status(app: &Router, path: &str) -> StatusCode {
    app.clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap()
        .status()
}

async fn collect(notifier: Notifier, mut rx: ChannelReceiver) -> Vec<Notification> {
    notifier.shutdown(Duration::from_secs(5)).await;
    drop(notifier);
    let mut all = Vec::new();
    while let Some(batch) = rx.try_recv() {
        all.extend(Batch::notifications(&batch).iter().cloned());
    }
    all
}

#[tokio::test(start_paused = true)]
async fn guard_events_and_server_errors_become_notifications() {
    let (notifier, rx, layer) = setup(Duration::from_secs(60));
    let app = app(layer.build().unwrap());
    assert_eq!(
        get_status(&app, "/throttled").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(get_status(&app, "/attacked").await, StatusCode::FORBIDDEN);
    assert_eq!(get_status(&app, "/broken").await, StatusCode::BAD_GATEWAY);
    assert_eq!(get_status(&app, "/ok").await, StatusCode::OK);
    let all = collect(notifier, rx).await;
    let mut kinds: Vec<&str> = all.iter().map(|n| n.kind().as_str()).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "injection_detected",
            "rate_limited",
            "server_error",
            "untrusted_host"
        ]
    );
    let by = |kind: Kind| all.iter().find(|n| *n.kind() == kind).unwrap();
    let rl = by(Kind::from(EventKind::RateLimited));
    assert_eq!(rl.priority(), Priority::Normal);
    assert_eq!(rl.fields()["policy"], "per-ip");
    assert_eq!(rl.fields()["retry_after_ms"], 2000);
    assert_eq!(rl.source_name(), "shop-api");
    let inj = by(Kind::from(EventKind::InjectionDetected));
    assert_eq!(inj.priority(), Priority::High);
    assert_eq!(inj.fields()["category"], "sqli");
    assert_eq!(inj.fields()["rule"], "942100");
    assert_eq!(by(Kind::ServerError).fields()["status"], 502);
    assert_eq!(by(Kind::ServerError).fields()["path"], "/broken");
    assert_eq!(
        by(Kind::from(EventKind::UntrustedHost)).priority(),
        Priority::Low
    );
}

#[tokio::test(start_paused = true)]
async fn slow_requests_are_reported_past_the_threshold() {
    let (notifier, rx, layer) = setup(Duration::from_secs(60));
    let app = app(layer.build().unwrap());
    assert_eq!(get_status(&app, "/slow").await, StatusCode::OK);
    assert_eq!(get_status(&app, "/ok").await, StatusCode::OK);
    let all = collect(notifier, rx).await;
    assert_eq!(all.len(), 1);
    assert_eq!(*all[0].kind(), Kind::SlowRequest);
    assert!(all[0].fields()["elapsed_ms"].as_u64().unwrap() >= 300);
}

#[tokio::test(start_paused = true)]
async fn kinds_can_be_reprioritised_and_ignored() {
    let (notifier, rx, layer) = setup(Duration::from_secs(60));
    let layer = layer
        .priority(Kind::from(EventKind::RateLimited), Priority::Critical)
        .ignore(Kind::ServerError)
        .ignore(Kind::from(EventKind::UntrustedHost))
        .build()
        .unwrap();
    let app = app(layer);
    get_status(&app, "/throttled").await;
    get_status(&app, "/broken").await;
    get_status(&app, "/attacked").await;
    let all = collect(notifier, rx).await;
    let mut kinds: Vec<(&str, Priority)> = all
        .iter()
        .map(|n| (n.kind().as_str(), n.priority()))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("injection_detected", Priority::High),
            ("rate_limited", Priority::Critical)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_rejections_from_one_client_is_aggregated_per_key_and_window() {
    let (notifier, rx, layer) = setup(Duration::from_secs(60));
    let app = app(layer.build().unwrap());
    for _ in 0..5_000 {
        assert_eq!(
            get_status(&app, "/throttled").await,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    let stats = notifier.stats();
    assert_eq!(
        stats.submitted, 1,
        "only the first occurrence is queued at once"
    );
    tokio::time::sleep(Duration::from_secs(61)).await;
    let all = collect(notifier, rx).await;
    assert_eq!(all.len(), 2, "the first one, then one summary");
    assert_eq!(all[0].occurrences(), 1);
    assert_eq!(all[1].occurrences(), 4_999);
    assert_eq!(all[0].occurrences() + all[1].occurrences(), 5_000);
    assert_eq!(all[1].fields()["key"], "203.0.113.7");
}

#[tokio::test(start_paused = true)]
async fn responses_pass_through_untouched() {
    let (notifier, _rx, layer) = setup(Duration::from_secs(60));
    let app = app(layer.build().unwrap());
    let res = app
        .oneshot(Request::get("/throttled").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.extensions().get::<SecurityEvents>().unwrap().len(), 1);
    let body = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
    assert_eq!(&body[..], b"slow down");
    notifier.shutdown(Duration::from_secs(1)).await;
}

#[allow(dead_code)]
fn assert_bounds() {
    fn clone_send_sync<T: Clone + Send + Sync + 'static>() {}
    fn send<T: Send>(_: T) {}
    clone_send_sync::<NotifyLayer>();
    clone_send_sync::<Notifier>();
    clone_send_sync::<tower_fortify::notify::Notify<Router>>();
    let (notifier, _rx, layer) = setup(Duration::ZERO);
    let mut svc = tower::Layer::layer(&layer.build().unwrap(), Router::new());
    send(tower::Service::call(&mut svc, Request::new(Body::empty())));
    drop(notifier);
}

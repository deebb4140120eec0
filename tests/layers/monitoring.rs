//! The monitoring service mounted under `/admin` in a real axum `Router`.
#![cfg(all(feature = "monitoring", feature = "axum"))]

use std::time::Duration;

use axum::{body::Body, routing::get, Router};
use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use tower_fortify::{
    metrics::{HealthCheck, HealthRegistry, MetricsRegistry},
    monitoring::{BoxFuture, MonitoringExtension, MonitoringService},
};

const TOKEN: &str = "test-token-0123456789abcdef";

#[derive(Debug)]
struct DeadLetters;

impl MonitoringExtension for DeadLetters {
    fn name(&self) -> &str {
        "notify"
    }
    fn dashboard(&self) -> Option<Value> {
        Some(json!({ "queued": 2, "dead_letters": 1 }))
    }
    fn call(&self, req: Request<Bytes>) -> BoxFuture<Response<Bytes>> {
        let answer = format!("{} {} {}", req.method(), req.uri().path(), req.body().len());
        Box::pin(async move { Response::new(Bytes::from(answer)) })
    }
    fn openapi_paths(&self) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert(
            "/notify/dead-letters".into(),
            json!({ "get": { "summary": "List dead letters", "responses": { "200": { "description": "The list." } } } }),
        );
        m
    }
}

fn app(health: HealthRegistry) -> (Router, MetricsRegistry) {
    let metrics = MetricsRegistry::builder().build().unwrap();
    let monitoring = MonitoringService::builder()
        .bearer_token(TOKEN)
        .metrics(metrics.clone())
        .health(health)
        .extension(DeadLetters)
        .build()
        .unwrap();
    let router = Router::new()
        .route("/hello/{name}", get(|| async { "hi" }))
        .layer(metrics.layer())
        .nest_service("/admin", monitoring);
    (router, metrics)
}

fn healthy() -> HealthRegistry {
    HealthRegistry::builder()
        .check(HealthCheck::new("db", || async { Ok::<_, String>(()) }))
        .build()
        .unwrap()
}

async fn call(router: &Router, req: Request<Body>) -> (StatusCode, http::HeaderMap, Bytes) {
    let res = router.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

fn get_with(path: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn everything_but_probes_needs_the_token() {
    let (router, _) = app(healthy());
    for path in [
        "/admin/metrics",
        "/admin/health",
        "/admin/dashboard",
        "/admin/openapi.json",
        "/admin/notify/dead-letters",
    ] {
        let (status, headers, body) = call(&router, get_with(path, None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            headers[header::WWW_AUTHENTICATE],
            r#"Bearer realm="monitoring""#,
            "{path}"
        );
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        let problem: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["status"], 401);

        let (status, headers, _) = call(
            &router,
            get_with(path, Some("wrong-token-0123456789abcdef")),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_token"));

        let (status, _, _) = call(&router, get_with(path, Some(TOKEN))).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    // A token of another scheme is not a bearer token.
    let req = Request::get("/admin/metrics")
        .header(header::AUTHORIZATION, format!("Basic {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&router, req).await.0, StatusCode::UNAUTHORIZED);
    // Case-insensitive scheme.
    let req = Request::get("/admin/metrics")
        .header(header::AUTHORIZATION, format!("bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&router, req).await.0, StatusCode::OK);
}

#[tokio::test]
async fn probes_answer_without_token_and_reveal_no_details() {
    let failing = HealthRegistry::builder()
        .check(HealthCheck::new("db", || async {
            Err::<(), _>("connection refused to 10.0.0.5")
        }))
        .check(HealthCheck::new("cache", || async { Ok::<_, String>(()) }).critical(false))
        .build()
        .unwrap();
    let (router, _) = app(failing);
    let (status, _, body) = call(&router, get_with("/admin/health/live", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({ "status": "healthy" })
    );

    let (status, _, body) = call(&router, get_with("/admin/health/ready", None)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({ "status": "unhealthy" })
    );

    let (status, _, body) = call(&router, get_with("/admin/health/ready", Some(TOKEN))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let report: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        report["checks"][0]["error"],
        "connection refused to 10.0.0.5"
    );

    let (status, _, body) = call(&router, get_with("/admin/health", Some(TOKEN))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let report: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(report["status"], "unhealthy");
    assert_eq!(report["checks"][1]["status"], "pass");
}

#[tokio::test]
async fn degraded_is_still_ready() {
    let degraded = HealthRegistry::builder()
        .check(
            HealthCheck::new("search", || async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok::<_, String>(())
            })
            .critical(false)
            .timeout(Duration::from_millis(20)),
        )
        .build()
        .unwrap();
    let (router, _) = app(degraded);
    let (status, _, body) = call(&router, get_with("/admin/health/ready", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["status"],
        "degraded"
    );
}

#[tokio::test]
async fn metrics_negotiates_the_format() {
    let (router, _) = app(healthy());
    call(&router, get_with("/hello/ann", None)).await;
    let (status, headers, body) = call(&router, get_with("/admin/metrics", Some(TOKEN))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.contains(r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/hello/{name}",http_response_status_code="200",url_scheme="http"} 1"#), "{text}");

    let req = Request::get("/admin/metrics")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(
            header::ACCEPT,
            "application/openmetrics-text; version=1.0.0",
        )
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = call(&router, req).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    assert!(body.ends_with(b"# EOF\n"));
}

// Paused time: the dashboard cache and the percentile windows read tokio's clock, so the
// cache interval below passes only when the test says so (issue #13 item 12).
#[tokio::test(start_paused = true)]
async fn dashboard_has_routes_security_health_and_extensions() {
    let (router, metrics) = app(healthy());
    for _ in 0..4 {
        call(&router, get_with("/hello/bob", None)).await;
    }
    let (status, _, body) = call(&router, get_with("/admin/dashboard", Some(TOKEN))).await;
    assert_eq!(status, StatusCode::OK);
    let d: Value = serde_json::from_slice(&body).unwrap();
    let route = d["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["route"] == "/hello/{name}")
        .unwrap();
    assert_eq!(route["requests"], 4);
    assert_eq!(route["errors"], 0);
    assert!(route["latency_seconds"]["p99"].as_f64().unwrap() > 0.0);
    assert_eq!(d["security"]["rate_limited"], 0);
    assert_eq!(d["health"], "healthy");
    assert_eq!(d["notify"]["dead_letters"], 1);
    assert_eq!(d["window_seconds"], 60.0);
    // Cached: the same numbers within the cache interval, even after more traffic.
    call(&router, get_with("/hello/bob", None)).await;
    assert_eq!(metrics.dashboard().routes[0].requests, 4);
    // Past the 10 s interval the dashboard is computed again.
    tokio::time::advance(Duration::from_secs(9)).await;
    assert_eq!(metrics.dashboard().routes[0].requests, 4);
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(metrics.dashboard().routes[0].requests, 5);
}

#[tokio::test]
async fn unknown_paths_wrong_methods_head_and_extensions() {
    let (router, _) = app(healthy());
    let (status, headers, _) = call(&router, get_with("/admin/nope", Some(TOKEN))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");

    let req = Request::post("/admin/metrics")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = call(&router, req).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[header::ALLOW], "GET, HEAD");

    let req = Request::builder()
        .method(Method::HEAD)
        .uri("/admin/health/live")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = call(&router, req).await;
    assert_eq!((status, body.len()), (StatusCode::OK, 0));

    let req = Request::post("/admin/notify/replay/17")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::from("{\"all\":true}"))
        .unwrap();
    let (status, _, body) = call(&router, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], b"POST /notify/replay/17 12");

    let req = Request::post("/admin/notify/replay")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::from(vec![b'x'; 70 * 1024]))
        .unwrap();
    assert_eq!(call(&router, req).await.0, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn openapi_document_lists_every_endpoint() {
    let (router, _) = app(healthy());
    let (status, headers, body) = call(&router, get_with("/admin/openapi.json", Some(TOKEN))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/metrics",
        "/health",
        "/health/live",
        "/health/ready",
        "/dashboard",
        "/openapi.json",
        "/notify/dead-letters",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    assert_eq!(doc["paths"]["/health/live"]["get"]["security"], json!([]));
}

#[test]
fn extension_names_are_checked() {
    #[derive(Debug)]
    struct Named(&'static str);
    impl MonitoringExtension for Named {
        fn name(&self) -> &str {
            self.0
        }
        fn call(&self, _req: Request<Bytes>) -> BoxFuture<Response<Bytes>> {
            Box::pin(async { Response::new(Bytes::new()) })
        }
    }
    for bad in ["", "Upper", "metrics", "a/b"] {
        let err = MonitoringService::builder()
            .bearer_token(TOKEN)
            .extension(Named(bad))
            .build()
            .unwrap_err();
        assert_eq!(err.setting(), "monitoring.extension", "{bad:?}");
    }
    let err = MonitoringService::builder()
        .bearer_token(TOKEN)
        .extension(Named("dlq"))
        .extension(Named("dlq"))
        .build()
        .unwrap_err();
    assert!(err.message().contains("two extensions"));
}

/// Issue #13 item 4: without a valid token, every path under the prefix gets the same
/// answer (status, headers, body), whether it exists, is an extension, or takes another
/// method; only the probes and the dashboard page (`GET /`) are open.
#[tokio::test]
async fn unauthenticated_requests_get_one_answer_whatever_the_path() {
    let (router, _) = app(healthy());
    let answer = |method: Method, path: &str, token: Option<&str>| {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = b.body(Body::empty()).unwrap();
        let router = router.clone();
        async move {
            let (status, mut headers, body) = call(&router, req).await;
            headers.remove(header::DATE);
            (status, headers, body)
        }
    };
    for token in [None, Some("wrong-token-0123456789abcdef")] {
        let reference = answer(Method::GET, "/admin/metrics", token).await;
        assert_eq!(reference.0, StatusCode::UNAUTHORIZED);
        for (method, path) in [
            (Method::GET, "/admin/nope"),
            (Method::GET, "/admin/wp-admin/setup.php"),
            (Method::GET, "/admin/notify/dead-letters"),
            (Method::GET, "/admin/notify"),
            (Method::GET, "/admin/dashboard"),
            (Method::GET, "/admin/health"),
            (Method::GET, "/admin/openapi.json"),
            (Method::POST, "/admin/metrics"),
            (Method::DELETE, "/admin/nope"),
            (Method::POST, "/admin/notify/replay/17"),
            (Method::GET, "/admin/health/live/x"),
        ] {
            let got = answer(method.clone(), path, token).await;
            assert_eq!(got, reference, "{method} {path} with {token:?}");
        }
    }
    // The probes stay open.
    assert_eq!(
        answer(Method::GET, "/admin/health/live", None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        answer(Method::GET, "/admin/health/ready", None).await.0,
        StatusCode::OK
    );
    // With the token, unknown paths are 404 and wrong methods 405, as before.
    assert_eq!(
        answer(Method::GET, "/admin/nope", Some(TOKEN)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        answer(Method::POST, "/admin/metrics", Some(TOKEN)).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

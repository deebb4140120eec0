//! A real scrape over a socket, checked by the tools a user's pipeline uses:
//! `promtool check metrics` (Prometheus text format), the Python `prometheus_client`
//! OpenMetrics parser, and `openapi-spec-validator` for `/openapi.json`.
//!
//! A missing tool is a one-line skip notice on a developer machine and a failure under
//! `CI=true` (`.ci/run` installs them).
#![cfg(all(feature = "monitoring", feature = "axum"))]

use std::{sync::Arc, time::Duration};

use axum::{routing::get, Router};
use bytes::Bytes;
use http::{header, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use tower_fortify::{
    event::{Category, SecurityEvent, SecurityEvents},
    metrics::MetricsRegistry,
    monitoring::MonitoringService,
};

use crate::support::tools::{assert_openapi_valid, python_has, run_tool};

const TOKEN: &str = "tools-token-0123456789abcdef";

async fn serve() -> (String, tokio::task::JoinHandle<()>) {
    let metrics = MetricsRegistry::builder().build().unwrap();
    let monitoring = MonitoringService::builder()
        .bearer_token(TOKEN)
        .metrics(metrics.clone())
        .build()
        .unwrap();
    let app = Router::new()
        .route("/items/{id}", get(|| async { "item" }))
        .route("/error", get(|| async { StatusCode::BAD_GATEWAY }))
        .route(
            "/blocked",
            get(|| async {
                let mut res = axum::response::IntoResponse::into_response(StatusCode::FORBIDDEN);
                SecurityEvents::push_to(
                    res.extensions_mut(),
                    SecurityEvent::InjectionDetected {
                        category: Category::Xss,
                        location: Arc::from("query:q"),
                        rule: "941100",
                        score: 5,
                        blocked: true,
                    },
                );
                res
            }),
        )
        .layer(metrics.layer())
        .nest_service("/admin", monitoring);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), handle)
}

async fn fetch(base: &str, path: &str, accept: Option<&str>) -> (StatusCode, Bytes) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut req = Request::get(format!("{base}{path}"));
    if path.starts_with("/admin") {
        req = req.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    }
    if let Some(a) = accept {
        req = req.header(header::ACCEPT, a);
    }
    let res = tokio::time::timeout(
        Duration::from_secs(10),
        client.request(req.body(Empty::new()).unwrap()),
    )
    .await
    .expect("the server answers")
    .unwrap();
    let status = res.status();
    (status, res.into_body().collect().await.unwrap().to_bytes())
}

async fn traffic(base: &str) {
    for i in 0..10 {
        assert_eq!(
            fetch(base, &format!("/items/{i}"), None).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(fetch(base, "/error", None).await.0, StatusCode::BAD_GATEWAY);
    assert_eq!(fetch(base, "/blocked", None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        fetch(base, "/no/such/path", None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn promtool_accepts_the_prometheus_exposition() {
    let (base, server) = serve().await;
    traffic(&base).await;
    let (status, body) = fetch(&base, "/admin/metrics", None).await;
    assert_eq!(status, StatusCode::OK);
    server.abort();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.contains("http_server_request_duration_seconds_bucket"));
    if let Some((code, output)) = run_tool("promtool", &["check", "metrics"], text.as_bytes()) {
        assert_eq!(
            code, 0,
            "promtool check metrics failed:\n{output}\n--- exposition ---\n{text}"
        );
        assert!(output.trim().is_empty(), "promtool lint output: {output}");
    }
}

const OPENMETRICS_PARSE: &str = r#"
import sys, json
from prometheus_client.openmetrics.parser import text_string_to_metric_families
families = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    families[f.name] = {"type": f.type, "unit": f.unit, "samples": len(f.samples)}
print(json.dumps(families))
"#;

#[tokio::test]
async fn openmetrics_exposition_parses_with_prometheus_client() {
    let (base, server) = serve().await;
    traffic(&base).await;
    let (status, body) = fetch(
        &base,
        "/admin/metrics",
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    server.abort();
    assert!(body.ends_with(b"# EOF\n"));
    if !python_has("prometheus_client.openmetrics.parser") {
        return;
    }
    let (code, output) = run_tool("python3", &["-c", OPENMETRICS_PARSE], &body).unwrap();
    assert_eq!(
        code, 0,
        "the OpenMetrics parser refused the exposition:\n{output}"
    );
    let families: serde_json::Value = serde_json::from_str(output.trim()).unwrap();
    let duration = &families["http_server_request_duration_seconds"];
    assert_eq!(duration["type"], "histogram");
    assert_eq!(duration["unit"], "seconds");
    assert_eq!(
        families["http_server_response_body_size_bytes"]["unit"],
        "bytes"
    );
    assert_eq!(families["http_server_active_requests"]["type"], "gauge");
    assert_eq!(families["tower_fortify_security_events"]["type"], "counter");
    assert_eq!(
        families["tower_fortify_metrics_label_overflow"]["type"],
        "counter"
    );
}

#[tokio::test]
async fn openapi_document_passes_the_spec_validator() {
    let (base, server) = serve().await;
    let (status, body) = fetch(&base, "/admin/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    server.abort();
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_openapi_valid(&doc);
}

//! Drives `examples/security_headers.rs` through its `app()`, as a user would with curl.
#![cfg(feature = "security-headers")]

#[allow(dead_code)]
#[path = "../../examples/security_headers.rs"]
mod example;

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use http_body_util::BodyExt;
use tower::ServiceExt;

fn request(host: &str) -> Request<Body> {
    Request::builder()
        .uri("/")
        .header("host", host)
        .header("accept", "text/html")
        .header("user-agent", "Mozilla/5.0")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn page_has_the_nonce_in_header_and_script() {
    let app = example::app().unwrap();
    let res = app.oneshot(request("127.0.0.1:3000")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self' 'nonce-"), "{csp}");
    assert!(!csp.contains("upgrade-insecure-requests"));
    assert!(!res.headers().contains_key("strict-transport-security"));
    assert_eq!(res.headers()["cache-control"], "no-store");
    let start = csp.find("'nonce-").unwrap() + 7;
    let nonce = &csp[start..start + csp[start..].find('\'').unwrap()];
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let body = std::str::from_utf8(&body).unwrap();
    assert!(
        body.contains(&format!("<script nonce=\"{nonce}\">")),
        "{body}"
    );
}

#[tokio::test]
async fn foreign_host_is_400_with_security_headers() {
    let app = example::app().unwrap();
    let res = app.oneshot(request("evil.example")).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn preflight_from_the_front_end_origin() {
    let app = example::app().unwrap();
    let req = Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/greeting")
        .header("host", "localhost:3000")
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .body(Body::empty())
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    assert_eq!(res.headers()["access-control-allow-credentials"], "true");
}

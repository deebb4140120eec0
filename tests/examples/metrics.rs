//! Drives `examples/metrics.rs` through its `app()`.
#![cfg(all(feature = "metrics", feature = "monitoring", feature = "axum"))]

#[allow(dead_code)]
#[path = "../../examples/metrics.rs"]
mod example;

use http::{Request, StatusCode};
use tower::ServiceExt;

#[tokio::test]
async fn admin_needs_the_token() {
    let app = example::app("example-token-0123456789".to_owned()).unwrap();
    let res = app
        .clone()
        .oneshot(
            Request::get("/admin/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .oneshot(
            Request::get("/admin/metrics")
                .header("authorization", "Bearer example-token-0123456789")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

//! Integration tests of the hardened CORS presets through an axum `Router`.
#![cfg(feature = "security-headers")]

use std::time::Duration;

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
    routing::{any, get},
    Router,
};
use http_body_util::BodyExt;
use tower::ServiceExt;
use tower_fortify::{
    cors::{CorsLayer, CorsLayerBuilder},
    security_headers::SecurityHeadersLayer,
};

const APP: &str = "https://app.example.com";

fn api(cors: CorsLayerBuilder) -> Router {
    Router::new()
        .route("/items", get(|| async { "items" }))
        .route(
            "/webdav",
            any(|req: Request<Body>| async move {
                // An application that answers OPTIONS itself (WebDAV-style capability discovery).
                let method = req.method().to_string();
                (
                    StatusCode::NO_CONTENT,
                    [
                        ("allow", "GET, OPTIONS, PROPFIND".to_owned()),
                        ("x-method-seen", method),
                    ],
                )
            }),
        )
        .layer(cors.build().unwrap())
}

fn preflight(origin: &str, method: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri("/items")
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", "content-type")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn same_origin_api_preflight_and_actual_request() {
    let app = api(CorsLayer::same_origin_api([APP]));
    let res = app.clone().oneshot(preflight(APP, "PUT")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], APP);
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(
        h["access-control-allow-methods"],
        "GET,HEAD,POST,PUT,PATCH,DELETE"
    );
    assert_eq!(
        h["access-control-allow-headers"],
        "content-type,authorization"
    );
    assert_eq!(h["access-control-max-age"], "600");

    let req = Request::builder()
        .uri("/items")
        .header("origin", APP)
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], APP);
    assert!(res
        .headers()
        .get_all("vary")
        .iter()
        .any(|v| v.to_str().unwrap().contains("origin")));
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"items");
}

#[tokio::test]
async fn other_origins_are_never_mirrored() {
    let app = api(CorsLayer::same_origin_api([APP, "http://localhost:5173"]));
    for origin in [
        "https://evil.example",
        "null",
        "https://app.example.com.evil.net",
        "http://app.example.com",
    ] {
        let res = app.clone().oneshot(preflight(origin, "GET")).await.unwrap();
        assert!(
            res.headers().get("access-control-allow-origin").is_none(),
            "{origin} allowed"
        );
        let req = Request::builder()
            .uri("/items")
            .header("origin", origin)
            .body(Body::empty())
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        assert!(
            res.headers().get("access-control-allow-origin").is_none(),
            "{origin} allowed"
        );
    }
    let res = app
        .oneshot(preflight("http://localhost:5173", "GET"))
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
}

#[tokio::test]
async fn plain_options_reaches_the_application() {
    let app = api(CorsLayer::same_origin_api([APP]));
    let req = Request::builder()
        .method(Method::OPTIONS)
        .uri("/webdav")
        .header("origin", APP)
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NO_CONTENT,
        "answered by the app, not the CORS layer"
    );
    assert_eq!(res.headers()["allow"], "GET, OPTIONS, PROPFIND");
    assert_eq!(
        res.headers()["x-method-seen"],
        "OPTIONS",
        "the handler sees the real method"
    );
    // It is an ordinary cross-origin request, so it carries the ordinary CORS headers.
    assert_eq!(res.headers()["access-control-allow-origin"], APP);
    assert!(res.headers().get("access-control-allow-methods").is_none());

    // Without an Origin at all.
    let req = Request::builder()
        .method(Method::OPTIONS)
        .uri("/webdav")
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    // A genuine preflight to the same route is still answered by the layer.
    let mut pre = preflight(APP, "GET");
    *pre.uri_mut() = "/webdav".parse().unwrap();
    let res = app.oneshot(pre).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("x-method-seen").is_none());
    assert_eq!(res.headers()["access-control-allow-origin"], APP);
}

#[tokio::test]
async fn public_read_only_is_wildcard_without_credentials() {
    let app = api(CorsLayer::public_read_only());
    let req = Request::builder()
        .uri("/items")
        .header("origin", "https://anyone.example")
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert!(res
        .headers()
        .get("access-control-allow-credentials")
        .is_none());
    let res = app
        .oneshot(preflight("https://anyone.example", "DELETE"))
        .await
        .unwrap();
    assert_eq!(res.headers()["access-control-allow-methods"], "GET,HEAD");
    assert_eq!(res.headers()["access-control-max-age"], "3600");
}

#[test]
fn misconfigurations_are_errors() {
    let e = CorsLayer::public_read_only()
        .allow_credentials(true)
        .build()
        .unwrap_err();
    assert_eq!(e.setting(), "cors.allow_credentials");
    let e = CorsLayer::same_origin_api(["https://a.example", "*"])
        .build()
        .unwrap_err();
    assert!(e.message().contains("wildcard"), "{e}");
    assert_eq!(e.setting(), "cors.origins");
    let e = CorsLayer::same_origin_api(["https://a.example/"])
        .build()
        .unwrap_err();
    assert!(e.message().contains("trailing slash"), "{e}");
    assert!(CorsLayer::same_origin_api([APP])
        .allow_headers(["*"])
        .build()
        .is_err());
    assert!(CorsLayer::same_origin_api([APP])
        .allow_credentials(false)
        .max_age(Some(Duration::from_secs(5)))
        .build()
        .is_ok());
}

#[tokio::test]
async fn preflights_carry_security_headers_in_the_recommended_order() {
    let app = Router::new()
        .route("/items", get(|| async { "items" }))
        .layer(CorsLayer::same_origin_api([APP]).build().unwrap())
        .layer(SecurityHeadersLayer::strict().build().unwrap());
    let res = app.oneshot(preflight(APP, "POST")).await.unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], APP);
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
}

//! Integration tests of `TrustedHostLayer`: through an axum `Router`, and over a real socket
//! for what only a raw HTTP/1.1 request can express (no `Host`, an empty `Host`).
#![cfg(feature = "security-headers")]

use std::{net::SocketAddr, time::Duration};

use axum::{
    body::Body,
    http::{Request, StatusCode},
    routing::get,
    Router,
};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;
use tower_fortify::{
    event::{SecurityEvent, SecurityEvents},
    proxy::{ForwardedHeader, PeerAddr, TrustedProxies},
    rejection::Rejection,
    trusted_host::{HostRejection, HostRejectionKind, TrustedHostLayer},
};

fn app(layer: TrustedHostLayer) -> Router {
    Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(layer)
}

fn with_host(host: &str) -> Request<Body> {
    Request::builder()
        .uri("/")
        .header("host", host)
        .body(Body::empty())
        .unwrap()
}

async fn status(app: &Router, req: Request<Body>) -> StatusCode {
    app.clone().oneshot(req).await.unwrap().status()
}

#[tokio::test]
async fn allow_list_cases() {
    let app = app(
        TrustedHostLayer::builder(["example.com", "*.example.com", "[::1]:8080"])
            .build()
            .unwrap(),
    );
    let cases = [
        ("example.com", StatusCode::OK),
        ("EXAMPLE.com.", StatusCode::OK),
        ("example.com:443", StatusCode::OK),
        ("api.example.com", StatusCode::OK),
        ("deep.api.Example.COM", StatusCode::OK),
        ("[::1]:8080", StatusCode::OK),
        ("[::1]:8081", StatusCode::BAD_REQUEST),
        ("[::1]", StatusCode::BAD_REQUEST),
        ("[::1]evil.example.com", StatusCode::BAD_REQUEST),
        ("example.com.evil.net", StatusCode::BAD_REQUEST),
        ("evil-example.com", StatusCode::BAD_REQUEST),
        ("user@example.com", StatusCode::BAD_REQUEST),
        ("example.com:http", StatusCode::BAD_REQUEST),
        ("", StatusCode::BAD_REQUEST),
    ];
    for (host, want) in cases {
        assert_eq!(status(&app, with_host(host)).await, want, "host {host:?}");
    }
}

#[tokio::test]
async fn wildcard_does_not_cover_the_apex() {
    let app = app(TrustedHostLayer::builder(["*.example.com"])
        .build()
        .unwrap());
    assert_eq!(
        status(&app, with_host("example.com")).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        status(&app, with_host("www.example.com")).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&app, with_host("[::1]evil.example.com")).await,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn rejection_is_problem_json_with_an_event() {
    let app = app(TrustedHostLayer::builder(["example.com"]).build().unwrap());
    let res = app.oneshot(with_host("attacker.example")).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_eq!(
        res.extensions()
            .get::<HostRejection>()
            .map(HostRejection::kind),
        Some(HostRejectionKind::NotAllowed)
    );
    let events = res.extensions().get::<SecurityEvents>().expect("events");
    assert_eq!(events.len(), 1);
    match events.iter().next().unwrap() {
        SecurityEvent::UntrustedHost { host } => assert_eq!(&**host, "attacker.example"),
        other => panic!("unexpected event {other:?}"),
    }
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["status"], 400);
    assert!(
        !String::from_utf8_lossy(&body).contains("attacker"),
        "the host is not echoed"
    );
}

#[tokio::test]
async fn grpc_calls_get_invalid_argument() {
    let app = app(TrustedHostLayer::builder(["example.com"]).build().unwrap());
    let req = Request::builder()
        .method("POST")
        .uri("/pkg.Service/Method")
        .header("host", "evil.example")
        .header("content-type", "application/grpc")
        .body(Body::empty())
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["grpc-status"], "3");
    assert_eq!(res.headers()["content-type"], "application/grpc");
    assert!(res
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .is_empty());
}

#[tokio::test]
async fn http2_authority_is_checked_and_must_agree_with_host() {
    let app = app(TrustedHostLayer::builder(["example.com"]).build().unwrap());
    // HTTP/2 carries :authority in the URI and usually no Host header.
    let h2 = |uri: &str| {
        Request::builder()
            .uri(uri)
            .version(http::Version::HTTP_2)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        status(&app, h2("https://example.com/")).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&app, h2("https://evil.example/")).await,
        StatusCode::BAD_REQUEST
    );

    let mut both = h2("https://example.com/");
    both.headers_mut()
        .insert("host", "example.com".parse().unwrap());
    assert_eq!(status(&app, both).await, StatusCode::OK);

    let mut conflicting = h2("https://example.com/");
    conflicting
        .headers_mut()
        .insert("host", "evil.example".parse().unwrap());
    let res = app.clone().oneshot(conflicting).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.extensions()
            .get::<HostRejection>()
            .map(HostRejection::kind),
        Some(HostRejectionKind::Conflicting)
    );

    let mut twice = with_host("example.com");
    twice
        .headers_mut()
        .append("host", "example.com".parse().unwrap());
    assert_eq!(status(&app, twice).await, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn forwarded_host_only_from_trusted_proxies() {
    let layer = TrustedHostLayer::builder(["shop.example"])
        .trusted_proxies(TrustedProxies::from_cidrs(["10.0.0.0/8"]).unwrap())
        .build()
        .unwrap();
    let app = app(layer);
    let req = |peer: &str, fwd: &str| {
        let mut r = with_host("backend.internal:8080");
        r.headers_mut()
            .insert("x-forwarded-host", fwd.parse().unwrap());
        r.headers_mut()
            .insert("x-forwarded-for", "203.0.113.5".parse().unwrap());
        r.extensions_mut()
            .insert(PeerAddr(peer.parse::<SocketAddr>().unwrap()));
        r
    };
    // From the proxy, the forwarded host is checked, and so is `Host`: a proxy that
    // rewrites `Host` to an upstream name needs that name listed.
    assert_eq!(
        status(&app, req("10.0.0.2:4000", "shop.example")).await,
        StatusCode::BAD_REQUEST,
        "Host backend.internal is not listed"
    );
    let listed = self::app(
        TrustedHostLayer::builder(["shop.example", "backend.internal:8080"])
            .trusted_proxies(TrustedProxies::from_cidrs(["10.0.0.0/8"]).unwrap())
            .build()
            .unwrap(),
    );
    assert_eq!(
        status(&listed, req("10.0.0.2:4000", "shop.example")).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&listed, req("10.0.0.2:4000", "evil.example")).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        status(&app, req("10.0.0.2:4000", "evil.example")).await,
        StatusCode::BAD_REQUEST
    );
    // From anyone else, X-Forwarded-Host is ignored and Host is checked.
    assert_eq!(
        status(&app, req("203.0.113.5:4000", "shop.example")).await,
        StatusCode::BAD_REQUEST
    );
    let mut direct = with_host("shop.example");
    direct
        .headers_mut()
        .insert("x-forwarded-host", "evil.example".parse().unwrap());
    direct
        .extensions_mut()
        .insert(PeerAddr("203.0.113.5:4000".parse().unwrap()));
    assert_eq!(status(&app, direct).await, StatusCode::OK);
}

/// Issue #13 item 1: behind a trusted proxy, `Host` and the forwarded host must both be
/// allowed, whether the proxy writes `X-Forwarded-Host` or `Forwarded: host=`.
#[tokio::test]
async fn behind_a_trusted_proxy_host_and_forwarded_host_must_both_be_allowed() {
    let proxies = TrustedProxies::from_cidrs(["10.0.0.0/8"]).unwrap();
    let xfh = app(TrustedHostLayer::builder(["app.example"])
        .trusted_proxies(proxies.clone())
        .build()
        .unwrap());
    let fwd = app(TrustedHostLayer::builder(["app.example"])
        .trusted_proxies(proxies.header(ForwardedHeader::Forwarded))
        .build()
        .unwrap());
    let req = |peer: &str, host: &str, header: &'static str, value: &str| {
        let mut r = with_host(host);
        r.headers_mut().insert(header, value.parse().unwrap());
        r.extensions_mut()
            .insert(PeerAddr(peer.parse::<SocketAddr>().unwrap()));
        r
    };
    let proxy = "10.0.0.2:4000";
    // nginx passes the client's X-Forwarded-Host through: a poisoned Host must not get in.
    let res = xfh
        .clone()
        .oneshot(req(
            proxy,
            "evil.example",
            "x-forwarded-host",
            "app.example",
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let why = res.extensions().get::<HostRejection>().unwrap();
    assert_eq!(why.kind(), HostRejectionKind::NotAllowed);
    assert_eq!(why.host(), "evil.example");
    // And the other way round.
    assert_eq!(
        status(
            &xfh,
            req(proxy, "app.example", "x-forwarded-host", "evil.example")
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        status(
            &xfh,
            req(proxy, "app.example", "x-forwarded-host", "app.example")
        )
        .await,
        StatusCode::OK
    );
    // `Forwarded: host=` is held to the same rule.
    assert_eq!(
        status(
            &fwd,
            req(
                proxy,
                "evil.example",
                "forwarded",
                "for=1.2.3.4;host=app.example"
            )
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        status(
            &fwd,
            req(
                proxy,
                "app.example",
                "forwarded",
                "for=1.2.3.4;host=evil.example"
            )
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        status(
            &fwd,
            req(
                proxy,
                "app.example",
                "forwarded",
                r#"for=1.2.3.4;host="app.example""#
            )
        )
        .await,
        StatusCode::OK
    );
    // A quoted host holding a comma is one (malformed) host, not two elements.
    assert_eq!(
        status(
            &fwd,
            req(
                proxy,
                "app.example",
                "forwarded",
                r#"for=1.2.3.4;host="evil.example,app.example""#
            )
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    // Without a trusted proxy the forwarding headers are ignored, as before.
    let direct = "203.0.113.5:4000";
    assert_eq!(
        status(
            &xfh,
            req(direct, "app.example", "x-forwarded-host", "evil.example")
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        status(
            &xfh,
            req(direct, "evil.example", "x-forwarded-host", "app.example")
        )
        .await,
        StatusCode::BAD_REQUEST
    );
}

/// Sends raw bytes to a real server and returns the status line.
async fn raw_status(addr: SocketAddr, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut chunk = [0u8; 1024];
        loop {
            let n = stream.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "server did not answer");
    String::from_utf8_lossy(&buf)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn missing_and_empty_host_over_http11() {
    let router = app(TrustedHostLayer::builder(["localhost", "127.0.0.1"])
        .build()
        .unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let ok = raw_status(
        addr,
        &format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let missing = raw_status(addr, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert!(missing.starts_with("HTTP/1.1 400"), "{missing}");
    let empty = raw_status(
        addr,
        "GET / HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(empty.starts_with("HTTP/1.1 400"), "{empty}");
    let foreign = raw_status(
        addr,
        "GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(foreign.starts_with("HTTP/1.1 400"), "{foreign}");
    server.abort();
}

#[tokio::test]
async fn malformed_and_huge_hosts_are_refused_without_panicking() {
    let app = app(TrustedHostLayer::builder(["example.com"]).build().unwrap());
    let mut req = Request::builder().uri("/").body(Body::empty()).unwrap();
    req.headers_mut().insert(
        "host",
        http::HeaderValue::from_bytes(b"exa\xe9mple.com").unwrap(),
    );
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.extensions()
            .get::<HostRejection>()
            .map(HostRejection::kind),
        Some(HostRejectionKind::Malformed)
    );

    let huge = format!("{}.example.net", "a".repeat(10_000));
    let res = app.oneshot(with_host(&huge)).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let events = res.extensions().get::<SecurityEvents>().unwrap();
    match events.iter().next().unwrap() {
        SecurityEvent::UntrustedHost { host } => assert_eq!(host.len(), 255),
        other => panic!("unexpected event {other:?}"),
    }
}

#[tokio::test]
async fn a_custom_responder_still_gets_the_event_and_the_rejection() {
    let layer = TrustedHostLayer::builder(["example.com"])
        .responder(|why: &HostRejection| {
            let mut res = http::Response::new(bytes::Bytes::from(format!("{:?}", why.kind())));
            *res.status_mut() = StatusCode::MISDIRECTED_REQUEST;
            res
        })
        .build()
        .unwrap();
    let res = app(layer).oneshot(with_host("evil.example")).await.unwrap();
    assert_eq!(res.status(), StatusCode::MISDIRECTED_REQUEST);
    assert_eq!(
        res.extensions()
            .get::<SecurityEvents>()
            .map(SecurityEvents::len),
        Some(1)
    );
    let rejection = res
        .extensions()
        .get::<HostRejection>()
        .expect("the rejection is in the extensions with a custom responder too");
    assert_eq!(rejection.kind(), HostRejectionKind::NotAllowed);
    assert_eq!(rejection.host(), "evil.example");
    assert!(!rejection.is_grpc());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"NotAllowed");
}

#[tokio::test]
async fn the_rejection_knows_a_grpc_call_whatever_the_responder() {
    let layer = TrustedHostLayer::builder(["example.com"])
        .responder(|why: &HostRejection| {
            // A responder that keeps the default answer and only adds a header.
            let mut res = why.default_response();
            res.headers_mut().insert(
                "x-refused-by",
                http::HeaderValue::from_static("trusted_host"),
            );
            res
        })
        .build()
        .unwrap();
    let req = Request::builder()
        .method("POST")
        .uri("/pkg.Service/Method")
        .header("host", "evil.example")
        .header("content-type", "application/grpc+proto")
        .body(Body::empty())
        .unwrap();
    let res = app(layer).oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["grpc-status"], "3");
    assert_eq!(res.headers()["x-refused-by"], "trusted_host");
    let rejection = res.extensions().get::<HostRejection>().unwrap();
    assert!(rejection.is_grpc());
}

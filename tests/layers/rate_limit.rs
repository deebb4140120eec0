//! Integration tests of the rate-limiting layer: through an axum `Router` with
//! `ConnectInfo` on a real socket, a plain hyper server, gRPC-shaped requests, and
//! concurrency.
#![cfg(all(feature = "rate-limit", feature = "axum"))]

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use axum::{extract::ConnectInfo, routing::get, Router};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::TokioIo;
use tower::{service_fn, ServiceBuilder, ServiceExt};
use tower_fortify::{
    event::{SecurityEvent, SecurityEvents},
    proxy::{PeerAddr, TrustedProxies},
    rate_limit::{
        store::{ManualClock, MemoryStore, RateLimitStore},
        ClientIp, Global, Header, MissingKey, OnStoreError, PeerIp, Policy, Quota,
        RateLimitHeaders, RateLimitLayer, RateLimitRejection, Tiers,
    },
};

fn ok_service() -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Send,
> + Clone
       + Send
       + 'static {
    service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    })
}

fn req_from(peer: &str) -> Request<Full<Bytes>> {
    let mut req = Request::new(Full::new(Bytes::new()));
    req.extensions_mut().insert(PeerAddr(peer.parse().unwrap()));
    req
}

fn frozen() -> (ManualClock, MemoryStore) {
    let clock = ManualClock::new();
    (clock.clone(), MemoryStore::new().clock(clock))
}

async fn body_json<B>(res: Response<B>) -> serde_json::Value
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn axum_router_with_connect_info_over_a_real_socket() {
    // A frozen clock: the exact values below do not depend on how fast the machine is.
    let (_clock, store) = frozen();
    let layer = RateLimitLayer::builder()
        .policy(Policy::new("ip", PeerIp::new(), Quota::per_minute(3)).unwrap())
        .store(store)
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/",
            get(|ConnectInfo(addr): ConnectInfo<SocketAddr>| async move { addr.ip().to_string() }),
        )
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });

    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<Bytes>>();
    let uri: http::Uri = format!("http://{addr}/").parse().unwrap();
    for i in 0..3 {
        let res = client.get(uri.clone()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "request {i}");
        assert_eq!(res.headers()["ratelimit-policy"], r#""ip";q=3;w=60"#);
        assert_eq!(
            res.headers()["ratelimit"].to_str().unwrap(),
            format!(r#""ip";r={};t={}"#, 2 - i, 20 * (i + 1))
        );
    }
    let res = client.get(uri).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry, 20, "retry-after");
    assert!(res.headers().contains_key("ratelimit"));
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let v = body_json(res).await;
    assert_eq!(v["status"], 429);
    assert_eq!(v["violated-policies"][0], "ip");
}

#[tokio::test]
async fn plain_hyper_server_with_peer_addr() {
    let (_clock, store) = frozen();
    let layer = RateLimitLayer::builder()
        .policy(Policy::new("ip", PeerIp::new(), Quota::per_hour(2)).unwrap())
        .store(store)
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, remote) = listener.accept().await.unwrap();
            let svc = ServiceBuilder::new()
                .layer(layer.clone())
                .service(service_fn(|_req: Request<hyper::body::Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hi"))))
                }));
            // The three lines a plain hyper server needs: insert the peer address.
            let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(PeerAddr(remote));
                svc.clone().oneshot(req)
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<Bytes>>();
    let uri: http::Uri = format!("http://{addr}/").parse().unwrap();
    let statuses: Vec<StatusCode> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(client.get(uri.clone()).await.unwrap().status());
        }
        v
    };
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    let res = client.get(uri).await.unwrap();
    // One per 30 minutes: Retry-After is whole seconds, rounded up.
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry, 1800);
}

#[tokio::test]
async fn grpc_requests_get_trailers_only_resource_exhausted() {
    let (_clock, store) = frozen();
    let svc = ServiceBuilder::new()
        .layer(
            RateLimitLayer::builder()
                .policy(Policy::new("calls", Global, Quota::per_second(2).burst(1)).unwrap())
                .store(store)
                .build()
                .unwrap(),
        )
        .service(ok_service());
    let grpc = || {
        let mut req = req_from("10.1.1.1:1000");
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = "/helloworld.Greeter/SayHello".parse().unwrap();
        req.headers_mut()
            .insert("content-type", "application/grpc+proto".parse().unwrap());
        req
    };
    assert_eq!(
        svc.clone().oneshot(grpc()).await.unwrap().status(),
        StatusCode::OK
    );
    let res = svc.clone().oneshot(grpc()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "gRPC rejections are HTTP 200");
    assert_eq!(res.headers()["content-type"], "application/grpc");
    assert_eq!(res.headers()["grpc-status"], "8");
    assert!(res.headers()["grpc-message"]
        .to_str()
        .unwrap()
        .contains("calls"));
    assert_eq!(res.headers()["grpc-retry-pushback-ms"], "500");
    use http_body::Body as _;
    assert!(res.body().is_end_stream(), "Trailers-Only: no body");
}

#[cfg(feature = "tonic")]
#[tokio::test]
async fn peer_ip_reads_tonic_tcp_connect_info() {
    let svc = ServiceBuilder::new()
        .layer(
            RateLimitLayer::builder()
                .policy(Policy::new("ip", PeerIp::new(), Quota::per_hour(1)).unwrap())
                .build()
                .unwrap(),
        )
        .service(ok_service());
    let req = |ip: &str| {
        let mut req = Request::new(Full::new(Bytes::new()));
        req.extensions_mut()
            .insert(tonic::transport::server::TcpConnectInfo {
                local_addr: Some("127.0.0.1:50051".parse().unwrap()),
                remote_addr: Some(ip.parse().unwrap()),
            });
        req
    };
    assert_eq!(
        svc.clone()
            .oneshot(req("[::ffff:192.0.2.9]:1"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // The mapped address and the plain IPv4 address are the same client.
    assert_eq!(
        svc.clone()
            .oneshot(req("192.0.2.9:2"))
            .await
            .unwrap()
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        svc.clone()
            .oneshot(req("192.0.2.10:2"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn partial_rejection_consumes_no_quota_from_other_policies() {
    let (_clock, store) = frozen();
    let svc = ServiceBuilder::new()
        .layer(
            RateLimitLayer::builder()
                .policy(Policy::new("ip", PeerIp::new(), Quota::per_minute(5)).unwrap())
                .policy(
                    Policy::new(
                        "key",
                        Header::new("x-api-key").unwrap(),
                        Quota::per_minute(1),
                    )
                    .unwrap(),
                )
                .store(store)
                .build()
                .unwrap(),
        )
        .service(ok_service());
    let with_key = |k: &'static str| {
        let mut r = req_from("198.51.100.7:9");
        r.headers_mut().insert("x-api-key", k.parse().unwrap());
        r
    };
    assert_eq!(
        svc.clone().oneshot(with_key("a")).await.unwrap().status(),
        StatusCode::OK
    );
    for _ in 0..20 {
        let res = svc.clone().oneshot(with_key("a")).await.unwrap();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let events = res.extensions().get::<SecurityEvents>().unwrap();
        assert_eq!(events.len(), 1, "only the key policy refused");
    }
    // The 20 refusals took nothing from the IP policy: 4 more keys pass.
    for k in ["b", "c", "d", "e"] {
        let res = svc.clone().oneshot(with_key(k)).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "key {k}");
    }
    let res = svc.clone().oneshot(with_key("f")).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let v = body_json(res).await;
    assert_eq!(v["violated-policies"], serde_json::json!(["ip"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_requests_let_exactly_the_burst_through() {
    let (_clock, store) = frozen();
    let svc = ServiceBuilder::new()
        .layer(
            RateLimitLayer::builder()
                .policy(Policy::new("all", Global, Quota::per_second(1).burst(100)).unwrap())
                .policy(Policy::new("ip", PeerIp::new(), Quota::per_second(1).burst(1000)).unwrap())
                .store(store)
                .build()
                .unwrap(),
        )
        .service(ok_service());
    let passed = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for t in 0..8 {
        let svc = svc.clone();
        let passed = passed.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..125 {
                let res = svc
                    .clone()
                    .oneshot(req_from(&format!("10.0.0.{t}:1")))
                    .await
                    .unwrap();
                if res.status() == StatusCode::OK {
                    passed.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(passed.load(Ordering::SeqCst), 100);
}

#[tokio::test]
async fn spoofed_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let (_clock, store) = frozen();
    let proxies = TrustedProxies::from_cidrs(["10.0.0.0/8"]).unwrap();
    let svc = ServiceBuilder::new()
        .layer(
            RateLimitLayer::builder()
                .policy(
                    Policy::new("client", ClientIp::new(proxies), Quota::per_minute(3)).unwrap(),
                )
                .store(store)
                .build()
                .unwrap(),
        )
        .service(ok_service());
    let mut ok = 0;
    for i in 0..10 {
        let mut req = req_from("203.0.113.50:40000");
        req.headers_mut()
            .insert("x-forwarded-for", format!("192.0.2.{i}").parse().unwrap());
        let res = svc.clone().oneshot(req).await.unwrap();
        if res.status() == StatusCode::OK {
            ok += 1;
        } else {
            let events = res.extensions().get::<SecurityEvents>().unwrap();
            match events.iter().next().unwrap() {
                SecurityEvent::RateLimited { key, .. } => assert_eq!(&**key, "203.0.113.50"),
                other => panic!("unexpected event {other:?}"),
            }
        }
    }
    assert_eq!(ok, 3, "keyed by the socket address, not the header");

    // Through a trusted proxy, the forwarded client is the key.
    let mut req = req_from("10.0.0.2:1");
    req.headers_mut()
        .insert("x-forwarded-for", "203.0.113.99".parse().unwrap());
    assert_eq!(
        svc.clone().oneshot(req).await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn ipv6_clients_cannot_rotate_through_their_prefix() {
    let (_clock, store) = frozen();
    let svc = ServiceBuilder::new()
        .layer(
            RateLimitLayer::builder()
                .policy(Policy::new("ip", PeerIp::new(), Quota::per_minute(2)).unwrap())
                .store(store)
                .build()
                .unwrap(),
        )
        .service(ok_service());
    let mut ok = 0;
    for i in 1..=10 {
        let res = svc
            .clone()
            .oneshot(req_from(&format!("[2001:db8:5:6::{i:x}]:443")))
            .await
            .unwrap();
        ok += usize::from(res.status() == StatusCode::OK);
    }
    assert_eq!(ok, 2);
}

#[tokio::test]
async fn shadow_mode_never_rejects_but_reports() {
    let (_clock, store) = frozen();
    let svc = ServiceBuilder::new()
        .layer(
            RateLimitLayer::builder()
                .policy(Policy::new("ip", PeerIp::new(), Quota::per_minute(1)).unwrap())
                .store(store)
                .shadow(true)
                .build()
                .unwrap(),
        )
        .service(ok_service());
    svc.clone().oneshot(req_from("192.0.2.1:1")).await.unwrap();
    let res = svc.clone().oneshot(req_from("192.0.2.1:1")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["ratelimit"], r#""ip";r=0;t=60"#);
    let events = res.extensions().get::<SecurityEvents>().unwrap();
    assert!(matches!(
        events.iter().next(),
        Some(SecurityEvent::RateLimited { shadow: true, .. })
    ));
}

#[tokio::test]
async fn missing_key_rejects_with_400_or_skips() {
    let build = |mode| {
        ServiceBuilder::new()
            .layer(
                RateLimitLayer::builder()
                    .policy(Policy::new("ip", PeerIp::new(), Quota::per_second(1)).unwrap())
                    .on_missing_key(mode)
                    .build()
                    .unwrap(),
            )
            .service(ok_service())
    };
    let res = build(MissingKey::Reject)
        .oneshot(Request::new(Full::new(Bytes::new())))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(matches!(
        res.extensions().get::<RateLimitRejection>(),
        Some(RateLimitRejection::MissingKey { policy, grpc: false, .. }) if &**policy == "ip"
    ));
    let v = body_json(res).await;
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.contains("`ip`") && detail.contains("ConnectInfo"),
        "{detail}"
    );
    let res = build(MissingKey::Skip)
        .oneshot(Request::new(Full::new(Bytes::new())))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// Issue #13 item 7: a request without the API-key header is never answered 5xx by
/// default, and cannot escape its limit either: it is counted against its client address.
#[tokio::test]
async fn missing_api_key_falls_back_to_the_client_address_never_5xx() {
    let (_clock, store) = frozen();
    let svc = ServiceBuilder::new()
        .layer(
            RateLimitLayer::builder()
                .policy(
                    Policy::new(
                        "api-key",
                        Header::new("x-api-key").unwrap(),
                        Quota::per_minute(2),
                    )
                    .unwrap(),
                )
                .store(store)
                .build()
                .unwrap(),
        )
        .service(ok_service());
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let res = svc
            .clone()
            .oneshot(req_from("203.0.113.5:1"))
            .await
            .unwrap();
        statuses.push(res.status());
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ],
        "keyless requests are counted against their address"
    );
    let res = svc
        .clone()
        .oneshot(req_from("203.0.113.5:1"))
        .await
        .unwrap();
    let events = res.extensions().get::<SecurityEvents>().unwrap();
    assert!(events.iter().any(|e| matches!(
        e,
        SecurityEvent::RateLimited { key, .. } if &**key == "203.0.113.5"
    )));
    // Another address, and the same address with a key, have their own quotas.
    let res = svc
        .clone()
        .oneshot(req_from("203.0.113.6:1"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut keyed = req_from("203.0.113.5:1");
    keyed
        .headers_mut()
        .insert("x-api-key", "k-1".parse().unwrap());
    assert_eq!(
        svc.clone().oneshot(keyed).await.unwrap().status(),
        StatusCode::OK
    );
    // No key and no address at all (a server that records no peer): still never 5xx,
    // and still limited (all such requests share one bucket).
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let res = svc
            .clone()
            .oneshot(Request::new(Full::new(Bytes::new())))
            .await
            .unwrap();
        assert!(!res.status().is_server_error(), "{}", res.status());
        statuses.push(res.status());
    }
    assert_eq!(statuses[2], StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn tiers_from_api_key_and_request_cost() {
    let (_clock, store) = frozen();
    let tiers = Tiers::preset()
        .resolve(|req| match req.headers().get("x-api-key")?.as_bytes() {
            b"broker-key" => Some("broker"),
            b"premium-key" => Some("premium"),
            _ => None,
        })
        .build()
        .unwrap();
    let svc = ServiceBuilder::new()
        .layer(
            RateLimitLayer::builder()
                .policy(
                    Policy::tiered("tier", Header::new("x-api-key").unwrap(), tiers)
                        .unwrap()
                        .cost(|req| {
                            if req.method() == http::Method::POST {
                                10
                            } else {
                                1
                            }
                        }),
                )
                .store(store)
                .build()
                .unwrap(),
        )
        .service(ok_service());
    let count = |key: &'static str, method: http::Method| {
        let svc = svc.clone();
        async move {
            let mut ok = 0;
            for _ in 0..2000 {
                let mut r = req_from("192.0.2.1:1");
                *r.method_mut() = method.clone();
                r.headers_mut().insert("x-api-key", key.parse().unwrap());
                ok += usize::from(svc.clone().oneshot(r).await.unwrap().status() == StatusCode::OK);
            }
            ok
        }
    };
    assert_eq!(
        count("unknown-key", http::Method::GET).await,
        20,
        "default tier standard"
    );
    assert_eq!(count("premium-key", http::Method::GET).await, 100);
    assert_eq!(count("broker-key", http::Method::GET).await, 1000);
    // A fresh key in the premium tier: POSTs cost 10 cells of a burst of 100.
    let mut ok = 0;
    for _ in 0..50 {
        let mut r = req_from("192.0.2.1:1");
        *r.method_mut() = http::Method::POST;
        r.headers_mut()
            .insert("x-api-key", "premium-key-2".parse().unwrap());
        ok += usize::from(svc.clone().oneshot(r).await.unwrap().status() == StatusCode::OK);
    }
    assert_eq!(
        ok, 2,
        "unknown key: standard tier burst 20 = two POSTs of 10"
    );
}

#[tokio::test]
async fn header_modes_and_redacted_events() {
    let (clock, store) = frozen();
    let svc = ServiceBuilder::new()
        .layer(
            RateLimitLayer::builder()
                .policy(
                    Policy::new(
                        "key",
                        Header::new("x-api-key").unwrap(),
                        Quota::per_second(2),
                    )
                    .unwrap(),
                )
                .store(store)
                .headers(RateLimitHeaders::IetfAndLegacy)
                .build()
                .unwrap(),
        )
        .service(ok_service());
    let req = || {
        let mut r = req_from("192.0.2.1:1");
        r.headers_mut()
            .insert("x-api-key", "sk_live_topsecret".parse().unwrap());
        r
    };
    let res = svc.clone().oneshot(req()).await.unwrap();
    assert_eq!(res.headers()["x-ratelimit-limit"], "2");
    assert_eq!(res.headers()["x-ratelimit-remaining"], "1");
    assert_eq!(res.headers()["x-ratelimit-reset"], "1");
    svc.clone().oneshot(req()).await.unwrap();
    let res = svc.clone().oneshot(req()).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["x-ratelimit-remaining"], "0");
    let events = res.extensions().get::<SecurityEvents>().unwrap();
    let SecurityEvent::RateLimited {
        key, retry_after, ..
    } = events.iter().next().unwrap()
    else {
        panic!("expected a rate-limit event")
    };
    assert!(
        key.starts_with("redacted:") && !key.contains("topsecret"),
        "{key}"
    );
    assert_eq!(*retry_after, Duration::from_millis(500));
    // Exactly one interval later, one request passes again.
    clock.advance(Duration::from_millis(500));
    assert_eq!(
        svc.clone().oneshot(req()).await.unwrap().status(),
        StatusCode::OK
    );

    let quiet = ServiceBuilder::new()
        .layer(
            RateLimitLayer::builder()
                .policy(Policy::new("g", Global, Quota::per_second(1)).unwrap())
                .headers(RateLimitHeaders::None)
                .build()
                .unwrap(),
        )
        .service(ok_service());
    let res = quiet.clone().oneshot(req()).await.unwrap();
    assert!(!res.headers().contains_key("ratelimit"));
    let res = quiet.clone().oneshot(req()).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        res.headers()["retry-after"],
        "1",
        "Retry-After is always sent"
    );
}

#[tokio::test]
async fn custom_responder_keeps_headers_and_events() {
    let svc = ServiceBuilder::new()
        .layer(
            RateLimitLayer::builder()
                .policy(Policy::new("g", Global, Quota::per_hour(1)).unwrap())
                .responder(|_r: &RateLimitRejection| {
                    let mut res = Response::new(Bytes::from_static(b"busy"));
                    *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                    res
                })
                .build()
                .unwrap(),
        )
        .service(ok_service());
    svc.clone().oneshot(req_from("192.0.2.1:1")).await.unwrap();
    let res = svc.clone().oneshot(req_from("192.0.2.1:1")).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["retry-after"], "3600");
    assert!(res.extensions().get::<SecurityEvents>().is_some());
    assert_eq!(
        &res.into_body().collect().await.unwrap().to_bytes()[..],
        b"busy"
    );
}

/// A store that always fails, as a Redis that went away would.
#[derive(Debug)]
struct BrokenStore;

impl RateLimitStore for BrokenStore {
    fn decide(
        &self,
        _cells: &[tower_fortify::rate_limit::store::Cell<'_>],
    ) -> tower_fortify::rate_limit::store::DecideFuture {
        tower_fortify::rate_limit::store::DecideFuture::pending(async {
            tokio::task::yield_now().await;
            Err(tower_fortify::rate_limit::store::StoreError::new(
                "test.store",
                "connection refused",
            ))
        })
    }

    fn peek(
        &self,
        cells: &[tower_fortify::rate_limit::store::Cell<'_>],
    ) -> tower_fortify::rate_limit::store::DecideFuture {
        self.decide(cells)
    }
}

#[tokio::test]
async fn store_failure_fails_open_or_closed_with_an_event() {
    for (mode, status) in [
        (OnStoreError::FailOpen, StatusCode::OK),
        (OnStoreError::FailClosed, StatusCode::SERVICE_UNAVAILABLE),
    ] {
        let svc = ServiceBuilder::new()
            .layer(
                RateLimitLayer::builder()
                    .policy(Policy::new("g", Global, Quota::per_second(1)).unwrap())
                    .store(BrokenStore)
                    .on_store_error(mode)
                    .build()
                    .unwrap(),
            )
            .service(ok_service());
        let res = svc.oneshot(req_from("192.0.2.1:1")).await.unwrap();
        assert_eq!(res.status(), status, "{mode:?}");
        let rejection = res.extensions().get::<RateLimitRejection>();
        match mode {
            OnStoreError::FailClosed => assert!(matches!(
                rejection,
                Some(RateLimitRejection::StoreUnavailable { .. })
            )),
            _ => assert!(
                rejection.is_none(),
                "an allowed request carries no rejection"
            ),
        }
        let events = res.extensions().get::<SecurityEvents>().unwrap();
        assert!(matches!(
            events.iter().next(),
            Some(SecurityEvent::BackendError {
                component: "rate_limit.store",
                ..
            })
        ));
    }
}

/// Every refused response carries its `RateLimitRejection` in the extensions, whatever
/// answers it: the default responder or a custom one.
#[tokio::test]
async fn refusals_carry_the_rejection_in_the_extensions() {
    let layer = |custom: bool| {
        let b = RateLimitLayer::builder()
            .policy(Policy::new("ip", PeerIp::new(), Quota::per_hour(1)).unwrap())
            .policy(Policy::new("g", Global, Quota::per_hour(100)).unwrap());
        let b = if custom {
            b.responder(|_: &RateLimitRejection| Response::new(Bytes::from_static(b"no")))
        } else {
            b
        };
        b.build().unwrap()
    };
    for custom in [false, true] {
        let svc = ServiceBuilder::new()
            .layer(layer(custom))
            .service(ok_service());
        let first = svc.clone().oneshot(req_from("192.0.2.9:1")).await.unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        assert!(first.extensions().get::<RateLimitRejection>().is_none());
        let res = svc.clone().oneshot(req_from("192.0.2.9:1")).await.unwrap();
        match res.extensions().get::<RateLimitRejection>() {
            Some(RateLimitRejection::Limited {
                policies,
                retry_after,
                exceeds_burst: false,
                grpc: false,
                ..
            }) => {
                assert_eq!(policies.len(), 1, "custom: {custom}");
                assert_eq!(&*policies[0], "ip");
                assert!(*retry_after > Duration::from_secs(3500));
            }
            other => panic!("custom: {custom}: {other:?}"),
        }
        assert_eq!(res.headers()["retry-after"], "3600");
    }
}

#[test]
fn configuration_errors_are_values() {
    assert!(RateLimitLayer::builder().build().is_err());
    let p = || Policy::new("same", Global, Quota::per_second(1)).unwrap();
    let err = RateLimitLayer::builder()
        .policy(p())
        .policy(p())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("same"));
    let mut b = RateLimitLayer::builder();
    for i in 0..17 {
        b = b.policy(Policy::new(&format!("p{i}"), Global, Quota::per_second(1)).unwrap());
    }
    assert!(b.build().is_err());
    assert!(Policy::new("huge", Global, Quota::per_day(1).burst(u32::MAX)).is_err());
}

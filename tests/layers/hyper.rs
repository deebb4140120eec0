//! Every guard layer inside a plain hyper 1 server (hyper-util's `TokioIo` and
//! `TowerToHyperService`, the peer inserted per connection as `PeerAddr`), called over
//! loopback with hyper-util's client.
#![cfg(all(
    feature = "rate-limit",
    feature = "security-headers",
    feature = "injection",
    feature = "metrics",
    feature = "notify"
))]

use std::{convert::Infallible, error::Error, net::SocketAddr, time::Duration};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_fortify::{
    cors::CorsLayer,
    injection::InjectionLayer,
    metrics::{ExpositionFormat, MetricsRegistry},
    notify::{ChannelSink, Notifier},
    proxy::PeerAddr,
    rate_limit::{
        store::{ManualClock, MemoryStore},
        PeerIp, Policy, Quota, RateLimitLayer,
    },
    security_headers::SecurityHeadersLayer,
    trusted_host::TrustedHostLayer,
};

type BoxError = Box<dyn Error + Send + Sync>;

/// A hyper server on an ephemeral loopback port; dropped or stopped, it stops accepting.
struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `service` the way a plain hyper application does: accept, insert the peer,
    /// hand the connection to hyper-util's HTTP/1 + HTTP/2 builder.
    async fn start<S, B>(service: S) -> Self
    where
        S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    accepted = listener.accept() => accepted.unwrap(),
                    _ = &mut stopped => return,
                };
                let service = service
                    .clone()
                    .map_request(move |mut req: Request<Incoming>| {
                        req.extensions_mut().insert(PeerAddr(peer));
                        req
                    });
                tokio::spawn(async move {
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                        .await;
                });
            }
        });
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap();
    }
}

fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn send(
    client: &Client<HttpConnector, Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> (StatusCode, HeaderMap, String) {
    let res = client.request(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

async fn get(server: &Server, path_and_query: &str) -> (StatusCode, HeaderMap, String) {
    send(
        &client(),
        Request::get(server.url(path_and_query))
            .body(Full::default())
            .unwrap(),
    )
    .await
}

/// `/fail` answers 502; anything else 200 with the body it was sent (or `hello`).
async fn echo<B>(req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible>
where
    B: Body<Data = Bytes>,
{
    let fail = req.uri().path() == "/fail";
    let body = match req.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => Bytes::from_static(b"unreadable"),
    };
    let body = if body.is_empty() {
        Bytes::from_static(b"hello")
    } else {
        body
    };
    let mut res = Response::new(Full::new(body));
    if fail {
        *res.status_mut() = StatusCode::BAD_GATEWAY;
    }
    Ok(res)
}

#[tokio::test]
async fn rate_limit_answers_429_with_its_headers_and_refills_with_the_clock() {
    let clock = ManualClock::new();
    let layer = RateLimitLayer::builder()
        .policy(Policy::new("ip", PeerIp::new(), Quota::per_minute(2)).unwrap())
        .store(MemoryStore::new().clock(clock.clone()))
        .build()
        .unwrap();
    let server = Server::start(ServiceBuilder::new().layer(layer).service_fn(echo)).await;

    for remaining in ["1", "0"] {
        let (status, headers, _) = get(&server, "/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            headers["ratelimit"]
                .to_str()
                .unwrap()
                .contains(&format!("r={remaining}")),
            "{headers:?}"
        );
    }
    let (status, headers, body) = get(&server, "/").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "30");
    assert_eq!(headers["ratelimit-policy"], r#""ip";q=2;w=60"#);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert!(body.contains("quota-exceeded"), "{body}");

    clock.advance(Duration::from_secs(29));
    assert_eq!(get(&server, "/").await.0, StatusCode::TOO_MANY_REQUESTS);
    clock.advance(Duration::from_secs(1));
    assert_eq!(get(&server, "/").await.0, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn security_headers_are_set_and_fingerprints_removed() {
    let app = ServiceBuilder::new()
        .layer(SecurityHeadersLayer::strict().build().unwrap())
        .service_fn(|_req: Request<Incoming>| async {
            let mut res = Response::new(Full::new(Bytes::from_static(b"hi")));
            res.headers_mut()
                .insert("x-powered-by", "leaky/1.0".parse().unwrap());
            Ok::<_, Infallible>(res)
        });
    let server = Server::start(app).await;
    let (status, headers, _) = get(&server, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src"));
    assert!(!headers.contains_key("x-powered-by"));
    // Plain HTTP, no trusted proxy: no HSTS.
    assert!(!headers.contains_key("strict-transport-security"));
    server.stop().await;
}

#[tokio::test]
async fn trusted_host_refuses_a_foreign_host_with_400() {
    let app = ServiceBuilder::new()
        .layer(
            TrustedHostLayer::builder(["127.0.0.1", "api.example.com"])
                .build()
                .unwrap(),
        )
        .service_fn(echo);
    let server = Server::start(app).await;
    // The client's own Host (127.0.0.1:port) is on the list.
    assert_eq!(get(&server, "/").await.0, StatusCode::OK);
    let with_host = |host: &str| {
        Request::get(server.url("/"))
            .header("host", host)
            .body(Full::default())
            .unwrap()
    };
    let (status, _, _) = send(&client(), with_host("API.example.com")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, _) = send(&client(), with_host("api.example.com.evil.net")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers["content-type"], "application/problem+json");
    server.stop().await;
}

#[tokio::test]
async fn cors_answers_a_preflight_from_an_allowed_origin_only() {
    let app = ServiceBuilder::new()
        .layer(
            CorsLayer::same_origin_api(["https://app.example.com"])
                .build()
                .unwrap(),
        )
        .service_fn(echo);
    let server = Server::start(app).await;
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri(server.url("/orders"))
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", "content-type")
            .body(Full::default())
            .unwrap()
    };
    let (status, headers, body) = send(&client(), preflight("https://app.example.com")).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert!(headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("PUT"));
    // Answered by the layer: the handler (which echoes `hello`) never ran.
    assert_eq!(body, "");

    let (_, headers, _) = send(&client(), preflight("https://evil.example")).await;
    assert!(!headers.contains_key("access-control-allow-origin"));
    server.stop().await;
}

#[tokio::test]
async fn injection_blocks_sqli_and_xss_and_passes_clean_bodies_unchanged() {
    let app = ServiceBuilder::new()
        .layer(InjectionLayer::builder().build().unwrap())
        .service_fn(echo);
    let server = Server::start(app).await;

    let (status, headers, body) = get(&server, "/items?id=1%27%20OR%20%271%27%3D%271").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert!(
        !body.contains("OR '1'"),
        "the payload is never echoed: {body}"
    );

    let post = |body: &'static str| {
        Request::post(server.url("/notes"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    };
    let (status, _, _) = send(
        &client(),
        post(r#"{"text":"<img src=x onerror=alert(1)>"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let clean = r#"{"text":"Meet at 5 o'clock; bring the select committee's notes"}"#;
    let (status, _, body) = send(&client(), post(clean)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, clean));
    server.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_and_refusals_by_outcome() {
    let metrics = MetricsRegistry::builder()
        .route_fn(|_, uri| Some(uri.path().to_owned().into()))
        .build()
        .unwrap();
    let limit = RateLimitLayer::builder()
        .policy(Policy::new("ip", PeerIp::new(), Quota::per_minute(2)).unwrap())
        .store(MemoryStore::new().clock(ManualClock::new()))
        .build()
        .unwrap();
    let app = ServiceBuilder::new()
        .layer(metrics.layer())
        .layer(limit)
        .service_fn(echo);
    let server = Server::start(app).await;
    for expected in [
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::TOO_MANY_REQUESTS,
    ] {
        assert_eq!(get(&server, "/a").await.0, expected);
    }

    // Recorded when the server-side body ends, which may be just after the client read it.
    let count = |text: &str, needle: &str| -> u64 {
        text.lines()
            .filter(|l| {
                l.starts_with("http_server_request_duration_seconds_count{") && l.contains(needle)
            })
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = metrics.render(ExpositionFormat::Prometheus);
        let ok = count(&text, r#"http_route="/a",http_response_status_code="200""#);
        let limited = count(&text, r#"outcome="rate_limited""#);
        if (ok, limited) == (2, 1) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "ok {ok}, rate_limited {limited}\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn notify_delivers_guard_events_and_5xx_to_a_channel_sink() {
    let (sink, mut received) = ChannelSink::bounded(16).unwrap();
    let notifier = Notifier::builder()
        .max_latency(Duration::from_millis(10))
        .sink("channel", sink)
        .build()
        .unwrap();
    let limit = RateLimitLayer::builder()
        .policy(Policy::new("ip", PeerIp::new(), Quota::per_minute(1)).unwrap())
        .store(MemoryStore::new().clock(ManualClock::new()))
        .build()
        .unwrap();
    let app = ServiceBuilder::new()
        .layer(notifier.layer())
        .layer(limit)
        .service_fn(echo);
    let server = Server::start(app).await;
    assert_eq!(get(&server, "/fail").await.0, StatusCode::BAD_GATEWAY);
    let (status, _, _) = get(&server, "/fail").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    server.stop().await;

    let report = notifier.shutdown(Duration::from_secs(10)).await;
    assert!(report.completed_before_deadline);
    assert_eq!(report.stats.sink("channel").unwrap().delivered, 2);
    let mut kinds = Vec::new();
    let mut peers = Vec::new();
    while let Some(batch) = received.try_recv() {
        for n in batch.notifications() {
            kinds.push(n.kind().as_str().to_owned());
            peers.extend(
                n.fields()
                    .values()
                    .filter_map(|v| v.as_str())
                    .map(String::from),
            );
        }
    }
    kinds.sort();
    assert_eq!(kinds, ["rate_limited", "server_error"]);
    // The peer the server inserted is what the notification names.
    assert!(peers.iter().any(|v| v.contains("127.0.0.1")), "{peers:?}");
}

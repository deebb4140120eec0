//! Drives `examples/hyper_server.rs` through its `app()` and `serve()` on ephemeral ports,
//! with hyper-util's client.
#![cfg(all(
    feature = "rate-limit",
    feature = "security-headers",
    feature = "injection",
    feature = "metrics",
    feature = "monitoring",
    feature = "notify"
))]

#[allow(dead_code)]
#[path = "../../examples/hyper_server.rs"]
mod example;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tower_fortify::{
    notify::{ChannelReceiver, ChannelSink, Notifier},
    rate_limit::{
        store::{ManualClock, MemoryStore},
        Quota,
    },
};

const TOKEN: &str = "example-admin-token-0123456789ab";
const ORIGIN: &str = "http://localhost:5173";

struct Running {
    public: SocketAddr,
    admin: SocketAddr,
    clock: ManualClock,
    notifier: Notifier,
    received: ChannelReceiver,
    client: Client<HttpConnector, Full<Bytes>>,
    stop: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
}

async fn start(per_ip: Quota) -> Running {
    let clock = ManualClock::new();
    let (sink, received) = ChannelSink::bounded(64).unwrap();
    let app = example::app(example::Settings {
        admin_token: TOKEN.to_owned(),
        hosts: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
        origins: vec![ORIGIN.to_owned()],
        per_ip,
        store: MemoryStore::new().clock(clock.clone()),
        sink: Arc::new(sink),
    })
    .unwrap();
    let public_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (public, admin) = (
        public_listener.local_addr().unwrap(),
        admin_listener.local_addr().unwrap(),
    );
    let (stop_public, public_stopped) = oneshot::channel::<()>();
    let (stop_admin, admin_stopped) = oneshot::channel::<()>();
    let tasks = vec![
        tokio::spawn(example::serve(public_listener, app.public, async {
            let _ = public_stopped.await;
        })),
        tokio::spawn(example::serve(admin_listener, app.admin, async {
            let _ = admin_stopped.await;
        })),
    ];
    Running {
        public,
        admin,
        clock,
        notifier: app.notifier,
        received,
        client: Client::builder(TokioExecutor::new()).build_http(),
        stop: vec![stop_public, stop_admin],
        tasks,
    }
}

impl Running {
    async fn send(&self, req: Request<Full<Bytes>>) -> (StatusCode, HeaderMap, String) {
        let res = self.client.request(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (
            parts.status,
            parts.headers,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    async fn get(&self, path_and_query: &str) -> (StatusCode, HeaderMap, String) {
        self.send(
            Request::get(format!("http://{}{path_and_query}", self.public))
                .body(Full::default())
                .unwrap(),
        )
        .await
    }

    /// `/metrics` from the admin port once every line in `needles` has a
    /// `http_server_request_duration_seconds_count` series. The server records a request
    /// when its response body ends, which may be a moment after the client has read it:
    /// wait (bounded) for it.
    async fn wait_for_series(&self, needles: &[&str]) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let metrics = self.admin_metrics().await;
            let missing: Vec<_> = needles
                .iter()
                .filter(|needle| {
                    !metrics.lines().any(|l| {
                        l.starts_with("http_server_request_duration_seconds_count{")
                            && l.contains(**needle)
                    })
                })
                .collect();
            if missing.is_empty() {
                return metrics;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{missing:?} missing from\n{metrics}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn admin_metrics(&self) -> String {
        let (status, _, body) = self
            .send(
                Request::get(format!("http://{}/metrics", self.admin))
                    .header("authorization", format!("Bearer {TOKEN}"))
                    .body(Full::default())
                    .unwrap(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Stops both ports, drains the notifier and returns the kinds it delivered, sorted,
    /// each once.
    async fn stop(mut self) -> Vec<String> {
        for stop in self.stop.drain(..) {
            let _ = stop.send(());
        }
        for task in self.tasks.drain(..) {
            task.await.unwrap();
        }
        let report = self.notifier.shutdown(Duration::from_secs(10)).await;
        assert!(report.completed_before_deadline);
        let mut kinds = Vec::new();
        while let Some(batch) = self.received.try_recv() {
            kinds.extend(
                batch
                    .notifications()
                    .iter()
                    .map(|n| n.kind().as_str().to_owned()),
            );
        }
        kinds.sort();
        kinds.dedup();
        kinds
    }
}

fn assert_security_headers(headers: &HeaderMap) {
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers.contains_key("content-security-policy"));
}

#[tokio::test]
async fn every_guard_answers_through_plain_hyper() {
    let server = start(Quota::per_minute(60).burst(50)).await;

    let (status, headers, body) = server.get("/quote?symbol=ACME").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.starts_with(r#"{"symbol":"ACME","price":"#), "{body}");
    assert_security_headers(&headers);
    assert!(headers.contains_key("ratelimit"));

    // The JSON body reaches the handler byte for byte after the injection layer read it.
    let note = r#"{"note":"two pounds of coffee"}"#;
    let (status, _, body) = server
        .send(
            Request::post(format!("http://{}/echo", server.public))
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from_static(note.as_bytes())))
                .unwrap(),
        )
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, note));

    let (status, headers, body) = server.get("/quote?symbol=1%27%20OR%20%271%27%3D%271").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_security_headers(&headers);
    let (status, _, _) = server
        .send(
            Request::post(format!("http://{}/echo", server.public))
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from_static(
                    br#"{"note":"<script>alert(1)</script>"}"#,
                )))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, headers, _) = server
        .send(
            Request::get(format!("http://{}/", server.public))
                .header("host", "evil.example")
                .body(Full::default())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_security_headers(&headers);

    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri(format!("http://{}/echo", server.public))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .body(Full::default())
            .unwrap()
    };
    let (status, headers, _) = server.send(preflight(ORIGIN)).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    let (_, headers, _) = server.send(preflight("https://evil.example")).await;
    assert!(!headers.contains_key("access-control-allow-origin"));

    let (status, _, _) = server.get("/nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    server
        .wait_for_series(&[
            r#"http_route="/quote",http_response_status_code="200""#,
            r#"outcome="injection_blocked""#,
            r#"outcome="untrusted_host""#,
        ])
        .await;

    let kinds = server.stop().await;
    assert_eq!(kinds, ["injection_detected", "untrusted_host"]);
}

#[tokio::test]
async fn the_rate_limit_is_per_peer_address_and_refills_with_time() {
    let server = start(Quota::per_minute(2)).await;
    for _ in 0..2 {
        let (status, _, _) = server.get("/").await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, headers, body) = server.get("/").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(headers["retry-after"], "30");
    assert_eq!(headers["ratelimit-policy"], r#""per-ip";q=2;w=60"#);
    assert_security_headers(&headers);

    // Another peer address (127.0.0.2 is loopback too): its own quota, because the
    // server inserted each connection's peer.
    let mut connector = HttpConnector::new();
    connector.set_local_address(Some("127.0.0.2".parse().unwrap()));
    let other = Client::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(connector);
    let res = other
        .get(format!("http://{}/", server.public).parse().unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    server.clock.advance(Duration::from_secs(30));
    let (status, _, _) = server.get("/").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = server.get("/").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    server.wait_for_series(&[r#"outcome="rate_limited""#]).await;
    let kinds = server.stop().await;
    assert_eq!(kinds, ["rate_limited"]);
}

//! Drives `examples/tonic_grpc.rs` through its `app()` on ephemeral ports, with tonic's own
//! client (`tonic-health`'s `HealthClient` over a `Channel`) and the admin port over HTTP/1.1.
#![cfg(all(
    feature = "rate-limit",
    feature = "security-headers",
    feature = "injection",
    feature = "metrics",
    feature = "monitoring",
    feature = "notify",
    feature = "tonic"
))]

#[allow(dead_code)]
#[path = "../../examples/tonic_grpc.rs"]
mod example;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::{
    metadata::MetadataValue,
    transport::{Channel, Endpoint},
    Code,
};
use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};
use tower_fortify::{
    notify::{ChannelReceiver, ChannelSink, Notifier},
    rate_limit::{
        store::{ManualClock, MemoryStore},
        Quota,
    },
};

const TOKEN: &str = "example-admin-token-0123456789ab";

struct Running {
    grpc: SocketAddr,
    admin: SocketAddr,
    clock: ManualClock,
    notifier: Notifier,
    received: ChannelReceiver,
    stop: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<Result<(), tonic::transport::Error>>>,
}

/// The example's app on two ephemeral ports, its rate limiter on a manual clock, its
/// notifications going to a channel.
async fn start(per_ip: Quota) -> Running {
    let clock = ManualClock::new();
    let (sink, received) = ChannelSink::bounded(64).unwrap();
    let app = example::app(example::Settings {
        admin_token: TOKEN.to_owned(),
        hosts: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
        per_ip,
        store: MemoryStore::new().clock(clock.clone()),
        sink: Arc::new(sink),
    })
    .await
    .unwrap();
    let grpc_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (grpc, admin) = (
        grpc_listener.local_addr().unwrap(),
        admin_listener.local_addr().unwrap(),
    );
    let (stop_grpc, grpc_stopped) = oneshot::channel::<()>();
    let (stop_admin, admin_stopped) = oneshot::channel::<()>();
    let tasks = vec![
        tokio::spawn(example::serve_grpc(grpc_listener, app.grpc, async {
            let _ = grpc_stopped.await;
        })),
        tokio::spawn(example::serve_admin(admin_listener, app.admin, async {
            let _ = admin_stopped.await;
        })),
    ];
    Running {
        grpc,
        admin,
        clock,
        notifier: app.notifier,
        received,
        stop: vec![stop_grpc, stop_admin],
        tasks,
    }
}

impl Running {
    async fn channel(&self) -> Channel {
        Endpoint::from_shared(format!("http://{}", self.grpc))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    async fn client(&self) -> HealthClient<Channel> {
        HealthClient::new(self.channel().await)
    }

    /// `GET` on the admin port with the token: status and body.
    async fn admin_get(&self, path: &str) -> (StatusCode, String) {
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let req = Request::get(format!("http://{}{path}", self.admin))
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Empty::new())
            .unwrap();
        let res = client.request(req).await.unwrap();
        let status = res.status();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    /// Calls counted under `rpc_grpc_status_code="{code}"`, as `/metrics` shows them.
    async fn calls_with_status(&self, code: u8) -> u64 {
        let (status, text) = self.admin_get("/metrics").await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let label = format!(r#"rpc_grpc_status_code="{code}""#);
        text.lines()
            .filter(|l| {
                l.starts_with("rpc_server_call_duration_seconds_count{")
                    && l.contains(&label)
                    && l.contains(r#"rpc_method="grpc.health.v1.Health/Check""#)
            })
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum()
    }

    /// The server records a call when its response body ends, which may be a moment after
    /// the client has read the status: wait (bounded) for the expected counts.
    async fn wait_for_counts(&self, expected: &[(u8, u64)]) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let mut seen = Vec::new();
            for &(code, _) in expected {
                seen.push((code, self.calls_with_status(code).await));
            }
            if seen == expected {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                let (_, text) = self.admin_get("/metrics").await;
                panic!("expected {expected:?}, saw {seen:?}\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops both ports, drains the notifier and returns the kinds it delivered, sorted,
    /// each once.
    async fn stop(mut self) -> Vec<String> {
        for stop in self.stop.drain(..) {
            let _ = stop.send(());
        }
        for task in self.tasks.drain(..) {
            task.await.unwrap().unwrap();
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

fn check(service: &str) -> tonic::Request<HealthCheckRequest> {
    tonic::Request::new(HealthCheckRequest {
        service: service.to_owned(),
    })
}

#[tokio::test]
async fn calls_within_the_burst_succeed_and_the_next_is_resource_exhausted_with_pushback() {
    let server = start(Quota::per_second(1).burst(3)).await;
    let mut client = server.client().await;
    for service in ["", example::QUOTES_SERVICE, ""] {
        let res = client.check(check(service)).await.unwrap();
        assert_eq!(res.get_ref().status(), ServingStatus::Serving);
    }
    let status = client.check(check("")).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(
        status.metadata().get("grpc-retry-pushback-ms").unwrap(),
        "1000"
    );

    // Not one more call until the quota refills; then exactly one.
    server.clock.advance(Duration::from_millis(999));
    let status = client.check(check("")).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    server.clock.advance(Duration::from_millis(1));
    client.check(check("")).await.unwrap();
    let status = client.check(check("")).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);

    // A service the health server does not know: its own NOT_FOUND, not a guard's.
    server.clock.advance(Duration::from_secs(1));
    let status = client.check(check("unknown.v1.Nope")).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    let kinds = server.stop().await;
    assert_eq!(kinds, ["rate_limited"]);
}

#[tokio::test]
async fn injection_in_metadata_is_permission_denied() {
    let server = start(Quota::per_second(100).burst(100)).await;
    let mut client = server.client().await;

    let mut benign = check("");
    benign
        .metadata_mut()
        .insert("x-customer", MetadataValue::from_static("O'Brien & Sons"));
    client.check(benign).await.unwrap();

    for (name, value) in [
        ("x-customer", "1' OR '1'='1"),
        ("x-note", "<script>alert(document.cookie)</script>"),
        ("x-file", "../../../../etc/passwd"),
    ] {
        let mut attack = check("");
        attack
            .metadata_mut()
            .insert(name, MetadataValue::try_from(value).unwrap());
        let status = client.check(attack).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{name}: {status:?}");
    }
    // The connection is still good after refusals.
    client.check(check("")).await.unwrap();

    let kinds = server.stop().await;
    assert_eq!(kinds, ["injection_detected"]);
}

#[tokio::test]
async fn a_foreign_authority_is_invalid_argument() {
    let server = start(Quota::per_second(100).burst(100)).await;
    let endpoint = |origin: String| {
        Endpoint::from_shared(format!("http://{}", server.grpc))
            .unwrap()
            .origin(origin.parse().unwrap())
    };

    let foreign = endpoint("http://evil.example".to_owned());
    let mut client = HealthClient::new(foreign.connect().await.unwrap());
    let status = client.check(check("")).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    // `localhost` is on the list, on any port.
    let local = endpoint(format!("http://localhost:{}", server.grpc.port()));
    let mut client = HealthClient::new(local.connect().await.unwrap());
    client.check(check("")).await.unwrap();

    let kinds = server.stop().await;
    assert_eq!(kinds, ["untrusted_host"]);
}

#[tokio::test]
async fn metrics_on_the_admin_port_count_each_grpc_status_code() {
    let server = start(Quota::per_second(1).burst(2)).await;
    let mut client = server.client().await;
    client.check(check("")).await.unwrap();
    client.check(check("")).await.unwrap();
    let status = client.check(check("")).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);

    server.clock.advance(Duration::from_secs(1));
    let mut attack = check("");
    attack
        .metadata_mut()
        .insert("x-customer", MetadataValue::from_static("1' OR '1'='1"));
    let status = client.check(attack).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    let foreign = Endpoint::from_shared(format!("http://{}", server.grpc))
        .unwrap()
        .origin("http://evil.example".parse().unwrap());
    let status = HealthClient::new(foreign.connect().await.unwrap())
        .check(check(""))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);

    // OK 0, INVALID_ARGUMENT 3, PERMISSION_DENIED 7, RESOURCE_EXHAUSTED 8.
    server
        .wait_for_counts(&[(0, 2), (3, 1), (7, 1), (8, 1)])
        .await;

    // The admin port needs its token.
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let res = client
        .get(format!("http://{}/metrics", server.admin).parse().unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (status, stats) = server.admin_get("/notify/stats").await;
    assert_eq!(status, StatusCode::OK, "{stats}");

    let kinds = server.stop().await;
    assert_eq!(
        kinds,
        ["injection_detected", "rate_limited", "untrusted_host"]
    );
}

//! A tonic gRPC server behind the guard layers: per-client rate limiting answered with
//! `RESOURCE_EXHAUSTED` and a retry pushback, metrics labelled with gRPC status codes,
//! injection checks on metadata, and a trusted-host check on `:authority`.
//!
//! Run with
//!
//! ```sh
//! cargo run --example tonic_grpc --features tonic
//! ADDR=127.0.0.1:3000 ADMIN_ADDR=127.0.0.1:3001 ADMIN_TOKEN=my-long-random-admin-token \
//!     cargo run --example tonic_grpc --features tonic
//! ```
//!
//! then, in another terminal, let the example's own tonic client try every guard, and look
//! at the metrics:
//!
//! ```sh
//! cargo run --example tonic_grpc --features tonic -- client
//! curl -s -H "Authorization: Bearer $ADMIN_TOKEN" localhost:3001/metrics | grep rpc_server_call_duration_seconds_count
//! ```
//!
//! The service is `grpc.health.v1.Health` from `tonic-health`, whose generated code ships
//! in that crate: no `protoc` at build time. Any tonic service is guarded the same way.
//!
//! Every layer answers a gRPC call in gRPC terms (HTTP 200, Trailers-Only, `grpc-status`),
//! because the crate recognises `content-type: application/grpc`:
//!
//! | guard | gRPC status |
//! |---|---|
//! | rate limit (per client address, from tonic's `TcpConnectInfo`) | `RESOURCE_EXHAUSTED` (8) with `grpc-retry-pushback-ms` |
//! | injection in the path or metadata | `PERMISSION_DENIED` (7) |
//! | `:authority` not in `ALLOWED_HOSTS` (default `localhost,127.0.0.1,[::1]`) | `INVALID_ARGUMENT` (3) |
//!
//! The admin port (`ADMIN_ADDR`, HTTP/1.1 for curl) serves the monitoring service:
//! `/metrics` (`rpc_server_call_duration_seconds` by `rpc_method` and
//! `rpc_grpc_status_code`), `/dashboard`, `/health`, `/notify/stats`. Notifications are
//! printed in batches; Ctrl-C stops both ports, drains the notifier and prints its report.

use std::{convert::Infallible, error::Error, future::Future, sync::Arc, time::Duration};

use http::{Request, Response};
use rand::{distr::Alphanumeric, Rng};
use tokio::net::TcpListener;
use tonic::{
    body::Body as GrpcBody,
    metadata::MetadataValue,
    service::Routes,
    transport::{server::TcpIncoming, Endpoint, Server},
    Code,
};
use tonic_health::{
    pb::{health_client::HealthClient, HealthCheckRequest},
    ServingStatus,
};
use tower::{util::BoxCloneService, ServiceBuilder};
use tower_fortify::{
    injection::InjectionLayer,
    metrics::MetricsRegistry,
    monitoring::MonitoringService,
    notify::{Batch, Notifier, NotifyExtension, Sink, SinkFuture},
    rate_limit::{store::MemoryStore, PeerIp, Policy, Quota, RateLimitLayer},
    trusted_host::TrustedHostLayer,
    ConfigError,
};

/// The guarded gRPC service, with one boxed type.
pub(crate) type GrpcService = BoxCloneService<Request<GrpcBody>, Response<GrpcBody>, Infallible>;

/// The name under which the example reports a second service's health.
pub(crate) const QUOTES_SERVICE: &str = "quotes.v1.Quotes";

/// What the app is built from; [`Settings::from_env`] is what `main` uses.
pub(crate) struct Settings {
    /// The bearer token of the admin port.
    pub(crate) admin_token: String,
    /// Trusted `:authority` values (patterns of the trusted-host layer).
    pub(crate) hosts: Vec<String>,
    /// The quota of each client address.
    pub(crate) per_ip: Quota,
    /// Where the rate limiter keeps its counters (tests give it a manual clock).
    pub(crate) store: MemoryStore,
    /// Where notifications go.
    pub(crate) sink: Arc<dyn Sink>,
}

impl Settings {
    /// Settings from `ALLOWED_HOSTS`, 5 calls per second per client with bursts of 10,
    /// notifications printed on stdout.
    pub(crate) fn from_env(admin_token: String) -> Self {
        let hosts = std::env::var("ALLOWED_HOSTS")
            .unwrap_or_else(|_| "localhost,127.0.0.1,[::1]".to_owned())
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        Self {
            admin_token,
            hosts,
            per_ip: Quota::per_second(5).burst(10),
            store: MemoryStore::new(),
            sink: Arc::new(PrintSink),
        }
    }
}

/// The app: the guarded gRPC service, the admin (monitoring) service and the notifier.
pub(crate) struct App {
    /// Serve this on the gRPC port.
    pub(crate) grpc: GrpcService,
    /// Serve this on the admin port.
    pub(crate) admin: MonitoringService,
    /// Drain it on exit with [`Notifier::shutdown`].
    pub(crate) notifier: Notifier,
}

/// Builds the layers in the recommended order (outermost first) around the tonic routes.
pub(crate) async fn app(settings: Settings) -> Result<App, ConfigError> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(QUOTES_SERVICE, ServingStatus::Serving)
        .await;

    // gRPC calls are recorded as `rpc.server.call.duration`, labelled with the method from
    // the path (`grpc.health.v1.Health/Check`) and the `grpc-status` of the response,
    // whether it came from the service (in the trailers) or from a guard layer.
    let metrics = MetricsRegistry::builder().build()?;
    let notifier = Notifier::builder()
        .max_latency(Duration::from_millis(500))
        .shared_sink("stdout", settings.sink)
        .build()?;
    // Keyed by the TCP peer, which tonic's server puts in every request
    // (`TcpConnectInfo`, read with the crate's `tonic` feature).
    let rate_limit = RateLimitLayer::builder()
        .policy(Policy::new("per-ip", PeerIp::new(), settings.per_ip)?)
        .store(settings.store)
        .build()?;
    // The path and the metadata (HTTP/2 headers) of every call are inspected. The body of
    // a call to a declared gRPC route is binary protobuf: it is neither buffered nor read as
    // text (so streaming calls stream), and the service validates the string fields of its
    // own messages. A request that merely claims `application/grpc` on any other route has
    // its body inspected like any other.
    let injection = InjectionLayer::builder()
        .grpc_routes(["/grpc.health.v1.Health/"])
        .build()?;

    let grpc = ServiceBuilder::new()
        .map_response(|res: Response<_>| res.map(GrpcBody::new))
        .layer(metrics.layer())
        .layer(notifier.layer())
        .layer(TrustedHostLayer::builder(settings.hosts).build()?)
        .layer(rate_limit)
        .layer(injection)
        .service(Routes::new(health));

    let admin = MonitoringService::builder()
        .bearer_token(settings.admin_token)
        .metrics(metrics)
        .extension(NotifyExtension::new(&notifier))
        .build()?;

    Ok(App {
        grpc: BoxCloneService::new(grpc),
        admin,
        notifier,
    })
}

/// Serves the gRPC service on `listener` with tonic's server until `shutdown` completes.
pub(crate) async fn serve_grpc(
    listener: TcpListener,
    grpc: GrpcService,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    Server::builder()
        .serve_with_incoming_shutdown(grpc, TcpIncoming::from(listener), shutdown)
        .await
}

/// Serves the monitoring service on `listener`, also with tonic's server, HTTP/1.1
/// accepted so curl and Prometheus can read it.
pub(crate) async fn serve_admin(
    listener: TcpListener,
    admin: MonitoringService,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    Server::builder()
        .accept_http1(true)
        .serve_with_incoming_shutdown(admin, TcpIncoming::from(listener), shutdown)
        .await
}

/// Prints each notification on one line; a real deployment uses `WebhookSink` or its own
/// [`Sink`].
struct PrintSink;

impl Sink for PrintSink {
    fn send<'a>(&'a self, batch: &'a Batch) -> SinkFuture<'a> {
        for n in batch.notifications() {
            println!(
                "notification: {} {:?} x{}: {}",
                n.kind().as_str(),
                n.priority(),
                n.occurrences(),
                n.title()
            );
        }
        Box::pin(async { Ok(()) })
    }
}

/// `-- client`: calls the running server with tonic's client and prints what each guard
/// answered.
async fn client(addr: &str) -> Result<(), Box<dyn Error>> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))?;
    let mut health = HealthClient::new(endpoint.connect().await?);
    let check = |service: &str| {
        tonic::Request::new(HealthCheckRequest {
            service: service.to_owned(),
        })
    };

    for i in 1..=30 {
        match health.check(check(QUOTES_SERVICE)).await {
            Ok(res) => println!("call {i}: OK, status {:?}", res.get_ref().status()),
            Err(status) => {
                let pushback = status
                    .metadata()
                    .get("grpc-retry-pushback-ms")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                println!(
                    "call {i}: {:?} ({}), retry pushback {pushback} ms",
                    status.code(),
                    status.message()
                );
                if status.code() == Code::ResourceExhausted {
                    break;
                }
            }
        }
    }
    let pause = Duration::from_secs(1);
    println!("waiting {pause:?} for the quota to refill");
    tokio::time::sleep(pause).await;

    let mut injected = check(QUOTES_SERVICE);
    injected
        .metadata_mut()
        .insert("x-customer", MetadataValue::from_static("1' OR '1'='1"));
    match health.check(injected).await {
        Ok(_) => println!("SQL injection in metadata: OK (not blocked?)"),
        Err(status) => println!("SQL injection in metadata: {:?}", status.code()),
    }

    let foreign = endpoint.origin("http://evil.example".parse()?);
    let mut foreign = HealthClient::new(foreign.connect().await?);
    match foreign.check(check("")).await {
        Ok(_) => println!(":authority evil.example: OK (not refused?)"),
        Err(status) => println!(":authority evil.example: {:?}", status.code()),
    }
    Ok(())
}

fn admin_token() -> String {
    match std::env::var("ADMIN_TOKEN") {
        Ok(token) => token,
        Err(_) => {
            let token: String = rand::rng()
                .sample_iter(Alphanumeric)
                .take(32)
                .map(char::from)
                .collect();
            println!("ADMIN_TOKEN not set; generated one for this run:");
            println!("    export ADMIN_TOKEN={token}");
            token
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    if std::env::args().nth(1).as_deref() == Some("client") {
        return client(&addr).await;
    }
    let admin_addr = std::env::var("ADMIN_ADDR").unwrap_or_else(|_| "127.0.0.1:3001".to_owned());
    let app = app(Settings::from_env(admin_token())).await?;

    let grpc = TcpListener::bind(&addr).await?;
    let admin = TcpListener::bind(&admin_addr).await?;
    let (grpc_at, admin_at) = (grpc.local_addr()?, admin.local_addr()?);
    println!("gRPC on http://{grpc_at} (grpc.health.v1.Health), admin on http://{admin_at} (Ctrl-C to stop)");
    println!("try:");
    println!("  ADDR={grpc_at} cargo run --example tonic_grpc --features tonic -- client");
    println!("  curl -s -H \"Authorization: Bearer $ADMIN_TOKEN\" http://{admin_at}/metrics | grep rpc_server");
    println!("  curl -s -H \"Authorization: Bearer $ADMIN_TOKEN\" http://{admin_at}/notify/stats");
    println!("  curl -s -H \"Authorization: Bearer $ADMIN_TOKEN\" http://{admin_at}/dashboard");

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let grpc_task = tokio::spawn(serve_grpc(grpc, app.grpc, until_stopped(stopped.clone())));
    let admin_task = tokio::spawn(serve_admin(admin, app.admin, until_stopped(stopped)));

    tokio::signal::ctrl_c().await?;
    println!("shutting down: finishing open calls");
    let _ = stop.send(true);
    let (grpc_done, admin_done) = tokio::join!(grpc_task, admin_task);
    for done in [grpc_done, admin_done] {
        if let Ok(Err(err)) = done {
            eprintln!("server error: {err}");
        }
    }
    // Deliver what is queued; a runtime that stops would cancel the notifier's worker.
    let report = app.notifier.shutdown(Duration::from_secs(5)).await;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

//! Every guard layer over plain hyper 1 and hyper-util, no framework: how to hand the
//! peer address to the layers, and the monitoring service on its own admin port.
//!
//! Run with
//!
//! ```sh
//! cargo run --example hyper_server
//! ADDR=127.0.0.1:3000 ADMIN_ADDR=127.0.0.1:3001 ADMIN_TOKEN=my-long-random-admin-token \
//!     cargo run --example hyper_server
//! ```
//!
//! (the default features are all it needs), then try
//!
//! ```sh
//! curl -i 'localhost:3000/quote?symbol=ACME'                              # 200, security headers
//! curl -i 'localhost:3000/quote?symbol=1%27%20OR%20%271%27%3D%271'        # 403, SQL injection
//! curl -i -H 'content-type: application/json' -d '{"note":"<script>alert(1)</script>"}' localhost:3000/echo  # 403, XSS
//! curl -i -H 'Host: evil.example' localhost:3000/                         # 400, untrusted host
//! curl -i -X OPTIONS -H 'Origin: http://localhost:5173' \
//!     -H 'Access-Control-Request-Method: POST' localhost:3000/echo        # CORS preflight
//! for i in $(seq 25); do curl -s -o /dev/null -w '%{http_code} ' localhost:3000/; done  # 429s
//! curl -s -H "Authorization: Bearer $ADMIN_TOKEN" localhost:3001/metrics
//! curl -s -H "Authorization: Bearer $ADMIN_TOKEN" localhost:3001/notify/stats
//! ```
//!
//! Hyper gives the service only the request, so the accept loop inserts the TCP peer as
//! a [`PeerAddr`] request extension for each connection; the rate limiter ([`PeerIp`]) and
//! the notifications read it from there. `ALLOWED_HOSTS` and `ALLOWED_ORIGINS` (comma
//! separated) replace the default trusted hosts (`localhost,127.0.0.1,[::1]`, any port) and
//! CORS origins (`http://localhost:5173`). Notifications (rate limits, injections, foreign
//! hosts, 5xx) are printed in batches. Ctrl-C stops accepting, lets open requests finish,
//! drains the notifier and prints its report.

use std::{
    convert::Infallible, error::Error, future::Future, net::SocketAddr, sync::Arc, time::Duration,
};

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use rand::{distr::Alphanumeric, Rng};
use tokio::net::TcpListener;
use tower::{util::BoxCloneService, Service, ServiceBuilder, ServiceExt};
use tower_fortify::{
    cors::CorsLayer,
    injection::{InjectionLayer, InspectedBody, OversizedBody},
    metrics::MetricsRegistry,
    monitoring::MonitoringService,
    notify::{Batch, Notifier, NotifyExtension, Sink, SinkFuture},
    proxy::PeerAddr,
    rate_limit::{store::MemoryStore, PeerIp, Policy, Quota, RateLimitLayer},
    security_headers::SecurityHeadersLayer,
    trusted_host::TrustedHostLayer,
    ConfigError,
};

/// Errors of the response bodies, boxed.
pub(crate) type BoxError = Box<dyn Error + Send + Sync>;

/// The public service: every guard layer around the handler, with one boxed type.
pub(crate) type PublicService =
    BoxCloneService<Request<Incoming>, Response<UnsyncBoxBody<Bytes, BoxError>>, Infallible>;

/// What the app is built from; [`Settings::from_env`] is what `main` uses.
pub(crate) struct Settings {
    /// The bearer token of the admin port.
    pub(crate) admin_token: String,
    /// Trusted `Host` values (patterns of the trusted-host layer).
    pub(crate) hosts: Vec<String>,
    /// Origins whose scripts may call the API with credentials.
    pub(crate) origins: Vec<String>,
    /// The quota of each client address.
    pub(crate) per_ip: Quota,
    /// Where the rate limiter keeps its counters (tests give it a manual clock).
    pub(crate) store: MemoryStore,
    /// Where notifications go.
    pub(crate) sink: Arc<dyn Sink>,
}

impl Settings {
    /// Settings from `ALLOWED_HOSTS` and `ALLOWED_ORIGINS`, 5 requests per second per
    /// client with bursts of 10, notifications printed on stdout.
    pub(crate) fn from_env(admin_token: String) -> Self {
        let list = |name: &str, default: &str| -> Vec<String> {
            std::env::var(name)
                .unwrap_or_else(|_| default.to_owned())
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        };
        Self {
            admin_token,
            hosts: list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]"),
            origins: list("ALLOWED_ORIGINS", "http://localhost:5173"),
            per_ip: Quota::per_second(5).burst(10),
            store: MemoryStore::new(),
            sink: Arc::new(PrintSink),
        }
    }
}

/// The app: the public service, the admin (monitoring) service, and the handles that
/// outlive them.
pub(crate) struct App {
    /// Serve this on the public port.
    pub(crate) public: PublicService,
    /// Serve this on the admin port: `/metrics`, `/health`, `/dashboard`, `/notify/...`.
    pub(crate) admin: MonitoringService,
    /// Drain it on exit with [`Notifier::shutdown`].
    pub(crate) notifier: Notifier,
}

/// Builds the layers in the recommended order (outermost first) around [`handle`].
pub(crate) fn app(settings: Settings) -> Result<App, ConfigError> {
    let metrics = MetricsRegistry::builder()
        // Plain hyper has no router to name routes: name the known paths, lump the rest.
        .route_fn(|_, uri| match uri.path() {
            p @ ("/" | "/quote" | "/echo") => Some(p.to_owned().into()),
            _ => None,
        })
        .build()?;
    let notifier = Notifier::builder()
        .max_latency(Duration::from_millis(500))
        .shared_sink("stdout", settings.sink)
        .build()?;
    let rate_limit = RateLimitLayer::builder()
        .policy(Policy::new("per-ip", PeerIp::new(), settings.per_ip)?)
        .store(settings.store)
        .build()?;

    let service = ServiceBuilder::new()
        .layer(metrics.layer())
        .layer(notifier.layer())
        .layer(SecurityHeadersLayer::strict().build()?)
        .layer(TrustedHostLayer::builder(settings.hosts).build()?)
        .layer(CorsLayer::same_origin_api(settings.origins).build()?)
        .layer(rate_limit)
        .layer(
            InjectionLayer::builder()
                // The handler reads whole bodies: refuse what the layer could not inspect.
                .oversized_body(OversizedBody::Reject)
                .build()?,
        )
        .service_fn(handle)
        .map_response(|res| res.map(|body| body.map_err(Into::into).boxed_unsync()));

    let admin = MonitoringService::builder()
        .bearer_token(settings.admin_token)
        .metrics(metrics.clone())
        .extension(NotifyExtension::new(&notifier))
        .build()?;

    Ok(App {
        public: BoxCloneService::new(service),
        admin,
        notifier,
    })
}

/// The application: a greeting, a quote lookup and a JSON echo.
async fn handle(
    req: Request<InspectedBody<Incoming>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => text(StatusCode::OK, "hello from plain hyper\n"),
        (&Method::GET, "/quote") => {
            let symbol = req
                .uri()
                .query()
                .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("symbol=")))
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()))
                .unwrap_or("ACME");
            let price = 100 + symbol.bytes().map(u32::from).sum::<u32>() % 900;
            json(format!(r#"{{"symbol":"{symbol}","price":{price}.25}}"#))
        }
        (&Method::POST, "/echo") => match req.into_body().collect().await {
            // The injection layer already read (and bounded) this body; it arrives unchanged.
            Ok(body) => json(String::from_utf8_lossy(&body.to_bytes()).into_owned()),
            Err(_) => text(StatusCode::BAD_REQUEST, "unreadable body\n"),
        },
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    Ok(response)
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

fn json(body: String) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from(body)));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    res
}

/// Serves `service` on `listener` until `shutdown` completes, then waits (at most 10 s)
/// for open connections to finish.
///
/// The one thing plain hyper needs for the guard layers: the TCP peer of each connection,
/// inserted as a [`PeerAddr`] request extension before the layers run.
pub(crate) async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    shutdown: impl Future<Output = ()>,
) where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, say: back off instead of spinning.
                    eprintln!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = service
            .clone()
            .map_request(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(PeerAddr(peer));
                req
            });
        let connection = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                eprintln!("connection from {peer}: {err}");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!("some connections were still open after 10 s");
    }
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
    let admin_addr = std::env::var("ADMIN_ADDR").unwrap_or_else(|_| "127.0.0.1:3001".to_owned());
    let app = app(Settings::from_env(admin_token()))?;

    let public = TcpListener::bind(&addr).await?;
    let admin = TcpListener::bind(&admin_addr).await?;
    let (public_at, admin_at): (SocketAddr, SocketAddr) =
        (public.local_addr()?, admin.local_addr()?);
    println!("public API on http://{public_at}, admin on http://{admin_at} (Ctrl-C to stop)");
    println!("try:");
    println!("  curl -i 'http://{public_at}/quote?symbol=ACME'");
    println!("  curl -i 'http://{public_at}/quote?symbol=1%27%20OR%20%271%27%3D%271'    # 403");
    println!("  curl -i -H 'Host: evil.example' http://{public_at}/                     # 400");
    println!(
        "  curl -i -X OPTIONS -H 'Origin: http://localhost:5173' -H 'Access-Control-Request-Method: POST' http://{public_at}/echo"
    );
    println!(
        "  for i in $(seq 25); do curl -s -o /dev/null -w '%{{http_code}} ' http://{public_at}/; done   # 429s"
    );
    println!("  curl -s -H \"Authorization: Bearer $ADMIN_TOKEN\" http://{admin_at}/metrics");
    println!("  curl -s -H \"Authorization: Bearer $ADMIN_TOKEN\" http://{admin_at}/notify/stats");
    println!("  curl -s -H \"Authorization: Bearer $ADMIN_TOKEN\" http://{admin_at}/dashboard");

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let public_task = tokio::spawn(serve(public, app.public, until_stopped(stopped.clone())));
    let admin_task = tokio::spawn(serve(admin, app.admin, until_stopped(stopped)));

    tokio::signal::ctrl_c().await?;
    println!("shutting down: finishing open requests");
    let _ = stop.send(true);
    let _ = tokio::join!(public_task, admin_task);
    // Deliver what is queued; a runtime that stops would cancel the notifier's worker.
    let report = app.notifier.shutdown(Duration::from_secs(5)).await;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

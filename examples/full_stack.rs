//! A small trading API guarded by every layer of tower-fortify, with the monitoring
//! service and its dashboard under `/admin`.
//!
//! Run with
//!
//! ```sh
//! cargo run --example full_stack --all-features
//! # a token of your own, another address, and Redis for the limits and the notifications:
//! ADMIN_TOKEN=my-long-random-admin-token ADDR=127.0.0.1:3000 REDIS_URL=redis://127.0.0.1:6379/ \
//!   cargo run --example full_stack --all-features
//! ```
//!
//! then open the dashboard URL it prints and paste the admin token, or try the curl lines
//! it prints. Ctrl-C stops it: open WebSockets are closed, the notifier is drained and
//! its report printed.
//!
//! The API describes itself with utoipa (utoipa-axum's `OpenApiRouter`), and
//! `GET /openapi.json` serves that document brought in line with the guard layers by
//! `FortifyDocs`, built from the same layer values the service runs with: every operation
//! lists the 429, 403, 400, 408, 413, 415 and 503 they may answer with and the headers
//! they add.
//!
//! ```sh
//! cargo run --example full_stack --all-features -- --print-openapi      # that document
//! cargo run --example full_stack --all-features -- --print-openapi-app  # the application's own
//! ```
//!
//! Environment: `ADDR` (default `127.0.0.1:3000`), `ADMIN_TOKEN` (else one is generated
//! and printed), `REDIS_URL` (rate limits and the notification stream in Redis; in
//! memory without it), `ALLOWED_HOSTS` and `ALLOWED_ORIGINS` (comma-separated: host
//! names besides `localhost`, `127.0.0.1` and `[::1]`; browser origins of your front
//! end, for CORS and the order stream's Origin check), `ANONYMOUS_PER_SECOND` (the
//! anonymous per-IP rate, default 5 with a burst of twice that: a load test from one
//! address raises it so that it measures allowed requests), `RATE_LIMIT_SHADOW=1` (decide
//! and report, never refuse: a load test of requests over their limit), `BARE=1` (the same
//! routes without any layer: the baseline of `scripts/load.sh`).
//!
//! # The API
//!
//! | route | who | what |
//! |---|---|---|
//! | `GET /` | anyone | a page with a nonce'd inline script (the strict CSP at work) |
//! | `GET /instruments` | anyone | the tradable instruments |
//! | `GET /quote/{symbol}` | anyone | bid and ask |
//! | `POST /orders` | API key | place an order: `{"symbol":"ACME","side":"buy","quantity":10}` (`limit_price` optional) |
//! | `GET /orders` | API key | my orders |
//! | `GET /orders/stream` | API key | WebSocket of my order events (`Origin`: this site or `ALLOWED_ORIGINS`) |
//! | `GET /openapi.json` | anyone | the OpenAPI 3.1 document of all of the above, the guard layers' answers included |
//! | `GET /admin/notifications` | admin token | WebSocket of the batched security notifications (`Origin`: this site only) |
//! | `/admin/...` | admin token | the monitoring service: `/admin/` (the dashboard page, no token), `metrics`, `health`, `dashboard`, `openapi.json`, `notify/...`, `trading` |
//!
//! The demo API keys are in [`CLIENTS`]; the tier comes from the key.
//!
//! # The layers, outermost first
//!
//! 1. **metrics**: sees every answer, the guards' refusals included, with their outcome.
//! 2. **notify**: turns the guards' events into batched notifications.
//! 3. **security headers** (strict, CSP with a per-request nonce): on every answer,
//!    refusals included; the dashboard page keeps its own hash-based CSP.
//! 4. **trusted host**: a foreign `Host` gets 400 before anything else runs.
//! 5. **CORS** (same-origin API preset): preflights are answered here.
//! 6. **rate limits**: anonymous requests per client IP (5/s, burst 10); requests with
//!    an `x-api-key` per key and tier (standard 10/s, premium 50/s, broker 500/s);
//!    `/admin` per client IP on its own budget (20/s, burst 40).
//! 7. **injection** (blocking; a body larger than the 64 KiB it inspects is refused with
//!    413, orders are a few hundred bytes): last, so the cheap checks refuse floods first.
//!
//! # Deployment caveats
//!
//! - Behind a reverse proxy the peer address is the proxy's: key the anonymous limit on
//!   `ClientIp` with the proxy's networks in `TrustedProxies`, and give them to the
//!   trusted-host and notify layers too.
//! - The admin token travels as a bearer token: serve this over TLS or keep `/admin` on a
//!   private network. Browsers cannot set headers on WebSockets, so
//!   `/admin/notifications` is for tools (a browser client would need a cookie or ticket).
//! - In memory, each replica counts alone (N replicas let N times the quota through);
//!   with `REDIS_URL` they share one count, and the limiter fails open if Redis is down.

use std::{
    collections::HashMap,
    error::Error,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    extract::{
        ws::{Message, WebSocket, WebSocketUpgrade},
        Path, State,
    },
    http::{header, HeaderMap, StatusCode},
    response::{Html, IntoResponse, Response},
    routing::get,
    Extension, Json, Router,
};
use bytes::Bytes;
use prometheus_client::{
    metrics::{counter::Counter, gauge::Gauge, histogram::Histogram},
    registry::{Registry, Unit},
};
use rand::{distr::Alphanumeric, Rng};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::{broadcast, watch};
use tower::ServiceBuilder;
use tower_fortify::{
    cors::CorsLayer,
    injection::{InjectionLayer, OversizedBody},
    metrics::MetricsRegistry,
    monitoring::{BoxFuture, MonitoringExtension, MonitoringService},
    notify::{ChannelSink, Notifier, NotifyExtension, Subscriber},
    openapi::FortifyDocs,
    rate_limit::{
        key_fn,
        store::{ManualClock, MemoryStore, RedisStore},
        Header, Key, MissingKey, Policy, Quota, RateLimitLayer, RequestInfo, Tiers,
    },
    security_headers::{ContentSecurityPolicy, CspNonce, CspSource, SecurityHeadersLayer},
    trusted_host::TrustedHostLayer,
};
use utoipa::{
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi, ToSchema,
};
use utoipa_axum::{router::OpenApiRouter, routes};

/// The demo API keys: (key, client name, tier). A real service looks keys up in its
/// database; the rate limiter and the handlers both read this table.
pub const CLIENTS: [(&str, &str, &str); 3] = [
    ("demo-standard-key-0001", "alice", "standard"),
    ("demo-premium-key-0001", "bob", "premium"),
    ("demo-broker-key-0001", "carol", "broker"),
];

/// The tradable instruments: (symbol, name, reference price).
const INSTRUMENTS: [(&str, &str, f64); 4] = [
    ("ACME", "Acme Corp.", 101.25),
    ("GLOBX", "Globex", 47.80),
    ("INIT", "Initech", 12.34),
    ("UMBR", "Umbrella", 230.00),
];

/// How [`app`] is set up: [`Options::from_env`] for `main`, filled in by hand in tests.
#[derive(Debug, Clone)]
pub struct Options {
    /// The monitoring service's bearer token.
    pub admin_token: String,
    /// Host names answered besides `localhost`, `127.0.0.1` and `[::1]` (any port).
    pub hosts: Vec<String>,
    /// Browser origins of the front end: CORS, and the order stream's `Origin` check.
    pub origins: Vec<String>,
    /// Rate limits and the notification stream in Redis instead of memory.
    pub redis_url: Option<String>,
    /// Decide and report every limit but never refuse (for load tests).
    pub shadow_limits: bool,
    /// Anonymous requests per second and client IP (the burst is twice that).
    pub anonymous_per_second: u32,
    /// The rate limiter's clock: tests pass a [`ManualClock`] and advance it (in memory and,
    /// with `redis_url`, in Redis: replicas given one clock agree on "now").
    pub clock: Option<ManualClock>,
    /// How long a notification may wait for its batch.
    pub notify_latency: Duration,
}

impl Options {
    /// Reads `ADMIN_TOKEN`, `ALLOWED_HOSTS`, `ALLOWED_ORIGINS`, `REDIS_URL`,
    /// `ANONYMOUS_PER_SECOND` and `RATE_LIMIT_SHADOW`; generates a token when there is none.
    pub fn from_env() -> Self {
        let list = |name: &str| -> Vec<String> {
            std::env::var(name)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let mut origins = list("ALLOWED_ORIGINS");
        if origins.is_empty() {
            origins.push("https://app.example.com".to_owned());
        }
        Options {
            admin_token: std::env::var("ADMIN_TOKEN").unwrap_or_else(|_| generate_token()),
            hosts: list("ALLOWED_HOSTS"),
            origins,
            redis_url: std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty()),
            shadow_limits: std::env::var("RATE_LIMIT_SHADOW").is_ok_and(|v| v == "1"),
            anonymous_per_second: std::env::var("ANONYMOUS_PER_SECOND")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(5),
            clock: None,
            notify_latency: Duration::from_millis(500),
        }
    }
}

fn generate_token() -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// What [`app`] returns: the router, what `main` needs to stop cleanly, and the documents.
pub struct App {
    /// Serve it with `into_make_service_with_connect_info::<SocketAddr>()`: the
    /// anonymous rate limit keys on the peer address.
    pub router: Router,
    /// Drain it on exit: [`Notifier::shutdown`].
    pub notifier: Notifier,
    /// Send `true` to close every open WebSocket.
    pub close_websockets: watch::Sender<bool>,
    /// One line saying where the limits and notifications live.
    pub storage: String,
    /// The rate limiter's Redis store, with `redis_url`: `main` checks at start-up that
    /// Redis answers; [`RedisStore::stats`] counts failed calls and outages.
    pub redis_store: Option<RedisStore>,
    /// The document served at `/openapi.json`: the application's own, with what the
    /// guard layers answer and add.
    pub openapi: utoipa::openapi::OpenApi,
    /// The application's own document, as utoipa-axum collected it from the routes.
    pub app_openapi: utoipa::openapi::OpenApi,
}

// By hand: utoipa's document is `Debug` only with its `debug` feature.
impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("router", &self.router)
            .field("notifier", &self.notifier)
            .field("close_websockets", &self.close_websockets)
            .field("storage", &self.storage)
            .field("redis_store", &self.redis_store)
            .field("openapi paths", &self.openapi.paths.paths.len())
            .finish_non_exhaustive()
    }
}

/// The guarded application: the trading routes and `/admin`, behind every layer.
pub fn app(options: Options) -> Result<App, Box<dyn Error + Send + Sync>> {
    // Application metrics live in the same Prometheus registry as the HTTP ones.
    let mut registry = Registry::default();
    let trading = Trading::new(&mut registry);
    let metrics = MetricsRegistry::builder()
        .prometheus_registry(registry)
        .build()?;

    // Batched security notifications: to the admin WebSocket, and to a Redis stream.
    let admin_stream = ChannelSink::broadcast(64)?;
    let mut notifier = Notifier::builder()
        .max_items(20)
        .max_latency(options.notify_latency)
        .sink("admin-websocket", admin_stream.clone());
    let storage = match &options.redis_url {
        Some(url) => {
            notifier = notifier.sink(
                "redis-stream",
                tower_fortify::notify::RedisStreamSink::builder(url.as_str())
                    .stream("tower-fortify:notifications")
                    .build()?,
            );
            format!(
                "state: Redis at {} (rate limits shared; notifications to the stream \
                 tower-fortify:notifications and the admin WebSocket)",
                without_password(url)
            )
        }
        None => "state: in memory (set REDIS_URL to share rate limits and stream \
                 notifications through Redis)"
            .to_owned(),
    };
    let notifier = notifier.build()?;

    let monitoring = MonitoringService::builder()
        .bearer_token(options.admin_token.clone())
        .metrics(metrics.clone())
        .extension(NotifyExtension::new(&notifier))
        .extension(TradingExtension(trading.clone()))
        .build()?;

    // Strict headers; the landing page's script runs by nonce.
    let csp = ContentSecurityPolicy::strict()
        .script_src([CspSource::Nonce])
        .build()?;
    let security_headers = SecurityHeadersLayer::strict()
        .content_security_policy(csp)
        .build()?;

    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "[::1]".to_owned(),
    ];
    hosts.extend(options.hosts.iter().cloned());
    let trusted_host = TrustedHostLayer::builder(hosts).build()?;

    let cors = CorsLayer::same_origin_api(&options.origins)
        .allow_headers(["content-type", "authorization", "x-api-key"])
        .build()?;

    let redis_store = match &options.redis_url {
        Some(url) => {
            let store = RedisStore::builder(url.as_str());
            Some(
                match &options.clock {
                    Some(clock) => store.clock(clock.clone()),
                    None => store,
                }
                .build()?,
            )
        }
        None => None,
    };
    let rate_limits = rate_limits(&options, redis_store.clone())?;
    let injection = InjectionLayer::builder()
        .oversized_body(OversizedBody::Reject)
        .build()?;

    // The document from the same layer values the stack runs with, so it cannot drift.
    // The monitoring service is nested behind the layers: its paths gain their answers too.
    let docs = FortifyDocs::new()
        .security_headers(&security_headers)
        .trusted_host(&trusted_host)
        .rate_limit(&rate_limits)
        .injection(&injection)
        .monitoring(&monitoring, "/admin");
    let (routes, app_openapi) = routes()
        .routes(routes!(admin_notifications))
        .split_for_parts();
    let mut openapi = app_openapi.clone();
    docs.modify(&mut openapi);
    let document = Bytes::from(openapi.to_json()?);

    let (close_websockets, closing) = watch::channel(false);
    let state = Arc::new(Shared {
        trading,
        admin_token: options.admin_token.clone(),
        origins: options.origins.clone(),
        admin_stream,
        closing,
    });

    let router = routes
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], document) }),
        )
        .nest_service("/admin", monitoring)
        .with_state(state)
        // Router::layer runs after routing, so the metrics see the matched route.
        .layer(
            ServiceBuilder::new()
                .layer(metrics.layer())
                .layer(notifier.layer())
                .layer(security_headers)
                .layer(trusted_host)
                .layer(cors)
                .layer(rate_limits)
                .layer(injection),
        );
    Ok(App {
        router,
        notifier,
        close_websockets,
        storage,
        redis_store,
        openapi,
        app_openapi,
    })
}

/// `url` with its password (if any) replaced by `***`, for the start-up text.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{scheme}://{user}:***@{host}{}", &rest[authority_end..])
        }
        None => url.to_owned(),
    }
}

/// Anonymous requests per client IP; `/admin` per client IP on its own, more generous
/// budget (the dashboard polls, operators script); requests with an API key per key, at
/// its tier's rate.
fn rate_limits(
    options: &Options,
    redis_store: Option<RedisStore>,
) -> Result<RateLimitLayer, Box<dyn Error + Send + Sync>> {
    let is_admin = |req: &RequestInfo<'_>| {
        let path = req.uri().path();
        path == "/admin" || path.starts_with("/admin/")
    };
    let anonymous = Policy::new(
        "anonymous",
        key_fn(move |req: &RequestInfo<'_>| {
            if req.headers().contains_key("x-api-key") || is_admin(req) {
                None // counted by "api-key" or "admin" instead
            } else {
                req.peer_ip().map(|ip| Key::ip(ip, 64))
            }
        }),
        Quota::per_second(options.anonymous_per_second)
            .burst(options.anonymous_per_second.saturating_mul(2)),
    )?;
    let admin = Policy::new(
        "admin",
        key_fn(move |req: &RequestInfo<'_>| {
            is_admin(req)
                .then(|| req.peer_ip().map(|ip| Key::ip(ip, 64)))
                .flatten()
        }),
        Quota::per_second(20).burst(40),
    )?;
    // standard 10/s (burst 20), premium 50/s (100), broker 500/s (1000); unknown keys get
    // standard (and 401 from the handlers).
    let tiers = Tiers::preset()
        .resolve(|req| {
            let key = req.headers().get("x-api-key")?.to_str().ok()?;
            client(key).map(|(_, tier)| tier)
        })
        .build()?;
    let per_key = Policy::tiered("api-key", Header::new("x-api-key")?, tiers)?;
    let mut builder = RateLimitLayer::builder()
        .policy(anonymous)
        .policy(admin)
        .policy(per_key)
        // A policy whose key a request lacks does not apply to it.
        .on_missing_key(MissingKey::Skip)
        .shadow(options.shadow_limits);
    // Redis down: fail open (the layer's default), every request allowed without
    // rate-limit headers, a `backend_error` event for metrics and notifications.
    if let Some(store) = redis_store {
        builder = builder.store(store);
    } else if let Some(clock) = &options.clock {
        builder = builder.store(MemoryStore::new().clock(clock.clone()));
    }
    Ok(builder.build()?)
}

/// The trading routes alone, without any layer, and their document: `app` guards them,
/// `BARE=1` serves them as they are (the baseline of `scripts/load.sh`).
pub fn routes() -> OpenApiRouter<Arc<Shared>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(home))
        .routes(routes!(instruments))
        .routes(routes!(quote))
        .routes(routes!(my_orders, place_order))
        .routes(routes!(order_stream))
}

/// The application's own description: what its handlers answer. The guard layers'
/// answers are added by `FortifyDocs` in [`app`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "full_stack trading demo",
        version = "1.0.0",
        description = "A small trading API guarded by tower-fortify (examples/full_stack.rs)."
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "trading", description = "Instruments, quotes and orders."),
        (name = "monitoring", description = "The monitoring service under /admin and the admin notification stream.")
    )
)]
struct ApiDoc;

/// The API key of the trading routes and the admin token.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "A client's API key; the client's tier sets its rate limit.",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The admin token (`ADMIN_TOKEN`): the monitoring service and the admin notification stream.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The trading routes with no layer at all, for `BARE=1`.
pub fn bare_app() -> Router {
    let mut registry = Registry::default();
    let (_, closing) = watch::channel(false);
    let state = Arc::new(Shared {
        trading: Trading::new(&mut registry),
        admin_token: generate_token(),
        origins: Vec::new(),
        admin_stream: ChannelSink::broadcast(1).expect("a capacity of 1 is valid"),
        closing,
    });
    routes().split_for_parts().0.with_state(state)
}

/// State shared by the handlers.
#[derive(Debug)]
pub struct Shared {
    trading: Trading,
    admin_token: String,
    origins: Vec<String>,
    admin_stream: ChannelSink,
    closing: watch::Receiver<bool>,
}

// ---------- the trading domain ----------

/// An instrument of `GET /instruments`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
struct Instrument {
    /// Its ticker symbol.
    symbol: &'static str,
    /// The company.
    name: &'static str,
}

/// A quote of `GET /quote/{symbol}`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
struct Quote {
    symbol: &'static str,
    bid: f64,
    ask: f64,
}

/// An order, as placed and as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
struct Order {
    id: u64,
    symbol: &'static str,
    side: Side,
    quantity: u32,
    /// The limit, for a limit order; `null` for a market order.
    limit_price: Option<f64>,
    status: OrderStatus,
    /// The price it filled at; `null` while open.
    fill_price: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum Side {
    Buy,
    Sell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum OrderStatus {
    /// Filled at `fill_price`.
    Filled,
    /// A limit order the price has not reached yet.
    Open,
}

/// The body of `POST /orders`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewOrder {
    /// One of the symbols of `GET /instruments` (any case).
    symbol: String,
    side: Side,
    #[schema(minimum = 1, maximum = 10000)]
    quantity: u32,
    /// A limit order when given: fills when the price is on its side.
    #[schema(exclusive_minimum = 0.0)]
    limit_price: Option<f64>,
}

/// The problem+json (RFC 9457) body of the application's own refusals.
#[derive(Debug, Serialize, ToSchema)]
struct ApiProblem {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// The trading state, its "database" (in-memory tables) and its metrics.
#[derive(Debug, Clone)]
struct Trading {
    inner: Arc<TradingInner>,
}

#[derive(Debug)]
struct TradingInner {
    started: Instant,
    orders: Mutex<HashMap<&'static str, Vec<Order>>>,
    next_id: Mutex<u64>,
    events: broadcast::Sender<(&'static str, Value)>,
    orders_placed: Counter,
    fills: Counter,
    websockets: Gauge,
    db_query: Histogram,
    db_recent: Mutex<Vec<f64>>,
}

/// Database query times kept for the dashboard's percentiles.
const DB_RECENT: usize = 1024;

impl Trading {
    fn new(registry: &mut Registry) -> Self {
        let inner = TradingInner {
            started: Instant::now(),
            orders: Mutex::new(HashMap::new()),
            next_id: Mutex::new(1),
            events: broadcast::channel(256).0,
            orders_placed: Counter::default(),
            fills: Counter::default(),
            websockets: Gauge::default(),
            db_query: Histogram::new([
                0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.002, 0.005, 0.01,
            ]),
            db_recent: Mutex::new(Vec::with_capacity(DB_RECENT)),
        };
        registry.register(
            "trading_orders_placed",
            "Orders accepted",
            inner.orders_placed.clone(),
        );
        registry.register("trading_fills", "Orders filled", inner.fills.clone());
        registry.register(
            "trading_websocket_connections",
            "Open order-stream and admin WebSockets",
            inner.websockets.clone(),
        );
        registry.register_with_unit(
            "trading_db_query_duration",
            "Time spent in the (simulated) database",
            Unit::Seconds,
            inner.db_query.clone(),
        );
        Trading {
            inner: Arc::new(inner),
        }
    }

    /// Runs a query against the in-memory tables and records its time.
    async fn db<T>(&self, write: bool, query: impl FnOnce(&TradingInner) -> T) -> T {
        let start = Instant::now();
        if write {
            // A write waits for a commit: 0.5 to 2 ms.
            let micros = rand::rng().random_range(500..2000);
            tokio::time::sleep(Duration::from_micros(micros)).await;
        }
        let out = query(&self.inner);
        let secs = start.elapsed().as_secs_f64();
        self.inner.db_query.observe(secs);
        let mut recent = self
            .inner
            .db_recent
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if recent.len() == DB_RECENT {
            recent.remove(0);
        }
        recent.push(secs);
        out
    }

    fn price(&self, reference: f64) -> f64 {
        let t = self.inner.started.elapsed().as_secs_f64();
        ((reference * (1.0 + 0.004 * (t / 7.0).sin())) * 100.0).round() / 100.0
    }

    fn dashboard(&self) -> Value {
        let mut recent = self
            .inner
            .db_recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        recent.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            if recent.is_empty() {
                0.0
            } else {
                recent[((recent.len() - 1) as f64 * p).round() as usize]
            }
        };
        json!({
            "orders_placed": self.inner.orders_placed.get(),
            "fills": self.inner.fills.get(),
            "open_websockets": self.inner.websockets.get(),
            "db_query_seconds": {
                "count": recent.len(),
                "p50": pct(0.5),
                "p99": pct(0.99),
                "max": recent.last().copied().unwrap_or(0.0),
            },
        })
    }
}

/// The client an API key belongs to, and its tier.
fn client(key: &str) -> Option<(&'static str, &'static str)> {
    CLIENTS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|&(_, name, tier)| (name, tier))
}

/// The client named by the request's `x-api-key`, if the key is known.
fn caller(headers: &HeaderMap) -> Option<&'static str> {
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .and_then(client)
        .map(|(name, _)| name)
}

fn no_api_key() -> Response {
    problem(
        StatusCode::UNAUTHORIZED,
        "This endpoint needs a valid x-api-key header.",
    )
}

fn problem(status: StatusCode, detail: &str) -> Response {
    let body = ApiProblem {
        kind: "about:blank",
        title: status.canonical_reason().unwrap_or(""),
        status: status.as_u16(),
        detail: Some(detail.to_owned()),
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        Json(body),
    )
        .into_response()
}

/// The landing page.
#[utoipa::path(get, path = "/", tag = "trading",
    responses((status = 200, description = "A page listing the instruments, its script allowed by the CSP nonce.", content_type = "text/html", body = String)))]
async fn home(nonce: Option<Extension<CspNonce>>) -> Html<String> {
    // Under the strict CSP only a script carrying this response's nonce runs.
    let nonce = nonce.map(|Extension(n)| n.to_string()).unwrap_or_default();
    Html(format!(
        r#"<!doctype html>
<html lang="en"><meta charset="utf-8"><title>trading demo</title>
<h1>Instruments</h1><ul id="list"></ul>
<p><a href="/admin/">dashboard</a></p>
<script nonce="{nonce}">
fetch("/instruments").then(r => r.json()).then(list => {{
  for (const i of list) {{
    const li = document.createElement("li");
    li.textContent = i.symbol + " " + i.name;
    document.getElementById("list").appendChild(li);
  }}
}});
</script>
</html>
"#
    ))
}

/// The tradable instruments.
#[utoipa::path(get, path = "/instruments", tag = "trading",
    responses((status = 200, description = "Every instrument.", body = [Instrument])))]
async fn instruments() -> Json<Vec<Instrument>> {
    Json(
        INSTRUMENTS
            .iter()
            .map(|&(symbol, name, _)| Instrument { symbol, name })
            .collect(),
    )
}

/// Bid and ask of one instrument.
#[utoipa::path(get, path = "/quote/{symbol}", tag = "trading",
    params(("symbol" = String, Path, description = "A symbol of `GET /instruments` (any case).")),
    responses(
        (status = 200, description = "The quote.", body = Quote),
        (status = 400, description = "The path is not valid UTF-8.", content_type = "text/plain", body = String),
        (status = 404, description = "No such instrument.", content_type = "application/problem+json", body = ApiProblem),
    ))]
async fn quote(State(s): State<Arc<Shared>>, Path(symbol): Path<String>) -> Response {
    let found = s
        .trading
        .db(false, |_| {
            INSTRUMENTS
                .iter()
                .find(|(sym, _, _)| sym.eq_ignore_ascii_case(&symbol))
                .copied()
        })
        .await;
    let Some((symbol, _, reference)) = found else {
        return problem(StatusCode::NOT_FOUND, "No such instrument.");
    };
    let mid = s.trading.price(reference);
    Json(Quote {
        symbol,
        // In cents, as a price is quoted (binary floats would print 101.61999999999999).
        bid: ((mid - 0.01) * 100.0).round() / 100.0,
        ask: ((mid + 0.01) * 100.0).round() / 100.0,
    })
    .into_response()
}

/// Places an order: a market order fills at once, a limit order when the price is on its side.
#[utoipa::path(post, path = "/orders", tag = "trading", security(("api_key" = [])),
    request_body = NewOrder,
    responses(
        (status = 201, description = "The order, filled or open.", body = Order),
        (status = 400, description = "The body is not JSON.", content_type = "text/plain", body = String),
        (status = 401, description = "No valid `x-api-key`.", content_type = "application/problem+json", body = ApiProblem),
        (status = 415, description = "The body is not `application/json`.", content_type = "text/plain", body = String),
        (status = 422, description = "Not an order, an unknown symbol, or a quantity or limit out of range.", content(
            (String = "text/plain"),
            (ApiProblem = "application/problem+json"),
        )),
    ))]
async fn place_order(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(new): Json<NewOrder>,
) -> Response {
    let Some(who) = caller(&headers) else {
        return no_api_key();
    };
    let Some(&(symbol, _, reference)) = INSTRUMENTS
        .iter()
        .find(|(sym, _, _)| sym.eq_ignore_ascii_case(&new.symbol))
    else {
        return problem(StatusCode::UNPROCESSABLE_ENTITY, "No such instrument.");
    };
    if !(1..=10_000).contains(&new.quantity)
        || new.limit_price.is_some_and(|p| !(p.is_finite() && p > 0.0))
    {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity is 1 to 10000; limit_price, when given, is a positive number.",
        );
    }
    let price = s.trading.price(reference);
    // A market order fills at once; a limit order fills when the price is on its side.
    let fills = match (new.side, new.limit_price) {
        (_, None) => true,
        (Side::Buy, Some(limit)) => limit >= price,
        (Side::Sell, Some(limit)) => limit <= price,
    };
    let order = s
        .trading
        .db(true, |db| {
            let id = {
                let mut next = db.next_id.lock().unwrap_or_else(|e| e.into_inner());
                *next += 1;
                *next - 1
            };
            let order = Order {
                id,
                symbol,
                side: new.side,
                quantity: new.quantity,
                limit_price: new.limit_price,
                status: if fills {
                    OrderStatus::Filled
                } else {
                    OrderStatus::Open
                },
                fill_price: fills.then_some(price),
            };
            db.orders
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(who)
                .or_default()
                .push(order.clone());
            order
        })
        .await;
    s.trading.inner.orders_placed.inc();
    let _ = s
        .trading
        .inner
        .events
        .send((who, json!({ "event": "order_accepted", "order": order })));
    if fills {
        s.trading.inner.fills.inc();
        let _ = s
            .trading
            .inner
            .events
            .send((who, json!({ "event": "order_filled", "order": order })));
    }
    (StatusCode::CREATED, Json(order)).into_response()
}

/// My orders, oldest first.
#[utoipa::path(get, path = "/orders", tag = "trading", security(("api_key" = [])),
    responses(
        (status = 200, description = "The caller's orders.", body = [Order]),
        (status = 401, description = "No valid `x-api-key`.", content_type = "application/problem+json", body = ApiProblem),
    ))]
async fn my_orders(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let Some(who) = caller(&headers) else {
        return no_api_key();
    };
    let orders = s
        .trading
        .db(false, |db| {
            db.orders
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(who)
                .cloned()
                .unwrap_or_default()
        })
        .await;
    Json(orders).into_response()
}

// ---------- WebSockets ----------

/// Whether a WebSocket handshake's `Origin` may connect: none (not a browser), this
/// site itself, or one of `extra`. Browsers do not apply CORS to WebSockets, so this
/// check is what stops another site's page from opening one with the user's credentials.
fn origin_allowed(headers: &HeaderMap, extra: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let own = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| {
            origin.eq_ignore_ascii_case(&format!("http://{host}"))
                || origin.eq_ignore_ascii_case(&format!("https://{host}"))
        });
    own || extra.iter().any(|o| o.eq_ignore_ascii_case(origin))
}

/// `GET /orders/stream`: my order events, as JSON text messages.
#[utoipa::path(get, path = "/orders/stream", tag = "trading", security(("api_key" = [])),
    responses(
        (status = 101, description = "The WebSocket: one JSON text message per event of my orders (`order_accepted`, `order_filled`)."),
        (status = 400, description = "Not a WebSocket handshake.", content_type = "text/plain", body = String),
        (status = 401, description = "No valid `x-api-key`.", content_type = "application/problem+json", body = ApiProblem),
        (status = 403, description = "This `Origin` may not open the stream.", content_type = "application/problem+json", body = ApiProblem),
    ))]
async fn order_stream(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(who) = caller(&headers) else {
        return no_api_key();
    };
    if !origin_allowed(&headers, &s.origins) {
        return problem(
            StatusCode::FORBIDDEN,
            "This Origin may not open the stream.",
        );
    }
    let events = s.trading.inner.events.subscribe();
    ws.on_upgrade(move |socket| async move {
        s.trading.inner.websockets.inc();
        pump_orders(socket, who, events, s.closing.clone()).await;
        s.trading.inner.websockets.dec();
    })
}

async fn pump_orders(
    mut socket: WebSocket,
    who: &'static str,
    mut events: broadcast::Receiver<(&'static str, Value)>,
    mut closing: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok((owner, event)) if owner == who => {
                    if socket.send(Message::text(event.to_string())).await.is_err() {
                        return;
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            () = closed(&mut closing) => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
        }
    }
}

/// `GET /admin/notifications`: every batch of security notifications, one JSON text
/// message per batch. Needs the admin token (`Authorization: Bearer`) and, from a
/// browser, this site's own `Origin`.
#[utoipa::path(get, path = "/admin/notifications", tag = "monitoring", security(("bearer" = [])),
    responses(
        (status = 101, description = "The WebSocket: one JSON text message per batch of security notifications."),
        (status = 400, description = "Not a WebSocket handshake.", content_type = "text/plain", body = String),
        (status = 401, description = "No valid admin token.", content_type = "application/problem+json", body = ApiProblem,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"monitoring\"`"))),
        (status = 403, description = "This `Origin` may not open the stream.", content_type = "application/problem+json", body = ApiProblem),
    ))]
async fn admin_notifications(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !same_secret(given.trim().as_bytes(), s.admin_token.as_bytes()) {
        let mut res = problem(
            StatusCode::UNAUTHORIZED,
            "This stream needs the admin token.",
        );
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static(r#"Bearer realm="monitoring""#),
        );
        return res;
    }
    if !origin_allowed(&headers, &[]) {
        return problem(
            StatusCode::FORBIDDEN,
            "This Origin may not open the stream.",
        );
    }
    let Some(batches) = s.admin_stream.subscribe() else {
        return problem(StatusCode::SERVICE_UNAVAILABLE, "No notification stream.");
    };
    ws.on_upgrade(move |socket| async move {
        s.trading.inner.websockets.inc();
        pump_notifications(socket, batches, s.closing.clone()).await;
        s.trading.inner.websockets.dec();
    })
}

async fn pump_notifications(
    mut socket: WebSocket,
    mut batches: Subscriber,
    mut closing: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            batch = batches.recv() => {
                let Some(batch) = batch else { return };
                let text = json!({
                    "batch": batch.id(),
                    "missed_batches": batches.missed(),
                    "notifications": batch.notifications(),
                });
                if socket.send(Message::text(text.to_string())).await.is_err() {
                    return;
                }
            }
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            () = closed(&mut closing) => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
        }
    }
}

/// Resolves once `main` asks the WebSockets to close (never, if nobody can ask).
async fn closed(closing: &mut watch::Receiver<bool>) {
    if closing.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Compares two secrets in time that depends on their length only.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// ---------- the trading section of /admin/dashboard ----------

/// Shows the trading figures on the dashboard and at `GET /admin/trading`.
#[derive(Debug)]
struct TradingExtension(Trading);

impl MonitoringExtension for TradingExtension {
    fn name(&self) -> &str {
        "trading"
    }

    fn dashboard(&self) -> Option<Value> {
        Some(self.0.dashboard())
    }

    fn call(&self, req: http::Request<Bytes>) -> BoxFuture<http::Response<Bytes>> {
        let ok = req.uri().path() == "/trading";
        let get = matches!(*req.method(), http::Method::GET | http::Method::HEAD);
        let body = self.0.dashboard();
        Box::pin(async move {
            let (status, body) = match (ok, get) {
                (true, true) => (StatusCode::OK, body),
                (false, _) => (
                    StatusCode::NOT_FOUND,
                    json!({ "title": "Not Found", "status": 404 }),
                ),
                (true, false) => (
                    StatusCode::METHOD_NOT_ALLOWED,
                    json!({ "title": "Method Not Allowed", "status": 405 }),
                ),
            };
            let content_type = if status == StatusCode::OK {
                "application/json"
            } else {
                "application/problem+json"
            };
            let mut res = http::Response::new(Bytes::from(body.to_string()));
            *res.status_mut() = status;
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(content_type),
            );
            if status == StatusCode::METHOD_NOT_ALLOWED {
                res.headers_mut()
                    .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
            }
            res
        })
    }

    fn openapi_paths(&self) -> serde_json::Map<String, Value> {
        let mut paths = serde_json::Map::new();
        paths.insert(
            "/trading".into(),
            json!({ "get": {
                "summary": "Trading figures",
                "description": "Orders placed, fills, open WebSockets and database query times (also a section of /dashboard).",
                "responses": {
                    "200": { "description": "The figures.", "content": { "application/json": { "schema": {
                        "type": "object",
                        "required": ["orders_placed", "fills", "open_websockets", "db_query_seconds"],
                        "properties": {
                            "orders_placed": { "type": "integer", "minimum": 0 },
                            "fills": { "type": "integer", "minimum": 0 },
                            "open_websockets": { "type": "integer" },
                            "db_query_seconds": { "type": "object" }
                        }
                    } } } },
                    "401": { "description": "Missing or invalid bearer token.", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } }
                }
            } }),
        );
        paths
    }
}

// ---------- main ----------

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    // `--print-openapi`: the document `/openapi.json` serves; `--print-openapi-app`: the
    // application's own, before the guard layers are added (what `.ci/openapi.sh` compares).
    if let Some(arg) = std::env::args().nth(1) {
        let App {
            openapi,
            app_openapi,
            ..
        } = app(Options::from_env())?;
        match arg.as_str() {
            "--print-openapi" => println!("{}", openapi.to_pretty_json()?),
            "--print-openapi-app" => println!("{}", app_openapi.to_pretty_json()?),
            other => {
                return Err(format!(
                    "unknown argument {other:?} (--print-openapi, --print-openapi-app or none)"
                )
                .into())
            }
        }
        return Ok(());
    }
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let local = listener.local_addr()?;

    if std::env::var("BARE").is_ok_and(|v| v == "1") {
        println!("full_stack (BARE=1: no layer at all) listening on http://{local}");
        axum::serve(
            listener,
            bare_app().into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await?;
        return Ok(());
    }

    let token_from_env = std::env::var("ADMIN_TOKEN").is_ok();
    let options = Options::from_env();
    let token = if token_from_env {
        "$ADMIN_TOKEN".to_owned()
    } else {
        options.admin_token.clone()
    };
    let shadow = options.shadow_limits;
    let anonymous_rate = options.anonymous_per_second;
    let App {
        router,
        notifier,
        close_websockets,
        storage,
        redis_store,
        ..
    } = app(options)?;

    let base = format!("http://{local}");
    let (std_key, premium_key) = (CLIENTS[0].0, CLIENTS[1].0);
    println!("full_stack: a trading API guarded by tower-fortify, listening on {base}");
    println!("{storage}");
    if let Some(store) = &redis_store {
        // The first connection may take longer than one call's 50 ms timeout.
        let mut answered = Err(String::new());
        for _ in 0..3 {
            answered = store.preload().await.map_err(|e| e.to_string());
            if answered.is_ok() {
                break;
            }
        }
        if let Err(e) = answered {
            println!(
                "warning: Redis does not answer ({e}): until it does, the rate limits fail \
                 open (every request allowed, no RateLimit headers) and notifications to the \
                 stream are retried, then dead-lettered"
            );
        }
    }
    if shadow {
        println!(
            "rate limits in shadow mode (RATE_LIMIT_SHADOW=1): decided and reported, never refused"
        );
    }
    if token_from_env {
        println!("admin token: from ADMIN_TOKEN");
    } else {
        println!("admin token (generated; set ADMIN_TOKEN to choose one): {token}");
    }
    println!("dashboard: {base}/admin/  (paste the admin token)");
    println!("try:");
    println!("  curl -s {base}/instruments");
    println!(
        "  # the API's OpenAPI document, with what the guard layers answer (429, 403, 400, ...)"
    );
    println!(
        "  curl -s {base}/openapi.json | jq '.paths.\"/quote/{{symbol}}\".get.responses | keys'"
    );
    println!("  curl -s {base}/quote/ACME");
    println!("  curl -s -H 'x-api-key: {premium_key}' -H 'content-type: application/json' -d '{{\"symbol\":\"ACME\",\"side\":\"buy\",\"quantity\":10}}' {base}/orders");
    println!("  curl -s -H 'x-api-key: {premium_key}' {base}/orders");
    println!("  # SQL injection in the query: 403");
    println!("  curl -s -o /dev/null -w '%{{http_code}}\\n' '{base}/quote/ACME?note=1%27%20OR%20%271%27%3D%271'");
    println!("  # a host this server does not serve: 400");
    println!(
        "  curl -s -o /dev/null -w '%{{http_code}}\\n' -H 'Host: evil.example' {base}/instruments"
    );
    println!("  curl -s -H \"Authorization: Bearer {token}\" {base}/admin/metrics | grep -E '^trading_|security_events'");
    // Last: the burst spends the anonymous budget, and the lines above would answer 429.
    let rate = anonymous_rate;
    let burst = rate.saturating_mul(2);
    let over = burst.saturating_add(2).min(1000);
    println!("  # anonymous: {rate}/s, burst {burst}, so {burst} x 200 then 429 (keys: standard {std_key}, premium, broker in CLIENTS)");
    println!("  curl -s -o /dev/null -w '%{{http_code}} ' '{base}/quote/ACME?n=[1-{over}]'; echo");
    println!("  # WebSockets, with websocat: my order events, and the admin notification stream");
    println!("  websocat -H 'x-api-key: {premium_key}' ws://{local}/orders/stream");
    println!("  websocat -H \"Authorization: Bearer {token}\" ws://{local}/admin/notifications");

    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        println!("shutting down: closing WebSockets, draining notifications");
        let _ = close_websockets.send(true);
    })
    .await?;

    let report = notifier.shutdown(Duration::from_secs(5)).await;
    println!(
        "notifier drained: submitted {}, dead-lettered at the deadline {}, completed before the deadline: {}",
        report.stats.submitted, report.dead_lettered_at_deadline, report.completed_before_deadline
    );
    for sink in &report.stats.sinks {
        println!(
            "  sink {}: delivered {}, dead-lettered {}, dropped {}",
            sink.name, sink.delivered, sink.dead_lettered, sink.dropped
        );
    }
    Ok(())
}

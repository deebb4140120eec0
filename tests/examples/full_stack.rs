//! Drives `examples/full_stack.rs` over real sockets: its `app()` on an ephemeral loopback
//! port, a real HTTP client (hyper-util) and real WebSocket clients (tokio-tungstenite).
//! The rate limiter runs on a `ManualClock` the tests advance: no test sleeps.
#![cfg(all(
    feature = "rate-limit",
    feature = "security-headers",
    feature = "injection",
    feature = "metrics",
    feature = "notify",
    feature = "monitoring",
    feature = "redis",
    feature = "axum",
    feature = "utoipa"
))]

#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/full_stack.rs"]
mod example;

use std::{net::SocketAddr, time::Duration};

use bytes::Bytes;
use futures_util::StreamExt;
use http::{header, HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};
use serde_json::Value;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};
use tower_fortify::rate_limit::store::ManualClock;

const TOKEN: &str = "full-stack-test-token-0123456789";
const ORIGIN: &str = "https://app.example.com";
const STANDARD: &str = "demo-standard-key-0001";
const PREMIUM: &str = "demo-premium-key-0001";
const BROKER: &str = "demo-broker-key-0001";
const SQLI_QUERY: &str = "/quote/ACME?note=1%27%20OR%20%271%27%3D%271";

/// A bound for every network wait: generous, and never the basis of an assertion.
const BOUND: Duration = Duration::from_secs(20);

struct Server {
    addr: SocketAddr,
    clock: ManualClock,
    client: Client<HttpConnector, Full<Bytes>>,
    notifier: tower_fortify::notify::Notifier,
    /// `App::openapi` and `App::app_openapi` as JSON.
    openapi: Value,
    app_openapi: Value,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_str()
            .unwrap()
    }
}

async fn start() -> Server {
    let clock = ManualClock::new();
    let app = example::app(example::Options {
        admin_token: TOKEN.to_owned(),
        hosts: Vec::new(),
        origins: vec![ORIGIN.to_owned()],
        redis_url: None,
        shadow_limits: false,
        anonymous_per_second: 5,
        clock: Some(clock.clone()),
        notify_latency: Duration::from_millis(20),
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router;
    let openapi = serde_json::to_value(&app.openapi).unwrap();
    let app_openapi = serde_json::to_value(&app.app_openapi).unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Server {
        addr,
        clock,
        client: Client::builder(TokioExecutor::new()).build_http(),
        notifier: app.notifier,
        openapi,
        app_openapi,
    }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn send(&self, req: Request<Full<Bytes>>) -> Answer {
        let res = tokio::time::timeout(BOUND, self.client.request(req))
            .await
            .expect("an answer within the bound")
            .expect("the request went through");
        let (parts, body) = res.into_parts();
        let body = tokio::time::timeout(BOUND, body.collect())
            .await
            .expect("a body within the bound")
            .unwrap()
            .to_bytes();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    fn request(&self, method: Method, path: &str) -> http::request::Builder {
        Request::builder().method(method).uri(self.url(path))
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(
            self.request(Method::GET, path)
                .body(Full::default())
                .unwrap(),
        )
        .await
    }

    async fn get_with(&self, path: &str, name: &str, value: &str) -> Answer {
        self.send(
            self.request(Method::GET, path)
                .header(name, value)
                .body(Full::default())
                .unwrap(),
        )
        .await
    }

    async fn post_order(&self, key: &str, body: &str) -> Answer {
        self.send(
            self.request(Method::POST, "/orders")
                .header("x-api-key", key)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(body.to_owned())))
                .unwrap(),
        )
        .await
    }

    /// `GET /admin/metrics` with the token. The clock moves on a second first, so
    /// repeated scrapes never run out of the admin budget.
    async fn scrape(&self) -> String {
        self.clock.advance(Duration::from_secs(1));
        let res = self
            .get_with(
                "/admin/metrics",
                "authorization",
                &format!("Bearer {TOKEN}"),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK);
        String::from_utf8(res.body.to_vec()).unwrap()
    }

    /// Scrapes until `done` holds (the metrics layer records a request when its response
    /// body has ended, which may be just after the client has read it), within the bound.
    async fn scrape_until(&self, done: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + BOUND;
        loop {
            let text = self.scrape().await;
            if done(&text) || tokio::time::Instant::now() > deadline {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The sum of the samples of `name` whose labels include every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| labels.iter().all(|want| l.contains(want)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn assert_security_headers(res: &Answer, what: &str) {
    for (name, value) in [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        assert_eq!(
            res.headers.get(name).map(|v| v.to_str().unwrap()),
            Some(value),
            "{what}: {name}"
        );
    }
    let csp = res.header("content-security-policy");
    assert!(csp.contains("script-src 'nonce-"), "{what}: {csp}");
    assert!(!csp.contains("unsafe"), "{what}: {csp}");
}

#[tokio::test]
async fn security_headers_on_normal_and_rejected_responses() {
    let s = start().await;

    let ok = s.get("/instruments").await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_security_headers(&ok, "200");
    assert_eq!(ok.json()[0]["symbol"], "ACME");

    // The landing page's script carries the nonce of its own CSP header.
    let page = s.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    let csp = page.header("content-security-policy");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert!(String::from_utf8_lossy(&page.body).contains(&format!("nonce=\"{nonce}\"")));
    let again = s.get("/").await;
    assert_ne!(
        again.header("content-security-policy"),
        csp,
        "one nonce per response"
    );

    let host = s.get_with("/instruments", "host", "evil.example").await;
    assert_eq!(host.status, StatusCode::BAD_REQUEST);
    assert_security_headers(&host, "400");

    let sqli = s.get(SQLI_QUERY).await;
    assert_eq!(sqli.status, StatusCode::FORBIDDEN);
    assert_security_headers(&sqli, "403");

    let mut limited = None;
    for _ in 0..20 {
        let res = s.get("/quote/ACME").await;
        if res.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(res);
            break;
        }
    }
    assert_security_headers(&limited.expect("a 429 within 20 requests"), "429");

    let unauthorized = s.get_with("/orders", "x-api-key", "not-a-key").await;
    assert_eq!(unauthorized.status, StatusCode::UNAUTHORIZED);
    assert_security_headers(&unauthorized, "401");
}

#[tokio::test]
async fn the_dashboard_page_keeps_its_own_csp_and_needs_no_token() {
    let s = start().await;
    let page = s.get("/admin/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(page.header("cache-control"), "no-store");
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    // Exactly one CSP: the page's own, by hash; the strict layer's nonce policy is not added.
    let csps: Vec<_> = page
        .headers
        .get_all("content-security-policy")
        .iter()
        .collect();
    assert_eq!(csps.len(), 1, "{csps:?}");
    let csp = csps[0].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'none'; script-src 'sha256-"),
        "{csp}"
    );
    assert!(
        csp.contains("style-src 'sha256-") && !csp.contains("nonce") && !csp.contains("unsafe")
    );
    assert!(String::from_utf8_lossy(&page.body).contains("<title>tower-fortify dashboard</title>"));

    // The data behind it needs the token.
    assert_eq!(
        s.get("/admin/dashboard").await.status,
        StatusCode::UNAUTHORIZED
    );
    let res = s
        .get_with(
            "/admin/dashboard",
            "authorization",
            &format!("Bearer {TOKEN}"),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let dashboard = res.json();
    assert_eq!(dashboard["health"], "healthy");
    assert!(
        dashboard["trading"]["db_query_seconds"].is_object(),
        "{dashboard}"
    );
    assert!(
        dashboard["notify"]["sinks"][0]["name"] == "admin-websocket",
        "{dashboard}"
    );
}

#[tokio::test]
async fn an_anonymous_burst_gets_429_with_retry_after_and_ratelimit_headers() {
    let s = start().await;
    for i in 0..10 {
        let res = s.get("/quote/ACME").await;
        assert_eq!(res.status, StatusCode::OK, "request {i} of the burst of 10");
        assert_eq!(res.header("ratelimit-policy"), r#""anonymous";q=10;w=2"#);
    }
    let res = s.get("/quote/ACME").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.header("retry-after"), "1");
    assert_eq!(res.header("content-type"), "application/problem+json");
    assert!(res.header("ratelimit").starts_with(r#""anonymous";r=0;"#));
    assert_eq!(res.json()["status"], 429);
    // /admin has its own budget: the operator is not locked out by the API's traffic.
    let admin = s
        .get_with("/admin/health", "authorization", &format!("Bearer {TOKEN}"))
        .await;
    assert_eq!(admin.status, StatusCode::OK);
    assert_eq!(admin.header("ratelimit-policy"), r#""admin";q=40;w=2"#);
    assert_eq!(
        s.get("/quote/ACME").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    // 5/s: one second later exactly five more pass.
    s.clock.advance(Duration::from_secs(1));
    for i in 0..5 {
        assert_eq!(
            s.get("/quote/ACME").await.status,
            StatusCode::OK,
            "refill {i}"
        );
    }
    assert_eq!(
        s.get("/quote/ACME").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// Spends `n` requests of `key` on `GET /orders`; returns how many passed before the first 429.
async fn passes(s: &Server, key: &str, n: usize) -> usize {
    for i in 0..n {
        let res = s.get_with("/orders", "x-api-key", key).await;
        match res.status {
            StatusCode::OK => {}
            StatusCode::TOO_MANY_REQUESTS => return i,
            other => panic!("{key}: unexpected {other}"),
        }
    }
    n
}

#[tokio::test]
async fn the_tiers_hold_their_rates_not_only_their_bursts() {
    let s = start().await;
    for (key, rate, burst) in [(STANDARD, 10, 20), (PREMIUM, 50, 100), (BROKER, 500, 1000)] {
        // The burst, then a refusal.
        assert_eq!(passes(&s, key, burst + 1).await, burst, "{key}: burst");
        // One second buys `rate` requests, a fifth of a second a fifth of that.
        s.clock.advance(Duration::from_secs(1));
        assert_eq!(
            passes(&s, key, rate + 1).await,
            rate,
            "{key}: 1 s at {rate}/s"
        );
        s.clock.advance(Duration::from_millis(200));
        assert_eq!(
            passes(&s, key, rate / 5 + 1).await,
            rate / 5,
            "{key}: 200 ms"
        );
        // Ten idle seconds refill the burst, not more.
        s.clock.advance(Duration::from_secs(10));
        let refill = passes(&s, key, burst + 1).await;
        assert_eq!(refill, burst, "{key}: refill capped at the burst");
        let res = s.get_with("/orders", "x-api-key", key).await;
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(res.header("ratelimit-policy").contains(r#""api-key";q="#));
    }
    // An unknown key is limited at the standard tier, and refused by the handler.
    assert_eq!(
        s.get_with("/orders", "x-api-key", "unknown-key")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn sqli_in_the_query_and_xss_in_a_json_body_get_403() {
    let s = start().await;
    let res = s.get(SQLI_QUERY).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.header("content-type"), "application/problem+json");

    let xss = s
        .post_order(
            PREMIUM,
            r#"{"symbol":"<script>alert(document.cookie)</script>","side":"buy","quantity":1}"#,
        )
        .await;
    assert_eq!(xss.status, StatusCode::FORBIDDEN);

    let fine = s
        .post_order(PREMIUM, r#"{"symbol":"ACME","side":"buy","quantity":3}"#)
        .await;
    assert_eq!(fine.status, StatusCode::CREATED);
    assert_eq!(fine.json()["status"], "filled");
    let mine = s.get_with("/orders", "x-api-key", PREMIUM).await.json();
    assert_eq!(
        mine.as_array().unwrap().len(),
        1,
        "the blocked order never reached the handler"
    );
}

#[tokio::test]
async fn a_foreign_host_gets_400() {
    let s = start().await;
    for host in ["evil.example", "localhost.evil.example", "127.0.0.1.nip.io"] {
        let res = s.get_with("/instruments", "host", host).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{host}");
        assert_eq!(res.header("content-type"), "application/problem+json");
    }
    assert_eq!(
        s.get_with("/instruments", "host", "localhost:3000")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn cors_preflights_pass_only_from_the_allowed_origin() {
    let s = start().await;
    let preflight = |origin: &str| {
        s.request(Method::OPTIONS, "/orders")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type, x-api-key")
            .body(Full::default())
            .unwrap()
    };
    let ok = s.send(preflight(ORIGIN)).await;
    assert!(ok.status.is_success(), "{}", ok.status);
    assert_eq!(ok.header("access-control-allow-origin"), ORIGIN);
    assert_eq!(ok.header("access-control-allow-credentials"), "true");
    assert!(ok.header("access-control-allow-methods").contains("POST"));
    assert!(ok
        .header("access-control-allow-headers")
        .contains("x-api-key"));

    let foreign = s.send(preflight("https://evil.example")).await;
    for name in [
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "access-control-allow-methods",
        "access-control-allow-headers",
    ] {
        assert!(
            foreign.headers.get(name).is_none(),
            "{name} for a foreign origin"
        );
    }
}

#[tokio::test]
async fn admin_metrics_count_each_outcome_with_its_labels() {
    let s = start().await;
    assert_eq!(s.get("/quote/ACME").await.status, StatusCode::OK);
    assert_eq!(s.get(SQLI_QUERY).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        s.get_with("/instruments", "host", "evil.example")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.post_order(STANDARD, r#"{"symbol":"ACME","side":"sell","quantity":2}"#)
            .await
            .status,
        StatusCode::CREATED
    );
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(s.get("/quote/ACME").await.status);
    }
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(refused >= 1, "{statuses:?}");

    let duration = "http_server_request_duration_seconds_count";
    let text = s
        .scrape_until(|t| {
            sample(t, duration, &[r#"http_response_status_code="429""#]) >= refused as f64
                && sample(t, duration, &[r#"http_response_status_code="201""#]) >= 1.0
        })
        .await;
    let quote = r#"http_route="/quote/{symbol}""#;
    assert_eq!(
        sample(
            &text,
            duration,
            &[quote, r#"http_response_status_code="200""#]
        ),
        (1 + 12 - refused) as f64,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            duration,
            &[
                quote,
                r#"http_response_status_code="429""#,
                r#"outcome="rate_limited""#
            ]
        ),
        refused as f64,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            duration,
            &[
                quote,
                r#"http_response_status_code="403""#,
                r#"outcome="injection_blocked""#
            ]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            duration,
            &[
                r#"http_response_status_code="400""#,
                r#"outcome="untrusted_host""#
            ]
        ),
        1.0,
        "{text}"
    );
    let events = "tower_fortify_security_events_total";
    assert_eq!(
        sample(
            &text,
            events,
            &[r#"event="rate_limited""#, r#"mode="enforced""#]
        ),
        refused as f64
    );
    assert_eq!(sample(&text, events, &[r#"event="untrusted_host""#]), 1.0);
    assert!(
        sample(
            &text,
            events,
            &[r#"event="injection_detected""#, r#"category="sqli""#]
        ) >= 1.0,
        "{text}"
    );
    // The application's metrics, in the same exposition.
    assert_eq!(sample(&text, "trading_orders_placed_total", &[]), 1.0);
    assert_eq!(sample(&text, "trading_fills_total", &[]), 1.0);
    assert!(sample(&text, "trading_db_query_duration_seconds_count", &[]) >= 2.0);
    assert!(text.contains("# TYPE trading_websocket_connections gauge"));
}

async fn ws_connect(
    s: &Server,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    StatusCode,
> {
    let mut req = format!("ws://{}{path}", s.addr)
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        req.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    match tokio::time::timeout(BOUND, tokio_tungstenite::connect_async(req))
        .await
        .expect("a handshake answer within the bound")
    {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(res)) => Err(res.status()),
        Err(e) => panic!("handshake failed: {e}"),
    }
}

async fn next_json(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        let msg = tokio::time::timeout(BOUND, ws.next())
            .await
            .expect("a message within the bound")
            .expect("the stream is open")
            .unwrap();
        if msg.is_text() {
            return serde_json::from_str(msg.to_text().unwrap()).unwrap();
        }
    }
}

#[tokio::test]
async fn the_admin_stream_delivers_batched_notifications_to_the_token_and_own_origin_only() {
    let s = start().await;
    let bearer = format!("Bearer {TOKEN}");
    let own_origin = format!("http://{}", s.addr);

    assert_eq!(
        ws_connect(&s, "/admin/notifications", &[]).await.err(),
        Some(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        ws_connect(
            &s,
            "/admin/notifications",
            &[("authorization", "Bearer wrong-token-0123456789abcdef")]
        )
        .await
        .err(),
        Some(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        ws_connect(
            &s,
            "/admin/notifications",
            &[
                ("authorization", &bearer),
                ("origin", "https://evil.example")
            ]
        )
        .await
        .err(),
        Some(StatusCode::FORBIDDEN)
    );
    // The front end's origin may use the public API, not the admin stream.
    assert_eq!(
        ws_connect(
            &s,
            "/admin/notifications",
            &[("authorization", &bearer), ("origin", ORIGIN)]
        )
        .await
        .err(),
        Some(StatusCode::FORBIDDEN)
    );
    // Never on the public API.
    assert_eq!(
        ws_connect(&s, "/notifications", &[("authorization", &bearer)])
            .await
            .err(),
        Some(StatusCode::NOT_FOUND)
    );

    let mut ws = ws_connect(
        &s,
        "/admin/notifications",
        &[("authorization", &bearer), ("origin", &own_origin)],
    )
    .await
    .expect("the token and this site's origin open the stream");
    // The subscription exists once the handshake is answered: raise two events.
    assert_eq!(s.get(SQLI_QUERY).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        s.get_with("/instruments", "host", "evil.example")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let mut kinds = Vec::new();
    while !(kinds.iter().any(|k| k == "injection_detected")
        && kinds.iter().any(|k| k == "untrusted_host"))
    {
        let batch = next_json(&mut ws).await;
        assert!(
            batch["batch"].as_str().unwrap().starts_with("bat_"),
            "{batch}"
        );
        for n in batch["notifications"].as_array().unwrap() {
            kinds.push(n["kind"].as_str().unwrap().to_owned());
        }
    }
    drop(ws);
    let report = s.notifier.shutdown(BOUND).await;
    assert!(report.completed_before_deadline);
    assert!(report.stats.sink("admin-websocket").unwrap().delivered >= 2);
}

#[tokio::test]
async fn the_order_stream_sends_my_events_only_and_checks_the_origin() {
    let s = start().await;
    assert_eq!(
        ws_connect(&s, "/orders/stream", &[]).await.err(),
        Some(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        ws_connect(
            &s,
            "/orders/stream",
            &[("x-api-key", PREMIUM), ("origin", "https://evil.example")]
        )
        .await
        .err(),
        Some(StatusCode::FORBIDDEN)
    );
    let mut ws = ws_connect(
        &s,
        "/orders/stream",
        &[("x-api-key", PREMIUM), ("origin", ORIGIN)],
    )
    .await
    .expect("an allowed origin opens the stream");

    // Someone else's order first: it must not show up on this stream.
    assert_eq!(
        s.post_order(BROKER, r#"{"symbol":"INIT","side":"buy","quantity":5}"#)
            .await
            .status,
        StatusCode::CREATED
    );
    let mine = s
        .post_order(PREMIUM, r#"{"symbol":"ACME","side":"buy","quantity":7}"#)
        .await
        .json();
    let accepted = next_json(&mut ws).await;
    assert_eq!(accepted["event"], "order_accepted");
    assert_eq!(accepted["order"]["id"], mine["id"]);
    let filled = next_json(&mut ws).await;
    assert_eq!(filled["event"], "order_filled");
    assert_eq!(filled["order"]["quantity"], 7);

    // The open connection shows in the trading section.
    let trading = s
        .get_with(
            "/admin/trading",
            "authorization",
            &format!("Bearer {TOKEN}"),
        )
        .await
        .json();
    assert_eq!(trading["open_websockets"], 1);
    assert_eq!(trading["orders_placed"], 2);
}

// ---------- /openapi.json ----------

/// Every (path, method) of a document.
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "put", "post", "delete", "patch", "head", "options"]
                .contains(&method.as_str())
            {
                ops.push((path.clone(), method.clone()));
            }
        }
    }
    ops
}

/// The keys of a JSON object, sorted (none for anything else).
fn sorted_keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    keys
}

/// The strings of a JSON array.
fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// Checks a real answer of `method path` against the document: its status is documented
/// for that operation, with its media type, every header of a guard layer it carries is
/// listed on that response, and the problem members it names are among the documented values.
fn assert_documented(doc: &Value, path: &str, method: &str, res: &Answer) {
    let what = format!("{method} {path} {}", res.status);
    let documented = &doc["paths"][path][method]["responses"][res.status.as_str()];
    assert!(documented.is_object(), "{what}: status not documented");
    if let Some(ct) = res.headers.get(header::CONTENT_TYPE) {
        let media = ct.to_str().unwrap().split(';').next().unwrap().trim();
        assert!(
            documented["content"][media].is_object(),
            "{what}: {media} not documented ({:?})",
            sorted_keys(&documented["content"])
        );
    }
    let components = doc["components"]["headers"].as_object().unwrap();
    for name in res.headers.keys() {
        if let Some(component) = components
            .keys()
            .find(|c| c.eq_ignore_ascii_case(name.as_str()))
        {
            assert_eq!(
                documented["headers"][component]["$ref"],
                format!("#/components/headers/{component}"),
                "{what}: sends {component}, not documented on this response"
            );
        }
    }
    if res.headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes())
        == Some(b"application/problem+json".as_slice())
    {
        let body = res.json();
        let schema = &documented["content"]["application/problem+json"]["schema"];
        for member in ["violated-policies", "categories"] {
            if let Some(sent) = body.get(member) {
                let allowed = strings(&schema["allOf"][1]["properties"][member]["items"]["enum"]);
                for value in strings(sent) {
                    assert!(
                        allowed.contains(&value),
                        "{what}: {member} {value} not in {allowed:?}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn openapi_json_adds_the_guards_answers_to_every_operation() {
    let s = start().await;
    let res = s.get("/openapi.json").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("content-type"), "application/json");
    let doc = res.json();
    // What `/openapi.json` serves is `App::openapi`, built from the layer values in the stack.
    assert_eq!(doc, s.openapi);
    assert_eq!(doc["openapi"], "3.1.0");

    // The application's own operations, as utoipa-axum collected them, and the monitoring
    // service's, mounted under /admin.
    let ops = operations(&doc);
    for (path, method) in [
        ("/", "get"),
        ("/instruments", "get"),
        ("/quote/{symbol}", "get"),
        ("/orders", "get"),
        ("/orders", "post"),
        ("/orders/stream", "get"),
        ("/admin/notifications", "get"),
        ("/admin/", "get"),
        ("/admin/metrics", "get"),
        ("/admin/health", "get"),
        ("/admin/health/live", "get"),
        ("/admin/trading", "get"),
    ] {
        assert!(
            ops.contains(&(path.to_owned(), method.to_owned())),
            "{method} {path} is not in the document"
        );
    }
    assert_eq!(ops, operations(&s.openapi));

    // Every operation: the guards' statuses, 429 with Retry-After and the policies' names,
    // the rate-limit and security headers on every response.
    for (path, method) in &ops {
        let responses = &doc["paths"][path][method]["responses"];
        let what = format!("{method} {path}");
        for status in ["400", "403", "408", "413", "415", "429"] {
            assert!(responses[status].is_object(), "{what}: no {status}");
            assert!(
                responses[status]["content"]["application/problem+json"]["schema"].is_object(),
                "{what}: {status} has no problem+json body"
            );
        }
        let limited = &responses["429"];
        assert_eq!(
            limited["headers"]["Retry-After"]["$ref"], "#/components/headers/Retry-After",
            "{what}"
        );
        let schema = &limited["content"]["application/problem+json"]["schema"];
        assert_eq!(schema["allOf"][0]["$ref"], "#/components/schemas/Problem");
        assert_eq!(
            strings(&schema["allOf"][1]["properties"]["violated-policies"]["items"]["enum"]),
            ["anonymous", "admin", "api-key"]
        );
        let blocked = &responses["403"]["content"]["application/problem+json"]["schema"];
        // The application's own 403 (the WebSockets' Origin check) keeps its schema.
        if blocked.get("allOf").is_some() {
            let categories =
                strings(&blocked["allOf"][1]["properties"]["categories"]["items"]["enum"]);
            assert!(
                categories.contains(&"sqli") && categories.contains(&"xss"),
                "{what}"
            );
        }
        for (status, response) in responses.as_object().unwrap() {
            for h in [
                "RateLimit",
                "RateLimit-Policy",
                "Content-Security-Policy",
                "X-Frame-Options",
                "X-Content-Type-Options",
                "Strict-Transport-Security",
            ] {
                assert_eq!(
                    response["headers"][h]["$ref"],
                    format!("#/components/headers/{h}"),
                    "{what} {status}: no {h}"
                );
            }
        }
    }

    // The application's own answers are kept, and gain the guards' bodies.
    let quote = &doc["paths"]["/quote/{symbol}"]["get"]["responses"];
    assert_eq!(
        sorted_keys(&quote["400"]["content"]),
        ["application/problem+json", "text/plain"]
    );
    assert_eq!(quote["400"]["description"], "The path is not valid UTF-8.");
    assert_eq!(
        quote["404"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/ApiProblem"
    );
    let post = &doc["paths"]["/orders"]["post"]["responses"];
    assert_eq!(
        sorted_keys(&post["415"]["content"]),
        ["application/problem+json", "text/plain"]
    );
    assert_eq!(
        sorted_keys(&post["422"]["content"]),
        ["application/problem+json", "text/plain"]
    );
    assert!(post["413"]["description"]
        .as_str()
        .unwrap()
        .contains("65536 bytes"));
    let stream = &doc["paths"]["/orders/stream"]["get"]["responses"];
    assert_eq!(
        stream["403"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/ApiProblem"
    );

    // The header components say what this very answer carries.
    let headers = &doc["components"]["headers"];
    let policy = headers["RateLimit-Policy"]["example"].as_str().unwrap();
    assert!(policy.contains(res.header("ratelimit-policy")), "{policy}");
    assert_eq!(
        policy,
        r#""anonymous";q=10;w=2, "admin";q=40;w=2, "api-key";q=20;w=2, "api-key";q=100;w=2, "api-key";q=1000;w=2"#
    );
    assert_eq!(
        headers["X-Frame-Options"]["example"],
        res.header("x-frame-options")
    );
    let csp = res.header("content-security-policy");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert_eq!(
        headers["Content-Security-Policy"]["example"],
        csp.replace(nonce, "{nonce}")
    );
    assert_eq!(headers["Retry-After"]["schema"]["type"], "integer");
    // HSTS is listed, and said to be sent on HTTPS only (this listener is plain HTTP).
    assert!(res.headers.get("strict-transport-security").is_none());
    assert!(headers["Strict-Transport-Security"]["description"]
        .as_str()
        .unwrap()
        .contains("HTTPS"));

    // The application's security schemes are kept; the monitoring paths use the token.
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["api_key"]["name"], "x-api-key");
    assert!(schemes["bearer"]["description"]
        .as_str()
        .unwrap()
        .contains("ADMIN_TOKEN"));
    assert_eq!(
        doc["paths"]["/admin/health"]["get"]["security"],
        serde_json::json!([{ "bearer": [] }])
    );
    assert_eq!(
        doc["paths"]["/admin/health/live"]["get"]["security"],
        serde_json::json!([])
    );
    assert_eq!(
        doc["paths"]["/orders"]["post"]["security"],
        serde_json::json!([{ "api_key": [] }])
    );

    // Before `FortifyDocs`, the application's own document knows none of it.
    let own = &s.app_openapi;
    assert_eq!(
        sorted_keys(&own["paths"]["/quote/{symbol}"]["get"]["responses"]),
        ["200", "400", "404"]
    );
    assert_eq!(
        sorted_keys(&own["paths"]["/orders"]["post"]["responses"]),
        ["201", "400", "401", "415", "422"]
    );
    assert!(own["paths"].get("/admin/health").is_none());
    assert!(
        own["components"]["headers"].is_null()
            || sorted_keys(&own["components"]["headers"]).is_empty()
    );
}

#[tokio::test]
async fn every_answer_of_the_guards_is_in_the_document_with_its_headers() {
    let s = start().await;
    let doc = s.get("/openapi.json").await.json();
    let mut seen = Vec::new();
    let mut check = |path: &str, method: &str, res: Answer| {
        assert_documented(&doc, path, method, &res);
        seen.push(res.status.as_u16());
    };

    check("/instruments", "get", s.get("/instruments").await);
    check(
        "/instruments",
        "get",
        s.get_with("/instruments", "host", "evil.example").await,
    );
    check("/quote/{symbol}", "get", s.get(SQLI_QUERY).await);
    check("/quote/{symbol}", "get", s.get("/quote/NOPE").await);
    check("/orders", "get", s.get("/orders").await);
    check(
        "/orders",
        "post",
        s.post_order(PREMIUM, r#"{"symbol":"ACME","side":"buy","quantity":1}"#)
            .await,
    );
    check(
        "/orders",
        "post",
        s.post_order(
            PREMIUM,
            r#"{"symbol":"<script>alert(1)</script>","side":"buy","quantity":1}"#,
        )
        .await,
    );
    check(
        "/orders",
        "post",
        s.post_order(PREMIUM, r#"{"symbol":"ACME","side":"buy","quantity":0}"#)
            .await,
    );
    // Larger than the 64 KiB the injection layer inspects: 413 from the layer.
    let big = format!(
        r#"{{"symbol":"ACME","side":"buy","quantity":1,"note":"{}"}}"#,
        "a".repeat(70_000)
    );
    check("/orders", "post", s.post_order(PREMIUM, &big).await);
    // An encoding the layer cannot decode: 415 from the layer.
    check(
        "/orders",
        "post",
        s.send(
            s.request(Method::POST, "/orders")
                .header("x-api-key", PREMIUM)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CONTENT_ENCODING, "zstd")
                .body(Full::new(Bytes::from_static(b"\x28\xb5\x2f\xfd")))
                .unwrap(),
        )
        .await,
    );
    check(
        "/admin/health",
        "get",
        s.get_with("/admin/health", "authorization", &format!("Bearer {TOKEN}"))
            .await,
    );
    check("/admin/health", "get", s.get("/admin/health").await);
    // The anonymous budget runs out: 429 with Retry-After, RateLimit and RateLimit-Policy.
    let mut limited = None;
    for _ in 0..20 {
        let res = s.get("/quote/ACME").await;
        if res.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(res);
            break;
        }
        check("/quote/{symbol}", "get", res);
    }
    let limited = limited.expect("a 429 within 20 requests");
    for name in ["retry-after", "ratelimit", "ratelimit-policy"] {
        assert!(limited.headers.contains_key(name), "429 without {name}");
    }
    check("/quote/{symbol}", "get", limited);

    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen, [200, 201, 400, 401, 403, 404, 413, 415, 422, 429]);
}

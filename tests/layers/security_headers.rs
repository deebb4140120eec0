//! Integration tests of `SecurityHeadersLayer` through a real axum `Router`.
#![cfg(feature = "security-headers")]

use std::{convert::Infallible, net::SocketAddr, time::Duration};

use axum::{
    body::Body,
    extract::Extension,
    http::{header, HeaderMap, Request, Response, StatusCode},
    response::{Html, IntoResponse},
    routing::get,
    Router,
};
use http_body_util::BodyExt;
use tower::{service_fn, Layer, ServiceExt};
use tower_fortify::{
    body::GuardBody,
    event::SecurityEvents,
    proxy::{PeerAddr, TrustedProxies},
    rejection::Problem,
    security_headers::{
        ContentSecurityPolicy, CspNonce, CspSource, HeaderMode, Hsts, HstsScope,
        SecurityHeadersLayer, SecurityHeadersLayerBuilder, SecurityHeadersOverride,
        DENY_ALL_PERMISSIONS_POLICY,
    },
    trusted_host::TrustedHostLayer,
};

const HELMET_CSP: &str = "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests";

/// helmet 8's defaults, as documented by helmet (README "Reference") and REFERENCE.md.
const HELMET: &[(&str, &str)] = &[
    ("content-security-policy", HELMET_CSP),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("origin-agent-cluster", "?1"),
    ("referrer-policy", "no-referrer"),
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-dns-prefetch-control", "off"),
    ("x-download-options", "noopen"),
    ("x-frame-options", "SAMEORIGIN"),
    ("x-permitted-cross-domain-policies", "none"),
    ("x-xss-protection", "0"),
];

const STRICT_CSP: &str = "default-src 'self';form-action 'self';base-uri 'self';object-src 'none';frame-ancestors 'none';upgrade-insecure-requests";

/// Headers the layer may add on top of what the handler (and axum) set.
fn added_by_layer(res: &Response<Body>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = res
        .headers()
        .iter()
        .filter(|(n, _)| !matches!(n.as_str(), "content-type" | "content-length"))
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    out.sort();
    out
}

fn sorted(table: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = table
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

/// A handler that leaks the usual fingerprinting headers.
async fn leaky() -> impl IntoResponse {
    (
        [
            ("server", "nginx/1.2.3"),
            ("x-powered-by", "Express"),
            ("x-aspnet-version", "4.0"),
            ("x-envoy-upstream-service-time", "3"),
        ],
        "hello",
    )
}

fn app(headers: SecurityHeadersLayerBuilder) -> Router {
    Router::new()
        .route("/", get(|| async { "hello" }))
        .route("/leaky", get(leaky))
        .layer(headers.build().unwrap())
}

async fn send(app: &Router, req: Request<Body>) -> Response<Body> {
    app.clone().oneshot(req).await.unwrap()
}

fn get_req(uri: &str) -> Request<Body> {
    Request::builder().uri(uri).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn helmet_parity_header_by_header() {
    let app = app(SecurityHeadersLayer::helmet());
    let res = send(&app, get_req("/")).await;
    assert_eq!(res.status(), StatusCode::OK);
    for (name, value) in HELMET {
        assert_eq!(
            res.headers().get(*name).map(|v| v.to_str().unwrap()),
            Some(*value),
            "{name}"
        );
    }
    assert_eq!(
        added_by_layer(&res),
        sorted(HELMET),
        "exactly helmet's 12 headers"
    );
    assert_eq!(HELMET.len(), 12);
    assert!(res.headers().get("cross-origin-embedder-policy").is_none());

    // helmet removes X-Powered-By and leaves other headers alone.
    let res = send(&app, get_req("/leaky")).await;
    assert!(res.headers().get("x-powered-by").is_none());
    assert_eq!(res.headers()["server"], "nginx/1.2.3");
}

#[tokio::test]
async fn strict_table_over_https_and_http() {
    let strict: &[(&str, &str)] = &[
        ("content-security-policy", STRICT_CSP),
        (
            "strict-transport-security",
            "max-age=63072000; includeSubDomains",
        ),
        ("cross-origin-embedder-policy", "require-corp"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        ("permissions-policy", DENY_ALL_PERMISSIONS_POLICY),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("x-permitted-cross-domain-policies", "none"),
    ];
    let app = app(SecurityHeadersLayer::strict());

    // An https request URI (what HTTP/2 carries in :scheme) gets HSTS.
    let res = send(&app, get_req("https://api.example.com/")).await;
    assert_eq!(added_by_layer(&res), sorted(strict));
    assert!(DENY_ALL_PERMISSIONS_POLICY.contains("camera=(), "));
    assert!(DENY_ALL_PERMISSIONS_POLICY.contains("geolocation=()"));

    // Plain HTTP/1.1 with no proof of TLS: everything but HSTS.
    let res = send(&app, get_req("/")).await;
    let without_hsts: Vec<_> = strict
        .iter()
        .copied()
        .filter(|(n, _)| *n != "strict-transport-security")
        .collect();
    assert_eq!(added_by_layer(&res), sorted(&without_hsts));

    // Fingerprinting headers are stripped, prefix entries included.
    let res = send(&app, get_req("/leaky")).await;
    for h in [
        "server",
        "x-powered-by",
        "x-aspnet-version",
        "x-envoy-upstream-service-time",
    ] {
        assert!(res.headers().get(h).is_none(), "{h} kept");
    }

    // The API option adds OWASP's Cache-Control.
    let app2 = self::app(SecurityHeadersLayer::strict().cache_control_no_store());
    let res = send(&app2, get_req("/")).await;
    assert_eq!(res.headers()["cache-control"], "no-store, max-age=0");
}

#[tokio::test]
async fn strict_hsts_follows_listener_and_trusted_proxies_only() {
    // A listener marked HTTPS.
    let app1 = app(SecurityHeadersLayer::strict().https_listener(true));
    assert!(send(&app1, get_req("/"))
        .await
        .headers()
        .contains_key("strict-transport-security"));

    let proxied = |peer: &str| {
        let mut req = get_req("/");
        req.headers_mut()
            .insert("x-forwarded-proto", "https".parse().unwrap());
        req.extensions_mut()
            .insert(PeerAddr(peer.parse::<SocketAddr>().unwrap()));
        req
    };
    let app2 = app(SecurityHeadersLayer::strict()
        .trusted_proxies(TrustedProxies::from_cidrs(["10.0.0.0/8"]).unwrap()));
    let res = send(&app2, proxied("10.1.2.3:5000")).await;
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
    // The same header from a client that is not a trusted proxy is ignored.
    let res = send(&app2, proxied("203.0.113.9:5000")).await;
    assert!(!res.headers().contains_key("strict-transport-security"));
    // And with no proxies configured at all.
    let res = send(
        &app(SecurityHeadersLayer::strict()),
        proxied("10.1.2.3:5000"),
    )
    .await;
    assert!(!res.headers().contains_key("strict-transport-security"));
}

#[tokio::test]
async fn development_is_safe_on_localhost() {
    let res = send(&app(SecurityHeadersLayer::development()), get_req("/")).await;
    let dev_csp = HELMET_CSP.replace(";upgrade-insecure-requests", "");
    let table: Vec<(&str, &str)> = HELMET
        .iter()
        .filter(|(n, _)| *n != "strict-transport-security")
        .map(|(n, v)| {
            if *n == "content-security-policy" {
                (*n, dev_csp.as_str())
            } else {
                (*n, *v)
            }
        })
        .collect();
    assert_eq!(
        added_by_layer(&res),
        sorted(&table),
        "helmet minus HSTS and upgrade-insecure-requests"
    );
    assert!(!res.headers().contains_key("strict-transport-security"));
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(!csp.contains("upgrade-insecure-requests"));
    assert_eq!(format!("{csp};upgrade-insecure-requests"), HELMET_CSP);
    assert_eq!(res.headers()["x-frame-options"], "SAMEORIGIN");
}

async fn nonce_page(Extension(nonce): Extension<CspNonce>) -> Html<String> {
    Html(format!("<script nonce=\"{nonce}\">console.log(1)</script>"))
}

fn nonce_of(headers: &HeaderMap, name: &str) -> String {
    let csp = headers[name].to_str().unwrap();
    let start = csp.find("'nonce-").expect("nonce in header") + "'nonce-".len();
    csp[start..start + csp[start..].find('\'').unwrap()].to_owned()
}

fn nonce_layer() -> SecurityHeadersLayerBuilder {
    let csp = ContentSecurityPolicy::strict()
        .script_src([CspSource::SelfOrigin, CspSource::Nonce])
        .build()
        .unwrap();
    SecurityHeadersLayer::strict().content_security_policy(csp)
}

#[tokio::test]
async fn nonce_reaches_handler_and_header_and_differs_per_request() {
    let app = Router::new()
        .route("/", get(nonce_page))
        .route(
            "/public",
            get(|Extension(n): Extension<CspNonce>| async move {
                ([("cache-control", "public, max-age=3600")], n.to_string())
            }),
        )
        .route(
            "/private",
            get(|Extension(n): Extension<CspNonce>| async move {
                ([("cache-control", "private, max-age=60")], n.to_string())
            }),
        )
        .layer(nonce_layer().build().unwrap());

    let mut seen = Vec::new();
    for _ in 0..2 {
        let res = send(&app, get_req("/")).await;
        let header_nonce = nonce_of(res.headers(), "content-security-policy");
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let body = std::str::from_utf8(&body).unwrap();
        assert!(
            body.contains(&format!("nonce=\"{header_nonce}\"")),
            "{body} vs {header_nonce}"
        );
        assert!(header_nonce.len() >= 22, "at least 128 bits of base64");
        seen.push(header_nonce);
    }
    assert_ne!(seen[0], seen[1]);

    // A shareable Cache-Control is replaced: a cached page would replay its nonce.
    let res = send(&app, get_req("/public")).await;
    assert_eq!(res.headers()["cache-control"], "no-store");

    // A handler that already made the response private keeps its Cache-Control.
    let res = send(&app, get_req("/private")).await;
    assert_eq!(res.headers()["cache-control"], "private, max-age=60");
    let nonce = nonce_of(res.headers(), "content-security-policy");
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(std::str::from_utf8(&body).unwrap(), nonce);
}

#[tokio::test]
async fn nonce_cache_control_opt_out() {
    let app = Router::new()
        .route("/", get(nonce_page))
        .layer(nonce_layer().nonce_no_store(false).build().unwrap());
    let res = send(&app, get_req("/")).await;
    assert!(!res.headers().contains_key("cache-control"));
    // Without a nonce, nothing touches Cache-Control either.
    let res = send(&app_no_nonce(), get_req("/")).await;
    assert!(!res.headers().contains_key("cache-control"));
}

fn app_no_nonce() -> Router {
    app(SecurityHeadersLayer::strict())
}

#[tokio::test]
async fn enforcing_report_only_and_reporting_endpoints_together() {
    let enforce = ContentSecurityPolicy::helmet()
        .report_to("csp")
        .build()
        .unwrap();
    let trial = ContentSecurityPolicy::strict()
        .script_src([CspSource::Nonce, CspSource::StrictDynamic])
        .report_to("csp")
        .build()
        .unwrap();
    let layer = SecurityHeadersLayer::helmet()
        .content_security_policy(enforce)
        .content_security_policy_report_only(trial)
        .reporting_endpoint("csp", "https://reports.example.com/csp")
        .build()
        .unwrap();
    let app = Router::new().route("/", get(nonce_page)).layer(layer);
    let res = send(&app, get_req("/")).await;
    assert_eq!(
        res.headers()["content-security-policy"],
        format!("{HELMET_CSP};report-to csp")
    );
    let ro = res.headers()["content-security-policy-report-only"]
        .to_str()
        .unwrap();
    assert!(ro.starts_with(STRICT_CSP), "{ro}");
    assert!(ro.ends_with("'strict-dynamic';report-to csp"), "{ro}");
    assert_eq!(
        res.headers()["reporting-endpoints"],
        "csp=\"https://reports.example.com/csp\""
    );
    // The nonce in the report-only policy is the handler's nonce too.
    let nonce = nonce_of(res.headers(), "content-security-policy-report-only");
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert!(std::str::from_utf8(&body).unwrap().contains(&nonce));
}

#[tokio::test]
async fn handler_headers_are_kept_unless_override_mode() {
    let handler = || async {
        (
            [
                ("x-frame-options", "SAMEORIGIN"),
                ("referrer-policy", "same-origin"),
            ],
            "embeddable",
        )
    };
    let kept = Router::new()
        .route("/", get(handler))
        .layer(SecurityHeadersLayer::strict().build().unwrap());
    let res = send(&kept, get_req("/")).await;
    assert_eq!(res.headers()["x-frame-options"], "SAMEORIGIN");
    assert_eq!(res.headers()["referrer-policy"], "same-origin");
    assert_eq!(res.headers().get_all("x-frame-options").iter().count(), 1);

    let forced = Router::new().route("/", get(handler)).layer(
        SecurityHeadersLayer::strict()
            .header_mode("x-frame-options", HeaderMode::Override)
            .build()
            .unwrap(),
    );
    let res = send(&forced, get_req("/")).await;
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert_eq!(res.headers()["referrer-policy"], "same-origin");
}

#[tokio::test]
async fn a_handler_relaxes_one_response() {
    async fn player() -> impl IntoResponse {
        let relaxed = ContentSecurityPolicy::strict()
            .frame_src([CspSource::host("https://player.example")])
            .frame_ancestors([CspSource::SelfOrigin])
            .build()
            .unwrap();
        let mut res = "player".into_response();
        res.extensions_mut().insert(
            SecurityHeadersOverride::new()
                .content_security_policy(relaxed)
                .omit(header::X_FRAME_OPTIONS),
        );
        res
    }
    let app = Router::new()
        .route("/", get(|| async { "home" }))
        .route("/player", get(player))
        .layer(SecurityHeadersLayer::strict().build().unwrap());
    let res = send(&app, get_req("/player")).await;
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-src https://player.example"), "{csp}");
    assert!(csp.contains("frame-ancestors 'self'"), "{csp}");
    assert!(!res.headers().contains_key("x-frame-options"));
    assert!(
        res.extensions().get::<SecurityHeadersOverride>().is_none(),
        "consumed by the layer"
    );
    // Other responses are unchanged.
    let res = send(&app, get_req("/")).await;
    assert_eq!(res.headers()["content-security-policy"], STRICT_CSP);
    assert_eq!(res.headers()["x-frame-options"], "DENY");
}

#[tokio::test]
async fn every_header_is_configurable_or_removable() {
    let layer = SecurityHeadersLayer::helmet()
        .header("referrer-policy", "strict-origin-when-cross-origin")
        .header("x-custom-security", "on")
        .remove_header("X-XSS-Protection")
        .remove_header("strict-transport-security")
        .hsts_scope(HstsScope::Always);
    let names = layer.header_names();
    assert!(!names.iter().any(|n| n == "x-xss-protection"));
    let res = send(&app(layer), get_req("/")).await;
    assert_eq!(
        res.headers()["referrer-policy"],
        "strict-origin-when-cross-origin"
    );
    assert_eq!(res.headers()["x-custom-security"], "on");
    assert!(!res.headers().contains_key("x-xss-protection"));
    assert!(!res.headers().contains_key("strict-transport-security"));

    let res = send(
        &app(SecurityHeadersLayer::builder()
            .hsts(Hsts::new(Duration::from_secs(600)))
            .hsts_scope(HstsScope::Always)),
        get_req("/"),
    )
    .await;
    assert_eq!(
        added_by_layer(&res),
        vec![("strict-transport-security".into(), "max-age=600".into())]
    );
}

#[test]
fn configuration_mistakes_are_errors_not_panics() {
    let cases = [
        SecurityHeadersLayer::helmet().header("x-ok", "line\r\nbreak"),
        SecurityHeadersLayer::helmet().header("bad name", "x"),
        SecurityHeadersLayer::helmet().header("content-security-policy", "default-src *"),
        SecurityHeadersLayer::helmet().reporting_endpoint("csp", "http://reports.example.com"),
        SecurityHeadersLayer::helmet()
            .reporting_endpoint("Bad Name", "https://reports.example.com"),
        SecurityHeadersLayer::helmet()
            .reporting_endpoint("csp", "https://x.example/\",evil=\"https://y"),
        SecurityHeadersLayer::helmet().hsts(
            Hsts::new(Duration::from_secs(600))
                .include_subdomains()
                .preload(),
        ),
        SecurityHeadersLayer::helmet().hsts(Hsts::new(Duration::from_secs(63_072_000)).preload()),
        SecurityHeadersLayer::helmet().strip_header("*"),
        SecurityHeadersLayer::helmet().header_mode("bad name", HeaderMode::Override),
    ];
    for c in cases {
        assert!(c.clone().build().is_err(), "{c:?} accepted");
    }
    let ok = SecurityHeadersLayer::helmet()
        .hsts(
            Hsts::new(Duration::from_secs(63_072_000))
                .include_subdomains()
                .preload(),
        )
        .build();
    assert!(ok.is_ok());
}

/// Stands in for the inner guard layers (the crate's rate limiter and injection layer answer
/// in exactly this shape: a problem+json 429 or 403 in a `GuardBody`, with an event in the
/// response extensions).
async fn inner_guard(req: Request<Body>) -> Result<Response<GuardBody<Body>>, Infallible> {
    let (status, title) = if req.uri().path() == "/attack" {
        (StatusCode::FORBIDDEN, "Forbidden")
    } else {
        (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
    };
    let mut res = Problem::new(status, title)
        .into_response()
        .map(GuardBody::fixed);
    res.extensions_mut().insert(SecurityEvents::new());
    Ok(res)
}

#[tokio::test]
async fn inner_guard_rejections_carry_the_headers() {
    let headers = SecurityHeadersLayer::strict().build().unwrap();
    let hosts = TrustedHostLayer::builder(["example.com"]).build().unwrap();

    // security_headers -> trusted_host -> (a 429 guard) : the recommended order.
    let svc = headers.layer(hosts.layer(service_fn(inner_guard)));

    let foreign = Request::builder()
        .uri("/")
        .header("host", "evil.example")
        .body(Body::empty())
        .unwrap();
    let res = svc.clone().oneshot(foreign).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert_eq!(res.headers()["content-security-policy"], STRICT_CSP);

    let limited = Request::builder()
        .uri("/")
        .header("host", "example.com")
        .body(Body::empty())
        .unwrap();
    let res = svc.clone().oneshot(limited).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        res.headers()["permissions-policy"],
        DENY_ALL_PERMISSIONS_POLICY
    );

    let attack = Request::builder()
        .uri("/attack")
        .header("host", "example.com")
        .body(Body::empty())
        .unwrap();
    let res = svc.oneshot(attack).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_eq!(res.headers()["cross-origin-resource-policy"], "same-origin");
}

#[tokio::test]
async fn over_a_real_socket() {
    let router = Router::new()
        .route("/", get(nonce_page))
        .layer(nonce_layer().build().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .uri("/")
        .header("host", addr.to_string())
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let res = tokio::time::timeout(Duration::from_secs(10), sender.send_request(req))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let nonce = nonce_of(res.headers(), "content-security-policy");
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert!(std::str::from_utf8(&body)
        .unwrap()
        .contains(&format!("nonce=\"{nonce}\"")));
    server.abort();
}

fn assert_fits_axum_and_tower<S, B>(_: &S)
where
    S: tower::Service<Request<B>> + Clone + Send + Sync + 'static,
    S::Future: Send,
{
}

fn assert_layer<L: Clone + Send + Sync + std::fmt::Debug + 'static>(_: &L) {}

#[test]
fn layers_services_and_futures_are_send_sync_clone() {
    let headers = SecurityHeadersLayer::strict().build().unwrap();
    let hosts = TrustedHostLayer::builder(["example.com"]).build().unwrap();
    let cors = tower_fortify::cors::CorsLayer::public_read_only()
        .build()
        .unwrap();
    assert_layer(&headers);
    assert_layer(&hosts);
    assert_layer(&cors);
    let router: Router = Router::new().route("/", get(|| async { "ok" }));
    let svc = headers.layer(hosts.layer(cors.layer(router)));
    assert_fits_axum_and_tower::<_, Body>(&svc);
}

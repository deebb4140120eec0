//! Security headers with a per-request CSP nonce, a Host allow-list and a CORS preset,
//! on an axum app.
//!
//! Run with
//!
//! ```not_rust
//! cargo run --example security_headers
//! ```
//!
//! then try (the server prints these with its real address):
//!
//! ```not_rust
//! # the page: CSP with a fresh nonce, the same nonce in the inline <script>
//! curl -si http://127.0.0.1:3000/
//! # as a browser would send it
//! curl -si -H 'Accept: text/html' -H 'Sec-Fetch-Mode: navigate' -H 'User-Agent: Mozilla/5.0' http://127.0.0.1:3000/
//! # a foreign Host: 400 with problem+json, still with the security headers
//! curl -si -H 'Host: evil.example' http://127.0.0.1:3000/
//! # a CORS preflight from the allowed front-end origin
//! curl -si -X OPTIONS -H 'Origin: http://localhost:5173' \
//!      -H 'Access-Control-Request-Method: POST' http://127.0.0.1:3000/api/greeting
//! ```
//!
//! Open `http://127.0.0.1:3000/` in a browser: the script carrying the nonce runs, the one
//! without it is blocked by the CSP (see the browser console).
//!
//! The address comes from the `ADDR` environment variable (default `127.0.0.1:3000`).

use axum::{extract::Extension, response::Html, routing::get, Json, Router};
use tower_fortify::{
    cors::CorsLayer,
    security_headers::{ContentSecurityPolicy, CspNonce, CspSource, SecurityHeadersLayer},
    trusted_host::TrustedHostLayer,
    ConfigError,
};

/// The app, without the server, so tests can drive it.
pub(crate) fn app() -> Result<Router, ConfigError> {
    // This example serves plain http://127.0.0.1, so it uses the development preset (no
    // HSTS, no upgrade-insecure-requests). In production use `SecurityHeadersLayer::strict()`
    // and tell it how to recognise HTTPS (`https_listener` or `trusted_proxies`).
    let csp = ContentSecurityPolicy::helmet()
        .remove("upgrade-insecure-requests")
        .script_src([CspSource::SelfOrigin, CspSource::Nonce])
        .build()?;
    let security_headers = SecurityHeadersLayer::development()
        .content_security_policy(csp)
        .build()?;
    let trusted_hosts = TrustedHostLayer::builder(["localhost", "127.0.0.1", "[::1]"]).build()?;
    // A front end served from another origin (say a Vite dev server) may call /api with cookies.
    let cors = CorsLayer::same_origin_api(["http://localhost:5173"]).build()?;

    // Layers added last run first: security headers -> trusted host -> CORS -> handler.
    Ok(Router::new()
        .route("/", get(page))
        .route("/api/greeting", get(greeting).post(greeting))
        .layer(cors)
        .layer(trusted_hosts)
        .layer(security_headers))
}

async fn page(Extension(nonce): Extension<CspNonce>) -> Html<String> {
    Html(format!(
        r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>tower-fortify security headers</title></head>
<body>
<h1>Security headers</h1>
<p id="allowed">The script with the nonce has not run.</p>
<p id="blocked">The script without a nonce did not run (blocked by the CSP).</p>
<script nonce="{nonce}">
  document.getElementById("allowed").textContent = "The script with nonce {nonce} ran.";
</script>
<script>
  document.getElementById("blocked").textContent = "The script WITHOUT a nonce ran: CSP is not enforced!";
</script>
</body>
</html>
"#
    ))
}

async fn greeting() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "greeting": "hello" }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let bound = listener.local_addr()?;
    println!("listening on http://{bound}");
    println!("try:");
    println!("  curl -si http://{bound}/");
    println!("  curl -si -H 'Host: evil.example' http://{bound}/");
    println!(
        "  curl -si -X OPTIONS -H 'Origin: http://localhost:5173' -H 'Access-Control-Request-Method: POST' http://{bound}/api/greeting"
    );
    axum::serve(listener, app()?)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
            println!("shutting down");
        })
        .await?;
    Ok(())
}

//! Per-IP and per-tier rate limits on an axum server.
//!
//! Run with
//!
//! ```sh
//! cargo run --example rate_limit --all-features
//! ```
//!
//! then, in another terminal (the server prints these with its real address):
//!
//! ```sh
//! # 25 quick requests without a key: the standard tier's burst is 20, then 429s
//! curl -s -o /dev/null -w '%{http_code} ' 'http://127.0.0.1:3000/?[1-25]'; echo
//! curl -i http://127.0.0.1:3000/
//! # a premium key has a burst of 100
//! curl -i -H 'x-api-key: demo-premium' http://127.0.0.1:3000/
//! ```
//!
//! Listens on `ADDR` (default `127.0.0.1:3000`).

use std::{borrow::Cow, net::SocketAddr};

use axum::{extract::ConnectInfo, routing::get, Router};
use tower_fortify::rate_limit::{Key, PeerIp, Policy, Quota, RateLimitLayer, RequestInfo, Tiers};

/// Who is calling: the API key when there is one (kept secret in events and logs), else
/// the client's address.
fn caller<'a>(req: &RequestInfo<'a>) -> Option<Key<'a>> {
    match req.headers().get("x-api-key") {
        Some(key) => Some(Key::Secret(Cow::Borrowed(key.as_bytes()))),
        None => req.peer_ip().map(|ip| Key::ip(ip, 64)),
    }
}

/// The application: every client address gets 100/s (burst 200), and every caller gets
/// the quota of its tier: `standard` (10/s, burst 20) without a key or with an unknown
/// one, `premium` (50/s, burst 100) or `broker` (500/s, burst 1000).
fn app() -> Router {
    let tiers = Tiers::preset()
        .resolve(|req| {
            // A real service looks the key up; the demo takes the tier from the key's suffix.
            let key = req.headers().get("x-api-key")?.to_str().ok()?;
            ["premium", "broker"]
                .into_iter()
                .find(|tier| key.ends_with(tier))
        })
        .build()
        .expect("the preset tiers are valid");
    let limits = RateLimitLayer::builder()
        .policy(
            Policy::new("ip", PeerIp::new(), Quota::per_second(100).burst(200))
                .expect("valid policy"),
        )
        .policy(Policy::tiered("tier", caller, tiers).expect("valid policy"))
        .build()
        .expect("valid rate limit configuration");
    Router::new()
        .route(
            "/",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                format!("hello, {}\n", peer.ip())
            }),
        )
        .layer(limits)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let bound = listener.local_addr()?;
    println!("rate_limit example listening on http://{bound}");
    println!("try:");
    println!("  curl -s -o /dev/null -w '%{{http_code}} ' 'http://{bound}/?[1-25]'; echo   # 20 x 200, then 429");
    println!("  curl -i http://{bound}/                                # 429 once the burst of 20 is spent");
    println!("  curl -i -H 'x-api-key: demo-premium' http://{bound}/  # premium tier: burst 100");
    axum::serve(
        listener,
        app().into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
        println!("shutting down");
    })
    .await?;
    Ok(())
}

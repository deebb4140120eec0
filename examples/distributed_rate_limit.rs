//! Two servers (two replicas) sharing one rate limit through Redis.
//!
//! Run with
//!
//! ```not_rust
//! # A Redis to share (any will do; point REDIS_URL at it):
//! redis-server --port 6379 --save "" &
//! REDIS_URL=redis://127.0.0.1:6379 ADDR=127.0.0.1:3000 ADDR2=127.0.0.1:3001 \
//!     cargo run --example distributed_rate_limit --features redis,axum
//!
//! # In another terminal: five requests pass in total, whichever server they reach,
//! # then both answer 429 with the same Retry-After.
//! for i in 1 2 3 4; do
//!   curl -s -o /dev/null -w "3000: %{http_code}\n" http://127.0.0.1:3000/
//!   curl -s -o /dev/null -w "3001: %{http_code}\n" http://127.0.0.1:3001/
//! done
//! curl -i http://127.0.0.1:3001/
//!
//! # Stop Redis (`redis-cli -p 6379 shutdown`): each server goes on limiting alone, at
//! # half of the quota (the local fallback), and logs that Redis is unavailable; start
//! # it again and decisions go back to Redis within a probe interval.
//! ```
//!
//! Each server has its own store and its own connection, as two processes would; they share
//! state only through Redis. Defaults: `ADDR=127.0.0.1:3000`, `ADDR2=127.0.0.1:3001`,
//! `REDIS_URL=redis://127.0.0.1:6379`.

use std::{net::SocketAddr, time::Duration};

use axum::{extract::ConnectInfo, routing::get, Router};
use tower_fortify::{
    rate_limit::{store::RedisStore, PeerIp, Policy, Quota, RateLimitLayer},
    ConfigError,
};

/// One replica: a router limited per client IP, with state in Redis.
fn app(name: &'static str, store: RedisStore) -> Result<Router, ConfigError> {
    let limit = RateLimitLayer::builder()
        .policy(Policy::new(
            "per-ip",
            PeerIp::new(),
            Quota::per_minute(10).burst(5),
        )?)
        .store(store)
        .build()?;
    Ok(Router::new()
        .route(
            "/",
            get(
                move |ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                    format!("hello {}, this is {name}\n", peer.ip())
                },
            ),
        )
        .layer(limit))
}

fn store(url: &str) -> Result<RedisStore, ConfigError> {
    RedisStore::builder(url)
        .prefix("distributed-example")
        .timeout(Duration::from_millis(50))
        // Two replicas: while Redis is away each allows half of the shared quota.
        .local_fallback(0.5)
        .build()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt::init();
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let addr2 = std::env::var("ADDR2").unwrap_or_else(|_| "127.0.0.1:3001".into());
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());

    let (store_a, store_b) = (store(&url)?, store(&url)?);
    if let Err(e) = store_a.preload().await {
        eprintln!("warning: {e}; starting anyway, deciding locally until Redis answers");
    }
    let a = tokio::net::TcpListener::bind(&addr).await?;
    let b = tokio::net::TcpListener::bind(&addr2).await?;
    println!(
        "replica A on http://{}, replica B on http://{}, sharing a limit of 5 requests (then 10 per minute) per client through {url}",
        a.local_addr()?,
        b.local_addr()?
    );
    println!(
        "try: curl -i http://{}/ and http://{}/ in turn",
        a.local_addr()?,
        b.local_addr()?
    );

    let serve = |listener: tokio::net::TcpListener, app: Router| {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    };
    let (ra, rb) = tokio::join!(
        serve(a, app("replica A", store_a)?),
        serve(b, app("replica B", store_b)?)
    );
    ra?;
    rb?;
    println!("shut down");
    Ok(())
}

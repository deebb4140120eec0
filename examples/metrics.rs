//! An axum app with request metrics and the monitoring service under `/admin`.
//!
//! Run with
//!
//! ```sh
//! cargo run --example metrics --all-features
//! ADMIN_TOKEN=my-long-random-admin-token ADDR=127.0.0.1:3000 cargo run --example metrics --all-features
//! ```
//!
//! then try
//!
//! ```sh
//! curl -s localhost:3000/users/42
//! curl -s localhost:3000/admin/health/ready
//! curl -s -H "Authorization: Bearer $ADMIN_TOKEN" localhost:3000/admin/metrics
//! curl -s -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Accept: application/openmetrics-text' localhost:3000/admin/metrics
//! curl -s -H "Authorization: Bearer $ADMIN_TOKEN" localhost:3000/admin/dashboard
//! ```

use std::time::Duration;

use axum::{routing::get, Router};
use rand::{distr::Alphanumeric, Rng};
use tower_fortify::{
    metrics::{HealthCheck, HealthRegistry, MetricsRegistry},
    monitoring::MonitoringService,
    ConfigError,
};

/// The app: two routes with metrics, and the monitoring service under `/admin`.
pub(crate) fn app(admin_token: String) -> Result<Router, ConfigError> {
    let metrics = MetricsRegistry::builder()
        .percentile_window(Duration::from_secs(60), 6)
        .build()?;
    let health = HealthRegistry::builder()
        .check(
            HealthCheck::new("temp_dir", || async {
                tokio::fs::metadata(std::env::temp_dir()).await.map(|_| ())
            })
            .critical(false)
            .timeout(Duration::from_millis(500)),
        )
        .cache_for(Duration::from_secs(5))
        .build()?;
    let monitoring = MonitoringService::builder()
        .bearer_token(admin_token)
        .metrics(metrics.clone())
        .health(health)
        .build()?;
    Ok(Router::new()
        .route("/", get(|| async { "hello\n" }))
        .route(
            "/users/{id}",
            get(
                |axum::extract::Path(id): axum::extract::Path<u64>| async move {
                    format!("user {id}\n")
                },
            ),
        )
        // `Router::layer` runs after routing, so the layer sees `MatchedPath`.
        .layer(metrics.layer())
        .nest_service("/admin", monitoring))
}

fn admin_token() -> String {
    match std::env::var("ADMIN_TOKEN") {
        Ok(t) => t,
        Err(_) => {
            let t: String = rand::rng()
                .sample_iter(Alphanumeric)
                .take(32)
                .map(char::from)
                .collect();
            println!("ADMIN_TOKEN not set; generated one for this run: {t}");
            t
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let token = admin_token();
    let app = app(token)?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let local = listener.local_addr()?;
    println!("listening on http://{local}");
    println!("try: curl -s http://{local}/users/42");
    println!("     curl -s http://{local}/admin/health/ready");
    println!("     curl -s -H \"Authorization: Bearer $ADMIN_TOKEN\" http://{local}/admin/metrics");
    println!(
        "     curl -s -H \"Authorization: Bearer $ADMIN_TOKEN\" http://{local}/admin/dashboard"
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

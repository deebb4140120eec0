//! `HealthCheck::redis_ping` against a real Redis: healthy while it runs, unhealthy once it
//! stops.
//!
//! The server comes from `support::redis::TestRedis`: a private `redis-server` on a free
//! loopback port when the binary is on `PATH`, else `REDIS_URL` (then only the healthy
//! half runs, since a shared server is not ours to stop), else a one-line skip notice;
//! under `CI=true` a missing Redis is a failure.
#![cfg(all(feature = "metrics", feature = "redis"))]

use std::time::Duration;

use crate::support::redis::TestRedis;
use tower_fortify::metrics::{HealthCheck, HealthRegistry, HealthStatus};

#[tokio::test]
async fn redis_ping_follows_the_server() {
    let Some(mut redis) = TestRedis::start("redis_ping_follows_the_server") else {
        return;
    };
    let client = redis::Client::open(redis.url()).unwrap();
    let manager = client
        .get_connection_manager()
        .await
        .expect("the test redis-server accepts connections");
    let health = HealthRegistry::builder()
        .check(HealthCheck::redis_ping("redis", manager).timeout(Duration::from_millis(500)))
        .cache_for(Duration::ZERO)
        .build()
        .unwrap();
    let report = health.check().await;
    assert_eq!(report.status, HealthStatus::Healthy, "{report:?}");

    if redis.owned() {
        redis.kill();
        let report = health.check().await;
        assert_eq!(report.status, HealthStatus::Unhealthy, "{report:?}");
        assert!(report.checks[0].error.is_some());
    }
}

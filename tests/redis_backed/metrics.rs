//! `HealthCheck::redis_ping` against a real Redis: healthy while it runs, unhealthy once it
//! stops.
//!
//! The test starts its own `redis-server` on a free loopback port when the binary is on
//! `PATH`, else uses `REDIS_URL` (then only the healthy half runs), else prints a one-line
//! skip notice; under `CI=true` a missing Redis is a failure.
#![cfg(all(feature = "metrics", feature = "redis"))]

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use tower_fortify::metrics::{HealthCheck, HealthRegistry, HealthStatus};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_redis() -> Option<(String, Option<Server>)> {
    let port = free_port();
    let spawned = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        Ok(child) => Some((format!("redis://127.0.0.1:{port}/"), Some(Server(child)))),
        Err(_) => match std::env::var("REDIS_URL") {
            Ok(url) => Some((url, None)),
            Err(_) => {
                assert!(
                    !std::env::var("CI").is_ok_and(|v| v == "true"),
                    "redis-server or REDIS_URL is required under CI=true"
                );
                eprintln!("skipped: no redis-server on PATH and no REDIS_URL");
                None
            }
        },
    }
}

#[tokio::test]
async fn redis_ping_follows_the_server() {
    let Some((url, server)) = start_redis() else {
        return;
    };
    let client = redis::Client::open(url.as_str()).unwrap();
    // The server needs a moment to listen; retry for up to 10 s.
    let mut manager = None;
    for _ in 0..100 {
        if let Ok(m) = client.get_connection_manager().await {
            manager = Some(m);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let manager = manager.expect("redis-server accepts connections within 10 s");
    let health = HealthRegistry::builder()
        .check(HealthCheck::redis_ping("redis", manager).timeout(Duration::from_millis(500)))
        .cache_for(Duration::ZERO)
        .build()
        .unwrap();
    let report = health.check().await;
    assert_eq!(report.status, HealthStatus::Healthy, "{report:?}");

    if let Some(server) = server {
        drop(server);
        let report = health.check().await;
        assert_eq!(report.status, HealthStatus::Unhealthy, "{report:?}");
        assert!(report.checks[0].error.is_some());
    }
}

//! A private `redis-server` for tests.
//!
//! [`TestRedis::start`] runs `redis-server` on a free loopback port (no persistence) when
//! the binary is on `PATH`; otherwise it uses `REDIS_URL`; otherwise it prints a one-line
//! skip notice and returns `None`. Under `CI=true` a missing Redis is a failure (panic), so
//! CI can never pass by skipping. Never the machine's own Redis on 6379.
#![allow(dead_code)] // each test binary uses a different part

use std::{
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

/// A Redis for one test: owned (killable) or shared through `REDIS_URL`.
pub(crate) struct TestRedis {
    url: String,
    port: u16,
    child: Option<Child>,
    owned: bool,
}

impl TestRedis {
    /// A Redis to test against, or `None` (after a skip notice) when there is none.
    pub(crate) fn start(test: &str) -> Option<Self> {
        if which("redis-server") {
            let port = free_port();
            let mut redis = Self {
                url: format!("redis://127.0.0.1:{port}/"),
                port,
                child: None,
                owned: true,
            };
            redis.restart();
            return Some(redis);
        }
        if let Ok(url) = std::env::var("REDIS_URL") {
            return Some(Self {
                url,
                port: 0,
                child: None,
                owned: false,
            });
        }
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: redis-server is not on PATH and REDIS_URL is not set (CI=true)");
        }
        eprintln!("skipping {test}: no redis-server on PATH and no REDIS_URL");
        None
    }

    /// The URL to connect to.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Whether this test owns the server (and so may kill and restart it).
    pub(crate) fn owned(&self) -> bool {
        self.owned
    }

    /// Kills the server (an owned one only) and waits until its port is closed.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// (Re)starts an owned server on the same port and waits until it accepts connections.
    pub(crate) fn restart(&mut self) {
        assert!(self.owned, "only an owned redis-server can be restarted");
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--protected-mode", "yes", "--loglevel", "warning"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is on PATH but could not be started");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on port {} within 10 s",
                self.port
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// A plain (non-managed) async connection, for inspecting keys.
    pub(crate) async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn which(binary: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(binary).is_file()))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

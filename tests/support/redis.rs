//! A private `redis-server` for tests.
//!
//! [`TestRedis::start`] runs `redis-server` on a free loopback port (no persistence) when
//! the binary is on `PATH`; otherwise it uses `REDIS_URL`; otherwise it prints a one-line
//! skip notice and returns `None`. Under `CI=true` a missing Redis is a failure (panic), so
//! CI can never pass by skipping. Never the machine's own Redis on 6379.
#![allow(dead_code)] // each test binary uses a different part

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    sync::Mutex,
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
            // A port another process took between our probe and the server's bind is
            // detected (the server that answers is not our child): try another one.
            for _ in 0..5 {
                let port = free_port();
                let mut redis = Self {
                    url: format!("redis://127.0.0.1:{port}/"),
                    port,
                    child: None,
                    owned: true,
                };
                if redis.try_start() {
                    return Some(redis);
                }
            }
            panic!("{test}: could not start a private redis-server on five free ports");
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
        assert!(
            self.try_start(),
            "port {} was taken by another server while ours was down",
            self.port
        );
    }

    /// Starts our server on `self.port`; `false` when the port answers with another process.
    fn try_start(&mut self) -> bool {
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
        let ours = self.child.as_ref().map(Child::id);
        if server_pid(self.port) == ours {
            return true;
        }
        self.kill();
        false
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

/// A free loopback port never handed out before in this process: the tests of one binary
/// run in parallel, and two of them must never be given the same port.
fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("no free loopback port");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// The `process_id` the Redis server on `port` reports (`INFO server`).
fn server_pid(port: u16) -> Option<u32> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(b"INFO server\r\n").ok()?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while !reply.windows(11).any(|w| w == b"process_id:") || !reply.ends_with(b"\r\n") {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&reply);
    let line = text.lines().find_map(|l| l.strip_prefix("process_id:"))?;
    line.trim().parse().ok()
}

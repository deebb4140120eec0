//! A Redis server for tests: `#[path = "support/redis.rs"] mod redis_support;`.
//!
//! [`redis_server`] starts a private `redis-server` on a free loopback port when the binary
//! is on `PATH` (stopped when the returned value is dropped), else uses `REDIS_URL`, else
//! prints a one-line skip notice and returns `None`. Under `CI=true` a missing Redis is a
//! failure, never a silent skip.
#![allow(dead_code, unreachable_pub)]

use std::{
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A Redis to test against; a private server is killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    url: String,
    child: Option<Child>,
}

impl RedisServer {
    /// The `redis://` URL of the server.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn on_path(binary: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(binary).is_file()))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Starts or finds a Redis server; `None` (after a one-line notice) when there is none
/// and `CI` is not `true`. `test` names the caller in the notice.
pub fn redis_server(test: &str) -> Option<RedisServer> {
    if on_path("redis-server") {
        // A port picked free may be taken before redis binds it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new("redis-server")
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
                .spawn()
                .expect("redis-server is on PATH and starts");
            let mut server = RedisServer {
                url: format!("redis://127.0.0.1:{port}/"),
                child: Some(child),
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Some(child) = &mut server.child {
                    if let Ok(Some(_)) = child.try_wait() {
                        break; // exited: port taken, try another
                    }
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(server);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("redis-server is on PATH but did not start");
    }
    if let Ok(url) = std::env::var("REDIS_URL") {
        return Some(RedisServer { url, child: None });
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but neither redis-server on PATH nor REDIS_URL is available ({test})"
    );
    eprintln!("skipping {test}: no redis-server on PATH and no REDIS_URL");
    None
}

//! Fuzzes `TrustedHostLayer` with arbitrary `Host`, request-target authority,
//! `X-Forwarded-Host` and `Forwarded` values, from a trusted proxy or not.
//!
//! Invariants: never panic; the answer is 200 (reached the inner service) or the
//! rejection (400 with a `HostRejection` whose host is at most 255 bytes); whatever was
//! let through names an allowed host, both in `Host` and, from a trusted proxy, in the
//! forwarded host (an independent check of the allow-list, written here).
//!
//! Run with `cargo fuzz run -s none host` (stable toolchain).
#![no_main]

use std::{
    convert::Infallible,
    future::Future,
    net::{Ipv6Addr, SocketAddr},
    pin::pin,
    task::{Context, Poll, Waker},
};

use http::{HeaderValue, Request, Response, StatusCode};
use libfuzzer_sys::fuzz_target;
use tower::{service_fn, Layer, ServiceExt};
use tower_fortify::{
    proxy::{ForwardedHeader, PeerAddr, TrustedProxies},
    trusted_host::{HostRejection, TrustedHostLayer},
};

fn run<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000 {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return Some(out);
        }
    }
    None
}

/// The allow-list `["app.example", "*.app.example", "[::1]:8080", "127.0.0.1"]`, written
/// independently of the crate: whether `raw` names one of them.
fn allowed(raw: &str) -> bool {
    let raw = raw.trim();
    if let Some(rest) = raw.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return false;
        };
        return inside.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback()) && after == ":8080";
    }
    let name = match raw.rsplit_once(':') {
        Some((n, port)) => {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            n
        }
        None => raw,
    };
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let labels_ok = name.split('.').all(|l| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    labels_ok && (name == "app.example" || name.ends_with(".app.example") || name == "127.0.0.1")
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.split(|b| *b == b'\n');
    let host = parts.next().unwrap_or_default();
    let forwarded = parts.next();
    let authority = parts.next();

    let mut proxies = TrustedProxies::from_cidrs(["10.0.0.0/8"]).expect("valid network");
    if sel & 1 != 0 {
        proxies = proxies.header(ForwardedHeader::Forwarded);
    }
    let layer =
        TrustedHostLayer::builder(["app.example", "*.app.example", "[::1]:8080", "127.0.0.1"])
            .trusted_proxies(proxies)
            .build()
            .expect("a valid allow-list");
    let svc = layer.layer(service_fn(|_req: Request<()>| async {
        Ok::<_, Infallible>(Response::new(()))
    }));

    let mut builder = Request::builder();
    if let Some(a) = authority.and_then(|a| std::str::from_utf8(a).ok()) {
        builder = builder.uri(format!("http://{a}/"));
    }
    let Ok(mut req) = builder.body(()) else {
        return;
    };
    let host_value = HeaderValue::from_bytes(host).ok();
    if let Some(v) = &host_value {
        req.headers_mut().insert("host", v.clone());
    }
    let fwd_value = forwarded.and_then(|f| HeaderValue::from_bytes(f).ok());
    if let Some(v) = &fwd_value {
        let name = if sel & 1 != 0 {
            "forwarded"
        } else {
            "x-forwarded-host"
        };
        req.headers_mut().insert(name, v.clone());
    }
    let from_proxy = sel & 2 != 0;
    let peer: SocketAddr = if from_proxy {
        "10.0.0.2:4000"
    } else {
        "203.0.113.9:4000"
    }
    .parse()
    .unwrap();
    req.extensions_mut().insert(PeerAddr(peer));
    let uri_authority = req.uri().authority().map(|a| a.as_str().to_owned());

    let res = run(svc.oneshot(req))
        .expect("an in-memory request completes")
        .expect("infallible");
    match res.status() {
        StatusCode::OK => {
            let host = host_value.as_ref().and_then(|v| v.to_str().ok());
            assert!(
                host.is_some() || uri_authority.is_some(),
                "no host was let through"
            );
            if let Some(h) = host {
                assert!(allowed(h), "Host {h:?} let through");
            }
            if let Some(a) = &uri_authority {
                assert!(allowed(a), "authority {a:?} let through");
            }
            if from_proxy && sel & 1 == 0 {
                if let Some(f) = fwd_value.as_ref().and_then(|v| v.to_str().ok()) {
                    let rightmost = f.rsplit(',').next().unwrap_or("").trim();
                    assert!(
                        rightmost.is_empty() || allowed(rightmost),
                        "X-Forwarded-Host {f:?} let through"
                    );
                }
            }
        }
        StatusCode::BAD_REQUEST => {
            let why = res
                .extensions()
                .get::<HostRejection>()
                .expect("a refusal carries its rejection");
            assert!(why.host().len() <= 255);
        }
        other => panic!("unexpected status {other}"),
    }
});

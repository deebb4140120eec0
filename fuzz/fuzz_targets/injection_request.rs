//! Fuzzes the injection layer with arbitrary requests: method, request-target bytes,
//! headers and body. The layer must never panic, and when the inner service is reached
//! it must receive exactly the body that was sent.
//!
//! The selector byte also picks a body shape, so the body paths are reached without the
//! fuzzer having to discover them: a `Content-Encoding` (gzip, deflate, br, a stack of
//! them, an unknown one, a lie), a multipart or an XML content type, a gRPC content type
//! on a declared or an undeclared gRPC route.
//!
//! Run with `cargo fuzz run -s none injection_request` (stable toolchain).
#![no_main]

use std::{
    convert::Infallible,
    io::Write,
    future::Future,
    pin::pin,
    sync::{Arc, Mutex},
    task::{Context, Poll, Waker},
};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response};
use http_body_util::{BodyExt, Full};
use libfuzzer_sys::fuzz_target;
use tower::{service_fn, Layer, ServiceExt};
use tower_fortify::injection::{Detector, InjectionLayer, InspectedBody};

/// Polls a future that only waits on in-memory data to completion.
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

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// Percent-encodes what the `http` crate refuses in a request target.
fn target(bytes: &[u8]) -> String {
    let mut out = String::from("/");
    for &b in bytes {
        if b.is_ascii_graphic() && !b"\"<>\\^`{|}".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    // Layout: method selector, then lines: request target, headers ("name: value"),
    // an empty line, then the body.
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let method =
        [Method::GET, Method::POST, Method::PUT, Method::PATCH][usize::from(selector % 4)].clone();
    let shape = selector / 4;
    let mut lines = rest.splitn(2, |b| *b == b'\n');
    let uri = lines.next().unwrap_or_default();
    let rest = lines.next().unwrap_or_default();
    let (head, body) = match rest.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => (rest, &[][..]),
    };
    let mut builder = Request::builder().method(method).uri(target(uri));
    for line in head.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) {
            builder = builder.header(name, value);
        }
    }
    let (extra, body): (&[(&str, &str)], Vec<u8>) = match shape % 16 {
        1 => (&[("content-encoding", "gzip")], gzip(body)),
        2 => (&[("content-encoding", "deflate")], deflate(body)),
        3 => (&[("content-encoding", "gzip, deflate")], deflate(&gzip(body))),
        4 => (&[("content-encoding", "br")], body.to_vec()),
        5 => (&[("content-encoding", "gzip")], body.to_vec()),
        6 => (&[("content-encoding", "gzip"), ("content-encoding", "gzip, gzip, gzip")], body.to_vec()),
        7 => (&[("content-encoding", "zstd")], body.to_vec()),
        8 | 9 => (
            &[("content-type", "multipart/form-data; boundary=b")],
            body.to_vec(),
        ),
        10 => (
            &[("content-type", "multipart/form-data; boundary=b"), ("content-encoding", "gzip")],
            gzip(body),
        ),
        11 | 12 => (&[("content-type", "application/xml")], body.to_vec()),
        13 => (&[("content-type", "application/json")], body.to_vec()),
        14 => (&[("content-type", "application/grpc")], body.to_vec()),
        _ => (&[], body.to_vec()),
    };
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    let sent = Bytes::from(body);
    let Ok(req) = builder.body(sent.clone()) else {
        return;
    };

    // The standalone detector.
    if let Ok(detector) = Detector::builder().build() {
        let _ = detector.inspect(&req);
    }

    // The layer, with a small limit so the prefix path is exercised too.
    let Ok(layer) = InjectionLayer::builder()
        .body_limit(512)
        .grpc_routes(["/g/"])
        .build()
    else {
        return;
    };
    let received = Arc::new(Mutex::new(None::<Bytes>));
    let record = received.clone();
    let svc = layer.layer(service_fn(
        move |req: Request<InspectedBody<Full<Bytes>>>| {
            let record = record.clone();
            async move {
                let bytes = req
                    .into_body()
                    .collect()
                    .await
                    .map(|c| c.to_bytes())
                    .unwrap_or_default();
                *record.lock().unwrap() = Some(bytes);
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
            }
        },
    ));
    let req = req.map(Full::new);
    let out = run(svc.oneshot(req)).expect("an in-memory request completes");
    assert!(out.is_ok());
    let got = received.lock().unwrap().take();
    if let Some(got) = got {
        assert_eq!(
            got, sent,
            "the inner service must receive the body unchanged"
        );
    }
});

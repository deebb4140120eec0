//! Fuzzes the CORS builder with arbitrary origins, methods and header names, then sends
//! the built layer arbitrary preflights and requests.
//!
//! Invariants: never panic (tower-http panics on some configurations; the builder must
//! refuse them with a `cors.*` `ConfigError` instead); an allowed origin is echoed only
//! when the request's `Origin` is exactly one of the listed origins (lowercased), and `*`
//! only for the public preset without credentials; an `OPTIONS` request that is not a
//! preflight reaches the application.
//!
//! Run with `cargo fuzz run -s none cors_config` (stable toolchain).
#![no_main]

use std::{
    convert::Infallible,
    future::Future,
    pin::pin,
    task::{Context, Poll, Waker},
    time::Duration,
};

use http::{HeaderValue, Method, Request, Response};
use libfuzzer_sys::fuzz_target;
use tower::{service_fn, Layer, ServiceExt};
use tower_fortify::cors::CorsLayer;

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

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    // Records separated by '\n': a kind byte then text.
    let (mut origins, mut methods, mut allow, mut expose, mut probes) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for record in rest.split(|b| *b == b'\n') {
        let Some((&kind, text)) = record.split_first() else {
            continue;
        };
        let text = String::from_utf8_lossy(text).into_owned();
        match kind % 5 {
            0 => origins.push(text),
            1 => methods.push(text),
            2 => allow.push(text),
            3 => expose.push(text),
            _ => probes.push(text),
        }
    }
    let public = sel & 1 != 0;
    let credentials = sel & 2 != 0;
    let mut builder = if public {
        CorsLayer::public_read_only()
    } else {
        CorsLayer::same_origin_api(&origins)
    };
    builder = builder.allow_credentials(credentials);
    if sel & 4 != 0 {
        builder = builder.allow_methods(&methods);
    }
    if sel & 8 != 0 {
        builder = builder.allow_headers(&allow);
    }
    if sel & 16 != 0 {
        builder = builder.expose_headers(&expose);
    }
    if sel & 32 != 0 {
        builder = builder.max_age(Some(Duration::from_secs(u64::from(sel) << 40)));
    }
    let layer = match builder.build() {
        Ok(layer) => layer,
        Err(e) => {
            assert!(e.setting().starts_with("cors."), "{}", e.setting());
            return;
        }
    };
    let svc = layer.layer(service_fn(|_req: Request<()>| async {
        let mut res = Response::new(());
        res.headers_mut()
            .insert("x-app", HeaderValue::from_static("reached"));
        Ok::<_, Infallible>(res)
    }));

    // Probe with the configured origins (as written and lowercased) and the fuzzer's own.
    let mut candidates = probes.clone();
    candidates.extend(origins.iter().cloned());
    candidates.extend(origins.iter().map(|o| o.to_ascii_lowercase()));
    for (i, origin) in candidates.iter().enumerate().take(16) {
        let Ok(origin_value) = HeaderValue::from_str(origin) else {
            continue;
        };
        let preflight = i % 2 == 0;
        let method = if i % 3 == 0 {
            Method::OPTIONS
        } else {
            Method::GET
        };
        let mut req = Request::builder()
            .method(method.clone())
            .header("origin", origin_value)
            .body(())
            .expect("a valid request");
        if preflight && method == Method::OPTIONS {
            let m = methods
                .get(i % methods.len().max(1))
                .map_or("PUT", |m| m.as_str());
            if let Ok(v) = HeaderValue::from_str(m) {
                req.headers_mut().insert("access-control-request-method", v);
            }
        }
        let is_preflight = method == Method::OPTIONS
            && req.headers().contains_key("access-control-request-method");
        let res = run(svc.clone().oneshot(req))
            .expect("an in-memory request completes")
            .expect("infallible");
        if method == Method::OPTIONS && !is_preflight {
            assert!(
                res.headers().contains_key("x-app"),
                "OPTIONS must reach the app"
            );
        }
        if let Some(acao) = res.headers().get("access-control-allow-origin") {
            if acao == "*" {
                assert!(public && !credentials, "`*` with credentials or a list");
            } else {
                assert_eq!(acao.as_bytes(), origin.as_bytes(), "echoed another origin");
                assert!(!public, "the public preset echoes origins");
                assert!(
                    origins.iter().any(|o| o.to_ascii_lowercase() == *origin),
                    "{origin:?} is not listed in {origins:?}"
                );
            }
        }
    }
});

//! `SecurityHeadersLayer` against the same headers applied with tower-http's
//! `SetResponseHeaderLayer` stack, in one run.
//!
//! Run with
//!
//! ```not_rust
//! cargo bench --bench security_headers -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Every variant wraps the same inner service (an empty `Response<String>`) and is driven by
//! polling its future once with a no-op waker, so no runtime cost is measured; request
//! construction is excluded with `iter_batched`. The request is `https://`, so the strict
//! preset sends HSTS and the header sets are identical:
//!
//! - `tower_http_set_response_header`: ten `SetResponseHeaderLayer::if_not_present` layers
//!   (keep-existing semantics, as this crate's default) with the strict preset's values;
//! - `fortify_strict`: `SecurityHeadersLayer::strict()` (it also strips 18 fingerprinting headers
//!   and two prefixes, which tower-http's stack does not do);
//! - `fortify_strict_no_strip`: the same without the strip list, for a like-for-like count;
//! - `fortify_strict_nonce`: the strict preset with `script-src 'self' 'nonce-…'`: one
//!   CSPRNG draw, base64 and a rendered CSP per request, plus `Cache-Control: no-store`.

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::{
    convert::Infallible,
    future::Future,
    pin::pin,
    task::{Context, Poll, Waker},
};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use http::{HeaderName, HeaderValue, Request, Response};
use tower::{service_fn, Layer, Service, ServiceBuilder};
use tower_fortify::security_headers::{
    ContentSecurityPolicy, CspSource, SecurityHeadersLayer, DENY_ALL_PERMISSIONS_POLICY,
};
use tower_http::set_header::SetResponseHeaderLayer;

const STRICT_CSP: &str = "default-src 'self';form-action 'self';base-uri 'self';object-src 'none';frame-ancestors 'none';upgrade-insecure-requests";

fn request() -> Request<()> {
    Request::builder()
        .uri("https://api.example.com/items")
        .body(())
        .expect("valid request")
}

/// Polls the service once; every variant is ready and completes on the first poll.
fn run<S>(svc: &mut S, req: Request<()>) -> Response<String>
where
    S: Service<Request<()>, Response = Response<String>, Error = Infallible>,
{
    let mut cx = Context::from_waker(Waker::noop());
    assert!(svc.poll_ready(&mut cx).is_ready());
    let mut fut = pin!(svc.call(req));
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(res)) => res,
        _ => panic!("the benchmark services complete on the first poll"),
    }
}

fn inner() -> impl Service<Request<()>, Response = Response<String>, Error = Infallible> + Clone {
    service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(String::new())) })
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("security_headers");

    let pairs: [(&str, &str); 10] = [
        ("content-security-policy", STRICT_CSP),
        (
            "strict-transport-security",
            "max-age=63072000; includeSubDomains",
        ),
        ("cross-origin-embedder-policy", "require-corp"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        ("permissions-policy", DENY_ALL_PERMISSIONS_POLICY),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("x-permitted-cross-domain-policies", "none"),
    ];
    let set = |i: usize| {
        SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static(pairs[i].0),
            HeaderValue::from_static(pairs[i].1),
        )
    };
    let mut tower_http = ServiceBuilder::new()
        .layer(set(0))
        .layer(set(1))
        .layer(set(2))
        .layer(set(3))
        .layer(set(4))
        .layer(set(5))
        .layer(set(6))
        .layer(set(7))
        .layer(set(8))
        .layer(set(9))
        .service(inner());

    let mut strict = SecurityHeadersLayer::strict()
        .build()
        .expect("preset")
        .layer(inner());
    let mut no_strip = SecurityHeadersLayer::strict()
        .strip_headers(Vec::<String>::new())
        .build()
        .expect("preset")
        .layer(inner());
    let csp = ContentSecurityPolicy::strict()
        .script_src([CspSource::SelfOrigin, CspSource::Nonce])
        .build()
        .expect("policy");
    let mut nonce = SecurityHeadersLayer::strict()
        .content_security_policy(csp)
        .build()
        .expect("preset")
        .layer(inner());

    // Same header set, checked once before measuring.
    let a = run(&mut tower_http, request());
    let b = run(&mut strict, request());
    for (name, value) in pairs {
        assert_eq!(a.headers()[name], value, "tower-http {name}");
        assert_eq!(b.headers()[name], value, "fortify {name}");
    }
    assert_eq!(a.headers().len(), b.headers().len());

    group.bench_function("tower_http_set_response_header", |bch| {
        bch.iter_batched(
            request,
            |req| run(&mut tower_http, req),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("fortify_strict", |bch| {
        bch.iter_batched(request, |req| run(&mut strict, req), BatchSize::SmallInput)
    });
    group.bench_function("fortify_strict_no_strip", |bch| {
        bch.iter_batched(
            request,
            |req| run(&mut no_strip, req),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("fortify_strict_nonce", |bch| {
        bch.iter_batched(request, |req| run(&mut nonce, req), BatchSize::SmallInput)
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

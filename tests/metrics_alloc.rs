//! A request on a known route allocates nothing in `MetricsLayer` once its series exist:
//! the layered service allocates exactly as often as the bare one.
//!
//! The services are plain tower services: axum's `Router::layer` boxes any response body
//! whose type a layer changed (one allocation per request that any body-wrapping layer,
//! tower-http's included, pays), which is axum's cost, not the layer's.
//!
//! This file holds one test on purpose: the allocation counter is process-wide.
#![cfg(all(feature = "metrics", feature = "axum"))]

use std::alloc::System;

use std::{borrow::Cow, convert::Infallible, time::Duration};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tower::{Layer, Service, ServiceExt};
use tower_fortify::metrics::MetricsRegistry;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

async fn handler(_req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"user"))))
}

async fn requests<S, B>(svc: &S, n: usize)
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>, Error = Infallible> + Clone,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    for _ in 0..n {
        let req = Request::get("/users/42").body(Full::default()).unwrap();
        let res = svc.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.into_body().collect().await.unwrap();
    }
}

#[test]
fn known_route_requests_do_not_allocate_in_the_layer() {
    // Paused time: the percentile windows read tokio's clock, so no slot of the window
    // starts (and allocates its buckets on first use) in the middle of a measurement
    // whatever the wall clock does. The 1 ms slots make a clock leak certain to show:
    // read from the wall clock, 200 requests would start new slots.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let metrics = MetricsRegistry::builder()
        .percentile_window(Duration::from_millis(600), 600)
        .route_fn(|_, uri| {
            uri.path()
                .starts_with("/users/")
                .then_some(Cow::Borrowed("/users/{id}"))
        })
        .build()
        .unwrap();
    let bare = tower::service_fn(handler);
    let layered = metrics.layer().layer(tower::service_fn(handler));
    rt.block_on(async {
        // Warm-up: the route entry and its series are created here.
        requests(&bare, 10).await;
        requests(&layered, 10).await;

        let region = Region::new(GLOBAL);
        requests(&bare, 200).await;
        let bare_allocs = region.change().allocations;

        let region = Region::new(GLOBAL);
        requests(&layered, 200).await;
        let layered_allocs = region.change().allocations;

        assert!(bare_allocs > 0, "the counter counts");
        assert_eq!(
            layered_allocs, bare_allocs,
            "allocations in MetricsLayer per 200 requests"
        );
    });
    assert!(metrics
        .render(tower_fortify::metrics::ExpositionFormat::Prometheus)
        .contains(
            r#"http_route="/users/{id}",http_response_status_code="200",url_scheme="http"} 210"#
        ));
}

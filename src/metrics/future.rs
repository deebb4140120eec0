//! [`MetricsFuture`], the response future of [`Metrics`](super::Metrics).

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use http::Response;
use http_body::Body;
use pin_project_lite::pin_project;

use super::{
    body::{grpc_status, BodyState, MetricsBody},
    recorder::InFlight,
    series::{Failure, FamilyKind, Outcome},
};
use crate::event::SecurityEvents;

pin_project! {
    /// The response future of [`Metrics`](super::Metrics). A future dropped before the
    /// response is recorded with `error.type="cancelled"`.
    pub struct MetricsFuture<F> {
        #[pin]
        inner: F,
        in_flight: Option<InFlight>,
    }

    impl<F> PinnedDrop for MetricsFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(f) = this.project().in_flight.take() {
                f.finish(None, Outcome::None, Failure::Cancelled, None);
            }
        }
    }
}

impl<F> MetricsFuture<F> {
    pub(super) fn new(inner: F, in_flight: InFlight) -> Self {
        Self {
            inner,
            in_flight: Some(in_flight),
        }
    }
}

impl<F> fmt::Debug for MetricsFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsFuture").finish_non_exhaustive()
    }
}

impl<F, ResBody, E> Future for MetricsFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: Body,
{
    type Output = Result<Response<MetricsBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if this.in_flight.is_none() {
            // The request was recorded when this future returned `Ready`.
            crate::polled_after_completion("MetricsFuture");
        }
        let result = std::task::ready!(this.inner.poll(cx));
        let Some(in_flight) = this.in_flight.take() else {
            crate::polled_after_completion("MetricsFuture");
        };
        match result {
            Ok(res) => {
                let outcome = res
                    .extensions()
                    .get::<SecurityEvents>()
                    .map_or(Outcome::None, |events| {
                        in_flight.recorder.count_events(events)
                    });
                let status = match in_flight.kind {
                    FamilyKind::Http => Some(res.status().as_u16()),
                    // Trailers-Only responses carry grpc-status in the headers; otherwise it
                    // comes in the trailers.
                    FamilyKind::Grpc => grpc_status(res.headers()),
                };
                let (parts, body) = res.into_parts();
                let state = BodyState {
                    in_flight,
                    status,
                    outcome,
                    bytes: 0,
                    failed: false,
                };
                Poll::Ready(Ok(Response::from_parts(
                    parts,
                    MetricsBody::new(body, state),
                )))
            }
            Err(e) => {
                in_flight.finish(None, Outcome::None, Failure::Service, None);
                Poll::Ready(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{convert::Infallible, future::Future};

    use tower::{service_fn, Layer, Service};

    use crate::metrics::MetricsRegistry;

    #[tokio::test]
    #[should_panic(expected = "`MetricsFuture` polled after completion")]
    async fn polled_after_completion_panics() {
        let layer = MetricsRegistry::builder().build().unwrap().layer();
        let mut svc = layer.layer(service_fn(|_: http::Request<String>| async {
            Ok::<_, Infallible>(http::Response::new(String::new()))
        }));
        let mut fut = std::pin::pin!(svc.call(http::Request::new(String::new())));
        let res = std::future::poll_fn(|cx| fut.as_mut().poll(cx)).await;
        assert!(res.is_ok());
        let _ = std::future::poll_fn(|cx| fut.as_mut().poll(cx)).await;
    }
}

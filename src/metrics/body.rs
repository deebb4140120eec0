//! [`MetricsBody`], the response body of [`Metrics`](super::Metrics): the inner body,
//! counted; the request is recorded when it ends or is dropped.

use std::{
    fmt,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Buf;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::{
    recorder::InFlight,
    series::{Failure, FamilyKind, Outcome},
};

/// The `grpc-status` of a response's headers or trailers, when valid (0 to 16).
pub(super) fn grpc_status(headers: &HeaderMap) -> Option<u16> {
    headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .parse::<u16>()
        .ok()
        .filter(|s| *s <= 16)
}

/// What the body still has to record.
pub(super) struct BodyState {
    pub(super) in_flight: InFlight,
    pub(super) status: Option<u16>,
    pub(super) outcome: Outcome,
    pub(super) bytes: u64,
    pub(super) failed: bool,
}

impl BodyState {
    /// The `error.type` of a request whose body ended (`complete`) or was dropped.
    fn failure(&self, complete: bool) -> Failure {
        if self.failed {
            Failure::Body
        } else if !complete {
            Failure::Cancelled
        } else {
            match (self.in_flight.kind, self.status) {
                (FamilyKind::Http, Some(s)) if s >= 500 => Failure::Status,
                (FamilyKind::Grpc, Some(s)) if s != 0 => Failure::Status,
                (FamilyKind::Grpc, None) => Failure::MissingGrpcStatus,
                _ => Failure::None,
            }
        }
    }

    /// Records the request: `complete` when the body reached its end.
    fn finish(self, complete: bool) {
        let failure = self.failure(complete);
        let size = complete.then_some(self.bytes);
        self.in_flight
            .finish(self.status, self.outcome, failure, size);
    }
}

pin_project! {
    /// The response body of [`Metrics`](super::Metrics): the inner body, counted. The
    /// request is recorded when the body ends or is dropped.
    pub struct MetricsBody<B> {
        #[pin]
        inner: B,
        state: Option<BodyState>,
    }

    impl<B> PinnedDrop for MetricsBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(state) = this.state.take() {
                // Ends that were seen were recorded in `poll_frame`: this body was dropped
                // before its end.
                state.finish(false);
            }
        }
    }
}

impl<B: Body> MetricsBody<B> {
    pub(super) fn new(inner: B, state: BodyState) -> Self {
        // A body that is already at its end may never be polled (HEAD, 204,
        // Trailers-Only gRPC): record it now.
        let state = if inner.is_end_stream() {
            state.finish(true);
            None
        } else {
            Some(state)
        };
        Self { inner, state }
    }
}

impl<B> fmt::Debug for MetricsBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsBody").finish_non_exhaustive()
    }
}

impl<B: Body> Body for MetricsBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = std::task::ready!(this.inner.as_mut().poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(state) = this.state.as_mut() {
                    if let Some(data) = frame.data_ref() {
                        state.bytes += data.remaining() as u64;
                    } else if let Some(trailers) = frame.trailers_ref() {
                        if state.in_flight.kind == FamilyKind::Grpc {
                            if let Some(s) = grpc_status(trailers) {
                                state.status = Some(s);
                            }
                        }
                    }
                }
            }
            Some(Err(_)) => {
                if let Some(state) = this.state.as_mut() {
                    state.failed = true;
                }
            }
            None => {
                if let Some(state) = this.state.take() {
                    state.finish(true);
                }
            }
        }
        if this.state.is_some() && this.inner.is_end_stream() {
            // The last frame: hyper will not poll again.
            if let Some(state) = this.state.take() {
                state.finish(true);
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_status_is_0_to_16() {
        let mut h = HeaderMap::new();
        assert_eq!(grpc_status(&h), None);
        h.insert("grpc-status", "14".parse().unwrap());
        assert_eq!(grpc_status(&h), Some(14));
        h.insert("grpc-status", "17".parse().unwrap());
        assert_eq!(grpc_status(&h), None);
        h.insert("grpc-status", "ok".parse().unwrap());
        assert_eq!(grpc_status(&h), None);
    }
}

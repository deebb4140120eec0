//! [`MetricsLayer`], its service, future and response body.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use bytes::Buf;
use http::{header, HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::registry::{
    method_index, Failure, FamilyKind, Metrics, Observation, Outcome, Recorder, RouteEntry,
    SeriesKey,
};
use crate::{event::SecurityEvents, rejection::is_grpc};

/// Records every request that passes through: duration, in-flight count, body sizes,
/// outcome, and gRPC calls. See the [module docs](super).
#[derive(Clone, Debug)]
#[must_use]
pub struct MetricsLayer {
    metrics: Metrics,
}

impl MetricsLayer {
    /// A layer recording into `metrics`.
    pub fn new(metrics: Metrics) -> Self {
        Self { metrics }
    }

    /// The recorder this layer writes to.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            recorder: self.metrics.recorder.clone(),
        }
    }
}

/// The service of [`MetricsLayer`].
pub struct MetricsService<S> {
    inner: S,
    recorder: Arc<Recorder>,
}

impl<S: Clone> Clone for MetricsService<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            recorder: self.recorder.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for MetricsService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// The state of one request between `call` and the end of its response body.
struct InFlight {
    recorder: Arc<Recorder>,
    route: Arc<RouteEntry>,
    kind: FamilyKind,
    start: Instant,
    method: u8,
    scheme: u8,
    request_size: Option<u64>,
}

impl InFlight {
    fn finish(
        self,
        status: Option<u16>,
        outcome: Outcome,
        failure: Failure,
        response_size: Option<u64>,
    ) {
        let end = Instant::now();
        let obs = Observation {
            key: SeriesKey::new(self.method, self.scheme, status, outcome, failure),
            end,
            elapsed: end.saturating_duration_since(self.start),
            request_size: self.request_size,
            response_size,
        };
        self.recorder.record(self.kind, &self.route, obs);
    }
}

fn matched_path<B>(req: &Request<B>) -> Option<&str> {
    #[cfg(feature = "axum")]
    {
        req.extensions()
            .get::<axum::extract::MatchedPath>()
            .map(axum::extract::MatchedPath::as_str)
    }
    #[cfg(not(feature = "axum"))]
    {
        let _ = req;
        None
    }
}

/// `pkg.Service/Method` from a gRPC path, when it has that shape.
fn grpc_method(path: &str) -> Option<&str> {
    let m = path.strip_prefix('/')?;
    let (service, method) = m.split_once('/')?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    };
    (m.len() <= 200 && ok(service) && ok(method)).then_some(m)
}

fn scheme_index<B>(recorder: &Recorder, req: &Request<B>) -> u8 {
    if let Some(s) = req.uri().scheme() {
        return u8::from(*s == http::uri::Scheme::HTTPS);
    }
    if let Some(proxies) = &recorder.trusted_proxies {
        if let Some(peer) = crate::proxy::peer_ip(req.extensions()) {
            if let Some(proto) = proxies.forwarded_proto(peer, req.headers()) {
                return u8::from(proto.eq_ignore_ascii_case("https"));
            }
        }
    }
    u8::from(recorder.https)
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for MetricsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ReqBody: Body,
    ResBody: Body,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let start = Instant::now();
        let recorder = &self.recorder;
        let grpc = is_grpc(req.headers());
        let kind = if grpc {
            FamilyKind::Grpc
        } else {
            FamilyKind::Http
        };
        let route = match matched_path(&req) {
            Some(path) => recorder.route(kind, Some(path)),
            None => {
                let from_fn = recorder
                    .route_fn
                    .as_ref()
                    .and_then(|f| f(req.method(), req.uri()));
                match (from_fn, grpc) {
                    (Some(r), _) => recorder.route(kind, Some(&r)),
                    (None, true) => recorder.route(kind, grpc_method(req.uri().path())),
                    (None, false) => recorder.route(kind, None),
                }
            }
        };
        let method = method_index(req.method());
        let scheme = scheme_index(recorder, &req);
        let request_size = req
            .body()
            .size_hint()
            .exact()
            .or_else(|| declared_length(req.headers()));
        recorder.request_started(method, scheme);
        let in_flight = InFlight {
            recorder: recorder.clone(),
            route,
            kind,
            start,
            method,
            scheme,
            request_size,
        };
        ResponseFuture {
            inner: self.inner.call(req),
            in_flight: Some(in_flight),
        }
    }
}

pin_project! {
    /// The response future of [`MetricsService`]. A future dropped before the response
    /// is recorded with `error.type="cancelled"`.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        in_flight: Option<InFlight>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(f) = this.project().in_flight.take() {
                f.finish(None, Outcome::None, Failure::Cancelled, None);
            }
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

fn grpc_status(headers: &HeaderMap) -> Option<u16> {
    headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .parse::<u16>()
        .ok()
        .filter(|s| *s <= 16)
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: Body,
{
    type Output = Result<Response<ResponseBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        let Some(in_flight) = this.in_flight.take() else {
            // Polled after completion: pass the inner future's answer through unrecorded.
            return Poll::Ready(result.map(|res| res.map(ResponseBody::unrecorded)));
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
                // A body that is already at its end may never be polled (HEAD, 204,
                // Trailers-Only gRPC): record it now.
                let state = if body.is_end_stream() {
                    state.finish(true);
                    None
                } else {
                    Some(state)
                };
                let body = ResponseBody { inner: body, state };
                Poll::Ready(Ok(Response::from_parts(parts, body)))
            }
            Err(e) => {
                in_flight.finish(None, Outcome::None, Failure::Service, None);
                Poll::Ready(Err(e))
            }
        }
    }
}

struct BodyState {
    in_flight: InFlight,
    status: Option<u16>,
    outcome: Outcome,
    bytes: u64,
    failed: bool,
}

impl BodyState {
    /// Records the request: `complete` when the body reached its end.
    fn finish(self, complete: bool) {
        let failure = if self.failed {
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
        };
        let size = complete.then_some(self.bytes);
        self.in_flight
            .finish(self.status, self.outcome, failure, size);
    }
}

pin_project! {
    /// The response body of [`MetricsService`]: the inner body, counted. The request is
    /// recorded when the body ends or is dropped.
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        state: Option<BodyState>,
    }

    impl<B> PinnedDrop for ResponseBody<B> {
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

impl<B> ResponseBody<B> {
    fn unrecorded(inner: B) -> Self {
        Self { inner, state: None }
    }
}

impl<B> fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody").finish_non_exhaustive()
    }
}

impl<B: Body> Body for ResponseBody<B> {
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
mod assertions {
    use super::*;
    use crate::metrics::{HealthRegistry, Metrics};

    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    fn assert_send<T: Send>() {}

    #[test]
    fn layer_and_service_fit_axum_and_tonic() {
        type Svc = tower::util::ServiceFn<
            fn(
                http::Request<String>,
            )
                -> std::future::Ready<Result<http::Response<String>, std::convert::Infallible>>,
        >;
        assert_send_sync_clone::<MetricsLayer>();
        assert_send_sync_clone::<MetricsService<Svc>>();
        assert_send::<ResponseFuture<std::future::Ready<Result<http::Response<String>, ()>>>>();
        assert_send::<ResponseBody<String>>();
        assert_send_sync_clone::<Metrics>();
        assert_send_sync_clone::<HealthRegistry>();
    }
}

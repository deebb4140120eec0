//! [`Metrics`], the service of [`MetricsLayer`](super::MetricsLayer): resolves the route,
//! method and scheme of a request and starts its [`InFlight`] record.

use std::{
    fmt,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use http::{header, HeaderMap, Request, Response};
use http_body::Body;
use tower_service::Service;

use super::{
    body::MetricsBody,
    future::MetricsFuture,
    recorder::{InFlight, Recorder, Route},
    series::{method_index, FamilyKind},
};
use crate::rejection::is_grpc;

/// The service of [`MetricsLayer`](super::MetricsLayer): records every request into the
/// [`MetricsRegistry`](super::MetricsRegistry) the layer came from.
pub struct Metrics<S> {
    inner: S,
    recorder: Arc<Recorder>,
}

impl<S> Metrics<S> {
    pub(super) fn new(inner: S, recorder: Arc<Recorder>) -> Self {
        Self { inner, recorder }
    }
}

impl<S: Clone> Clone for Metrics<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            recorder: self.recorder.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for Metrics<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Metrics<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ReqBody: Body,
    ResBody: Body,
{
    type Response = Response<MetricsBody<ResBody>>;
    type Error = S::Error;
    type Future = MetricsFuture<S::Future>;

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
            Some(path) => Route::Entry(recorder.route(kind, Some(path))),
            None => {
                let from_fn = recorder
                    .route_fn
                    .as_ref()
                    .and_then(|f| f(req.method(), req.uri()));
                match (from_fn, grpc) {
                    (Some(r), _) => Route::Entry(recorder.route(kind, Some(&r))),
                    // A method from the path gets its own series only once the server
                    // answered it (see `Route::GrpcMethod`).
                    (None, true) => match grpc_method(req.uri().path()) {
                        Some(m) => match recorder.existing_route(kind, m) {
                            Some(entry) => Route::Entry(entry),
                            None => Route::GrpcMethod(m.into()),
                        },
                        None => Route::Entry(recorder.route(kind, None)),
                    },
                    (None, false) => Route::Entry(recorder.route(kind, None)),
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
        MetricsFuture::new(self.inner.call(req), in_flight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{
        HealthRegistry, MetricsBody, MetricsFuture, MetricsLayer, MetricsRegistry,
    };

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
        assert_send_sync_clone::<Metrics<Svc>>();
        assert_send::<MetricsFuture<std::future::Ready<Result<http::Response<String>, ()>>>>();
        assert_send::<MetricsBody<String>>();
        assert_send_sync_clone::<MetricsRegistry>();
        assert_send_sync_clone::<HealthRegistry>();
    }

    #[test]
    fn grpc_method_takes_service_and_method_only() {
        assert_eq!(
            grpc_method("/helloworld.Greeter/SayHello"),
            Some("helloworld.Greeter/SayHello")
        );
        assert_eq!(grpc_method("/only-one-segment"), None);
        assert_eq!(grpc_method("/a//b"), None);
        assert_eq!(grpc_method("/svc/method?x=1"), None);
        assert_eq!(grpc_method(&format!("/{}/m", "s".repeat(300))), None);
    }

    #[test]
    fn declared_length_reads_content_length() {
        let mut headers = HeaderMap::new();
        assert_eq!(declared_length(&headers), None);
        headers.insert(header::CONTENT_LENGTH, "42".parse().unwrap());
        assert_eq!(declared_length(&headers), Some(42));
        headers.insert(header::CONTENT_LENGTH, "x".parse().unwrap());
        assert_eq!(declared_length(&headers), None);
    }
}

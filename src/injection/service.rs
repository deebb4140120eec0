//! [`Injection`], the service: decides in `call` whether the body is buffered, refused
//! at once or passed on, and hands the rest to the [`InjectionFuture`].

use std::{
    fmt,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{header, HeaderMap, Request, Response};
use http_body::Body;
use tower_service::Service;

use crate::{
    body::GuardBody,
    event::{Category, SecurityEvent},
    rejection::is_grpc,
};

use super::{
    body::InspectedBody,
    config::{OversizedBody, Shared, UnknownEncoding},
    encoding::{codings, CodingError},
    future::InjectionFuture,
    rejection::InjectionRejection,
};

/// Inspects each request for injection attacks before calling the inner service. See
/// [`InjectionLayer`](super::InjectionLayer).
pub struct Injection<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Injection<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: Clone> Clone for Injection<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for Injection<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Injection")
            .field("inner", &self.inner)
            .field("shared", &self.shared)
            .finish()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Injection<S>
where
    S: Service<Request<InspectedBody<ReqBody>>, Response = Response<ResBody>> + Clone,
    ReqBody: Body<Data = Bytes>,
{
    type Response = Response<GuardBody<ResBody>>;
    type Error = S::Error;
    type Future = InjectionFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // The ready service is the one that must be called; keep a fresh clone here.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        start(inner, self.shared.clone(), req)
    }
}

fn start<S, B, R>(mut inner: S, shared: Arc<Shared>, req: Request<B>) -> InjectionFuture<S, B>
where
    S: Service<Request<InspectedBody<B>>, Response = Response<R>>,
    B: Body<Data = Bytes>,
{
    let detector = &shared.detector;
    let path = req.uri().path();
    if detector.skips_request(path) {
        let fut = inner.call(req.map(InspectedBody::passthrough));
        return InjectionFuture::calling(fut, Vec::new());
    }
    let grpc = is_grpc(req.headers());
    let mut extra = Vec::new();
    // Only the routes the user declared gRPC skip the body: anyone can claim
    // `application/grpc`.
    let grpc_body = grpc && shared.is_grpc_route(path);
    let buffer = !grpc_body && !detector.skips_body(path) && !req.body().is_end_stream();
    let buffer = buffer
        && match codings(req.headers()) {
            Ok(_) => true,
            Err(CodingError::Unknown)
                if shared.unknown_encoding == UnknownEncoding::PassUninspected =>
            {
                extra.push(SecurityEvent::InjectionDetected {
                    category: Category::Protocol,
                    location: Arc::from("body"),
                    rule: "protocol.uninspected_encoding",
                    score: 0,
                    blocked: false,
                });
                false
            }
            Err(_) => {
                let rejection = InjectionRejection::UnsupportedEncoding {
                    encoding: content_encoding(req.headers()),
                    grpc,
                };
                return InjectionFuture::refused(&shared, rejection, Vec::new());
            }
        };
    let limit = detector.config.body_limit;
    if buffer
        && shared.oversized == OversizedBody::Reject
        && req.body().size_hint().lower() > limit as u64
    {
        let rejection = InjectionRejection::BodyTooLarge { limit, grpc };
        return InjectionFuture::refused(&shared, rejection, Vec::new());
    }
    if !buffer {
        let verdict = detector.inspect_parts(req.uri(), req.headers(), None, grpc);
        return InjectionFuture::decide(
            &mut inner,
            &shared,
            verdict,
            grpc,
            req.map(InspectedBody::passthrough),
            extra,
        );
    }
    let (parts, body) = req.into_parts();
    InjectionFuture::buffering(inner, shared, parts, body, grpc)
}

/// The `Content-Encoding` as sent, for the rejection: lossy, at most 64 characters.
fn content_encoding(headers: &HeaderMap) -> Arc<str> {
    let values: Vec<String> = headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    values
        .join(", ")
        .chars()
        .take(64)
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(encodings: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for e in encodings {
            h.append(header::CONTENT_ENCODING, e.parse().unwrap());
        }
        h
    }

    #[test]
    fn content_encoding_is_reported_bounded() {
        assert_eq!(&*content_encoding(&headers(&["gzip", "br"])), "gzip, br");
        let long = "x".repeat(200);
        assert_eq!(content_encoding(&headers(&[&long])).len(), 64);
    }
}

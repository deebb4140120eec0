//! [`GuardBody`], the response body of every guard layer, and the two rejection shapes
//! every guard layer answers with.
//!
//! A guard layer either passes the inner service's response through untouched or answers
//! by itself with a small fixed body. [`GuardBody<B>`] is that either-or, with
//! `Data = Bytes`, so a layer's response type does not depend on whether it rejected, and
//! it fits axum's `Router::layer` and tonic's `Server::layer`.
//!
//! Rejections take one of two shapes, chosen by the request's content type:
//!
//! - HTTP: an `application/problem+json` body ([RFC 9457]) built with [`Problem`];
//! - gRPC (`content-type: application/grpc*`): a *Trailers-Only* response, HTTP 200 with
//!   `grpc-status` and a percent-encoded `grpc-message` in the headers and an empty body,
//!   built with [`grpc_rejection`]. gRPC clients never see an HTTP 429 or 403, which they
//!   would map to `UNAVAILABLE` or `UNKNOWN` and retry.
//!
//! ```
//! use http::StatusCode;
//! use http_body::Body as _;
//! use tower_fortify::body::{GuardBody, Problem};
//!
//! let res = Problem::new(StatusCode::FORBIDDEN, "Forbidden")
//!     .detail("The request was refused.")
//!     .into_response()
//!     .map(GuardBody::<String>::fixed);
//! assert_eq!(res.status(), StatusCode::FORBIDDEN);
//! assert_eq!(res.headers()["content-type"], "application/problem+json");
//! assert!(res.body().is_rejection());
//! assert!(!res.body().is_end_stream());
//!
//! let passed: GuardBody<String> = GuardBody::new("hello".to_owned());
//! assert_eq!(passed.size_hint().exact(), Some(5));
//! ```
//!
//! [RFC 9457]: https://www.rfc-editor.org/rfc/rfc9457

use std::{
    fmt,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// The response body of the guard layers: the inner service's body, untouched, or a
    /// small fixed body written by the layer itself.
    pub struct GuardBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Fixed { data: Option<Bytes> },
    }
}

impl<B> GuardBody<B> {
    /// Wraps the inner service's body; every frame passes through unchanged.
    pub fn new(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }

    /// A body of fixed bytes written by a layer.
    pub fn fixed(data: impl Into<Bytes>) -> Self {
        let data: Bytes = data.into();
        Self {
            kind: Kind::Fixed {
                data: (!data.is_empty()).then_some(data),
            },
        }
    }

    /// An empty body (used by gRPC Trailers-Only rejections).
    pub fn empty() -> Self {
        Self {
            kind: Kind::Fixed { data: None },
        }
    }

    /// Whether this body was written by a layer rather than by the inner service.
    pub fn is_rejection(&self) -> bool {
        matches!(self.kind, Kind::Fixed { .. })
    }
}

impl<B: Default> Default for GuardBody<B> {
    fn default() -> Self {
        Self::new(B::default())
    }
}

impl<B> fmt::Debug for GuardBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Inner { .. } => f.debug_struct("GuardBody::Inner").finish_non_exhaustive(),
            Kind::Fixed { data } => f
                .debug_struct("GuardBody::Fixed")
                .field("len", &data.as_ref().map_or(0, Bytes::len))
                .finish(),
        }
    }
}

impl<B> Body for GuardBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Fixed { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Fixed { data } => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Fixed { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}

/// The `application/problem+json` media type.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Whether a request is a gRPC call (`content-type: application/grpc` or `application/grpc+...`).
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .map(|v| {
            let v = v.as_bytes();
            v.len() >= 16
                && v[..16].eq_ignore_ascii_case(b"application/grpc")
                && matches!(v.get(16), None | Some(b'+') | Some(b';'))
        })
        .unwrap_or(false)
}

/// An RFC 9457 problem details object, rendered as `application/problem+json`.
///
/// `type` defaults to `about:blank`; extension members are added with [`Problem::member`].
#[derive(Debug, Clone)]
pub struct Problem {
    status: StatusCode,
    body: serde_json::Map<String, serde_json::Value>,
    headers: HeaderMap,
}

impl Problem {
    /// A problem with `status` and a short, human-readable `title`.
    pub fn new(status: StatusCode, title: &str) -> Self {
        let mut body = serde_json::Map::new();
        body.insert("type".into(), "about:blank".into());
        body.insert("title".into(), title.into());
        body.insert("status".into(), status.as_u16().into());
        Self {
            status,
            body,
            headers: HeaderMap::new(),
        }
    }

    /// Sets the `type` URI that identifies the problem type.
    pub fn type_uri(mut self, uri: &str) -> Self {
        self.body.insert("type".into(), uri.into());
        self
    }

    /// Sets the `detail` member: an explanation specific to this occurrence.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.body.insert("detail".into(), detail.into().into());
        self
    }

    /// Adds an extension member.
    pub fn member(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        self.body.insert(name.into(), value.into());
        self
    }

    /// Adds a response header sent with the problem (for example `Retry-After`).
    pub fn header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Renders the response. Map its body with [`GuardBody::fixed`] to return it from a layer.
    pub fn into_response(self) -> Response<Bytes> {
        // Serialising a map of strings and numbers cannot fail.
        let json = serde_json::to_vec(&self.body).unwrap_or_default();
        let mut res = Response::new(Bytes::from(json));
        *res.status_mut() = self.status;
        *res.headers_mut() = self.headers;
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        res
    }
}

/// gRPC status codes used by the guard layers' rejections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GrpcCode {
    /// 3: the request was malformed or carried an attack.
    InvalidArgument = 3,
    /// 7: the caller is not allowed to make this call.
    PermissionDenied = 7,
    /// 8: a quota or rate limit is exhausted.
    ResourceExhausted = 8,
    /// 13: a server-side misconfiguration.
    Internal = 13,
    /// 14: a dependency is unavailable; the call may be retried.
    Unavailable = 14,
}

/// Characters percent-encoded in `grpc-message`: everything outside printable ASCII, and `%`.
const GRPC_MESSAGE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b'%');

/// A gRPC Trailers-Only rejection: HTTP 200, `content-type: application/grpc`,
/// `grpc-status`, percent-encoded `grpc-message`, and an empty body, sent as one HEADERS
/// frame with END_STREAM.
pub fn grpc_rejection(code: GrpcCode, message: &str) -> Response<Bytes> {
    let mut res = Response::new(Bytes::new());
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-status", HeaderValue::from(code as u16));
    let encoded = percent_encoding::utf8_percent_encode(message, GRPC_MESSAGE).to_string();
    if let Ok(v) = HeaderValue::from_str(&encoded) {
        headers.insert("grpc-message", v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn fixed_body_yields_its_bytes_once() {
        let body: GuardBody<String> = GuardBody::fixed("abc");
        assert_eq!(body.size_hint().exact(), Some(3));
        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(&collected[..], b"abc");
    }

    #[tokio::test]
    async fn inner_body_passes_through() {
        let body: GuardBody<String> = GuardBody::new("inner".to_owned());
        assert!(!body.is_rejection());
        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(&collected[..], b"inner");
    }

    #[test]
    fn empty_body_is_end_of_stream() {
        let body: GuardBody<String> = GuardBody::empty();
        assert!(body.is_end_stream());
        assert!(body.is_rejection());
    }

    #[test]
    fn grpc_detection() {
        let mut h = HeaderMap::new();
        assert!(!is_grpc(&h));
        for (ct, want) in [
            ("application/grpc", true),
            ("application/grpc+proto", true),
            ("Application/GRPC", true),
            ("application/grpc-web", false),
            ("application/json", false),
            ("application/grpcx", false),
        ] {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            assert_eq!(is_grpc(&h), want, "{ct}");
        }
    }

    #[tokio::test]
    async fn problem_renders_json() {
        let res = Problem::new(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
            .detail("slow down")
            .member("violated-policies", vec!["ip"])
            .into_response()
            .map(GuardBody::<String>::fixed);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["status"], 429);
        assert_eq!(v["detail"], "slow down");
        assert_eq!(v["violated-policies"][0], "ip");
    }

    #[test]
    fn grpc_message_is_percent_encoded() {
        let res = grpc_rejection(GrpcCode::ResourceExhausted, "100% used\névé")
            .map(GuardBody::<String>::fixed);
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["grpc-status"], "8");
        assert_eq!(res.headers()["grpc-message"], "100%25 used%0A%C3%A9v%C3%A9");
        assert!(res.body().is_end_stream());
    }
}

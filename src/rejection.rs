//! One way to reject: [`Problem`] (RFC 9457), the gRPC status mapping, and the responder
//! trait every guard layer takes.
//!
//! A guard layer that refuses a request answers with a **response**, never an error. The
//! response has one of two shapes, chosen by the request's content type:
//!
//! - HTTP: an `application/problem+json` body ([RFC 9457]) built with [`Problem`];
//! - gRPC (`content-type: application/grpc*`): a *Trailers-Only* response, HTTP 200 with
//!   `grpc-status` and a percent-encoded `grpc-message` in the headers and an empty body
//!   ([`grpc_rejection`]). gRPC clients never see an HTTP 429 or 403, which they would map
//!   to `UNAVAILABLE` or `UNKNOWN` and retry.
//!
//! Every guard layer has a typed reason for refusing (`RateLimitRejection`,
//! `HostRejection`, `InjectionRejection`) that implements [`Rejection`]. The layer puts a
//! clone of it in the **response extensions**, so an outer layer or the application can
//! tell why a request was refused without parsing the body, and asks its [`Responder`] for
//! the response: [`DefaultResponder`] (the reason's own [`Rejection::default_response`]),
//! or any closure `Fn(&R) -> Response<Bytes>`.
//!
//! ```
//! use bytes::Bytes;
//! use http::{Response, StatusCode};
//! use tower_fortify::rejection::{DefaultResponder, GrpcCode, Problem, Rejection, Responder};
//!
//! /// A rejection of our own, answered the way the crate's layers answer.
//! #[derive(Debug, Clone)]
//! struct Closed { grpc: bool }
//!
//! impl Rejection for Closed {
//!     fn is_grpc(&self) -> bool { self.grpc }
//!     fn default_response(&self) -> Response<Bytes> {
//!         Problem::new(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
//!             .detail("We are closed.")
//!             .render(self.grpc, GrpcCode::Unavailable)
//!     }
//! }
//!
//! let http = DefaultResponder.respond(&Closed { grpc: false });
//! assert_eq!(http.status(), StatusCode::SERVICE_UNAVAILABLE);
//! assert_eq!(http.headers()["content-type"], "application/problem+json");
//!
//! let grpc = DefaultResponder.respond(&Closed { grpc: true });
//! assert_eq!(grpc.status(), StatusCode::OK);
//! assert_eq!(grpc.headers()["grpc-status"], "14");
//! assert_eq!(grpc.headers()["grpc-message"], "We are closed.");
//!
//! // A closure is a responder too.
//! let teapot = |_: &Closed| {
//!     let mut res = Response::new(Bytes::from_static(b"short and stout"));
//!     *res.status_mut() = StatusCode::IM_A_TEAPOT;
//!     res
//! };
//! assert_eq!(teapot.respond(&Closed { grpc: false }).status(), StatusCode::IM_A_TEAPOT);
//! ```
//!
//! [RFC 9457]: https://www.rfc-editor.org/rfc/rfc9457

use std::fmt;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};

/// Why a guard layer refused a request, with the crate's default answer to it.
///
/// Implemented by each guard layer's rejection type; a clone of it is left in the response
/// extensions of every refused request.
pub trait Rejection: fmt::Debug + Clone + Send + Sync + 'static {
    /// Whether the refused request is a gRPC call (its answer is then Trailers-Only).
    fn is_grpc(&self) -> bool;

    /// The crate's default response: problem+json for HTTP, Trailers-Only for gRPC.
    fn default_response(&self) -> Response<Bytes>;
}

/// Turns a rejection of type `R` into a response.
///
/// Every guard layer's builder takes one through `.responder(..)`. Implemented by
/// [`DefaultResponder`] and by closures `Fn(&R) -> Response<Bytes>`. The layer still adds
/// what belongs to its protocol (for example `Retry-After` and the rate-limit headers) and
/// puts the rejection in the response extensions, whatever the responder returns.
pub trait Responder<R>: Send + Sync + 'static {
    /// The response for `rejection`.
    fn respond(&self, rejection: &R) -> Response<Bytes>;
}

impl<R, F> Responder<R> for F
where
    F: Fn(&R) -> Response<Bytes> + Send + Sync + 'static,
{
    fn respond(&self, rejection: &R) -> Response<Bytes> {
        self(rejection)
    }
}

/// The responder every guard layer starts with: [`Rejection::default_response`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultResponder;

impl<R: Rejection> Responder<R> for DefaultResponder {
    fn respond(&self, rejection: &R) -> Response<Bytes> {
        rejection.default_response()
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

    /// Renders the gRPC Trailers-Only rejection with `code` when `grpc` is true (its
    /// `grpc-message` is the `detail`, else the title), the problem+json response otherwise.
    pub fn render(self, grpc: bool, code: GrpcCode) -> Response<Bytes> {
        if !grpc {
            return self.into_response();
        }
        let message = self
            .body
            .get("detail")
            .or_else(|| self.body.get("title"))
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let mut res = grpc_rejection(code, message);
        for (name, value) in &self.headers {
            res.headers_mut().append(name, value.clone());
        }
        res
    }

    /// Renders the problem+json response. Map its body with
    /// [`GuardBody::fixed`](crate::body::GuardBody::fixed) to return it from a layer.
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
    /// 4: the call did not complete in time (a request body that arrived too slowly).
    DeadlineExceeded = 4,
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

    #[test]
    fn problem_renders_json() {
        let res = Problem::new(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
            .detail("slow down")
            .member("violated-policies", vec!["ip"])
            .into_response();
        let body = res.into_body();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["status"], 429);
        assert_eq!(v["detail"], "slow down");
        assert_eq!(v["violated-policies"][0], "ip");
    }

    #[test]
    fn grpc_message_is_percent_encoded() {
        let res = grpc_rejection(GrpcCode::ResourceExhausted, "100% used\névé");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["grpc-status"], "8");
        assert_eq!(res.headers()["grpc-message"], "100%25 used%0A%C3%A9v%C3%A9");
        assert!(res.body().is_empty());
    }

    #[test]
    fn render_picks_the_shape() {
        let problem = || {
            Problem::new(StatusCode::FORBIDDEN, "Forbidden")
                .detail("no")
                .header(header::RETRY_AFTER, HeaderValue::from_static("1"))
        };
        let http = problem().render(false, GrpcCode::PermissionDenied);
        assert_eq!(http.status(), StatusCode::FORBIDDEN);
        assert_eq!(http.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let grpc = problem().render(true, GrpcCode::PermissionDenied);
        assert_eq!(grpc.status(), StatusCode::OK);
        assert_eq!(grpc.headers()["grpc-status"], "7");
        assert_eq!(grpc.headers()["grpc-message"], "no");
        assert_eq!(grpc.headers()[header::RETRY_AFTER], "1");
    }
}

//! [`HostRejection`]: why the layer refused a request, and the default answer to it.

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};

use crate::rejection::{GrpcCode, Problem, Rejection};

/// Why a request's host was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostRejectionKind {
    /// No host at all (HTTP/1.0 without `Host`, or HTTP/1.1 breaking the spec), or an empty one.
    Missing,
    /// More than one `Host` header, or `Host` and the URI authority disagree.
    Conflicting,
    /// The host is not a valid `host[:port]`.
    Malformed,
    /// A valid host that is not on the allow-list.
    NotAllowed,
}

impl HostRejectionKind {
    /// A short explanation, used as the problem `detail` (it never echoes the host).
    pub fn detail(self) -> &'static str {
        match self {
            HostRejectionKind::Missing => "The request names no host.",
            HostRejectionKind::Conflicting => "The request names more than one host.",
            HostRejectionKind::Malformed => "The request's host is malformed.",
            HostRejectionKind::NotAllowed => "The request's host is not served here.",
        }
    }
}

/// A request refused by [`TrustedHostLayer`](super::TrustedHostLayer): the reason, the
/// host it named, and whether it was a gRPC call.
///
/// A clone is left in the extensions of every refused response, whichever
/// [`Responder`](crate::rejection::Responder) answered it. Its
/// [default response](Rejection::default_response):
///
/// | kind | HTTP | gRPC (HTTP 200, Trailers-Only) |
/// |---|---|---|
/// | every [`HostRejectionKind`] | `400 Bad Request`, `application/problem+json` with the kind's [`detail`](HostRejectionKind::detail) | `grpc-status: 3` (`INVALID_ARGUMENT`) |
///
/// ```
/// use http::{Request, Response, StatusCode};
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
/// use tower_fortify::trusted_host::{HostRejection, HostRejectionKind, TrustedHostLayer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let app = ServiceBuilder::new()
///     .layer(TrustedHostLayer::builder(["example.com"]).build()?)
///     .service(service_fn(|_req: Request<()>| async {
///         Ok::<_, std::convert::Infallible>(Response::new(()))
///     }));
/// let req = Request::builder().header("host", "evil.example").body(())?;
/// let res = app.oneshot(req).await?;
/// let why = res.extensions().get::<HostRejection>().unwrap();
/// assert_eq!(why.kind(), HostRejectionKind::NotAllowed);
/// assert_eq!(why.host(), "evil.example");
/// assert_eq!(res.status(), StatusCode::BAD_REQUEST);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostRejection {
    kind: HostRejectionKind,
    host: Arc<str>,
    grpc: bool,
}

impl HostRejection {
    pub(super) fn new(kind: HostRejectionKind, host: Arc<str>, grpc: bool) -> Self {
        Self { kind, host, grpc }
    }

    pub(super) fn host_arc(&self) -> Arc<str> {
        Arc::clone(&self.host)
    }

    /// Why the host was refused.
    pub fn kind(&self) -> HostRejectionKind {
        self.kind
    }

    /// The host the request named (the checked one: `X-Forwarded-Host` from a trusted
    /// proxy, else `Host` or the URI authority), truncated to 255 bytes; empty when it
    /// named none. Do not echo it unescaped: it is attacker-controlled.
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl Rejection for HostRejection {
    fn is_grpc(&self) -> bool {
        self.grpc
    }

    fn default_response(&self) -> Response<Bytes> {
        Problem::new(StatusCode::BAD_REQUEST, "Bad Request")
            .detail(self.kind.detail())
            .render(self.grpc, GrpcCode::InvalidArgument)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_response_per_protocol() {
        let http = HostRejection::new(HostRejectionKind::Malformed, Arc::from("x y"), false)
            .default_response();
        assert_eq!(http.status(), StatusCode::BAD_REQUEST);
        assert_eq!(http.headers()["content-type"], "application/problem+json");
        let json: serde_json::Value = serde_json::from_slice(http.body()).unwrap();
        assert_eq!(json["detail"], "The request's host is malformed.");
        assert!(!String::from_utf8_lossy(http.body()).contains("x y"));

        let grpc = HostRejection::new(HostRejectionKind::NotAllowed, Arc::from("e"), true);
        assert!(grpc.is_grpc());
        let res = grpc.default_response();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["grpc-status"], "3");
        assert!(res.body().is_empty());
    }
}

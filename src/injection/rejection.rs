//! [`InjectionRejection`]: why the layer refused a request, and the default answer.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use http::{Response, StatusCode};

use crate::{
    event::Category,
    rejection::{GrpcCode, Problem, Rejection},
};

/// Why the injection layer refused a request.
///
/// A clone of it is in the extensions of every refused response, whatever the
/// [`responder`](super::InjectionLayerBuilder::responder) returned, so an outer layer or
/// the application can tell why without parsing the body. The default response
/// ([`Rejection::default_response`]) is:
///
/// | variant | HTTP | gRPC (Trailers-Only, HTTP 200) |
/// |---|---|---|
/// | [`Blocked`](Self::Blocked) | 403 Forbidden, `categories` member | `PERMISSION_DENIED` (7) |
/// | [`BodyTooLarge`](Self::BodyTooLarge) | 413 Content Too Large | `RESOURCE_EXHAUSTED` (8) |
/// | [`UnsupportedEncoding`](Self::UnsupportedEncoding) | 415 Unsupported Media Type | `INVALID_ARGUMENT` (3) |
/// | [`BodyTimeout`](Self::BodyTimeout) | 408 Request Timeout | `DEADLINE_EXCEEDED` (4) |
/// | [`Overloaded`](Self::Overloaded) | 503 Service Unavailable | `UNAVAILABLE` (14) |
///
/// HTTP responses are `application/problem+json` and never echo the payload. A request
/// is answered in gRPC when it claims `application/grpc`; its body is buffered (and can
/// be refused for it) unless its route is one of the
/// [`grpc_routes`](super::InjectionLayerBuilder::grpc_routes).
///
/// ```
/// use bytes::Bytes;
/// use http::{Request, Response, StatusCode};
/// use http_body_util::Full;
/// use tower::{service_fn, Layer, ServiceExt};
/// use tower_fortify::{event::Category, injection::{InjectionLayer, InjectionRejection}};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let layer = InjectionLayer::builder().build()?;
/// let svc = layer.layer(service_fn(|_req| async {
///     Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new())))
/// }));
/// let req = Request::get("/?q=%3Cscript%3Ealert(1)%3C/script%3E").body(Full::new(Bytes::new()))?;
/// let res = svc.oneshot(req).await?;
/// assert_eq!(res.status(), StatusCode::FORBIDDEN);
/// match res.extensions().get::<InjectionRejection>() {
///     Some(InjectionRejection::Blocked { category, location, .. }) => {
///         assert_eq!(*category, Category::Xss);
///         assert_eq!(&**location, "query:q");
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InjectionRejection {
    /// The request scored as an attack in [`Mode::Block`](super::Mode::Block).
    #[non_exhaustive]
    Blocked {
        /// The family of the highest-scoring finding.
        category: Category,
        /// Where the highest-scoring finding was (`query:id`, `json:$.a`, ...).
        location: Arc<str>,
        /// The rule of the highest-scoring finding (`sqli.union_select`, ...).
        rule: &'static str,
        /// The request's anomaly score (the sum over all findings).
        score: u16,
        /// Every attack family found, each once, in order of first appearance.
        categories: Vec<Category>,
        /// Whether the request was a gRPC call.
        grpc: bool,
    },
    /// The body is larger than the inspection limit and
    /// [`OversizedBody::Reject`](super::OversizedBody::Reject) is set.
    #[non_exhaustive]
    BodyTooLarge {
        /// The configured body limit, in bytes.
        limit: usize,
        /// Whether the request was a gRPC call.
        grpc: bool,
    },
    /// The body's `Content-Encoding` cannot be decoded for inspection and
    /// [`UnknownEncoding::Reject`](super::UnknownEncoding::Reject) is set.
    #[non_exhaustive]
    UnsupportedEncoding {
        /// The `Content-Encoding` as sent (lossily decoded, at most 64 characters).
        encoding: Arc<str>,
        /// Whether the request was a gRPC call.
        grpc: bool,
    },
    /// The body did not arrive (up to the inspection limit) within the
    /// [`body_timeout`](super::InjectionLayerBuilder::body_timeout). Refused in both
    /// modes: a slow body holds memory.
    #[non_exhaustive]
    BodyTimeout {
        /// The configured timeout.
        timeout: Duration,
        /// Whether the request was a gRPC call.
        grpc: bool,
    },
    /// The layer already holds its
    /// [`total_buffer_limit`](super::InjectionLayerBuilder::total_buffer_limit) of bodies
    /// and [`OversizedBody::Reject`](super::OversizedBody::Reject) is set.
    #[non_exhaustive]
    Overloaded {
        /// Whether the request was a gRPC call.
        grpc: bool,
    },
}

impl InjectionRejection {
    /// The HTTP status of the default response (403, 408, 413, 415 or 503; a gRPC
    /// answer is HTTP 200 with the matching `grpc-status`).
    pub fn status(&self) -> StatusCode {
        match self {
            InjectionRejection::Blocked { .. } => StatusCode::FORBIDDEN,
            InjectionRejection::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            InjectionRejection::UnsupportedEncoding { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            InjectionRejection::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            InjectionRejection::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl Rejection for InjectionRejection {
    fn is_grpc(&self) -> bool {
        match self {
            InjectionRejection::Blocked { grpc, .. }
            | InjectionRejection::BodyTooLarge { grpc, .. }
            | InjectionRejection::UnsupportedEncoding { grpc, .. }
            | InjectionRejection::BodyTimeout { grpc, .. }
            | InjectionRejection::Overloaded { grpc, .. } => *grpc,
        }
    }

    fn default_response(&self) -> Response<Bytes> {
        let grpc = self.is_grpc();
        match self {
            InjectionRejection::Blocked { categories, .. } => {
                let names: Vec<&str> = categories.iter().map(|c| c.as_str()).collect();
                Problem::new(StatusCode::FORBIDDEN, "Forbidden")
                    .detail("The request was blocked because it looks like an injection attack.")
                    .member("categories", names)
                    .render(grpc, GrpcCode::PermissionDenied)
            }
            InjectionRejection::BodyTooLarge { .. } => {
                Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "Content Too Large")
                    .detail("The request body is larger than this endpoint inspects.")
                    .render(grpc, GrpcCode::ResourceExhausted)
            }
            InjectionRejection::UnsupportedEncoding { .. } => {
                Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported Media Type")
                    .detail("The request body uses a content encoding that cannot be inspected.")
                    .render(grpc, GrpcCode::InvalidArgument)
            }
            InjectionRejection::BodyTimeout { .. } => {
                Problem::new(StatusCode::REQUEST_TIMEOUT, "Request Timeout")
                    .detail("The request body arrived too slowly.")
                    .render(grpc, GrpcCode::DeadlineExceeded)
            }
            InjectionRejection::Overloaded { .. } => {
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
                    .detail("Too many request bodies are being inspected; retry later.")
                    .render(grpc, GrpcCode::Unavailable)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(grpc: bool) -> [InjectionRejection; 5] {
        [
            InjectionRejection::Blocked {
                category: Category::Sqli,
                location: Arc::from("query:id"),
                rule: "sqli.union_select",
                score: 10,
                categories: vec![Category::Sqli, Category::Xss],
                grpc,
            },
            InjectionRejection::BodyTooLarge { limit: 1024, grpc },
            InjectionRejection::UnsupportedEncoding {
                encoding: Arc::from("br"),
                grpc,
            },
            InjectionRejection::BodyTimeout {
                timeout: Duration::from_secs(30),
                grpc,
            },
            InjectionRejection::Overloaded { grpc },
        ]
    }

    #[test]
    fn http_responses_follow_the_table() {
        for (rejection, status) in all(false).into_iter().zip([403, 413, 415, 408, 503]) {
            assert!(!rejection.is_grpc());
            assert_eq!(rejection.status().as_u16(), status);
            let res = rejection.default_response();
            assert_eq!(res.status().as_u16(), status);
            assert_eq!(res.headers()["content-type"], "application/problem+json");
            let body: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
            assert_eq!(body["status"], status);
        }
        let blocked = all(false)[0].default_response();
        let body: serde_json::Value = serde_json::from_slice(blocked.body()).unwrap();
        assert_eq!(body["categories"], serde_json::json!(["sqli", "xss"]));
        // The payload's location and rule are for the logs, not for the client.
        assert!(!String::from_utf8_lossy(blocked.body()).contains("query:id"));
    }

    #[test]
    fn grpc_responses_follow_the_table() {
        for (rejection, code) in all(true).into_iter().zip(["7", "8", "3", "4", "14"]) {
            assert!(rejection.is_grpc());
            let res = rejection.default_response();
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(res.headers()["grpc-status"], code);
            assert!(res.body().is_empty());
        }
    }
}

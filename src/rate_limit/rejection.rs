//! What a refused request gets back: [`RateLimitRejection`].

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use http::{Response, StatusCode};

use crate::rejection::{GrpcCode, Problem, Rejection};

/// The problem type of a 429 body (the IANA HTTP Problem Types registry entry proposed by
/// draft-ietf-httpapi-ratelimit-headers).
pub const QUOTA_EXCEEDED_TYPE: &str =
    "https://iana.org/assignments/http-problem-types#quota-exceeded";

/// Why the rate-limit layer refused a request.
///
/// A clone of it is in the response extensions of every refused request, whatever the
/// responder. Its [`Rejection::default_response`]:
///
/// | rejection | HTTP | gRPC (HTTP 200, Trailers-Only) |
/// |---|---|---|
/// | `Limited` | 429, problem type `quota-exceeded` with `violated-policies` | `grpc-status: 8` RESOURCE_EXHAUSTED |
/// | `MissingKey` (only with [`MissingKey::Reject`](super::MissingKey::Reject)) | 400, naming the policy and what is missing | `grpc-status: 3` INVALID_ARGUMENT |
/// | `StoreUnavailable` | 503 | `grpc-status: 14` UNAVAILABLE |
///
/// The layer adds `Retry-After` (HTTP) or `grpc-retry-pushback-ms` (gRPC, gRFC A6) and
/// the rate-limit headers to whatever the responder returns.
///
/// ```
/// use bytes::Bytes;
/// use http::{Response, StatusCode};
/// use tower_fortify::rate_limit::RateLimitRejection;
/// use tower_fortify::rejection::Responder;
///
/// let slow_down = |r: &RateLimitRejection| {
///     let mut res = Response::new(Bytes::from_static(b"slow down"));
///     *res.status_mut() = match r {
///         RateLimitRejection::Limited { .. } => StatusCode::TOO_MANY_REQUESTS,
///         _ => StatusCode::SERVICE_UNAVAILABLE,
///     };
///     res
/// };
/// # let _ = &slow_down as &dyn Responder<RateLimitRejection>;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RateLimitRejection {
    /// One or more policies have no quota left.
    #[non_exhaustive]
    Limited {
        /// The names of the policies that refused.
        policies: Vec<Arc<str>>,
        /// The time until the request would be allowed by every policy.
        retry_after: Duration,
        /// The request costs more than a policy's whole burst: waiting will not help.
        exceeds_burst: bool,
        /// Whether the request is a gRPC call.
        grpc: bool,
    },
    /// A policy could not find its key in the request, and the layer is configured to
    /// refuse such requests ([`MissingKey::Reject`](super::MissingKey::Reject)).
    #[non_exhaustive]
    MissingKey {
        /// The policy.
        policy: Arc<str>,
        /// What is missing, phrased for the operator.
        hint: Arc<str>,
        /// Whether the request is a gRPC call.
        grpc: bool,
    },
    /// The store could not decide and the layer is configured to fail closed.
    #[non_exhaustive]
    StoreUnavailable {
        /// What went wrong.
        detail: Arc<str>,
        /// Whether the request is a gRPC call.
        grpc: bool,
    },
}

impl Rejection for RateLimitRejection {
    fn is_grpc(&self) -> bool {
        match self {
            Self::Limited { grpc, .. }
            | Self::MissingKey { grpc, .. }
            | Self::StoreUnavailable { grpc, .. } => *grpc,
        }
    }

    fn default_response(&self) -> Response<Bytes> {
        match self {
            Self::Limited {
                policies,
                retry_after,
                exceeds_burst,
                grpc,
            } => {
                let names: Vec<&str> = policies.iter().map(|p| &**p).collect();
                let detail = if *exceeds_burst {
                    format!(
                        "The request costs more than the whole burst of policy {}; it cannot be allowed.",
                        names.join(", ")
                    )
                } else {
                    format!(
                        "Rate limit exceeded for policy {}; retry in {} s.",
                        names.join(", "),
                        super::headers::ceil_secs(*retry_after, true)
                    )
                };
                Problem::new(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
                    .type_uri(QUOTA_EXCEEDED_TYPE)
                    .detail(detail)
                    .member("violated-policies", names)
                    .render(*grpc, GrpcCode::ResourceExhausted)
            }
            Self::MissingKey { policy, hint, grpc } => {
                Problem::new(StatusCode::BAD_REQUEST, "Rate-limit key missing")
                    .detail(format!(
                        "The request carries no key for rate-limit policy `{policy}`: {hint}."
                    ))
                    .render(*grpc, GrpcCode::InvalidArgument)
            }
            // The detail may name internal hosts: log it, do not send it.
            Self::StoreUnavailable { grpc, .. } => {
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
                    .detail("The rate limiter's store is unavailable.")
                    .render(*grpc, GrpcCode::Unavailable)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limited(grpc: bool, exceeds_burst: bool) -> RateLimitRejection {
        RateLimitRejection::Limited {
            policies: vec![Arc::from("ip"), Arc::from("global")],
            retry_after: Duration::from_millis(1500),
            exceeds_burst,
            grpc,
        }
    }

    #[test]
    fn limited_is_429_problem_or_resource_exhausted() {
        let res = limited(false, false).default_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let v: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
        assert_eq!(v["type"], QUOTA_EXCEEDED_TYPE);
        assert_eq!(v["violated-policies"][1], "global");
        assert_eq!(
            v["detail"],
            "Rate limit exceeded for policy ip, global; retry in 2 s."
        );
        let res = limited(true, true).default_response();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["grpc-status"], "8");
        assert!(limited(true, true).is_grpc() && !limited(false, true).is_grpc());
    }

    #[test]
    fn missing_key_and_store_unavailable() {
        let missing = RateLimitRejection::MissingKey {
            policy: Arc::from("ip"),
            hint: Arc::from("no peer address"),
            grpc: false,
        };
        assert_eq!(missing.default_response().status(), StatusCode::BAD_REQUEST);
        let grpc = RateLimitRejection::MissingKey {
            policy: Arc::from("ip"),
            hint: Arc::from("no peer address"),
            grpc: true,
        };
        assert_eq!(grpc.default_response().headers()["grpc-status"], "3");
        let down = RateLimitRejection::StoreUnavailable {
            detail: Arc::from("redis at 10.0.0.3 refused"),
            grpc: true,
        };
        let res = down.default_response();
        assert_eq!(res.headers()["grpc-status"], "14");
        assert!(!res.headers()["grpc-message"]
            .to_str()
            .unwrap()
            .contains("10.0.0.3"));
    }
}

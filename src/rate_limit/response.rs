//! What a refused request gets back: [`Rejection`] and the pluggable [`RateLimitResponder`].

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use http::{Response, StatusCode};

use crate::rejection::{grpc_rejection, GrpcCode, Problem};

/// The problem type of a 429 body (the IANA HTTP Problem Types registry entry proposed by
/// draft-ietf-httpapi-ratelimit-headers).
pub const QUOTA_EXCEEDED_TYPE: &str =
    "https://iana.org/assignments/http-problem-types#quota-exceeded";

/// Why the rate-limit layer refused a request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Rejection {
    /// One or more policies have no quota left.
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
    /// A policy could not find its key in the request: a misconfiguration.
    MissingKey {
        /// The policy.
        policy: Arc<str>,
        /// What is missing, phrased for the operator.
        hint: Arc<str>,
        /// Whether the request is a gRPC call.
        grpc: bool,
    },
    /// The store could not decide and the layer is configured to fail closed.
    StoreUnavailable {
        /// What went wrong.
        detail: Arc<str>,
        /// Whether the request is a gRPC call.
        grpc: bool,
    },
}

impl Rejection {
    /// Whether the refused request is a gRPC call.
    pub fn is_grpc(&self) -> bool {
        match self {
            Rejection::Limited { grpc, .. }
            | Rejection::MissingKey { grpc, .. }
            | Rejection::StoreUnavailable { grpc, .. } => *grpc,
        }
    }

    /// The crate's default response for this rejection:
    ///
    /// | rejection | HTTP | gRPC (HTTP 200, Trailers-Only) |
    /// |---|---|---|
    /// | `Limited` | 429, problem type `quota-exceeded` with `violated-policies` | `grpc-status: 8` RESOURCE_EXHAUSTED |
    /// | `MissingKey` | 500, naming the policy and what is missing | `grpc-status: 13` INTERNAL |
    /// | `StoreUnavailable` | 503 | `grpc-status: 14` UNAVAILABLE |
    ///
    /// The layer adds `Retry-After` (HTTP) or `grpc-retry-pushback-ms` (gRPC, gRFC A6) and
    /// the rate-limit headers to whatever the responder returns.
    pub fn default_response(&self) -> Response<Bytes> {
        match self {
            Rejection::Limited {
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
                if *grpc {
                    return grpc_rejection(GrpcCode::ResourceExhausted, &detail);
                }
                Problem::new(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
                    .type_uri(QUOTA_EXCEEDED_TYPE)
                    .detail(detail)
                    .member("violated-policies", names)
                    .into_response()
            }
            Rejection::MissingKey { policy, hint, grpc } => {
                let detail = format!("Rate-limit policy `{policy}` is misconfigured: {hint}.");
                if *grpc {
                    return grpc_rejection(GrpcCode::Internal, &detail);
                }
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Rate limiter misconfigured",
                )
                .detail(detail)
                .into_response()
            }
            Rejection::StoreUnavailable { grpc, .. } => {
                // The detail may name internal hosts: log it, do not send it.
                let detail = "The rate limiter's store is unavailable.";
                if *grpc {
                    return grpc_rejection(GrpcCode::Unavailable, detail);
                }
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
                    .detail(detail)
                    .into_response()
            }
        }
    }
}

/// Turns a [`Rejection`] into a response. Implemented by [`DefaultResponder`] and by
/// closures `Fn(&Rejection) -> Response<Bytes>`.
///
/// ```
/// use bytes::Bytes;
/// use http::{Response, StatusCode};
/// use tower_fortify::rate_limit::{RateLimitResponder, Rejection};
///
/// let teapot = |r: &Rejection| {
///     let mut res = Response::new(Bytes::from_static(b"slow down"));
///     *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
///     res
/// };
/// # let _ = &teapot as &dyn RateLimitResponder;
/// ```
pub trait RateLimitResponder: Send + Sync + 'static {
    /// The response for `rejection`.
    fn respond(&self, rejection: &Rejection) -> Response<Bytes>;
}

impl<F> RateLimitResponder for F
where
    F: Fn(&Rejection) -> Response<Bytes> + Send + Sync + 'static,
{
    fn respond(&self, rejection: &Rejection) -> Response<Bytes> {
        self(rejection)
    }
}

/// The default responder: [`Rejection::default_response`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultResponder;

impl RateLimitResponder for DefaultResponder {
    fn respond(&self, rejection: &Rejection) -> Response<Bytes> {
        rejection.default_response()
    }
}

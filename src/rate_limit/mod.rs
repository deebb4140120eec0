//! Rate limiting with GCRA over one or more keys, all or nothing.
//!
//! ```
//! use std::{convert::Infallible, net::SocketAddr};
//! use http::{Request, Response, StatusCode};
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_fortify::{proxy::PeerAddr, rate_limit::{Header, PeerIp, Policy, Quota, RateLimitLayer, RateLimitRejection}};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let layer = RateLimitLayer::builder()
//!     .policy(Policy::new("ip", PeerIp::new(), Quota::per_second(10).burst(2)).unwrap())
//!     .build()
//!     .unwrap();
//! let svc = ServiceBuilder::new()
//!     .layer(layer)
//!     .service_fn(|_: Request<String>| async { Ok::<_, Infallible>(Response::new(String::new())) });
//!
//! let request = || {
//!     let mut req = Request::new(String::new());
//!     req.extensions_mut().insert(PeerAddr("203.0.113.7:4000".parse().unwrap()));
//!     req
//! };
//! for _ in 0..2 {
//!     let res = svc.clone().oneshot(request()).await.unwrap();
//!     assert_eq!(res.status(), StatusCode::OK);
//!     assert!(res.headers().contains_key("ratelimit"));
//! }
//! let res = svc.clone().oneshot(request()).await.unwrap();
//! assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
//! assert_eq!(res.headers()["retry-after"], "1");
//! assert_eq!(res.headers()["ratelimit-policy"], r#""ip";q=2;w=1"#);
//! assert_eq!(res.headers()["content-type"], "application/problem+json");
//! assert!(matches!(
//!     res.extensions().get::<RateLimitRejection>(),
//!     Some(RateLimitRejection::Limited { .. })
//! ));
//! # });
//! ```
//!
//! # Model
//!
//! A [`RateLimitLayer`] holds up to 16 [`Policy`]s. Each has a name, a [`KeyExtractor`]
//! (who is counted: [`PeerIp`], [`ClientIp`], [`Header`], [`Route`], [`Global`] or a
//! function or [`key_fn`] closure), a [`Quota`] (or [`Tiers`] of quotas chosen per request) and a cost (default
//! 1 cell). A request passes only if **every** policy allows it; a request refused by one
//! policy consumes nothing from the others.
//!
//! The algorithm is GCRA with the `governor` crate's arithmetic ([`Gcra`]): one number per
//! key, exact to the nanosecond, no background refill. The state lives in a
//! [`RateLimitStore`](store::RateLimitStore): the in-memory
//! [`MemoryStore`](store::MemoryStore) by default (the [`store`] module). This crate has its own
//! store because governor's limiter cannot decide several policies at once, has no
//! check-without-consuming, no key cap and a synchronous state trait.
//!
//! # Responses
//!
//! | outcome | HTTP | gRPC (`content-type: application/grpc*`) |
//! |---|---|---|
//! | allowed | the inner response, plus `RateLimit-Policy` and `RateLimit` | same |
//! | refused | 429 problem+json (`quota-exceeded`, `violated-policies`), `Retry-After` in whole seconds rounded up (at least 1) | HTTP 200 Trailers-Only, `grpc-status: 8`, `grpc-message`, `grpc-retry-pushback-ms` |
//! | key missing | counted against the client address ([`MissingKey::ClientAddress`], the default) | same |
//! | key missing ([`MissingKey::Reject`]) | 400 problem+json naming the policy | `grpc-status: 3` |
//! | store failed ([`OnStoreError::FailClosed`]) | 503 problem+json | `grpc-status: 14` |
//!
//! Headers are configured with [`RateLimitHeaders`]; responses with a
//! [`Responder<RateLimitRejection>`](crate::rejection::Responder) through
//! [`RateLimitLayerBuilder::responder`]. Every refused response carries a clone of its
//! [`RateLimitRejection`] in its extensions, whatever the responder. Every refusal (and,
//! in shadow mode, every would-be refusal) appends a
//! [`SecurityEvent::RateLimited`](crate::event::SecurityEvent::RateLimited) to the
//! response's [`SecurityEvents`](crate::event::SecurityEvents); keys from headers appear
//! there as a keyed hash.
//!
//! # Deployment caveats
//!
//! - [`PeerIp`] behind a reverse proxy counts every client as the proxy: use [`ClientIp`]
//!   with the proxy's networks in [`TrustedProxies`](crate::proxy::TrustedProxies).
//! - [`ClientIp`] trusts forwarding headers **only** from those networks, and walks them
//!   from the right; trusting `0.0.0.0/0` lets clients pick their own key.
//! - IPv6 clients are keyed by /64 by default: one host owns a whole /64.
//! - State is per process with the in-memory store: N replicas let N times the quota
//!   through. Share state through a store such as Redis when that matters (feature
//!   `redis`: `store::RedisStore`).

mod future;
mod headers;
mod key;
mod layer;
mod limiter;
mod policy;
mod quota;
mod rejection;
mod service;
pub mod store;

pub use future::RateLimitFuture;
pub use headers::RateLimitHeaders;
pub use key::{
    key_fn, ClientIp, Global, Header, Key, KeyExtractor, PeerIp, RequestInfo, Route,
    UNMATCHED_ROUTE,
};
pub use layer::{RateLimitLayer, RateLimitLayerBuilder};
pub use limiter::{MissingKey, OnStoreError};
pub use policy::{Policy, RateLimitTier, Tiers, TiersBuilder};
pub use quota::{Gcra, Quota, Step};
pub use rejection::{RateLimitRejection, QUOTA_EXCEEDED_TYPE};
pub use service::RateLimit;

#[cfg(test)]
mod assertions {
    use super::*;

    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    fn assert_send<T: Send>() {}

    #[test]
    fn layer_and_service_are_clone_send_sync() {
        assert_traits::<RateLimitLayer>();
        assert_traits::<RateLimit<tower::util::BoxCloneSyncService<http::Request<()>, (), ()>>>();
        assert_send::<RateLimitFuture<std::future::Ready<Result<http::Response<()>, ()>>, (), ()>>(
        );
    }
}

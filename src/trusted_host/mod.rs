//! A `Host` / `:authority` allow-list: requests for any other host get `400 Bad Request`.
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_fortify::trusted_host::{HostRejection, HostRejectionKind, TrustedHostLayer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let layer = TrustedHostLayer::builder(["example.com", "*.example.com", "localhost:3000"]).build()?;
//! let app = ServiceBuilder::new()
//!     .layer(layer)
//!     .service(service_fn(|_req: Request<()>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(String::from("hi")))
//!     }));
//!
//! let ok = Request::builder().header("host", "API.Example.com.").body(())?;
//! assert_eq!(app.clone().oneshot(ok).await?.status(), StatusCode::OK);
//!
//! let evil = Request::builder().header("host", "example.com.evil.net").body(())?;
//! let res = app.oneshot(evil).await?;
//! assert_eq!(res.status(), StatusCode::BAD_REQUEST);
//! assert_eq!(res.headers()["content-type"], "application/problem+json");
//! let why = res.extensions().get::<HostRejection>().unwrap();
//! assert_eq!(why.kind(), HostRejectionKind::NotAllowed);
//! # Ok(())
//! # }
//! ```
//!
//! # Patterns
//!
//! - `example.com`: that host, any port. Names are compared case-insensitively, with one
//!   trailing dot ignored on both sides (`EXAMPLE.com.` is `example.com`).
//! - `*.example.com`: any subdomain, at any depth; **not** `example.com` itself (list it too).
//! - `example.com:8443`: that host on that port only. A request that names no port does not
//!   match a pattern with one (the default port is not guessed).
//! - `[::1]`, `[::1]:8080`, `127.0.0.1`: IP literals; IPv6 in brackets, compared as addresses.
//!
//! # What is checked
//!
//! The host comes from the request URI's authority (HTTP/2 `:authority`, HTTP/1.1
//! absolute-form) and from the `Host` header. When both are present they must name the same
//! host and port; several `Host` headers, a missing or empty host, user info (`a@b`), or
//! anything after an IPv6 literal other than a port (`[::1]evil.example.com`) is rejected.
//! When the TCP peer is one of the [`TrustedProxies`](crate::proxy::TrustedProxies) given to
//! [`TrustedHostLayerBuilder::trusted_proxies`] and it sends `X-Forwarded-Host` (or `Forwarded:
//! host=`, per the proxies' [`ForwardedHeader`](crate::proxy::ForwardedHeader)), that host is
//! checked **as well**: the forwarded host and the request's own host must both be on the
//! list. From any other peer the forwarding headers are ignored.
//!
//! # Configuration
//!
//! [`TrustedHostLayer::builder`] takes the allow-list; setters never fail, and
//! [`build`](TrustedHostLayerBuilder::build) reports an empty list, `*` or a malformed
//! pattern as a [`ConfigError`](crate::ConfigError) for `trusted_host.hosts`.
//!
//! # Rejection
//!
//! A refused request gets the answer of the builder's
//! [`Responder`](crate::rejection::Responder) (set with
//! [`TrustedHostLayerBuilder::responder`]); by default
//! ([`DefaultResponder`](crate::rejection::DefaultResponder)) `400 Bad Request` with an
//! `application/problem+json` body (gRPC calls: HTTP 200 with `grpc-status: 3`,
//! `INVALID_ARGUMENT`). Whatever the responder returns, the layer puts the
//! [`HostRejection`] in the response extensions and appends a
//! [`SecurityEvent::UntrustedHost`](crate::event::SecurityEvent::UntrustedHost) to the
//! response's [`SecurityEvents`](crate::event::SecurityEvents) (the host truncated to 255
//! bytes). The default body does not echo the host.
//!
//! # Files
//!
//! `layer.rs` (layer and builder) -> `service.rs` -> `future.rs`; `host.rs` parses hosts
//! and patterns and checks a request; `rejection.rs` is [`HostRejection`].
//!
//! # Deployment caveats
//!
//! - Trust only proxies you run: from any other peer `X-Forwarded-Host` is ignored, and the
//!   `Host` header is checked.
//! - nginx passes a client's own `X-Forwarded-Host` through unless told otherwise
//!   (`proxy_set_header X-Forwarded-Host $host;` replaces it). That is why `Host` is checked
//!   too: with `Host: evil.example` and a client-written `X-Forwarded-Host: app.example`,
//!   the request is refused, so an application that builds links from `Host` is not
//!   poisoned.
//! - A proxy that rewrites `Host` to its upstream name (`proxy_set_header Host backend;`,
//!   the default `$proxy_host` of nginx's `proxy_pass`) sends that name in `Host`: list it
//!   too (`["app.example", "backend:8080"]`), or have the proxy keep the client's host
//!   (`proxy_set_header Host $host;`).
//! - This protects against Host-header attacks (poisoned password-reset links, cache
//!   poisoning, DNS rebinding), not against a client that sends an allowed host.

mod future;
mod host;
mod layer;
mod rejection;
mod service;

pub use future::TrustedHostFuture;
pub use layer::{TrustedHostLayer, TrustedHostLayerBuilder};
pub use rejection::{HostRejection, HostRejectionKind};
pub use service::TrustedHost;

//! Tower middleware that guards hyper, axum and tonic services.
//!
//! `tower-fortify` is a set of independent [tower] layers. Each is usable alone; together
//! they share one vocabulary of [`event::SecurityEvent`]s and one reading of proxy headers
//! ([`proxy::TrustedProxies`]).
//!
//! | module | feature | what it does |
//! |---|---|---|
//! | [`rate_limit`] | `rate-limit` | GCRA limits over one or more keys (client IP, API key, route, global), tiers, cost, shadow mode |
//! | [`security_headers`], [`trusted_host`], [`cors`] | `security-headers` | helmet/OWASP response headers, Host allow-list, hardened CORS |
//! | [`injection`] | `injection` | SQLi, XSS, traversal, command and other injection detection |
//! | [`metrics`] | `metrics` | OpenTelemetry-named request metrics, Prometheus/OpenMetrics exposition, percentiles, health checks |
//! | [`notify`] | `notify` | batched, prioritised notification delivery with retries, dead-letter queue and drain |
//! | [`monitoring`] | `monitoring` | `/metrics`, `/health` and a dashboard as one tower `Service` behind a bearer token |
//! | [`openapi`] | always; `utoipa`, `aide` | the layers' responses and headers in the application's OpenAPI document |
//! | [`event`], [`body`], [`rejection`], [`proxy`] | always | what the layers share |
//!
//! Adapter features: `axum` (read `ConnectInfo` and `MatchedPath`), `tonic` (read
//! `TcpConnectInfo`); backends: `redis`, `webhook`; OpenAPI generators: `utoipa`, `aide`. `full` enables everything.
//!
//! # Example
//!
//! ```
//! # #[cfg(feature = "rate-limit")]
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use std::convert::Infallible;
//! use http::{Request, Response, StatusCode};
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_fortify::rate_limit::{Global, Policy, Quota, RateLimitLayer};
//!
//! let limit = RateLimitLayer::builder()
//!     .policy(Policy::new("global", Global, Quota::per_minute(1))?)
//!     .build()?;
//! let svc = ServiceBuilder::new()
//!     .layer(limit)
//!     .service_fn(|_: Request<String>| async { Ok::<_, Infallible>(Response::new(String::new())) });
//!
//! let res = svc.clone().oneshot(Request::new(String::new())).await?;
//! assert_eq!(res.status(), StatusCode::OK);
//! let res = svc.clone().oneshot(Request::new(String::new())).await?;
//! assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
//! assert_eq!(res.headers()["retry-after"], "60");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Recommended layer order (outermost first)
//!
//! ```text
//! metrics -> notify -> security_headers -> trusted_host -> cors -> rate_limit -> injection -> handler
//! ```
//!
//! Metrics sees everything, including requests rejected further in; notify sees every
//! event; security headers wrap every rejection below them; a foreign `Host` is refused
//! before anything else looks at the request; CORS answers preflights before they count
//! against a quota; rate limiting rejects before any body is read; injection reads bodies
//! last. The README has the diagram.
//!
//! [tower]: https://docs.rs/tower
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod body;
#[cfg(feature = "security-headers")]
#[cfg_attr(docsrs, doc(cfg(feature = "security-headers")))]
pub mod cors;
mod error;
pub mod event;
#[cfg(feature = "injection")]
#[cfg_attr(docsrs, doc(cfg(feature = "injection")))]
pub mod injection;
#[cfg(feature = "notify")]
#[cfg_attr(docsrs, doc(cfg(feature = "notify")))]
pub mod notify;
pub mod openapi;
pub mod proxy;
pub mod rejection;

#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
#[cfg(feature = "monitoring")]
#[cfg_attr(docsrs, doc(cfg(feature = "monitoring")))]
pub mod monitoring;
#[cfg(feature = "rate-limit")]
#[cfg_attr(docsrs, doc(cfg(feature = "rate-limit")))]
pub mod rate_limit;
#[cfg(feature = "security-headers")]
#[cfg_attr(docsrs, doc(cfg(feature = "security-headers")))]
pub mod security_headers;
#[cfg(feature = "security-headers")]
#[cfg_attr(docsrs, doc(cfg(feature = "security-headers")))]
pub mod trusted_host;

pub use error::ConfigError;

/// The README's Rust snippets, compiled (and run where they assert) by `cargo test
/// --all-features`, so they cannot drift from the API.
#[cfg(all(doctest, feature = "full"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// What every response future of this crate does when polled again after it returned
/// `Ready`: a caller bug (futures are not fused), reported the way `async fn` reports it.
#[cold]
#[track_caller]
#[allow(dead_code)] // used by whichever layers are enabled
pub(crate) fn polled_after_completion(future: &'static str) -> ! {
    panic!("`{future}` polled after completion")
}

//! Tower middleware that guards hyper, axum and tonic services.
//!
//! `tower-fortify` is a set of independent [tower] layers. Each is usable alone; together
//! they share one vocabulary of [`event::SecurityEvent`]s and one reading of proxy headers
//! ([`proxy::TrustedProxies`]).
//!
//! | module | feature | what it does |
//! |---|---|---|
//! | [`rate_limit`] | `rate-limit` | GCRA limits over one or more keys (client IP, API key, route, global), tiers, cost, shadow mode |
//! | `security_headers`, `trusted_host`, `cors` | `security-headers` | helmet/OWASP response headers, Host allow-list, hardened CORS |
//! | `injection` | `injection` | SQLi, XSS, traversal and command injection detection |
//! | `metrics` | `metrics` | OpenTelemetry-named request metrics and Prometheus exposition |
//! | [`notify`] | `notify` | batched, prioritised notification delivery |
//! | `monitoring` | `monitoring` | `/metrics`, `/health` and a dashboard as one tower `Service` |
//! | [`event`], [`body`], [`proxy`] | always | what the layers share |
//!
//! Adapter features: `axum` (read `ConnectInfo` and `MatchedPath`), `tonic` (read
//! `TcpConnectInfo`); backends: `redis`, `webhook`. `full` enables everything.
//!
//! # Recommended layer order (outermost first)
//!
//! ```text
//! metrics -> notify -> security_headers -> trusted_host -> cors -> rate_limit -> injection -> handler
//! ```
//!
//! See the README for why.
//!
//! [tower]: https://docs.rs/tower
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod body;
mod error;
pub mod event;
#[cfg(feature = "notify")]
#[cfg_attr(docsrs, doc(cfg(feature = "notify")))]
pub mod notify;
pub mod proxy;

pub use error::ConfigError;

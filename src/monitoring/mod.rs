//! A router-agnostic tower [`Service`](tower_service::Service) serving `/metrics`,
//! `/health`, `/dashboard` and `/openapi.json` behind a bearer token.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use http::{header, Request, StatusCode};
//! use http_body_util::Empty;
//! use bytes::Bytes;
//! use tower::ServiceExt;
//! use tower_fortify::{metrics::MetricsRegistry, monitoring::MonitoringService};
//!
//! let monitoring = MonitoringService::builder()
//!     .bearer_token("s3cret-token-of-32-characters-xx")
//!     .metrics(MetricsRegistry::builder().build().unwrap())
//!     .build()
//!     .unwrap();
//!
//! // Probes need no token.
//! let get = |path: &str| Request::get(path).body(Empty::<Bytes>::new()).unwrap();
//! let res = monitoring.clone().oneshot(get("/health/live")).await.unwrap();
//! assert_eq!(res.status(), StatusCode::OK);
//!
//! // Everything else does.
//! let res = monitoring.clone().oneshot(get("/metrics")).await.unwrap();
//! assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
//! assert!(res.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().starts_with("Bearer"));
//!
//! let req = Request::get("/metrics")
//!     .header(header::AUTHORIZATION, "Bearer s3cret-token-of-32-characters-xx")
//!     .body(Empty::<Bytes>::new())
//!     .unwrap();
//! let res = monitoring.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(res.headers()[header::CONTENT_TYPE], "text/plain; version=0.0.4; charset=utf-8");
//! # });
//! ```
//!
//! # Endpoints
//!
//! | path | token | answer |
//! |---|---|---|
//! | `GET /` | no | the dashboard page: one static HTML file (no data in it) that asks for the token and polls `/dashboard`; its CSP allows its one inline script and style by sha256 hash |
//! | `GET /metrics` | yes | Prometheus text 0.0.4, or OpenMetrics when `Accept` asks for `application/openmetrics-text` |
//! | `GET /health` | yes | the full [`HealthReport`](crate::metrics::HealthReport) as JSON; 200 when healthy or degraded, 503 when unhealthy |
//! | `GET /health/live` | no | `{"status":"healthy"}`, 200 whenever the process serves |
//! | `GET /health/ready` | no | `{"status":...}` with 200 or 503; the checks' details only with a valid token |
//! | `GET /dashboard` | yes | JSON [`Dashboard`](crate::metrics::Dashboard) (per-route rate, error rate, p50/p95/p99, guard-layer events), the health status, and each extension's section |
//! | `GET /openapi.json` | yes | an OpenAPI 3.1 document of these endpoints (and the extensions') |
//! | `/{name}/...` | yes | a [`MonitoringExtension`] named `name` |
//!
//! `HEAD` is accepted wherever `GET` is. Unknown paths get 404, other methods 405 with
//! `Allow`; errors are `application/problem+json`. Every response carries
//! `Cache-Control: no-store`.
//!
//! # Authentication comes before routing
//!
//! Without a valid token, **every** request under the service's prefix gets the same
//! answer, whatever its path and method: `401` with the same `WWW-Authenticate` challenge
//! and the same problem body (the challenge says `error="invalid_token"` when a wrong
//! token was sent, whatever the path). An unknown path, a real extension and a wrong
//! method are indistinguishable, so a scanner learns nothing of what is installed; 404
//! and 405 are only for requests with the token. The exceptions, answered without a
//! token: the probes `/health/live` and `/health/ready` (any method; they reveal no
//! details), and `GET`/`HEAD /`, the place of the dashboard page, which holds no data
//! (the page fetches `/dashboard` with the token).
//!
//! The service answers paths relative to where it is mounted: in axum,
//! `Router::new().nest_service("/admin", monitoring)` strips `/admin`; on its own port
//! with hyper, serve it as is.
//!
//! # Extensions
//!
//! Other modules (the notification module's dead-letter queue) or your own code plug in
//! with [`MonitoringServiceBuilder::extension`]: a [`MonitoringExtension`] serves every path
//! under `/{name}` (behind the token), may add a section to `/dashboard` and path items to
//! `/openapi.json`. This module does not depend on them.
//!
//! # Files
//!
//! `config.rs` (the builder) -> `service.rs` (routing and answers) -> `body.rs`; `auth.rs`
//! (token checks), `openapi.rs` (the document), `page.rs` (the dashboard page and its CSP)
//! and `extension.rs` (the trait) are leaves.
//! A service rather than a layer, it starts from `MonitoringService::builder()`
//! `...build()?`.
//!
//! # Deployment caveats
//!
//! - The token is compared in constant time (the `subtle` crate); only its length can
//!   leak through timing. Use a long random token and serve this on a private port or
//!   behind TLS: a bearer token on plain HTTP is readable by anyone on the path.
//! - The probes are open on purpose (orchestrators call them without credentials); the
//!   readiness probe reveals only `healthy`/`degraded`/`unhealthy` to them.
//! - Health reports are cached ([`HealthRegistryBuilder::cache_for`](crate::metrics::HealthRegistryBuilder::cache_for)),
//!   so a probe storm runs each check at most once per interval.
//! - The dashboard page sets its own `Content-Security-Policy`; a security-headers layer
//!   in front of the service keeps it (its default, `HeaderMode::KeepExisting`) unless
//!   told to override CSP, which would break the page.

mod auth;
mod body;
mod config;
mod extension;
mod openapi;
mod page;
mod service;

pub use body::MonitoringBody;
pub use config::MonitoringServiceBuilder;
pub use extension::{BoxFuture, MonitoringExtension, MAX_EXTENSION_BODY};
pub use service::{MonitoringFuture, MonitoringService};

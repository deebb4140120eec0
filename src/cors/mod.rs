//! Hardened CORS presets over tower-http's `CorsLayer`: misconfigurations are
//! [`ConfigError`](crate::ConfigError)s, not panics, and plain `OPTIONS` requests reach your application.
//!
//! ```
//! use http::{Method, Request, Response, StatusCode};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_fortify::cors::CorsLayer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cors = CorsLayer::same_origin_api(["https://app.example.com"]).build()?;
//! let app = ServiceBuilder::new().layer(cors).service(service_fn(|_req: Request<()>| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(String::from("data")))
//! }));
//!
//! // A genuine preflight is answered by the layer.
//! let preflight = Request::builder()
//!     .method(Method::OPTIONS)
//!     .header("origin", "https://app.example.com")
//!     .header("access-control-request-method", "PUT")
//!     .body(())?;
//! let res = app.clone().oneshot(preflight).await?;
//! assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example.com");
//! assert_eq!(res.headers()["access-control-allow-credentials"], "true");
//!
//! // Another origin gets no CORS headers, so the browser withholds the response.
//! let foreign = Request::builder().header("origin", "https://evil.example").body(())?;
//! let res = app.oneshot(foreign).await?;
//! assert_eq!(res.status(), StatusCode::OK);
//! assert!(res.headers().get("access-control-allow-origin").is_none());
//!
//! // Credentials with a wildcard origin: an error, where tower-http would panic.
//! let err = CorsLayer::public_read_only().allow_credentials(true).build().unwrap_err();
//! assert_eq!(err.setting(), "cors.allow_credentials");
//! # Ok(())
//! # }
//! ```
//!
//! # CORS is not access control
//!
//! CORS only tells a **browser** whether a script from another origin may **read** a
//! response. It does not stop the request: curl, servers and other non-browser clients
//! ignore it, and browsers still send "simple" cross-origin requests (a form `POST`, a
//! `GET`) and run them on your server before deciding whether the page may see the answer.
//! Authenticate and authorise every request; protect cookie-authenticated state changes
//! against CSRF.
//!
//! # What is different from tower-http's `CorsLayer`
//!
//! This module writes no CORS logic itself: the headers are computed by tower-http's
//! `CorsLayer` (a dependency of the `security-headers` feature). What it adds:
//!
//! - [`CorsLayerBuilder::build`] returns a [`ConfigError`](crate::ConfigError) for every combination tower-http would panic
//!   on in `layer()` or `poll_ready` (credentials with a wildcard origin, `*` in a list), and
//!   for origins a browser never sends (`https://app.example.com/` with a path, `null`).
//! - There is no way to mirror the request's origin: with credentials the origins are an
//!   explicit list.
//! - An `OPTIONS` request without `Access-Control-Request-Method` is not a preflight: it
//!   goes to your application (with the CORS headers of an ordinary request), where
//!   tower-http would answer it itself with an empty `200`.
//!
//! # Presets
//!
//! A CORS layer starts from a preset, an associated function of [`CorsLayer`] that returns
//! a [`CorsLayerBuilder`]: [`CorsLayer::same_origin_api`] (your own front ends, with
//! credentials) or [`CorsLayer::public_read_only`] (any origin, no credentials). There is
//! no blank `builder()`: every CORS configuration is one of these two shapes, adjusted.
//! Setters never fail; [`build`](CorsLayerBuilder::build) names the bad setting
//! (`cors.origins`, `cors.allow_credentials`, `cors.allow_methods`, `cors.allow_headers`,
//! `cors.expose_headers`).
//!
//! # Files
//!
//! `layer.rs` (layer, builder, presets) -> `service.rs` -> `future.rs`; `origin.rs`
//! checks origins, methods and header names.
//!
//! # Deployment caveats
//!
//! - Origins are compared exactly (scheme, host and port); list every front-end origin,
//!   `http://localhost:5173` included during development.
//! - Place it inside `trusted_host` and outside `rate_limit`, so genuine preflights are
//!   answered before they count against a quota.

mod future;
mod layer;
mod origin;
mod service;

pub use future::CorsFuture;
pub use layer::{CorsLayer, CorsLayerBuilder};
pub use service::Cors;

//! Security response headers: helmet and OWASP presets, a typed Content-Security-Policy
//! with per-request nonces, and removal of fingerprinting headers.
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_fortify::security_headers::{
//!     ContentSecurityPolicy, CspNonce, CspSource, SecurityHeadersLayer,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let csp = ContentSecurityPolicy::strict()
//!     .script_src([CspSource::SelfOrigin, CspSource::Nonce])
//!     .build()?;
//! let layer = SecurityHeadersLayer::strict().content_security_policy(csp).build()?;
//!
//! let app = ServiceBuilder::new().layer(layer).service(service_fn(|req: Request<()>| async move {
//!     // The nonce exists before the handler runs; the same value goes into the header.
//!     let nonce = req.extensions().get::<CspNonce>().copied().unwrap();
//!     let page = format!("<script nonce=\"{nonce}\">hello()</script>");
//!     let mut res = Response::new(page);
//!     res.headers_mut().insert("server", "leaky/1.2.3".parse().unwrap());
//!     Ok::<_, std::convert::Infallible>(res)
//! }));
//!
//! let res = app.oneshot(Request::new(())).await?;
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(res.headers()["x-frame-options"], "DENY");
//! assert_eq!(res.headers()["cache-control"], "no-store");
//! assert!(res.headers().get("server").is_none());
//! // Plain http://, no trusted proxy, not an HTTPS listener: the strict preset sends no HSTS.
//! assert!(res.headers().get("strict-transport-security").is_none());
//! let csp = res.headers()["content-security-policy"].to_str()?;
//! let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap();
//! assert!(res.body().contains(&format!("nonce=\"{nonce}\"")));
//! # Ok(())
//! # }
//! ```
//!
//! # Presets
//!
//! | preset | for | HSTS |
//! |---|---|---|
//! | [`SecurityHeadersLayer::helmet`] | parity with helmet 8 (Node.js), byte for byte | every response |
//! | [`SecurityHeadersLayer::strict`] | an API or app that embeds nothing (OWASP Secure Headers Project) | HTTPS responses only |
//! | [`SecurityHeadersLayer::development`] | `http://localhost` | never |
//!
//! Each preset returns a [`SecurityHeadersLayerBuilder`]; every header of a preset can be
//! changed ([`SecurityHeadersLayerBuilder::header`]) or removed
//! ([`SecurityHeadersLayerBuilder::remove_header`]) before
//! [`build`](SecurityHeadersLayerBuilder::build); the exact tables are in each preset's
//! docs. [`SecurityHeadersLayer::builder`] starts from no headers at all. Setters never
//! fail: `build` reports the first invalid setting as a [`ConfigError`](crate::ConfigError)
//! named `security_headers.<setter>`.
//!
//! # Content-Security-Policy
//!
//! [`ContentSecurityPolicy::builder`] takes directives as typed [`CspSource`]s: keywords are
//! quoted for you, and a value that would break out of its directive (`;`, `,`, whitespace,
//! a control character, a quote) or a bare keyword (`self`, which the browser would read as
//! a host name) is a [`ConfigError`](crate::ConfigError) from [`CspBuilder::build`], named
//! `security_headers.csp.<method>` after the method that set it (a policy is a value of its
//! own, checked where it is written). `default-src` is required unless
//! waived. An enforcing policy and a report-only policy can be sent together, with
//! `Reporting-Endpoints` for the `report-to` directive.
//!
//! With [`CspSource::Nonce`] in either policy, the layer generates a [`CspNonce`] per request
//! (144 bits from a CSPRNG, base64) **before** the handler runs, puts it in the request
//! extensions, and writes the same value into the header. Responses that carry a nonce get
//! `Cache-Control: no-store` unless they already say `no-store` or `private` (opt out with
//! [`SecurityHeadersLayerBuilder::nonce_no_store`]): a shared cache would hand one nonce to everybody.
//!
//! # Files
//!
//! `config.rs` (the builder and [`HeaderMode`]; `hsts.rs` the HSTS settings) -> `layer.rs` -> `service.rs` ->
//! `future.rs`; `response.rs` is what the future does to a response; `csp.rs`,
//! `source.rs` and `template.rs` are the policy, its sources and its rendered text;
//! `presets.rs` the presets, `nonce.rs` the nonce.
//!
//! # Existing headers and per-response changes
//!
//! A header the handler already set is kept ([`HeaderMode::KeepExisting`]); choose
//! [`HeaderMode::Override`] per header with [`SecurityHeadersLayerBuilder::header_mode`]. A handler
//! adjusts one response (say, a relaxed CSP for a page that embeds a player) by inserting a
//! [`SecurityHeadersOverride`] in the response extensions.
//!
//! # Cost
//!
//! Header values are rendered once, in [`SecurityHeadersLayerBuilder::build`]; per request the layer
//! inserts prebuilt values into the header map, plus one nonce when the policy uses one.
//! `benches/security_headers.rs` compares it with the same headers applied by tower-http's
//! `SetResponseHeaderLayer` stack.
//!
//! # Deployment caveats
//!
//! - Place it outside the guard layers (`security_headers -> trusted_host -> cors ->
//!   rate_limit -> injection`) so their 400, 403 and 429 rejections carry the headers too.
//! - [`HstsScope::HttpsOnly`] trusts `X-Forwarded-Proto` / `Forwarded: proto=` only from the
//!   proxies given to [`SecurityHeadersLayerBuilder::trusted_proxies`]. A server that terminates TLS
//!   itself should say so with [`SecurityHeadersLayerBuilder::https_listener`].
//! - Headers are not a substitute for output encoding: a CSP limits what an injected script
//!   can do, it does not stop the injection.

mod config;
mod csp;
mod future;
mod hsts;
mod layer;
mod nonce;
mod presets;
mod response;
mod service;
mod source;
mod template;

pub use config::{HeaderMode, SecurityHeadersLayerBuilder};
pub use csp::{ContentSecurityPolicy, CspBuilder};
pub use future::SecurityHeadersFuture;
pub use hsts::{Hsts, HstsScope};
pub use layer::SecurityHeadersLayer;
pub use nonce::CspNonce;
pub use presets::{DENY_ALL_PERMISSIONS_POLICY, FINGERPRINT_HEADERS};
pub use response::SecurityHeadersOverride;
pub use service::SecurityHeaders;
pub use source::{CspSource, HashAlgorithm};

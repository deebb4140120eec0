//! The guard layers in the application's OpenAPI document: every operation behind them
//! lists the responses they may answer with and the headers they add, built from the same
//! layer values the service runs with.
//!
//! ```
//! use tower_fortify::injection::InjectionLayer;
//! use tower_fortify::openapi::FortifyDocs;
//! use tower_fortify::rate_limit::{PeerIp, Policy, Quota, RateLimitLayer};
//! use tower_fortify::trusted_host::TrustedHostLayer;
//!
//! let limit = RateLimitLayer::builder()
//!     .policy(Policy::new("ip", PeerIp::new(), Quota::per_second(10).burst(20))?)
//!     .build()?;
//! let injection = InjectionLayer::builder().build()?;
//! let hosts = TrustedHostLayer::builder(["api.example.com"]).build()?;
//!
//! let docs = FortifyDocs::new().trusted_host(&hosts).rate_limit(&limit).injection(&injection);
//! let added: Vec<u16> = docs.responses_for("/items").iter().map(|r| r.status.as_u16()).collect();
//! assert_eq!(added, [400, 429, 403, 408, 415]);
//! let rate_limited = &docs.responses_for("/items")[1];
//! assert_eq!(rate_limited.headers[0].name, "retry-after");
//! assert_eq!(rate_limited.members[0].values, ["ip"]);
//! # Ok::<(), tower_fortify::ConfigError>(())
//! ```
//!
//! With feature `utoipa`, [`FortifyDocs`] is a `utoipa::Modify`:
//! `#[openapi(modifiers(&docs))]` does not take a runtime value, so call
//! `docs.modify(&mut api)` on the built document (`ApiDoc::openapi()`, or
//! utoipa-axum's `OpenApiRouter::split_for_parts`). With feature `aide`,
//! [`FortifyDocs::aide_transform`] goes to `ApiRouter::finish_api_with`, or call
//! [`FortifyDocs::apply_aide`] on a finished document.
//!
//! # What is added
//!
//! | layer | responses | headers on every response |
//! |---|---|---|
//! | [`rate_limit`](crate::rate_limit) | 429 (not in shadow mode) with `Retry-After`, problem type `quota-exceeded`, `violated-policies` from the configured policy names; 503 when the store fails closed | `RateLimit-Policy` (the configured quotas as example), `RateLimit`; `X-RateLimit-*` with the legacy headers |
//! | [`injection`](crate::injection) | 403 in `Mode::Block` with `categories`; 408 (slow body); 413 and 503 with `OversizedBody::Reject`; 415 with `UnknownEncoding::Reject` (the default) | |
//! | [`trusted_host`](crate::trusted_host) | 400 | |
//! | [`security_headers`](crate::security_headers) (optional) | | each configured header, its value as example |
//! | [`monitoring`](crate::monitoring) | its paths under the mount point, `bearer` security scheme | |
//!
//! Components, shared with the monitoring service's own `/openapi.json`: the schema
//! `Problem` (RFC 9457 with `violated-policies` and `categories`), one header component
//! per header (`Retry-After`, `RateLimit`, `RateLimit-Policy`, `X-Frame-Options`, ...),
//! the security scheme `bearer`. Responses are inline in each operation; a layer's 429
//! narrows `Problem` with `allOf`.
//!
//! What is described is what the default responder sends; a custom
//! [`Responder`](crate::rejection::Responder) is not read. gRPC answers (HTTP 200,
//! Trailers-Only) are not in an OpenAPI document.
//!
//! # Files
//!
//! `model.rs` is the plain data every layer fills ([`LayerDoc`]); `components.rs` the
//! shared JSON pieces (the monitoring service uses them too); `docs.rs` is
//! [`FortifyDocs`] and what it adds per operation; `utoipa.rs` and `aide.rs` put those
//! pieces into each library's types.

// Used by the monitoring document and the generators, whichever features enable them.
#[allow(dead_code)]
pub(crate) mod components;
#[cfg_attr(not(any(feature = "utoipa", feature = "aide")), allow(dead_code))]
mod docs;
mod model;

#[cfg(feature = "aide")]
mod aide;
#[cfg(feature = "utoipa")]
mod utoipa;

pub use docs::FortifyDocs;
pub use model::{HeaderDoc, HeaderValueType, LayerDoc, MemberDoc, ResponseDoc};

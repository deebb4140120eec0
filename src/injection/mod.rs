//! Injection detection: a layer that decodes and inspects each request and blocks (or
//! reports) SQL injection, XSS, path traversal, OS command injection and the other
//! common injection families.
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_fortify::{event::SecurityEvents, injection::{InjectionLayer, InjectionRejection}};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let svc = ServiceBuilder::new()
//!     .layer(InjectionLayer::builder().build()?)
//!     .service(service_fn(|_req| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("hello"))))
//!     }));
//!
//! let attack = Request::get("/items?id=1%27%20OR%20%271%27%3D%271").body(Full::new(Bytes::new()))?;
//! let res = svc.clone().oneshot(attack).await?;
//! assert_eq!(res.status(), StatusCode::FORBIDDEN);
//! assert_eq!(res.headers()["content-type"], "application/problem+json");
//! assert_eq!(res.extensions().get::<SecurityEvents>().unwrap().iter().next().unwrap().kind().as_str(), "injection_detected");
//! assert!(matches!(res.extensions().get::<InjectionRejection>(), Some(InjectionRejection::Blocked { .. })));
//!
//! let fine = Request::get("/items?id=42&q=blue+shoes").body(Full::new(Bytes::new()))?;
//! assert_eq!(svc.oneshot(fine).await?.status(), StatusCode::OK);
//! # Ok(())
//! # }
//! ```
//!
//! # What is inspected
//!
//! Each value is tagged with its location, which findings and events report:
//!
//! | location | what |
//! |---|---|
//! | `path`, `path[i]` | the path, and each unusual segment on its own |
//! | `query:NAME`, `query-name:NAME` | query values and names |
//! | `cookie:NAME`, `cookie-name:NAME` | cookies |
//! | `header:NAME` | every header except [`DEFAULT_SKIPPED_HEADERS`] (hop-by-hop and framing; configurable); fixed-grammar headers (`Accept*`, `Cache-Control`, `If-None-Match`, `Sec-CH-UA*`, `Host`, dates) by their free-text parts |
//! | `form:NAME`, `form-name:NAME` | `application/x-www-form-urlencoded` bodies |
//! | `json:$.a[0].b`, `json-key:$.a` | every string leaf and key of JSON bodies (past the depth bound, located at the bound) |
//! | `multipart:NAME`, `multipart-name:NAME`, `multipart-filename:NAME` | multipart contents (whatever their file name, unless their bytes are binary), names and file names |
//! | `xml:/a/b`, `xml:/a/@attr`, `xml:declaration` | XML text (joined across CDATA and comments), attributes and declarations |
//! | `body` | bodies with no, plain or unknown content type, as raw text (and as a form, JSON or XML when they parse as one) |
//!
//! Bodies are buffered up to a limit (64 KiB by default) and handed to the inner service
//! byte-identical, trailers included ([`InspectedBody`]). A body over the limit is
//! inspected up to the limit and passed on whole, or refused with 413
//! ([`OversizedBody`]); a body that fails mid-stream reaches the inner service with the
//! same error. Every `Content-Encoding` is undone in order (`gzip`, `x-gzip`, `deflate`,
//! `br`), each step bounded by the same limit; a body that fails to decode is inspected
//! as sent; other encodings and more than three stacked codings are refused with 415
//! (or, for unknown ones, passed uninspected if you choose so: [`UnknownEncoding`]).
//! gRPC bodies (binary protobuf) are skipped only on the routes you declare with
//! [`InjectionLayerBuilder::grpc_routes`]; their path and metadata are inspected.
//! Buffering is bounded as a whole: at most [`DEFAULT_TOTAL_BUFFER_LIMIT`] bytes across
//! every in-flight request of the layer, and [`DEFAULT_BODY_TIMEOUT`] to read a body
//! (then 408).
//!
//! # Normalisation
//!
//! Each value is decoded before the detectors see it ([`normalize`]): repeated
//! percent-decoding (capped; more than one layer is reported in the `strict` profile),
//! `+` as space in queries and forms, `%uXXXX`, overlong UTF-8, HTML entities, JSON and
//! JavaScript escapes, NUL bytes, full-width forms, case folding. Detectors then read
//! views of it: SQL comments removed, shell quoting removed, paths with `\` and `//`
//! normalised.
//!
//! # Detectors, scores and profiles
//!
//! Each family has its own module of rules, written for this crate after the OWASP CRS
//! rule families (no CRS pattern copied), plus a SQL tokenizer (libinjection's design:
//! token-class fingerprints in three quoting contexts) and an HTML tag tokenizer run from
//! five start states. Every finding has a category, rule name, location, score and a
//! sanitised evidence excerpt. Critical rules score 5, warnings 3, notices 2; a request
//! whose score reaches the threshold (5) is flagged. [`Profile::Balanced`] (default)
//! runs the paranoia-level-1 rules, [`Profile::Strict`] adds level 2; the profile is a
//! setting of both builders ([`InjectionLayerBuilder::profile`],
//! [`DetectorBuilder::profile`]).
//!
//! In [`Mode::Block`] a flagged request gets a 403 `application/problem+json` response
//! that names the attack families but never echoes the payload (gRPC: `grpc-status: 7`);
//! in [`Mode::Monitor`] it is passed on. Every refusal (403, 413, 415) puts an
//! [`InjectionRejection`] in the response extensions and is answered by the builder's
//! [`responder`](InjectionLayerBuilder::responder) (default: the rejection's own
//! response; the table is on [`InjectionRejection`]). Both modes append
//! [`SecurityEvent::InjectionDetected`](crate::event::SecurityEvent::InjectionDetected)
//! events (up to eight per request) to the response's
//! [`SecurityEvents`](crate::event::SecurityEvents).
//!
//! [`Exclusion`]s switch findings off per route, location and family, or stop a route's
//! body from being buffered at all. [`Detector`] (built with [`Detector::builder`]) and
//! the per-value functions
//! ([`detect_sqli`], [`detect_xss`], [`detect_traversal`], [`detect_command`],
//! [`detect_all`]) give the verdict without the layer.
//!
//! Everything runs in time linear in the input: the `regex` crate has no backtracking,
//! decoding passes are capped, the tokenizers are single passes.
//!
//! Measure it on your own traffic with the `injection_eval` example, which reads JSON
//! Lines request logs: `cargo run --release --example injection_eval -- requests.jsonl`.
//!
//! # Deployment caveats
//!
//! - Place the layer after the cheap guards (rate limiting) and before the handler: it
//!   reads bodies.
//! - It inspects what it can parse; an application that parses a format the layer does
//!   not (protobuf, YAML, base64 multipart parts) sees values the layer read only as raw
//!   text.
//! - A body over the limit is inspected only up to the limit unless you choose
//!   [`OversizedBody::Reject`].
//! - No detector is perfect: run in [`Mode::Monitor`] on real traffic first, add
//!   [`Exclusion`]s for the fields that legitimately carry HTML, SQL or code, then block.

mod body;
mod config;
mod decode;
mod detect;
mod encoding;
mod exclusion;
#[cfg(test)]
mod fast_path_tests;
mod future;
mod headers;
mod inspect;
mod layer;
mod multipart;
mod rejection;
mod service;
mod value;
mod walk;

pub use body::InspectedBody;
pub use config::{
    Mode, OversizedBody, UnknownEncoding, DEFAULT_BODY_TIMEOUT, DEFAULT_TOTAL_BUFFER_LIMIT,
};
pub use decode::{normalize, Normalized, Source};
pub use detect::Finding;
pub use exclusion::Exclusion;
pub use future::InjectionFuture;
pub use inspect::{
    Detector, DetectorBuilder, Profile, Verdict, DEFAULT_BODY_LIMIT, DEFAULT_MAX_DEPTH,
    DEFAULT_SKIPPED_HEADERS, DEFAULT_THRESHOLD,
};
pub use layer::{InjectionLayer, InjectionLayerBuilder};
pub use rejection::InjectionRejection;
pub use service::Injection;
pub use value::{detect_all, detect_command, detect_sqli, detect_traversal, detect_xss};

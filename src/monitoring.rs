//! A router-agnostic tower [`Service`] serving `/metrics`, `/health`, `/dashboard` and
//! `/openapi.json` behind a bearer token.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use http::{header, Request, StatusCode};
//! use http_body_util::Empty;
//! use bytes::Bytes;
//! use tower::ServiceExt;
//! use tower_fortify::{metrics::Metrics, monitoring::MonitoringService};
//!
//! let monitoring = MonitoringService::builder()
//!     .bearer_token("s3cret-token-of-32-characters-xx")
//!     .metrics(Metrics::new())
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
//! | `GET /metrics` | yes | Prometheus text 0.0.4, or OpenMetrics when `Accept` asks for `application/openmetrics-text` |
//! | `GET /health` | yes | the full [`HealthReport`] as JSON; 200 when healthy or degraded, 503 when unhealthy |
//! | `GET /health/live` | no | `{"status":"healthy"}`, 200 whenever the process serves |
//! | `GET /health/ready` | no | `{"status":...}` with 200 or 503; the checks' details only with a valid token |
//! | `GET /dashboard` | yes | JSON [`Dashboard`] (per-route rate, error rate, p50/p95/p99, guard-layer events), the health status, and each extension's section |
//! | `GET /openapi.json` | yes | an OpenAPI 3.1 document of these endpoints (and the extensions') |
//! | `/{name}/...` | yes | a [`MonitoringExtension`] named `name` |
//!
//! `HEAD` is accepted wherever `GET` is. Unknown paths get 404, other methods 405 with
//! `Allow`; errors are `application/problem+json`. Every response carries
//! `Cache-Control: no-store`.
//!
//! The service answers paths relative to where it is mounted: in axum,
//! `Router::new().nest_service("/admin", monitoring)` strips `/admin`; on its own port
//! with hyper, serve it as is.
//!
//! # Extensions
//!
//! Other modules (the notification module's dead-letter queue) or your own code plug in
//! with [`MonitoringBuilder::extension`]: a [`MonitoringExtension`] serves every path
//! under `/{name}` (behind the token), may add a section to `/dashboard` and path items to
//! `/openapi.json`. This module does not depend on them.
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

use std::{
    convert::Infallible,
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::{Buf, Bytes, BytesMut};
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use serde_json::{json, Map, Value};
use subtle::ConstantTimeEq;
use tower_service::Service;

use crate::{
    metrics::{ExpositionFormat, HealthRegistry, HealthReport, Metrics},
    rejection::Problem,
    ConfigError,
};

#[allow(unused_imports)] // for the docs
use crate::metrics::Dashboard;

/// Largest request body an extension receives; larger bodies get 413.
pub const MAX_EXTENSION_BODY: usize = 64 * 1024;

/// A boxed, sendable future, as extensions return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Endpoints another module adds to the monitoring service, under `/{name}`.
///
/// ```
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use serde_json::json;
/// use tower_fortify::monitoring::{BoxFuture, MonitoringExtension};
///
/// #[derive(Debug)]
/// struct Queue;
///
/// impl MonitoringExtension for Queue {
///     fn name(&self) -> &str {
///         "queue"
///     }
///     fn dashboard(&self) -> Option<serde_json::Value> {
///         Some(json!({ "queued": 3, "dead_letters": 0 }))
///     }
///     fn call(&self, req: Request<Bytes>) -> BoxFuture<Response<Bytes>> {
///         let body = format!("{} {}", req.method(), req.uri().path());
///         Box::pin(async move { Response::new(Bytes::from(body)) })
///     }
/// }
/// assert_eq!(Queue.name(), "queue");
/// ```
pub trait MonitoringExtension: fmt::Debug + Send + Sync + 'static {
    /// The first path segment this extension serves (`/{name}` and everything under it),
    /// and its key in `/dashboard`. Lowercase letters, digits, `-` and `_`.
    fn name(&self) -> &str;

    /// Its section of `/dashboard`, if any.
    fn dashboard(&self) -> Option<Value> {
        None
    }

    /// Answers an authenticated request under `/{name}`; the path is the full path as
    /// the service received it. The body is collected (at most [`MAX_EXTENSION_BODY`]).
    fn call(&self, req: Request<Bytes>) -> BoxFuture<Response<Bytes>>;

    /// OpenAPI 3.1 path items to merge into `/openapi.json`, keyed by path
    /// (for example `/queue/dead-letters`).
    fn openapi_paths(&self) -> Map<String, Value> {
        Map::new()
    }
}

struct Shared {
    token: Box<[u8]>,
    metrics: Option<Metrics>,
    health: HealthRegistry,
    extensions: Vec<Arc<dyn MonitoringExtension>>,
    openapi: Bytes,
}

/// The monitoring service. Cheap to clone; see the [module docs](self).
#[derive(Clone)]
pub struct MonitoringService {
    shared: Arc<Shared>,
}

impl fmt::Debug for MonitoringService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitoringService")
            .field("metrics", &self.shared.metrics.is_some())
            .field("health", &self.shared.health)
            .field("extensions", &self.shared.extensions)
            .finish_non_exhaustive()
    }
}

/// Builds a [`MonitoringService`].
#[derive(Default)]
pub struct MonitoringBuilder {
    token: Option<String>,
    metrics: Option<Metrics>,
    health: Option<HealthRegistry>,
    extensions: Vec<Arc<dyn MonitoringExtension>>,
}

impl fmt::Debug for MonitoringBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitoringBuilder")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("metrics", &self.metrics.is_some())
            .field("health", &self.health)
            .field("extensions", &self.extensions)
            .finish()
    }
}

impl MonitoringBuilder {
    /// The bearer token every endpoint but the probes requires: 16 to 512 characters of
    /// `A-Z a-z 0-9 - . _ ~ + /` (optionally ending in `=`). Required.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The metrics served at `/metrics` and summarised at `/dashboard`. Without it those
    /// two paths give 404 and `/dashboard` has no traffic figures.
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The health checks behind `/health` and `/health/ready` (default: none, always healthy).
    pub fn health(mut self, health: HealthRegistry) -> Self {
        self.health = Some(health);
        self
    }

    /// Adds endpoints under `/{extension.name()}`; see [`MonitoringExtension`].
    pub fn extension(mut self, extension: impl MonitoringExtension) -> Self {
        self.extensions.push(Arc::new(extension));
        self
    }

    /// Validates the token and the extensions' names.
    pub fn build(self) -> Result<MonitoringService, ConfigError> {
        let token = self.token.ok_or_else(|| {
            ConfigError::new(
                "bearer_token",
                "the monitoring service needs a bearer token (for example from the ADMIN_TOKEN environment variable)",
            )
        })?;
        validate_token(&token)?;
        let mut names = std::collections::HashSet::new();
        for e in &self.extensions {
            let name = e.name();
            let valid = !name.is_empty()
                && name.len() <= 64
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                });
            if !valid {
                return Err(ConfigError::new(
                    "extension",
                    format!("extension names are 1 to 64 of a-z, 0-9, - and _; got {name:?}"),
                ));
            }
            if RESERVED.contains(&name) {
                return Err(ConfigError::new(
                    "extension",
                    format!("{name:?} is one of the service's own paths"),
                ));
            }
            if !names.insert(name.to_owned()) {
                return Err(ConfigError::new(
                    "extension",
                    format!("two extensions are named {name:?}"),
                ));
            }
        }
        let openapi = openapi_document(self.metrics.is_some(), &self.extensions);
        Ok(MonitoringService {
            shared: Arc::new(Shared {
                token: token.into_bytes().into_boxed_slice(),
                metrics: self.metrics,
                health: self.health.unwrap_or_default(),
                extensions: self.extensions,
                openapi: Bytes::from(serde_json::to_vec_pretty(&openapi).unwrap_or_default()),
            }),
        })
    }
}

const RESERVED: [&str; 4] = ["metrics", "health", "dashboard", "openapi.json"];

fn validate_token(token: &str) -> Result<(), ConfigError> {
    if !(16..=512).contains(&token.len()) {
        return Err(ConfigError::new(
            "bearer_token",
            format!(
                "the token must be 16 to 512 characters long, got {}",
                token.len()
            ),
        ));
    }
    let body = token.trim_end_matches('=');
    let ok = !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        });
    if !ok {
        return Err(ConfigError::new(
            "bearer_token",
            "the token may contain only A-Z, a-z, 0-9, '-', '.', '_', '~', '+', '/' and trailing '='",
        ));
    }
    Ok(())
}

impl MonitoringService {
    /// Starts configuring the service.
    pub fn builder() -> MonitoringBuilder {
        MonitoringBuilder::default()
    }

    fn authorized(&self, headers: &HeaderMap) -> Auth {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Auth::Missing;
        };
        let value = value.as_bytes();
        if value.len() < 7 || !value[..7].eq_ignore_ascii_case(b"bearer ") {
            return Auth::Missing;
        }
        let given = trim_ascii(&value[7..]);
        if bool::from(given.ct_eq(&self.shared.token)) {
            Auth::Valid
        } else {
            Auth::Invalid
        }
    }
}

fn trim_ascii(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if first.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if last.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    Missing,
    Invalid,
    Valid,
}

/// The body of the monitoring service's responses: one chunk of bytes.
#[derive(Debug, Default)]
pub struct MonitoringBody {
    data: Option<Bytes>,
}

impl MonitoringBody {
    fn new(data: Bytes) -> Self {
        Self {
            data: (!data.is_empty()).then_some(data),
        }
    }
}

impl Body for MonitoringBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.data.take().map(|d| Ok(Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

/// The response future of [`MonitoringService`].
pub type MonitoringFuture = BoxFuture<Result<Response<MonitoringBody>, Infallible>>;

fn respond(res: Response<Bytes>, head: bool) -> Response<MonitoringBody> {
    let (mut parts, body) = res.into_parts();
    parts
        .headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let body = if head { Bytes::new() } else { body };
    Response::from_parts(parts, MonitoringBody::new(body))
}

fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response<Bytes> {
    let mut res = Response::new(Bytes::from(serde_json::to_vec(value).unwrap_or_default()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn problem(status: StatusCode, title: &str, detail: &str) -> Response<Bytes> {
    Problem::new(status, title).detail(detail).into_response()
}

fn unauthorized(auth: Auth) -> Response<Bytes> {
    let (challenge, detail) = match auth {
        Auth::Invalid => (
            r#"Bearer realm="monitoring", error="invalid_token""#,
            "The bearer token is not valid.",
        ),
        _ => (
            r#"Bearer realm="monitoring""#,
            "This endpoint needs an Authorization: Bearer token.",
        ),
    };
    let mut res = problem(StatusCode::UNAUTHORIZED, "Unauthorized", detail);
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    res
}

fn health_response(report: &HealthReport) -> Response<Bytes> {
    let status = if report.is_serving() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(status, report)
}

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Metrics,
    Health,
    Live,
    Ready,
    Dashboard,
    OpenApi,
}

async fn collect_body<B>(body: B, limit: usize) -> Result<Bytes, StatusCode>
where
    B: Body,
{
    let mut body = std::pin::pin!(body);
    let mut out = BytesMut::new();
    while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let frame = frame.map_err(|_| StatusCode::BAD_REQUEST)?;
        if let Ok(mut data) = frame.into_data() {
            if out.len() + data.remaining() > limit {
                return Err(StatusCode::PAYLOAD_TOO_LARGE);
            }
            while data.has_remaining() {
                let chunk = data.chunk();
                out.extend_from_slice(chunk);
                let n = chunk.len();
                data.advance(n);
            }
        }
    }
    Ok(out.freeze())
}

impl<B> Service<Request<B>> for MonitoringService
where
    B: Body + Send + 'static,
    B::Data: Send,
{
    type Response = Response<MonitoringBody>;
    type Error = Infallible;
    type Future = MonitoringFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.answer(req).await) })
    }
}

impl MonitoringService {
    async fn answer<B>(&self, req: Request<B>) -> Response<MonitoringBody>
    where
        B: Body + Send + 'static,
        B::Data: Send,
    {
        let head = req.method() == Method::HEAD;
        let path = req.uri().path();
        let endpoint = match path {
            "/metrics" if self.shared.metrics.is_some() => Some(Endpoint::Metrics),
            "/health" => Some(Endpoint::Health),
            "/health/live" => Some(Endpoint::Live),
            "/health/ready" => Some(Endpoint::Ready),
            "/dashboard" => Some(Endpoint::Dashboard),
            "/openapi.json" => Some(Endpoint::OpenApi),
            _ => None,
        };
        let Some(endpoint) = endpoint else {
            return respond(self.extension(req).await, head);
        };
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            let mut res = problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method Not Allowed",
                "This endpoint answers GET and HEAD.",
            );
            res.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return respond(res, head);
        }
        let auth = self.authorized(req.headers());
        let res = match endpoint {
            Endpoint::Live => json_response(StatusCode::OK, &json!({ "status": "healthy" })),
            Endpoint::Ready => {
                let report = self.shared.health.check().await;
                if auth == Auth::Valid {
                    health_response(&report)
                } else {
                    let mut res = health_response(&report);
                    *res.body_mut() = Bytes::from(
                        serde_json::to_vec(&json!({ "status": report.status })).unwrap_or_default(),
                    );
                    res
                }
            }
            _ if auth != Auth::Valid => unauthorized(auth),
            Endpoint::Health => health_response(&self.shared.health.check().await),
            Endpoint::Metrics => {
                let format = ExpositionFormat::from_accept(req.headers().get(header::ACCEPT));
                let text = self
                    .shared
                    .metrics
                    .as_ref()
                    .map(|m| m.render(format))
                    .unwrap_or_default();
                let mut res = Response::new(Bytes::from(text));
                res.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(format.content_type()),
                );
                res
            }
            Endpoint::Dashboard => json_response(StatusCode::OK, &self.dashboard().await),
            Endpoint::OpenApi => {
                let mut res = Response::new(self.shared.openapi.clone());
                res.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                res
            }
        };
        respond(res, head)
    }

    async fn dashboard(&self) -> Value {
        let mut out = match &self.shared.metrics {
            Some(m) => serde_json::to_value(&*m.dashboard()).unwrap_or_else(|_| json!({})),
            None => json!({}),
        };
        let health = self.shared.health.check().await;
        if let Value::Object(map) = &mut out {
            map.insert("health".into(), json!(health.status));
            for e in &self.shared.extensions {
                if let Some(section) = e.dashboard() {
                    map.insert(e.name().to_owned(), section);
                }
            }
        }
        out
    }

    async fn extension<B>(&self, req: Request<B>) -> Response<Bytes>
    where
        B: Body + Send + 'static,
        B::Data: Send,
    {
        let path = req.uri().path();
        let first = path
            .strip_prefix('/')
            .map(|p| p.split('/').next().unwrap_or(""))
            .unwrap_or("");
        let Some(ext) = self
            .shared
            .extensions
            .iter()
            .find(|e| !first.is_empty() && e.name() == first)
            .cloned()
        else {
            return problem(
                StatusCode::NOT_FOUND,
                "Not Found",
                "The monitoring service has no such endpoint; see /openapi.json.",
            );
        };
        let auth = self.authorized(req.headers());
        if auth != Auth::Valid {
            return unauthorized(auth);
        }
        let (parts, body) = req.into_parts();
        match collect_body(body, MAX_EXTENSION_BODY).await {
            Ok(bytes) => ext.call(Request::from_parts(parts, bytes)).await,
            Err(StatusCode::PAYLOAD_TOO_LARGE) => problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Payload Too Large",
                "Monitoring extensions accept bodies of at most 64 KiB.",
            ),
            Err(status) => problem(status, "Bad Request", "The request body could not be read."),
        }
    }
}

fn openapi_document(with_metrics: bool, extensions: &[Arc<dyn MonitoringExtension>]) -> Value {
    let problem_response = |description: &str| {
        json!({
            "description": description,
            "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
        })
    };
    let health_op = |summary: &str, secured: bool, description: &str| {
        let mut op = json!({
            "summary": summary,
            "description": description,
            "responses": {
                "200": { "description": "Healthy or degraded.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/HealthReport" } } } },
                "503": { "description": "Unhealthy: a critical check failed.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/HealthReport" } } } }
            }
        });
        if secured {
            op["responses"]["401"] = problem_response("Missing or invalid bearer token.");
        } else {
            op["security"] = json!([]);
        }
        op
    };
    let mut paths = Map::new();
    if with_metrics {
        paths.insert(
            "/metrics".into(),
            json!({ "get": {
                "summary": "Metrics exposition",
                "description": "Prometheus text format 0.0.4, or OpenMetrics 1.0 when Accept names application/openmetrics-text.",
                "responses": {
                    "200": { "description": "The metrics.", "content": {
                        "text/plain": { "schema": { "type": "string" } },
                        "application/openmetrics-text": { "schema": { "type": "string" } }
                    } },
                    "401": problem_response("Missing or invalid bearer token.")
                }
            } }),
        );
    }
    paths.insert(
        "/health".into(),
        json!({ "get": health_op("Full health report", true, "Runs (or reuses the cached results of) every health check.") }),
    );
    paths.insert(
        "/health/live".into(),
        json!({ "get": {
            "summary": "Liveness probe",
            "description": "Answers 200 whenever the process serves requests. Needs no token.",
            "security": [],
            "responses": { "200": { "description": "The process serves.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Status" } } } } }
        } }),
    );
    paths.insert(
        "/health/ready".into(),
        json!({ "get": health_op("Readiness probe", false, "Needs no token; without a valid token only the overall status is returned.") }),
    );
    paths.insert(
        "/dashboard".into(),
        json!({ "get": {
            "summary": "Dashboard",
            "description": "Per-route rate, error rate and latency percentiles over the sliding window, guard-layer event counts, the health status, and extension sections.",
            "responses": {
                "200": { "description": "The dashboard.", "content": { "application/json": { "schema": { "type": "object" } } } },
                "401": problem_response("Missing or invalid bearer token.")
            }
        } }),
    );
    paths.insert(
        "/openapi.json".into(),
        json!({ "get": {
            "summary": "This document",
            "responses": {
                "200": { "description": "OpenAPI 3.1 document.", "content": { "application/json": { "schema": { "type": "object" } } } },
                "401": problem_response("Missing or invalid bearer token.")
            }
        } }),
    );
    for e in extensions {
        for (path, item) in e.openapi_paths() {
            paths.entry(path).or_insert(item);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "tower-fortify monitoring",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Metrics, health and dashboard endpoints of a service guarded by tower-fortify. Paths are relative to where the service is mounted."
        },
        "security": [ { "bearer": [] } ],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Status": {
                    "type": "object",
                    "required": ["status"],
                    "properties": { "status": { "type": "string", "enum": ["healthy", "degraded", "unhealthy"] } }
                },
                "HealthReport": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {
                        "status": { "type": "string", "enum": ["healthy", "degraded", "unhealthy"] },
                        "age_seconds": { "type": "number" },
                        "checks": { "type": "array", "items": {
                            "type": "object",
                            "required": ["name", "status", "critical", "duration_ms"],
                            "properties": {
                                "name": { "type": "string" },
                                "status": { "type": "string", "enum": ["pass", "fail"] },
                                "critical": { "type": "boolean" },
                                "duration_ms": { "type": "number" },
                                "error": { "type": "string" }
                            }
                        } }
                    }
                },
                "Problem": {
                    "type": "object",
                    "properties": {
                        "type": { "type": "string" },
                        "title": { "type": "string" },
                        "status": { "type": "integer" },
                        "detail": { "type": "string" }
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_tokens_are_refused() {
        for t in ["short", "has space in the token!!", &"x".repeat(600)] {
            let err = MonitoringService::builder()
                .bearer_token(t)
                .build()
                .unwrap_err();
            assert_eq!(err.setting(), "bearer_token", "{t}");
        }
        assert_eq!(
            MonitoringService::builder().build().unwrap_err().setting(),
            "bearer_token"
        );
        assert!(MonitoringService::builder()
            .bearer_token("abcdefghijklmnop+/==")
            .build()
            .is_ok());
    }

    #[test]
    fn service_is_clone_send_sync() {
        fn check<T: Clone + Send + Sync + 'static>() {}
        check::<MonitoringService>();
    }
}

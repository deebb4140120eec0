//! [`MonitoringService`]: routing, the endpoints' answers, and the dispatch to extensions.

use std::{
    convert::Infallible,
    fmt,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::{Buf, Bytes, BytesMut};
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use serde_json::{json, Value};
use tower_service::Service;

use super::{
    auth::{authorize, unauthorized, Auth},
    body::{respond, MonitoringBody},
    extension::{BoxFuture, MonitoringExtension, MAX_EXTENSION_BODY},
    page::dashboard_page,
};
use crate::{
    metrics::{ExpositionFormat, HealthRegistry, HealthReport, MetricsRegistry},
    rejection::Problem,
};

pub(super) struct Shared {
    pub(super) token: Box<[u8]>,
    pub(super) metrics: Option<MetricsRegistry>,
    pub(super) health: HealthRegistry,
    pub(super) extensions: Vec<Arc<dyn MonitoringExtension>>,
    pub(super) openapi: Bytes,
}

/// The monitoring service. Cheap to clone; see the [module docs](super).
#[derive(Clone)]
pub struct MonitoringService {
    pub(super) shared: Arc<Shared>,
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

impl MonitoringService {
    fn authorized(&self, headers: &http::HeaderMap) -> Auth {
        authorize(headers, &self.shared.token)
    }
}

/// The response future of [`MonitoringService`].
pub type MonitoringFuture = BoxFuture<Result<Response<MonitoringBody>, Infallible>>;

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

fn health_response(report: &HealthReport) -> Response<Bytes> {
    let status = if report.is_serving() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(status, report)
}

/// The requests answered without a valid token: the probes (orchestrators call them
/// without credentials; they reveal no details), and `GET`/`HEAD /`, the place of the
/// dashboard page, which holds no data (it fetches `/dashboard` with the token).
fn is_open(method: &Method, path: &str) -> bool {
    matches!(path, "/health/live" | "/health/ready")
        || (path == "/" && matches!(*method, Method::GET | Method::HEAD))
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

/// The dashboard page at `/` (and at the mount point itself): served without the token,
/// because it holds no data; it asks for the token and polls `/dashboard` with it.
/// `None` for every other path.
fn page<B>(req: &Request<B>) -> Option<Response<Bytes>> {
    if !matches!(req.uri().path(), "/" | "") {
        return None;
    }
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return Some(dashboard_page());
    }
    let mut res = problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method Not Allowed",
        "The dashboard page answers GET and HEAD.",
    );
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    Some(res)
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
        if let Some(res) = page(&req) {
            return respond(res, head);
        }
        let path = req.uri().path();
        let auth = self.authorized(req.headers());
        // Authentication before routing: without a valid token every path but the open
        // ones gets the same 401, so a scanner learns nothing of what is installed.
        if auth != Auth::Valid && !is_open(req.method(), path) {
            return respond(unauthorized(auth), head);
        }
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

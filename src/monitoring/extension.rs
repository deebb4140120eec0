//! [`MonitoringExtension`]: endpoints another module adds under `/{name}`.

use std::{fmt, future::Future, pin::Pin};

use bytes::Bytes;
use http::{Request, Response};
use serde_json::{Map, Value};

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

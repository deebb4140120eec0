//! The notifier's statistics and dead-letter queue as endpoints of the monitoring service;
//! see [`NotifyExtension`] for the endpoints and their JSON.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use bytes::Bytes;
//! use http::{header, Request, StatusCode};
//! use http_body_util::{BodyExt, Empty};
//! use tower::ServiceExt;
//! use tower_fortify::{monitoring::MonitoringService, notify::{ChannelSink, Notifier, NotifyExtension}};
//!
//! let (sink, _received) = ChannelSink::bounded(16)?;
//! let notifier = Notifier::builder().sink("in-process", sink).build()?;
//! let monitoring = MonitoringService::builder()
//!     .bearer_token("s3cret-token-of-32-characters-xx")
//!     .extension(NotifyExtension::new(&notifier))
//!     .build()?;
//!
//! let req = Request::get("/notify/stats")
//!     .header(header::AUTHORIZATION, "Bearer s3cret-token-of-32-characters-xx")
//!     .body(Empty::<Bytes>::new())?;
//! let res = monitoring.oneshot(req).await?;
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
//! let stats: serde_json::Value = serde_json::from_slice(&res.into_body().collect().await?.to_bytes())?;
//! assert_eq!(stats["sinks"][0]["name"], "in-process");
//! # Ok(()) }
//! ```

use std::{collections::HashSet, fmt, sync::Arc};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{
    delivery::Shared,
    dlq::{DeadLetter, ReplayReport},
    notifier::Notifier,
    openapi::openapi_paths,
};
use crate::{
    monitoring::{BoxFuture, MonitoringExtension},
    rejection::Problem,
};

#[allow(unused_imports)] // for the docs
use super::stats::NotifyStats;

/// The path segment (and `/dashboard` key) this extension serves.
const NAME: &str = "notify";

/// A [`MonitoringExtension`] serving a [`Notifier`]'s statistics and dead-letter queue
/// under `/notify` in the [monitoring service](crate::monitoring) (features `notify` and
/// `monitoring`). Register it with
/// [`MonitoringServiceBuilder::extension`](crate::monitoring::MonitoringServiceBuilder::extension).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use bytes::Bytes;
/// use http::{header, Request, StatusCode};
/// use http_body_util::{BodyExt, Empty};
/// use tower::ServiceExt;
/// use tower_fortify::monitoring::MonitoringService;
/// use tower_fortify::notify::{
///     Batch, Kind, Notification, Notifier, NotifyExtension, Priority, Sink, SinkError, SinkFuture,
/// };
///
/// /// A receiver that refuses everything for good.
/// struct Gone;
/// impl Sink for Gone {
///     fn send<'a>(&'a self, _: &'a Batch) -> SinkFuture<'a> {
///         Box::pin(async { Err(SinkError::permanent("410 gone")) })
///     }
/// }
///
/// let notifier = Notifier::builder().sink("pager", Gone).build()?;
/// let monitoring = MonitoringService::builder()
///     .bearer_token("s3cret-token-of-32-characters-xx")
///     .extension(NotifyExtension::new(&notifier))
///     .build()?;
///
/// notifier.notify(Notification::new(Kind::custom("disk_full"), Priority::Critical, "Disk full"));
/// while notifier.stats().dead_letter_queue_len == 0 {
///     tokio::time::sleep(Duration::from_millis(1)).await;
/// }
///
/// let req = Request::get("/notify/dead-letters")
///     .header(header::AUTHORIZATION, "Bearer s3cret-token-of-32-characters-xx")
///     .body(Empty::<Bytes>::new())?;
/// let res = monitoring.oneshot(req).await?;
/// assert_eq!(res.status(), StatusCode::OK);
/// let body: serde_json::Value = serde_json::from_slice(&res.into_body().collect().await?.to_bytes())?;
/// assert_eq!(body["count"], 1);
/// assert_eq!(body["dead_letters"][0]["sink"], "pager");
/// assert_eq!(body["dead_letters"][0]["notification"]["title"], "Disk full");
/// # Ok(()) }
/// ```
///
/// # Endpoints
///
/// All of them need the monitoring service's bearer token; paths are relative to where the
/// service is mounted. Bodies are JSON (`application/json`); errors are
/// `application/problem+json`.
///
/// | path | answer |
/// |---|---|
/// | `GET /notify/stats` | [`NotifyStats`]: `{"submitted", "queued", "dead_letter_queue_len", "sinks": [{"name", "in_flight", "delivered", "retried", "dead_lettered", "dropped", "abandoned"}]}` |
/// | `GET /notify/dead-letters` | `{"count": n, "dead_letters": [DeadLetter]}`, oldest first; each [`DeadLetter`] is `{"sink", "reason", "attempts", "dead_lettered_at", "batch_id", "notification"}` |
/// | `POST /notify/dead-letters/replay` | sends the selected entries again to the sink that refused them, waits for the outcome and answers the [`ReplayReport`] `{"replayed", "delivered", "dead_lettered"}` |
/// | `POST /notify/dead-letters/drain` | removes the selected entries and answers them: `{"drained": n, "dead_letters": [DeadLetter]}` |
///
/// `HEAD` is accepted wherever `GET` is; another method gets 405 with `Allow`, another path
/// under `/notify` 404.
///
/// The two `POST`s take an optional selection as their body; an empty body selects every
/// entry:
///
/// ```json
/// { "sink": "webhook", "ids": ["ntf_0193f1c2a4b87d6e5f40312a9b8c7d6e"] }
/// ```
///
/// `sink` keeps the entries of one sink (a name the notifier does not know is a 422),
/// `ids` the entries of those notifications (a malformed id is a 422); both may be given.
/// Unknown members are refused (400), so a typo cannot select everything.
///
/// `/dashboard` gets a `notify` section with the same shape as `GET /notify/stats`.
///
/// # Draining safely
///
/// A drain hands the entries to the caller and forgets them: if the connection breaks
/// before the answer arrives, they are gone. To hand them over without a gap, read them
/// with `GET /notify/dead-letters`, store them, then drain exactly those with
/// `{"ids": [...]}`; entries dead-lettered in between stay in the queue.
///
/// # Lifetime
///
/// [`NotifyExtension`] does not count as a [`Notifier`] handle: it does not keep intake open,
/// so dropping every handle still flushes and stops the worker. After
/// [`Notifier::shutdown`] the endpoints keep answering with the final counts, and a replay
/// does nothing (it reports zeros).
///
/// A replay runs on its own tokio task: a client that disconnects while it waits does not
/// cancel it halfway. It waits as long as the retries take (at most the notifier's
/// [`RetryPolicy`](super::RetryPolicy) `max_elapsed` per sink).
#[derive(Clone)]
pub struct NotifyExtension {
    shared: Arc<Shared>,
}

impl NotifyExtension {
    /// The endpoints of `notifier` (and of every clone of it).
    pub fn new(notifier: &Notifier) -> Self {
        // The shared state, not a handle: the extension must not keep intake open.
        Self {
            shared: notifier.shared.clone(),
        }
    }
}

impl fmt::Debug for NotifyExtension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyExtension")
            .field("name", &NAME)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Stats,
    DeadLetters,
    Replay,
    Drain,
}

/// The body of the two `POST`s.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Selection {
    sink: Option<String>,
    ids: Option<Vec<String>>,
}

/// Why a selection is refused: status, title, detail.
type Refusal = (StatusCode, &'static str, String);

/// A [`Selection`] checked against the notifier: a predicate over dead letters.
#[derive(Debug, Clone)]
struct Filter {
    sink: Option<Arc<str>>,
    ids: Option<HashSet<u128>>,
}

impl Filter {
    fn matches(&self, d: &DeadLetter) -> bool {
        self.sink.as_ref().is_none_or(|s| *s == d.sink)
            && self
                .ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&d.notification.id().as_u128()))
    }
}

/// `ntf_` and 32 lowercase hex digits, as `NotificationId` displays.
fn parse_id(id: &str) -> Option<u128> {
    let hex = id.strip_prefix("ntf_")?;
    if hex.len() != 32 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u128::from_str_radix(hex, 16).ok()
}

fn json_response(status: StatusCode, value: &Value) -> Response<Bytes> {
    let mut res = Response::new(Bytes::from(serde_json::to_vec(value).unwrap_or_default()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn problem(status: StatusCode, title: &str, detail: impl Into<String>) -> Response<Bytes> {
    Problem::new(status, title).detail(detail).into_response()
}

impl NotifyExtension {
    /// The selection in `body`, or the status, title and detail of its refusal.
    fn filter(&self, body: &[u8]) -> Result<Filter, Refusal> {
        let body = body.trim_ascii();
        let selection = if body.is_empty() {
            Selection::default()
        } else if body.first() != Some(&b'{') {
            // serde would read a struct from an array too (`[null, null]`): only an object is a selection.
            return Err((
                StatusCode::BAD_REQUEST,
                "Bad Request",
                "The body must be empty or a JSON object with optional \"sink\" and \"ids\" members.".to_owned(),
            ));
        } else {
            serde_json::from_slice::<Selection>(body).map_err(|e| {
                (
                    StatusCode::BAD_REQUEST,
                    "Bad Request",
                    format!("The body must be empty or a JSON object with optional \"sink\" and \"ids\" members: {e}."),
                )
            })?
        };
        let sink = match selection.sink {
            None => None,
            Some(name) => {
                let stats = self.shared.stats();
                let Some(known) = stats.sinks.iter().find(|s| *s.name == *name) else {
                    let names: Vec<&str> = stats.sinks.iter().map(|s| &*s.name).collect();
                    return Err((
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "Unknown Sink",
                        format!(
                            "The notifier has no sink named {name:?}; its sinks are {names:?}."
                        ),
                    ));
                };
                Some(known.name.clone())
            }
        };
        let ids = match selection.ids {
            None => None,
            Some(ids) => {
                let mut set = HashSet::with_capacity(ids.len());
                for id in &ids {
                    let Some(parsed) = parse_id(id) else {
                        return Err((
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "Invalid Notification Id",
                            format!(
                                "{id:?} is not a notification id (\"ntf_\" and 32 lowercase hex digits)."
                            ),
                        ));
                    };
                    set.insert(parsed);
                }
                Some(set)
            }
        };
        Ok(Filter { sink, ids })
    }

    async fn replay(&self, filter: Filter) -> Response<Bytes> {
        let shared = self.shared.clone();
        let replay = shared.replay(move |d| filter.matches(d));
        // On its own task, so a client that goes away does not cancel a replay halfway.
        let report: Result<ReplayReport, _> = match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle.spawn(replay).await,
            Err(_) => Ok(replay.await),
        };
        match report {
            Ok(report) => json_response(StatusCode::OK, &json!(report)),
            Err(_) => problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
                "The replay task failed; the notifier's statistics show what was delivered.",
            ),
        }
    }
}

impl MonitoringExtension for NotifyExtension {
    fn name(&self) -> &str {
        NAME
    }

    fn dashboard(&self) -> Option<Value> {
        Some(json!(self.shared.stats()))
    }

    fn call(&self, req: Request<Bytes>) -> BoxFuture<Response<Bytes>> {
        let this = self.clone();
        Box::pin(async move {
            let rest = req.uri().path().strip_prefix("/notify").unwrap_or("");
            let route = match rest {
                "/stats" => Route::Stats,
                "/dead-letters" => Route::DeadLetters,
                "/dead-letters/replay" => Route::Replay,
                "/dead-letters/drain" => Route::Drain,
                _ => {
                    return problem(
                        StatusCode::NOT_FOUND,
                        "Not Found",
                        "The monitoring service has no such endpoint; see /openapi.json.",
                    )
                }
            };
            let (allowed, allow) = match route {
                Route::Stats | Route::DeadLetters => (
                    matches!(*req.method(), Method::GET | Method::HEAD),
                    "GET, HEAD",
                ),
                Route::Replay | Route::Drain => (req.method() == Method::POST, "POST"),
            };
            if !allowed {
                let mut res = problem(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "Method Not Allowed",
                    format!("This endpoint answers {allow}."),
                );
                res.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
                return res;
            }
            match route {
                Route::Stats => json_response(StatusCode::OK, &json!(this.shared.stats())),
                Route::DeadLetters => {
                    let entries = this.shared.dead_letters();
                    json_response(
                        StatusCode::OK,
                        &json!({ "count": entries.len(), "dead_letters": entries }),
                    )
                }
                Route::Replay => match this.filter(req.body()) {
                    Ok(filter) => this.replay(filter).await,
                    Err((status, title, detail)) => problem(status, title, detail),
                },
                Route::Drain => match this.filter(req.body()) {
                    Ok(filter) => {
                        let entries = this.shared.drain_dead_letters(|d| filter.matches(d));
                        json_response(
                            StatusCode::OK,
                            &json!({ "drained": entries.len(), "dead_letters": entries }),
                        )
                    }
                    Err((status, title, detail)) => problem(status, title, detail),
                },
            }
        })
    }

    fn openapi_paths(&self) -> Map<String, Value> {
        let stats = self.shared.stats();
        let sinks: Vec<&str> = stats.sinks.iter().map(|s| &*s.name).collect();
        openapi_paths(&sinks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_as_they_display() {
        assert_eq!(parse_id("ntf_0000000000000000000000000000002a"), Some(42));
        for bad in [
            "ntf_2a",
            "0000000000000000000000000000002a",
            "ntf_0000000000000000000000000000002A",
            "ntf_+000000000000000000000000000002a",
            "ntf_0000000000000000000000000000002a0",
        ] {
            assert_eq!(parse_id(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn only_an_object_is_a_selection_and_the_document_names_the_sinks() {
        let notifier = super::super::Notifier::builder()
            .sink("log", super::super::ChannelSink::broadcast(1).unwrap())
            .build()
            .unwrap();
        let ext = NotifyExtension::new(&notifier);
        assert_eq!(
            ext.filter(b"[null, null]").unwrap_err().0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(ext.filter(b"42").unwrap_err().0, StatusCode::BAD_REQUEST);
        assert!(ext.filter(b" {} ").is_ok());
        assert!(ext.filter(b"").is_ok());
        assert_eq!(
            ext.filter(br#"{"sink":"nope"}"#).unwrap_err().0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let paths = MonitoringExtension::openapi_paths(&ext);
        let schema = &paths["/notify/dead-letters/drain"]["post"]["requestBody"]["content"]
            ["application/json"]["schema"];
        assert_eq!(
            schema["properties"]["sink"]["enum"],
            serde_json::json!(["log", null])
        );
        // null is documented as "every sink", and is what the service does.
        assert!(ext.filter(br#"{"sink":null,"ids":null}"#).is_ok());
    }
}

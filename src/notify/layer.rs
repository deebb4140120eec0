//! [`NotifyLayer`]: turns request outcomes into notifications, aggregating floods.

use std::{
    borrow::Cow,
    fmt,
    future::Future,
    net::IpAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use http::{Method, Request, Response, Uri};
use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

use super::notifier::{Kind, Notification, Notifier, Priority};
use crate::{
    event::{SecurityEvent, SecurityEvents},
    proxy::{peer_ip, TrustedProxies},
};

/// The longest path kept in a notification (longer ones are cut at a character boundary).
const MAX_PATH_LEN: usize = 256;

/// Turns what happened to each request into notifications: the [`SecurityEvent`]s the
/// guard layers left in the response extensions, 5xx responses and (when enabled)
/// requests slower than a threshold.
///
/// During a flood it aggregates: the first occurrence per key (for example policy and
/// client for rate limiting) is sent at once, the rest within the aggregation window
/// (default 60 s) become one summary notification carrying the count, so an attack cannot
/// flood the sinks or the queue. See [`Notifier::notify_coalesced`].
///
/// The response passes through untouched: this layer observes, it never rejects.
///
/// ```
/// use std::{convert::Infallible, time::Duration};
/// use http::{Request, Response, StatusCode};
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
/// use tower_fortify::notify::{ChannelSink, Kind, Notifier, NotifyLayer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (sink, mut received) = ChannelSink::bounded(16)?;
/// let notifier = Notifier::builder().sink("ops", sink).spawn()?;
///
/// let svc = ServiceBuilder::new()
///     .layer(NotifyLayer::new(notifier.clone()).slow_requests(Duration::from_secs(2)))
///     .service(service_fn(|_req: Request<String>| async {
///         let mut res = Response::new(String::from("upstream down"));
///         *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
///         Ok::<_, Infallible>(res)
///     }));
///
/// let res = svc.oneshot(Request::new(String::new())).await?;
/// assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE); // passed through untouched
///
/// notifier.shutdown(Duration::from_secs(5)).await;
/// let batch = received.recv().await.unwrap();
/// assert_eq!(*batch.notifications()[0].kind(), Kind::ServerError);
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[must_use]
pub struct NotifyLayer {
    config: Arc<LayerConfig>,
}

#[derive(Clone)]
struct LayerConfig {
    notifier: Notifier,
    /// Indexed by [`builtin_index`]; `None` disables the kind.
    priorities: [Option<Priority>; 6],
    slow_threshold: Option<Duration>,
    window: Duration,
    source: Cow<'static, str>,
    proxies: Option<TrustedProxies>,
}

fn builtin_index(kind: &Kind) -> Option<usize> {
    Some(match kind {
        Kind::RateLimited => 0,
        Kind::InjectionDetected => 1,
        Kind::UntrustedHost => 2,
        Kind::BackendError => 3,
        Kind::ServerError => 4,
        Kind::SlowRequest => 5,
        Kind::Custom(_) => return None,
    })
}

impl fmt::Debug for NotifyLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyLayer")
            .field("priorities", &self.config.priorities)
            .field("slow_threshold", &self.config.slow_threshold)
            .field("window", &self.config.window)
            .field("source", &self.config.source)
            .finish_non_exhaustive()
    }
}

impl NotifyLayer {
    /// A layer submitting to `notifier` with the default kinds and priorities:
    /// `rate_limited` normal, `injection_detected` high, `untrusted_host` low,
    /// `backend_error` high, `server_error` high; `slow_request` off; a 60 s aggregation
    /// window.
    pub fn new(notifier: Notifier) -> Self {
        Self {
            config: Arc::new(LayerConfig {
                notifier,
                priorities: [
                    Some(Priority::Normal),
                    Some(Priority::High),
                    Some(Priority::Low),
                    Some(Priority::High),
                    Some(Priority::High),
                    None,
                ],
                slow_threshold: None,
                window: Duration::from_secs(60),
                source: Cow::Borrowed("tower-fortify"),
                proxies: None,
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut LayerConfig)) -> Self {
        f(Arc::make_mut(&mut self.config));
        self
    }

    /// Sends notifications of the built-in `kind` with `priority` (custom kinds are sent by
    /// the application and ignored here).
    pub fn priority(self, kind: Kind, priority: Priority) -> Self {
        self.edit(|c| {
            if let Some(i) = builtin_index(&kind) {
                c.priorities[i] = Some(priority);
            }
        })
    }

    /// Sends no notification of the built-in `kind`.
    pub fn ignore(self, kind: Kind) -> Self {
        self.edit(|c| {
            if let Some(i) = builtin_index(&kind) {
                c.priorities[i] = None;
            }
        })
    }

    /// Notifies about requests whose response headers took longer than `threshold`
    /// (`slow_request`, low priority unless set with [`priority`](NotifyLayer::priority)).
    pub fn slow_requests(self, threshold: Duration) -> Self {
        self.edit(|c| {
            c.slow_threshold = Some(threshold);
            if c.priorities[5].is_none() {
                c.priorities[5] = Some(Priority::Low);
            }
        })
    }

    /// The aggregation window per key (default 60 s); `Duration::ZERO` sends every
    /// occurrence.
    pub fn aggregation_window(self, window: Duration) -> Self {
        self.edit(|c| c.window = window)
    }

    /// The `source` written into every notification (default `tower-fortify`).
    pub fn source(self, source: impl Into<Cow<'static, str>>) -> Self {
        let source = source.into();
        self.edit(|c| c.source = source)
    }

    /// Reads the client address through these trusted proxies (for the `client` field and
    /// aggregation keys); by default the TCP peer address is used.
    pub fn trusted_proxies(self, proxies: TrustedProxies) -> Self {
        self.edit(|c| c.proxies = Some(proxies))
    }
}

impl<S> Layer<S> for NotifyLayer {
    type Service = Notify<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Notify {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service [`NotifyLayer`] produces.
pub struct Notify<S> {
    inner: S,
    config: Arc<LayerConfig>,
}

impl<S: Clone> Clone for Notify<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: self.config.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for Notify<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notify")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// What the layer remembers of a request until its response arrives.
struct RequestInfo {
    config: Arc<LayerConfig>,
    method: Method,
    // Cloning a `Uri` shares its buffer; the path is cut and copied only if a
    // notification is raised.
    uri: Uri,
    client: Option<IpAddr>,
    start: Instant,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Notify<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let peer = peer_ip(req.extensions());
        let client = match (&self.config.proxies, peer) {
            (Some(proxies), Some(peer)) => Some(proxies.client_ip(peer, req.headers())),
            _ => peer,
        };
        let info = RequestInfo {
            config: self.config.clone(),
            method: req.method().clone(),
            uri: req.uri().clone(),
            client,
            start: Instant::now(),
        };
        ResponseFuture {
            inner: self.inner.call(req),
            info: Some(info),
        }
    }
}

pin_project! {
    /// The response future of [`Notify`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        info: Option<RequestInfo>,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let (Ok(res), Some(info)) = (&result, this.info.take()) {
            observe(&info, res);
        }
        Poll::Ready(result)
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn observe<B>(info: &RequestInfo, res: &Response<B>) {
    let config = &info.config;
    let events = res
        .extensions()
        .get::<SecurityEvents>()
        .filter(|e| !e.is_empty());
    let status = res.status();
    let slow = config
        .slow_threshold
        .map(|threshold| (threshold, info.start.elapsed()))
        .filter(|(threshold, elapsed)| elapsed > threshold);
    // The common case, nothing to report, allocates nothing.
    if events.is_none() && !status.is_server_error() && slow.is_none() {
        return;
    }
    let path = truncate(info.uri.path(), MAX_PATH_LEN);
    let client = info
        .client
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let send = |kind: Kind, key: String, build: &dyn Fn(Priority) -> Notification| {
        let Some(priority) = builtin_index(&kind).and_then(|i| config.priorities[i]) else {
            return;
        };
        let n = build(priority)
            .source(config.source.clone())
            .field("client", client.as_str())
            .field("method", info.method.as_str())
            .field("path", path);
        if config.window.is_zero() {
            config.notifier.notify(n);
        } else {
            config.notifier.notify_coalesced(&key, config.window, n);
        }
    };

    if let Some(events) = events {
        for event in events {
            match event {
                SecurityEvent::RateLimited {
                    policy,
                    key,
                    retry_after,
                    shadow,
                } => send(
                    Kind::RateLimited,
                    format!("rate_limited|{policy}|{key}|{shadow}"),
                    &|p| {
                        Notification::new(
                            Kind::RateLimited,
                            p,
                            if *shadow {
                                "Rate limit exceeded (shadow mode)"
                            } else {
                                "Rate limit exceeded"
                            },
                        )
                        .message(format!("policy `{policy}` refused key `{key}`"))
                        .field("policy", &**policy)
                        .field("key", &**key)
                        .field("retry_after_ms", retry_after.as_millis() as u64)
                        .field("shadow", *shadow)
                    },
                ),
                SecurityEvent::InjectionDetected {
                    category,
                    location,
                    rule,
                    score,
                    blocked,
                } => send(
                    Kind::InjectionDetected,
                    format!("injection_detected|{category}|{client}|{blocked}"),
                    &|p| {
                        Notification::new(
                            Kind::InjectionDetected,
                            p,
                            if *blocked {
                                "Injection attempt blocked"
                            } else {
                                "Injection attempt detected (monitor mode)"
                            },
                        )
                        .message(format!(
                            "{category} in {location} (rule {rule}, score {score})"
                        ))
                        .field("category", category.as_str())
                        .field("location", &**location)
                        .field("rule", *rule)
                        .field("score", *score)
                        .field("blocked", *blocked)
                    },
                ),
                SecurityEvent::UntrustedHost { host } => send(
                    Kind::UntrustedHost,
                    format!("untrusted_host|{host}"),
                    &|p| {
                        Notification::new(Kind::UntrustedHost, p, "Request for an untrusted host")
                            .message(format!("host `{host}` is not on the allow-list"))
                            .field("host", &**host)
                    },
                ),
                SecurityEvent::BackendError { component, detail } => send(
                    Kind::BackendError,
                    format!("backend_error|{component}"),
                    &|p| {
                        Notification::new(Kind::BackendError, p, "Backend error")
                            .message(format!("{component}: {detail}"))
                            .field("component", *component)
                            .field("detail", &**detail)
                    },
                ),
            }
        }
    }

    if status.is_server_error() {
        send(
            Kind::ServerError,
            format!("server_error|{}|{}", info.method, status.as_u16()),
            &|p| {
                Notification::new(Kind::ServerError, p, "Server error")
                    .message(format!("{} {path} answered {status}", info.method))
                    .field("status", status.as_u16())
            },
        );
    }

    if let Some((threshold, elapsed)) = slow {
        send(
            Kind::SlowRequest,
            format!("slow_request|{}|{path}", info.method),
            &|p| {
                Notification::new(Kind::SlowRequest, p, "Slow request")
                    .message(format!(
                        "{} {path} took {} ms (threshold {} ms)",
                        info.method,
                        elapsed.as_millis(),
                        threshold.as_millis()
                    ))
                    .field("elapsed_ms", elapsed.as_millis() as u64)
                    .field("threshold_ms", threshold.as_millis() as u64)
            },
        );
    }
}

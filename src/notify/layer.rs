//! [`NotifyLayer`] and its [`NotifyLayerBuilder`]; [`Notifier::layer`] for the defaults.

use std::{borrow::Cow, fmt, sync::Arc, time::Duration};

use tower_layer::Layer;

use super::{
    notification::{Kind, Priority},
    notifier::Notifier,
    observe::{builtin_index, LayerConfig},
    service::Notify,
};
use crate::{proxy::TrustedProxies, ConfigError};

/// Turns what happened to each request into notifications: the
/// [`SecurityEvent`](crate::event::SecurityEvent)s the guard layers left in the response
/// extensions, 5xx responses and (when enabled) requests slower than a threshold.
///
/// [`Notifier::layer`] gives the defaults; [`NotifyLayer::builder`] changes them.
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
/// let notifier = Notifier::builder().sink("ops", sink).build()?;
///
/// let svc = ServiceBuilder::new()
///     .layer(
///         NotifyLayer::builder(&notifier)
///             .slow_requests(Duration::from_secs(2))
///             .build()?,
///     )
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

impl fmt::Debug for NotifyLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("NotifyLayer").field(&self.config).finish()
    }
}

impl NotifyLayer {
    /// A builder for a layer submitting to `notifier` (and keeping a handle to it), with
    /// the defaults of [`Notifier::layer`].
    pub fn builder(notifier: &Notifier) -> NotifyLayerBuilder {
        NotifyLayerBuilder {
            config: LayerConfig::new(notifier.clone()),
            error: None,
        }
    }
}

impl Notifier {
    /// A [`NotifyLayer`] submitting to this notifier with the defaults: `rate_limited`
    /// normal, `injection_detected` high, `untrusted_host` low, `backend_error` high,
    /// `server_error` high; `slow_request` off; a 60 s aggregation window; the source
    /// `tower-fortify`; the TCP peer address as the client. [`NotifyLayer::builder`]
    /// changes them.
    pub fn layer(&self) -> NotifyLayer {
        NotifyLayer {
            config: Arc::new(LayerConfig::new(self.clone())),
        }
    }
}

impl<S> Layer<S> for NotifyLayer {
    type Service = Notify<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Notify::new(inner, self.config.clone())
    }
}

/// Builds a [`NotifyLayer`]. Start with [`NotifyLayer::builder`].
///
/// Setters never fail; [`build`](NotifyLayerBuilder::build) reports the first bad setting
/// as `notify.layer.<setter>`.
#[must_use]
pub struct NotifyLayerBuilder {
    config: LayerConfig,
    /// The first bad setting, reported by `build`.
    error: Option<ConfigError>,
}

impl fmt::Debug for NotifyLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyLayerBuilder")
            .field("config", &self.config)
            .field("error", &self.error)
            .finish()
    }
}

impl NotifyLayerBuilder {
    /// Sends notifications of the built-in `kind` with `priority`. A [`Kind::Custom`] is
    /// a `notify.layer.priority` error at build: the application raises its own kinds,
    /// the layer never does.
    pub fn priority(mut self, kind: Kind, priority: Priority) -> Self {
        match builtin_index(&kind) {
            Some(i) => self.config.priorities[i] = Some(priority),
            None => self.fail(ConfigError::new(
                "notify.layer.priority",
                format!("`{kind}` is not a kind the layer raises"),
            )),
        }
        self
    }

    /// Sends no notification of the built-in `kind`. A [`Kind::Custom`] is a
    /// `notify.layer.ignore` error at build.
    pub fn ignore(mut self, kind: Kind) -> Self {
        match builtin_index(&kind) {
            Some(i) => self.config.priorities[i] = None,
            None => self.fail(ConfigError::new(
                "notify.layer.ignore",
                format!("`{kind}` is not a kind the layer raises"),
            )),
        }
        self
    }

    /// Notifies about requests whose response headers took longer than `threshold`
    /// (`slow_request`, low priority unless set with
    /// [`priority`](NotifyLayerBuilder::priority)).
    pub fn slow_requests(mut self, threshold: Duration) -> Self {
        self.config.slow_requests(threshold);
        self
    }

    /// The aggregation window per key (default 60 s); `Duration::ZERO` sends every
    /// occurrence.
    pub fn aggregation_window(mut self, window: Duration) -> Self {
        self.config.window = window;
        self
    }

    /// The `source` written into every notification (default `tower-fortify`).
    pub fn source(mut self, source: impl Into<Cow<'static, str>>) -> Self {
        self.config.source = source.into();
        self
    }

    /// Reads the client address through these trusted proxies (for the `client` field and
    /// aggregation keys); by default the TCP peer address is used.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.config.proxies = Some(proxies);
        self
    }

    /// Builds the layer, or reports the first bad setting (`notify.layer.priority`,
    /// `notify.layer.ignore`).
    pub fn build(self) -> Result<NotifyLayer, ConfigError> {
        match self.error {
            Some(err) => Err(err),
            None => Ok(NotifyLayer {
                config: Arc::new(self.config),
            }),
        }
    }

    fn fail(&mut self, err: ConfigError) {
        self.error.get_or_insert(err);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{event::EventKind, notify::sink::channel::ChannelSink};

    fn notifier() -> Notifier {
        Notifier::builder()
            .sink("s", ChannelSink::broadcast(1).unwrap())
            .pair()
            .unwrap()
            .0
    }

    #[test]
    fn custom_kinds_are_reported_at_build_with_the_setter_name() {
        let n = notifier();
        let err = NotifyLayer::builder(&n)
            .priority(Kind::custom("order_filled"), Priority::High)
            .ignore(Kind::custom("other"))
            .build()
            .unwrap_err();
        assert_eq!(err.setting(), "notify.layer.priority", "the first one");
        let err = NotifyLayer::builder(&n)
            .ignore(Kind::custom("x"))
            .build()
            .unwrap_err();
        assert_eq!(err.setting(), "notify.layer.ignore");
    }

    #[test]
    fn slow_requests_turn_the_kind_on_unless_a_priority_was_set() {
        let n = notifier();
        let slow = builtin_index(&Kind::SlowRequest).unwrap();
        let layer = NotifyLayer::builder(&n)
            .slow_requests(Duration::from_secs(1))
            .build()
            .unwrap();
        assert_eq!(layer.config.priorities[slow], Some(Priority::Low));
        let layer = NotifyLayer::builder(&n)
            .priority(Kind::SlowRequest, Priority::High)
            .slow_requests(Duration::from_secs(1))
            .ignore(Kind::from(EventKind::UntrustedHost))
            .build()
            .unwrap();
        assert_eq!(layer.config.priorities[slow], Some(Priority::High));
        let host = builtin_index(&Kind::from(EventKind::UntrustedHost)).unwrap();
        assert_eq!(layer.config.priorities[host], None);
        assert_eq!(n.layer().config.priorities[slow], None, "off by default");
    }
}

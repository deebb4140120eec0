//! What [`NotifyLayer`](super::NotifyLayer) does with a response: the layer's settings
//! ([`LayerConfig`]), what it remembers of a request ([`RequestInfo`]) and [`observe`],
//! which turns guard-layer events, 5xx statuses and slow requests into notifications.

use std::{borrow::Cow, fmt, net::IpAddr, sync::Arc, time::Duration};

use http::{Method, Response, Uri};
use tokio::time::Instant;

use super::{
    notification::{Kind, Notification, Priority},
    notifier::Notifier,
};
use crate::{
    event::{EventKind, SecurityEvent, SecurityEvents},
    proxy::TrustedProxies,
};

/// The longest path kept in a notification (longer ones are cut at a character boundary).
const MAX_PATH_LEN: usize = 256;

/// How many kinds the layer raises itself (the four event kinds, `server_error`,
/// `slow_request`).
const BUILTIN_KINDS: usize = 6;

/// The slot of `slow_request` in [`LayerConfig::priorities`].
const SLOW_REQUEST: usize = 5;

/// The index of a kind the layer raises in [`LayerConfig::priorities`]; `None` for
/// custom kinds, which only the application raises.
pub(super) fn builtin_index(kind: &Kind) -> Option<usize> {
    Some(match kind {
        Kind::Security(EventKind::RateLimited) => 0,
        Kind::Security(EventKind::InjectionDetected) => 1,
        Kind::Security(EventKind::UntrustedHost) => 2,
        Kind::Security(EventKind::BackendError) => 3,
        Kind::ServerError => 4,
        Kind::SlowRequest => SLOW_REQUEST,
        Kind::Custom(_) => return None,
    })
}

/// The layer's settings, shared by every clone of the layer and its services.
#[derive(Clone)]
pub(super) struct LayerConfig {
    pub(super) notifier: Notifier,
    /// Indexed by [`builtin_index`]; `None` disables the kind.
    pub(super) priorities: [Option<Priority>; BUILTIN_KINDS],
    pub(super) slow_threshold: Option<Duration>,
    pub(super) window: Duration,
    pub(super) source: Cow<'static, str>,
    pub(super) proxies: Option<TrustedProxies>,
}

impl LayerConfig {
    /// The defaults: `rate_limited` normal, `injection_detected` high, `untrusted_host`
    /// low, `backend_error` high, `server_error` high; `slow_request` off; a 60 s
    /// aggregation window; the source `tower-fortify`; the TCP peer as the client.
    pub(super) fn new(notifier: Notifier) -> Self {
        Self {
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
        }
    }
}

impl LayerConfig {
    /// Raises `slow_request` above `threshold`, at low priority unless one was set.
    pub(super) fn slow_requests(&mut self, threshold: Duration) {
        self.slow_threshold = Some(threshold);
        self.priorities[SLOW_REQUEST].get_or_insert(Priority::Low);
    }
}

impl fmt::Debug for LayerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayerConfig")
            .field("priorities", &self.priorities)
            .field("slow_threshold", &self.slow_threshold)
            .field("window", &self.window)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// What the layer remembers of a request until its response arrives.
pub(super) struct RequestInfo {
    pub(super) config: Arc<LayerConfig>,
    pub(super) method: Method,
    // Cloning a `Uri` shares its buffer; the path is cut and copied only if a
    // notification is raised.
    pub(super) uri: Uri,
    pub(super) client: Option<IpAddr>,
    pub(super) start: Instant,
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

/// Raises the notifications `res` calls for: one per guard-layer event, one for a 5xx
/// status, one for a slow request. Allocates nothing when there is nothing to report.
pub(super) fn observe<B>(info: &RequestInfo, res: &Response<B>) {
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
            let kind = Kind::Security(event.kind());
            match event {
                SecurityEvent::RateLimited {
                    policy,
                    key,
                    retry_after,
                    shadow,
                } => send(
                    kind.clone(),
                    format!("{kind}|{policy}|{key}|{shadow}"),
                    &|p| {
                        Notification::new(
                            kind.clone(),
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
                    kind.clone(),
                    format!("{kind}|{category}|{client}|{blocked}"),
                    &|p| {
                        Notification::new(
                            kind.clone(),
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
                SecurityEvent::UntrustedHost { host } => {
                    send(kind.clone(), format!("{kind}|{host}"), &|p| {
                        Notification::new(kind.clone(), p, "Request for an untrusted host")
                            .message(format!("host `{host}` is not on the allow-list"))
                            .field("host", &**host)
                    })
                }
                SecurityEvent::BackendError { component, detail } => {
                    send(kind.clone(), format!("{kind}|{component}"), &|p| {
                        Notification::new(kind.clone(), p, "Backend error")
                            .message(format!("{component}: {detail}"))
                            .field("component", *component)
                            .field("detail", &**detail)
                    })
                }
            }
        }
    }

    if status.is_server_error() {
        send(
            Kind::ServerError,
            format!("{}|{}|{}", Kind::ServerError, info.method, status.as_u16()),
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
            format!("{}|{}|{path}", Kind::SlowRequest, info.method),
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

#[cfg(test)]
mod tests {
    use std::{borrow::Cow, sync::Arc, time::Duration};

    use http::{Response, StatusCode};

    use super::*;
    use crate::notify::{notification::Kind, sink::channel::ChannelSink};

    /// Observes `res` and returns what was queued (no worker runs: the shutdown
    /// dead-letters the queue, which is how the test reads it).
    async fn raised(config: LayerConfig, res: Response<()>) -> Vec<Notification> {
        let notifier = config.notifier.clone();
        let info = RequestInfo {
            config: Arc::new(config),
            method: Method::POST,
            uri: Uri::from_static("/login"),
            client: Some("203.0.113.7".parse().unwrap()),
            start: Instant::now(),
        };
        observe(&info, &res);
        drop(info);
        notifier.shutdown(Duration::ZERO).await;
        notifier
            .dead_letters()
            .into_iter()
            .map(|d| d.notification)
            .collect()
    }

    fn config() -> LayerConfig {
        let (notifier, _worker) = Notifier::builder()
            .sink("s", ChannelSink::broadcast(1).unwrap())
            .pair()
            .unwrap();
        LayerConfig::new(notifier)
    }

    #[test]
    fn every_kind_the_layer_raises_has_its_own_slot() {
        let mut seen = [false; BUILTIN_KINDS];
        let kinds = EventKind::ALL
            .into_iter()
            .map(Kind::from)
            .chain([Kind::ServerError, Kind::SlowRequest]);
        for kind in kinds {
            let i = builtin_index(&kind).unwrap();
            assert!(!seen[i], "{kind} shares a slot");
            seen[i] = true;
        }
        assert_eq!(builtin_index(&Kind::custom("x")), None);
    }

    #[test]
    fn paths_are_cut_at_a_character_boundary() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdef", 3), "abc");
        assert_eq!(truncate("aé", 2), "a");
    }

    #[tokio::test(start_paused = true)]
    async fn a_guard_event_becomes_a_notification_named_by_its_event_kind() {
        let mut res = Response::new(());
        *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        SecurityEvents::push_to(
            res.extensions_mut(),
            SecurityEvent::RateLimited {
                policy: Arc::from("per-ip"),
                key: Arc::from("k"),
                retry_after: Duration::from_secs(1),
                shadow: false,
            },
        );
        let mut config = config();
        config.source = Cow::Borrowed("shop");
        let all = raised(config, res).await;
        assert_eq!(all.len(), 1);
        let n = &all[0];
        assert_eq!(*n.kind(), Kind::Security(EventKind::RateLimited));
        assert_eq!(n.kind().as_str(), EventKind::RateLimited.as_str());
        assert_eq!(n.priority(), Priority::Normal);
        assert_eq!(n.source_name(), "shop");
        assert_eq!(n.fields()["client"], "203.0.113.7");
        assert_eq!(n.fields()["path"], "/login");
        assert_eq!(n.fields()["policy"], "per-ip");
    }

    #[tokio::test(start_paused = true)]
    async fn a_disabled_kind_and_a_quiet_response_raise_nothing() {
        let mut res = Response::new(());
        *res.status_mut() = StatusCode::BAD_GATEWAY;
        let mut config = config();
        config.priorities[builtin_index(&Kind::ServerError).unwrap()] = None;
        assert!(raised(config, res).await.is_empty());
        assert!(raised(self::config(), Response::new(())).await.is_empty());
    }
}

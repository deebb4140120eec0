//! The shared vocabulary layers leave for each other in response extensions.
//!
//! A guard layer that decides something about a request (a rejection, a shadow-mode
//! verdict, a backend failure) **appends** a [`SecurityEvent`] to the one
//! [`SecurityEvents`] list in the response extensions. Observers placed further out
//! (metrics, notifications, your own logging layer) read that list.
//!
//! [`http::Extensions`] holds one value per type, so a bare event inserted by two layers
//! would overwrite each other; [`SecurityEvents::push_to`] appends instead.
//!
//! ```
//! use std::{sync::Arc, time::Duration};
//! use tower_fortify::event::{SecurityEvent, SecurityEvents};
//!
//! let mut res = http::Response::new(());
//! SecurityEvents::push_to(
//!     res.extensions_mut(),
//!     SecurityEvent::RateLimited {
//!         policy: Arc::from("per-ip"),
//!         key: Arc::from("203.0.113.7"),
//!         retry_after: Duration::from_secs(2),
//!         shadow: false,
//!     },
//! );
//! SecurityEvents::push_to(
//!     res.extensions_mut(),
//!     SecurityEvent::UntrustedHost { host: Arc::from("evil.example") },
//! );
//!
//! let events = res.extensions().get::<SecurityEvents>().unwrap();
//! assert_eq!(events.len(), 2);
//! assert_eq!(events.iter().next().unwrap().kind().as_str(), "rate_limited");
//! assert_eq!(events.iter().next().unwrap().refusal(), Some("rate_limited"));
//! ```

use std::{fmt, sync::Arc, time::Duration};

use smallvec::SmallVec;

/// The family of an injection attack, as reported in [`SecurityEvent::InjectionDetected`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Category {
    /// SQL injection.
    Sqli,
    /// Cross-site scripting.
    Xss,
    /// Path traversal and local file inclusion.
    PathTraversal,
    /// Remote file inclusion.
    RemoteFileInclusion,
    /// OS command injection.
    CommandInjection,
    /// PHP code injection.
    PhpInjection,
    /// Java attacks (JNDI lookups, deserialisation, class names).
    JavaInjection,
    /// Server-side request forgery, prototype pollution, template injection and other
    /// generic injections.
    GenericInjection,
    /// Session fixation.
    SessionFixation,
    /// A protocol-level anomaly (for example a body that could not be decoded).
    Protocol,
}

impl Category {
    /// A short, stable, snake_case name, suitable for metric labels and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Sqli => "sqli",
            Category::Xss => "xss",
            Category::PathTraversal => "path_traversal",
            Category::RemoteFileInclusion => "remote_file_inclusion",
            Category::CommandInjection => "command_injection",
            Category::PhpInjection => "php_injection",
            Category::JavaInjection => "java_injection",
            Category::GenericInjection => "generic_injection",
            Category::SessionFixation => "session_fixation",
            Category::Protocol => "protocol",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One decision a guard layer made about a request.
///
/// Keys that may be secrets (API keys, user ids taken from headers) are carried
/// redacted, as a short keyed hash, never verbatim: events flow into notifications,
/// webhooks and dashboards.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecurityEvent {
    /// A rate-limit policy refused the request (or would have, in shadow mode).
    RateLimited {
        /// The name of the policy that refused it.
        policy: Arc<str>,
        /// The key the policy counted against (an IP address, a redacted secret, `global`).
        key: Arc<str>,
        /// How long until the request would be allowed.
        retry_after: Duration,
        /// `true` when the layer runs in shadow mode and let the request through anyway.
        shadow: bool,
    },
    /// The injection layer found an attack in the request.
    InjectionDetected {
        /// The attack family.
        category: Category,
        /// Where the payload was found, e.g. `query:id` or `json:$.items[0].note`.
        location: Arc<str>,
        /// The identifier of the rule that matched.
        rule: &'static str,
        /// The anomaly score of the request.
        score: u16,
        /// Whether the request was blocked (`false` in monitor mode).
        blocked: bool,
    },
    /// The request named a host that is not on the allow-list.
    UntrustedHost {
        /// The host the request named (truncated to a bounded length).
        host: Arc<str>,
    },
    /// A backend (Redis, a sink) failed and the layer fell back to its configured behaviour.
    BackendError {
        /// Which part failed, e.g. `rate_limit.redis`.
        component: &'static str,
        /// What went wrong.
        detail: Arc<str>,
    },
}

/// The kind of a [`SecurityEvent`], with the one spelling of its name that notifications,
/// metric labels and dashboards reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EventKind {
    /// [`SecurityEvent::RateLimited`]: `rate_limited`.
    RateLimited,
    /// [`SecurityEvent::InjectionDetected`]: `injection_detected`.
    InjectionDetected,
    /// [`SecurityEvent::UntrustedHost`]: `untrusted_host`.
    UntrustedHost,
    /// [`SecurityEvent::BackendError`]: `backend_error`.
    BackendError,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [EventKind; 4] = [
        EventKind::RateLimited,
        EventKind::InjectionDetected,
        EventKind::UntrustedHost,
        EventKind::BackendError,
    ];

    /// A short, stable, snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::RateLimited => "rate_limited",
            EventKind::InjectionDetected => "injection_detected",
            EventKind::UntrustedHost => "untrusted_host",
            EventKind::BackendError => "backend_error",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The request outcome named by a refusing event: `rate_limited`.
pub const REFUSED_RATE_LIMITED: &str = "rate_limited";
/// The request outcome named by a refusing event: `injection_blocked`.
pub const REFUSED_INJECTION_BLOCKED: &str = "injection_blocked";
/// The request outcome named by a refusing event: `untrusted_host`.
pub const REFUSED_UNTRUSTED_HOST: &str = "untrusted_host";

impl SecurityEvent {
    /// The kind of this event; [`EventKind::as_str`] is its name.
    pub fn kind(&self) -> EventKind {
        match self {
            SecurityEvent::RateLimited { .. } => EventKind::RateLimited,
            SecurityEvent::InjectionDetected { .. } => EventKind::InjectionDetected,
            SecurityEvent::UntrustedHost { .. } => EventKind::UntrustedHost,
            SecurityEvent::BackendError { .. } => EventKind::BackendError,
        }
    }

    /// The outcome label of the request when this event refused it (`rate_limited`,
    /// `injection_blocked`, `untrusted_host`), or `None` when it did not (shadow mode,
    /// monitor mode, a backend error the layer survived).
    pub fn refusal(&self) -> Option<&'static str> {
        match self {
            SecurityEvent::RateLimited { shadow: false, .. } => Some(REFUSED_RATE_LIMITED),
            SecurityEvent::InjectionDetected { blocked: true, .. } => {
                Some(REFUSED_INJECTION_BLOCKED)
            }
            SecurityEvent::UntrustedHost { .. } => Some(REFUSED_UNTRUSTED_HOST),
            _ => None,
        }
    }
}

/// The list of [`SecurityEvent`]s attached to one response.
///
/// Stored in the response extensions. Most responses carry none or one or two events,
/// so the list holds two inline before it allocates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityEvents(SmallVec<[SecurityEvent; 2]>);

impl SecurityEvents {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an event.
    pub fn push(&mut self, event: SecurityEvent) {
        self.0.push(event);
    }

    /// Iterates over the events in the order they were appended (innermost layer first).
    pub fn iter(&self) -> std::slice::Iter<'_, SecurityEvent> {
        self.0.iter()
    }

    /// The number of events.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends `event` to the list in `extensions`, creating the list if absent.
    pub fn push_to(extensions: &mut http::Extensions, event: SecurityEvent) {
        match extensions.get_mut::<SecurityEvents>() {
            Some(list) => list.push(event),
            None => {
                let mut list = SecurityEvents::new();
                list.push(event);
                extensions.insert(list);
            }
        }
    }
}

impl<'a> IntoIterator for &'a SecurityEvents {
    type Item = &'a SecurityEvent;
    type IntoIter = std::slice::Iter<'a, SecurityEvent>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl Extend<SecurityEvent> for SecurityEvents {
    fn extend<T: IntoIterator<Item = SecurityEvent>>(&mut self, iter: T) {
        self.0.extend(iter);
    }
}

//! [`RateLimitLayer`] and its builder.

use std::{
    collections::HashSet,
    fmt,
    sync::{atomic::AtomicBool, Arc},
};

use tower_layer::Layer;

use super::{
    headers::{policy_item, RateLimitHeaders},
    policy::Policy,
    response::{DefaultResponder, RateLimitResponder},
    service::RateLimit,
    store::{MemoryStore, RateLimitStore},
};
use crate::ConfigError;

/// What to do when a policy cannot find its key in a request (for example [`PeerIp`]
/// behind a server that records no peer address).
///
/// [`PeerIp`]: super::PeerIp
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MissingKey {
    /// Refuse with 500 problem+json (gRPC: INTERNAL) naming the policy and what is missing,
    /// and log a `tracing` error once per policy. The default: a limiter that silently
    /// limits nothing is worse than one that fails loudly.
    #[default]
    Reject,
    /// Skip the policy for that request (for optional keys such as an API key header
    /// that only some clients send).
    Skip,
}

/// What to do when the store cannot decide (Redis down or too slow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnStoreError {
    /// Allow the request and append [`SecurityEvent::BackendError`] to its response. The
    /// default.
    ///
    /// [`SecurityEvent::BackendError`]: crate::event::SecurityEvent::BackendError
    #[default]
    FailOpen,
    /// Refuse with 503 (gRPC: UNAVAILABLE) and append the same event.
    FailClosed,
}

pub(crate) struct PolicyEntry {
    pub(crate) policy: Policy,
    /// `"name";q=..;w=..` per tier (one entry for a fixed quota).
    pub(crate) items: Vec<String>,
    pub(crate) missing_logged: AtomicBool,
}

pub(crate) struct Shared {
    pub(crate) policies: Vec<PolicyEntry>,
    pub(crate) store: Arc<dyn RateLimitStore>,
    pub(crate) headers: RateLimitHeaders,
    pub(crate) shadow: bool,
    pub(crate) missing_key: MissingKey,
    pub(crate) on_store_error: OnStoreError,
    /// Whether the last decision failed, so failures are logged once per outage.
    pub(crate) store_failing: AtomicBool,
    pub(crate) responder: Arc<dyn RateLimitResponder>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field(
                "policies",
                &self.policies.iter().map(|p| &p.policy).collect::<Vec<_>>(),
            )
            .field("store", &self.store)
            .field("headers", &self.headers)
            .field("shadow", &self.shadow)
            .field("missing_key", &self.missing_key)
            .field("on_store_error", &self.on_store_error)
            .finish_non_exhaustive()
    }
}

/// Applies rate-limit policies to requests: see the [module docs](super).
///
/// Clones share state.
#[derive(Clone)]
#[must_use]
pub struct RateLimitLayer {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for RateLimitLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared.fmt(f)
    }
}

impl RateLimitLayer {
    /// A builder; add at least one [`Policy`].
    pub fn builder() -> RateLimitLayerBuilder {
        RateLimitLayerBuilder::default()
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit::new(inner, self.shared.clone())
    }
}

/// Builds a [`RateLimitLayer`].
#[derive(Default)]
#[must_use]
pub struct RateLimitLayerBuilder {
    policies: Vec<Policy>,
    store: Option<Arc<dyn RateLimitStore>>,
    headers: RateLimitHeaders,
    shadow: bool,
    missing_key: MissingKey,
    on_store_error: OnStoreError,
    responder: Option<Arc<dyn RateLimitResponder>>,
}

impl fmt::Debug for RateLimitLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayerBuilder")
            .field("policies", &self.policies)
            .field("store", &self.store)
            .field("headers", &self.headers)
            .field("shadow", &self.shadow)
            .finish_non_exhaustive()
    }
}

impl RateLimitLayerBuilder {
    /// Adds a policy (up to 16). Every policy must allow a request for it to pass.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policies.push(policy);
        self
    }

    /// Keeps state in `store` (default: a new [`MemoryStore`]). A store belongs to one
    /// layer: policies are identified by their position in it.
    pub fn store(mut self, store: impl RateLimitStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Which rate-limit headers responses carry (default [`RateLimitHeaders::Ietf`]).
    pub fn headers(mut self, headers: RateLimitHeaders) -> Self {
        self.headers = headers;
        self
    }

    /// Shadow mode: make every decision, send every header and event, but never refuse.
    /// Events carry `shadow: true`. Use it to size limits on real traffic.
    pub fn shadow(mut self, shadow: bool) -> Self {
        self.shadow = shadow;
        self
    }

    /// What to do when a policy finds no key (default [`MissingKey::Reject`]).
    pub fn on_missing_key(mut self, missing_key: MissingKey) -> Self {
        self.missing_key = missing_key;
        self
    }

    /// What to do when the store fails (default [`OnStoreError::FailOpen`]).
    pub fn on_store_error(mut self, on_store_error: OnStoreError) -> Self {
        self.on_store_error = on_store_error;
        self
    }

    /// Answers refused requests with `responder` (default [`DefaultResponder`]).
    pub fn responder(mut self, responder: impl RateLimitResponder) -> Self {
        self.responder = Some(Arc::new(responder));
        self
    }

    /// Checks the configuration and builds the layer.
    pub fn build(self) -> Result<RateLimitLayer, ConfigError> {
        if self.policies.is_empty() {
            return Err(ConfigError::new("policies", "add at least one policy"));
        }
        let max = super::store::MAX_POLICIES;
        if self.policies.len() > max {
            return Err(ConfigError::new(
                "policies",
                format!(
                    "{} policies given; one layer holds at most {max}",
                    self.policies.len()
                ),
            ));
        }
        let mut seen = HashSet::new();
        for p in &self.policies {
            if !seen.insert(p.name().to_owned()) {
                return Err(ConfigError::new(
                    "policies",
                    format!(
                        "two policies are named `{}`; names must be unique",
                        p.name()
                    ),
                ));
            }
        }
        let policies = self
            .policies
            .into_iter()
            .map(|policy| PolicyEntry {
                items: policy
                    .quotas()
                    .iter()
                    .map(|(_, g)| policy_item(policy.name(), g))
                    .collect(),
                policy,
                missing_logged: AtomicBool::new(false),
            })
            .collect();
        Ok(RateLimitLayer {
            shared: Arc::new(Shared {
                policies,
                store: self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
                headers: self.headers,
                shadow: self.shadow,
                missing_key: self.missing_key,
                on_store_error: self.on_store_error,
                store_failing: AtomicBool::new(false),
                responder: self.responder.unwrap_or_else(|| Arc::new(DefaultResponder)),
            }),
        })
    }
}

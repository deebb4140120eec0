//! [`RateLimitLayer`] and its builder.

use std::{
    collections::HashSet,
    fmt,
    sync::{atomic::AtomicBool, Arc},
};

use http::{header, HeaderName, StatusCode};
use tower_layer::Layer;

use super::{
    headers::{ceil_secs, policy_item, RateLimitHeaders, RATELIMIT, RATELIMIT_POLICY},
    key::{KeyExtractor, PeerIp},
    limiter::{Limiter, MissingKey, OnStoreError, PolicyEntry},
    policy::Policy,
    rejection::{RateLimitRejection, QUOTA_EXCEEDED_TYPE},
    service::RateLimit,
    store::{LayerStore, RateLimitStore, MAX_POLICIES},
};
use crate::{
    openapi::{HeaderDoc, HeaderValueType, LayerDoc, MemberDoc, ResponseDoc},
    rejection::{DefaultResponder, Responder},
    ConfigError,
};

/// Applies rate-limit policies to requests: see the [module docs](super).
///
/// Clones share state.
#[derive(Clone)]
#[must_use]
pub struct RateLimitLayer {
    limiter: Arc<Limiter>,
}

impl fmt::Debug for RateLimitLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.limiter.fmt(f)
    }
}

impl RateLimitLayer {
    /// A builder; add at least one [`Policy`].
    pub fn builder() -> RateLimitLayerBuilder {
        RateLimitLayerBuilder::default()
    }

    /// What this layer answers and adds, for an OpenAPI document
    /// ([`FortifyDocs::rate_limit`](crate::openapi::FortifyDocs::rate_limit)): 429 with
    /// `Retry-After` and the `quota-exceeded` problem naming the configured policies (none
    /// in shadow mode), 503 when the store fails closed, and the rate-limit headers the
    /// configured [`RateLimitHeaders`] put on every response.
    pub fn openapi_doc(&self) -> LayerDoc {
        let l = &self.limiter;
        let items: Vec<&str> = l
            .policies
            .iter()
            .flat_map(|p| p.items.iter().map(String::as_str))
            .collect();
        let names: Vec<&str> = l.policies.iter().map(|p| p.policy.name()).collect();
        let mut doc = LayerDoc::new();
        if !l.shadow {
            doc = doc.response(
                ResponseDoc::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "Rate limited: a quota of policy {} is exhausted. Retry after `Retry-After` seconds.",
                        names.join(", ")
                    ),
                )
                .problem_type(QUOTA_EXCEEDED_TYPE)
                .member(
                    MemberDoc::new("violated-policies", "The policies that refused the request.")
                        .values(names.iter().copied()),
                )
                .header(
                    HeaderDoc::new(
                        header::RETRY_AFTER,
                        "Seconds until every policy allows the request again (rounded up, at least 1).",
                    )
                    .example("1")
                    .value_type(HeaderValueType::Integer),
                ),
            );
        }
        if l.on_store_error == OnStoreError::FailClosed {
            doc = doc.response(ResponseDoc::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The rate limiter's store is unavailable and the limiter fails closed.",
            ));
        }
        if l.headers != RateLimitHeaders::None {
            let state = l
                .policies
                .iter()
                .filter_map(|p| {
                    let (_, g) = p.policy.quotas().into_iter().next()?;
                    Some(format!(
                        "\"{}\";r={};t={}",
                        p.policy.name(),
                        g.burst().saturating_sub(1),
                        ceil_secs(g.window(), true)
                    ))
                })
                .collect::<Vec<_>>()
                .join(", ");
            doc = doc
                .header(
                    HeaderDoc::new(
                        RATELIMIT_POLICY.clone(),
                        format!(
                            "The quota of each policy that applied (draft-ietf-httpapi-ratelimit-headers): `q` requests per window of `w` seconds. Configured: {}.",
                            items.join(", ")
                        ),
                    )
                    .example(items.join(", ")),
                )
                .header(
                    HeaderDoc::new(
                        RATELIMIT.clone(),
                        "What is left of each policy's quota: `r` requests now, `t` seconds until the full quota is back.",
                    )
                    .example(state),
                );
        }
        if l.headers == RateLimitHeaders::IetfAndLegacy {
            for (name, description) in [
                (
                    "x-ratelimit-limit",
                    "The burst of the policy with the fewest requests left.",
                ),
                ("x-ratelimit-remaining", "Requests left under that policy."),
                (
                    "x-ratelimit-reset",
                    "Seconds from now until that policy's full quota is back.",
                ),
            ] {
                doc = doc.header(
                    HeaderDoc::new(HeaderName::from_static(name), description)
                        .value_type(HeaderValueType::Integer),
                );
            }
        }
        doc
    }

    #[cfg(test)]
    pub(crate) fn limiter(&self) -> Arc<Limiter> {
        self.limiter.clone()
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit::new(inner, self.limiter.clone())
    }
}

/// Builds a [`RateLimitLayer`]. Setters never fail; [`build`](Self::build) checks the
/// whole configuration.
#[derive(Default)]
#[must_use]
pub struct RateLimitLayerBuilder {
    policies: Vec<Policy>,
    store: Option<LayerStore>,
    headers: RateLimitHeaders,
    shadow: bool,
    missing_key: MissingKey,
    fallback_key: Option<Arc<dyn KeyExtractor>>,
    on_store_error: OnStoreError,
    responder: Option<Arc<dyn Responder<RateLimitRejection>>>,
}

impl fmt::Debug for RateLimitLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayerBuilder")
            .field("policies", &self.policies)
            .field("store", &self.store)
            .field("headers", &self.headers)
            .field("shadow", &self.shadow)
            .field("missing_key", &self.missing_key)
            .field("on_store_error", &self.on_store_error)
            .finish_non_exhaustive()
    }
}

impl RateLimitLayerBuilder {
    /// Adds a policy (up to 16). Every policy must allow a request for it to pass.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policies.push(policy);
        self
    }

    /// Keeps state in `store` (default: a new [`MemoryStore`](super::store::MemoryStore)). A store belongs to one
    /// layer: policies are identified by their position in it.
    pub fn store(mut self, store: impl RateLimitStore) -> Self {
        self.store = Some(LayerStore::new(store));
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

    /// What to do when a policy finds no key (default [`MissingKey::ClientAddress`]:
    /// count the request against the [fallback key](Self::fallback_key)).
    pub fn on_missing_key(mut self, missing_key: MissingKey) -> Self {
        self.missing_key = missing_key;
        self
    }

    /// The key a request is counted against when a policy finds none, with
    /// [`MissingKey::ClientAddress`] (default [`PeerIp::new()`]). Behind a reverse proxy,
    /// give the same [`ClientIp`](super::ClientIp) your per-address policy uses.
    pub fn fallback_key(mut self, key: impl KeyExtractor) -> Self {
        self.fallback_key = Some(Arc::new(key));
        self
    }

    /// What to do when the store fails (default [`OnStoreError::FailOpen`]).
    pub fn on_store_error(mut self, on_store_error: OnStoreError) -> Self {
        self.on_store_error = on_store_error;
        self
    }

    /// Answers refused requests with `responder` (default [`DefaultResponder`]): any
    /// [`Responder<RateLimitRejection>`](crate::rejection::Responder), closures
    /// `Fn(&RateLimitRejection) -> Response<Bytes>` included. The layer still adds
    /// `Retry-After`, the rate-limit headers and the rejection in the extensions.
    pub fn responder(mut self, responder: impl Responder<RateLimitRejection>) -> Self {
        self.responder = Some(Arc::new(responder));
        self
    }

    /// Checks the configuration and builds the layer.
    ///
    /// Fails with setting `rate_limit.policy` when there is no policy, more than 16, two
    /// with the same name, or a quota whose window the store cannot hold
    /// ([`RateLimitStore::max_window`]: 50 days for the Redis store).
    pub fn build(self) -> Result<RateLimitLayer, ConfigError> {
        if self.policies.is_empty() {
            return Err(ConfigError::new(
                "rate_limit.policy",
                "add at least one policy",
            ));
        }
        if self.policies.len() > MAX_POLICIES {
            return Err(ConfigError::new(
                "rate_limit.policy",
                format!(
                    "{} policies given; one layer holds at most {MAX_POLICIES}",
                    self.policies.len()
                ),
            ));
        }
        let mut seen = HashSet::new();
        for p in &self.policies {
            if !seen.insert(p.name().to_owned()) {
                return Err(ConfigError::new(
                    "rate_limit.policy",
                    format!(
                        "two policies are named `{}`; names must be unique",
                        p.name()
                    ),
                ));
            }
        }
        let store = self.store.unwrap_or_default();
        if let Some(max) = store.max_window() {
            for p in &self.policies {
                for (tier, g) in p.quotas() {
                    if g.window() > max {
                        return Err(ConfigError::new(
                            "rate_limit.policy",
                            format!(
                                "policy `{}`{} has a window (burst x interval) of {:?}; the store holds windows up to {max:?}",
                                p.name(),
                                tier.map(|t| format!(" tier `{t}`")).unwrap_or_default(),
                                g.window(),
                            ),
                        ));
                    }
                }
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
            limiter: Arc::new(Limiter {
                policies,
                store,
                headers: self.headers,
                shadow: self.shadow,
                missing_key: self.missing_key,
                fallback_key: self.fallback_key.unwrap_or_else(|| Arc::new(PeerIp::new())),
                on_store_error: self.on_store_error,
                store_failing: AtomicBool::new(false),
                responder: self.responder.unwrap_or_else(|| Arc::new(DefaultResponder)),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::{Global, Quota};

    fn policy(name: &str) -> Policy {
        Policy::new(name, Global, Quota::per_second(1)).unwrap()
    }

    /// Issue #13 item 8: a quota the store cannot hold is a configuration error at
    /// `build()`, not a failure of every request.
    #[cfg(feature = "redis")]
    #[tokio::test]
    async fn windows_the_redis_store_cannot_hold_are_refused_at_build() {
        let store = || {
            crate::rate_limit::store::RedisStore::builder("redis://127.0.0.1:1/")
                .build()
                .unwrap()
        };
        let yearly = Policy::new("yearly", Global, Quota::per_day(1).burst(365)).unwrap();
        let err = RateLimitLayer::builder()
            .policy(yearly)
            .store(store())
            .build()
            .unwrap_err();
        assert_eq!(err.setting(), "rate_limit.policy");
        assert!(err.to_string().contains("yearly"), "{err}");
        let monthly = Policy::new("monthly", Global, Quota::per_day(1).burst(30)).unwrap();
        assert!(RateLimitLayer::builder()
            .policy(monthly)
            .store(store())
            .build()
            .is_ok());
    }

    #[test]
    fn build_names_the_bad_setting() {
        let err = RateLimitLayer::builder().build().unwrap_err();
        assert_eq!(err.setting(), "rate_limit.policy");
        let err = RateLimitLayer::builder()
            .policy(policy("a"))
            .policy(policy("a"))
            .build()
            .unwrap_err();
        assert_eq!(err.setting(), "rate_limit.policy");
        let mut b = RateLimitLayer::builder();
        for i in 0..=MAX_POLICIES {
            b = b.policy(policy(&format!("p{i}")));
        }
        assert_eq!(b.build().unwrap_err().setting(), "rate_limit.policy");
    }
}

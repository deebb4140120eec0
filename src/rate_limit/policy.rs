//! Policies: a name, a key extractor, a quota (fixed or by tier) and a cost.

use std::{borrow::Cow, fmt, sync::Arc};

use super::{
    key::{KeyExtractor, RequestInfo},
    quota::{Gcra, Quota},
};
use crate::ConfigError;

type CostFn = dyn for<'a> Fn(&RequestInfo<'a>) -> u32 + Send + Sync;
type TierFn = dyn for<'a> Fn(&RequestInfo<'a>) -> Option<usize> + Send + Sync;
/// Builds the resolver once the tier names are known.
type MakeResolver = Box<dyn FnOnce(Arc<[Arc<str>]>) -> Arc<TierFn>>;

/// One limit: requests are counted per key (from its [`KeyExtractor`]) against a quota.
///
/// A layer holds up to 16 policies; a request passes only if every policy allows it, and a
/// request refused by one policy consumes nothing from the others.
///
/// ```
/// use tower_fortify::rate_limit::{Header, PeerIp, Policy, Quota, Tiers};
///
/// let per_ip = Policy::new("ip", PeerIp::new(), Quota::per_second(100)).unwrap();
/// let per_key = Policy::tiered("api-key", Header::new("x-api-key").unwrap(), Tiers::preset().build().unwrap())
///     .unwrap()
///     .cost(|req| if req.method() == http::Method::POST { 5 } else { 1 });
/// assert_eq!(per_ip.name(), "ip");
/// assert!(Policy::new("bad name", PeerIp::new(), Quota::per_second(1)).is_err());
/// assert!(Policy::new("zero", PeerIp::new(), Quota::per_second(0)).is_err());
/// # let _ = per_key;
/// ```
#[derive(Clone)]
pub struct Policy {
    pub(crate) name: Arc<str>,
    pub(crate) key: Arc<dyn KeyExtractor>,
    pub(crate) quota: QuotaSource,
    pub(crate) cost: Option<Arc<CostFn>>,
}

#[derive(Clone)]
pub(crate) enum QuotaSource {
    Fixed(Gcra),
    Tiered(Arc<Tiers>),
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Policy");
        d.field("name", &self.name);
        match &self.quota {
            QuotaSource::Fixed(g) => d.field("quota", g),
            QuotaSource::Tiered(t) => d.field("tiers", t),
        };
        d.field("cost", &self.cost.as_ref().map(|_| "custom"))
            .finish_non_exhaustive()
    }
}

fn check_name(name: &str) -> Result<Arc<str>, ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(Arc::from(name))
    } else {
        Err(ConfigError::new(
            "rate_limit.policy.name",
            format!("`{name}`: use 1 to 64 characters from A-Z, a-z, 0-9, `-`, `_`, `.` (it appears in headers)"),
        ))
    }
}

impl Policy {
    /// A policy named `name` counting each key from `key` against `quota`.
    pub fn new(name: &str, key: impl KeyExtractor, quota: Quota) -> Result<Self, ConfigError> {
        Ok(Self {
            name: check_name(name)?,
            key: Arc::new(key),
            quota: QuotaSource::Fixed(quota.validate()?),
            cost: None,
        })
    }

    /// A policy whose quota is chosen per request from `tiers`.
    pub fn tiered(name: &str, key: impl KeyExtractor, tiers: Tiers) -> Result<Self, ConfigError> {
        Ok(Self {
            name: check_name(name)?,
            key: Arc::new(key),
            quota: QuotaSource::Tiered(Arc::new(tiers)),
            cost: None,
        })
    }

    /// Sets the cost of a request in cells (default 1). A request whose cost exceeds the
    /// policy's burst can never pass: it is refused with 429 and `Retry-After` set to the
    /// policy's full window.
    pub fn cost<F>(mut self, cost: F) -> Self
    where
        F: for<'a> Fn(&RequestInfo<'a>) -> u32 + Send + Sync + 'static,
    {
        self.cost = Some(Arc::new(cost));
        self
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The quota for `req` and the tier index it came from (0 for fixed quotas).
    #[inline]
    pub(crate) fn quota_for(&self, req: &RequestInfo<'_>) -> (Gcra, usize) {
        match &self.quota {
            QuotaSource::Fixed(g) => (*g, 0),
            QuotaSource::Tiered(t) => {
                let i = (t.resolver)(req).unwrap_or(t.default);
                (t.tiers[i].1, i)
            }
        }
    }

    #[inline]
    pub(crate) fn cost_of(&self, req: &RequestInfo<'_>) -> u32 {
        self.cost.as_ref().map_or(1, |f| f(req))
    }

    /// Every (tier name, quota) of this policy; one unnamed entry for a fixed quota.
    pub(crate) fn quotas(&self) -> Vec<(Option<Arc<str>>, Gcra)> {
        match &self.quota {
            QuotaSource::Fixed(g) => vec![(None, *g)],
            QuotaSource::Tiered(t) => t.tiers.iter().map(|(n, g)| (Some(n.clone()), *g)).collect(),
        }
    }
}

/// The tier an authentication layer resolved for this request, as a request extension.
///
/// The default tier resolver of [`Tiers`] reads it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RateLimitTier(pub Cow<'static, str>);

/// Named quotas, one chosen per request.
///
/// [`Tiers::preset`] ships `standard` (10/s, burst 20), `premium` (50/s, burst 100) and
/// `broker` (500/s, burst 1000), defaulting to `standard`. A request whose tier is unknown
/// or missing gets the default tier.
///
/// ```
/// use tower_fortify::rate_limit::{Quota, Tiers};
///
/// let tiers = Tiers::builder()
///     .tier("free", Quota::per_minute(60))
///     .tier("paid", Quota::per_second(20).burst(40))
///     .default_tier("free")
///     .resolve(|req| req.headers().get("x-plan").and_then(|v| v.to_str().ok()).map(str::to_owned))
///     .build()
///     .unwrap();
/// assert_eq!(tiers.names().collect::<Vec<_>>(), ["free", "paid"]);
/// assert!(Tiers::builder().tier("a", Quota::per_second(1)).default_tier("b").build().is_err());
/// ```
pub struct Tiers {
    tiers: Vec<(Arc<str>, Gcra)>,
    default: usize,
    resolver: Arc<TierFn>,
}

impl fmt::Debug for Tiers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tiers")
            .field("tiers", &self.tiers)
            .field("default", &self.tiers[self.default].0)
            .finish_non_exhaustive()
    }
}

impl Tiers {
    /// An empty builder.
    pub fn builder() -> TiersBuilder {
        TiersBuilder::default()
    }

    /// The preset tiers `standard` 10/s (burst 20), `premium` 50/s (burst 100) and `broker`
    /// 500/s (burst 1000), default `standard`, resolved from the [`RateLimitTier`] request
    /// extension. Add tiers or change the resolver on the returned builder.
    pub fn preset() -> TiersBuilder {
        Self::builder()
            .tier("standard", Quota::per_second(10).burst(20))
            .tier("premium", Quota::per_second(50).burst(100))
            .tier("broker", Quota::per_second(500).burst(1000))
            .default_tier("standard")
    }

    /// The tier names, in the order they were added.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tiers.iter().map(|(n, _)| &**n)
    }
}

/// Builds [`Tiers`].
#[derive(Default)]
pub struct TiersBuilder {
    tiers: Vec<(String, Quota)>,
    default: Option<String>,
    resolver: Option<MakeResolver>,
}

impl fmt::Debug for TiersBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TiersBuilder")
            .field("tiers", &self.tiers)
            .field("default", &self.default)
            .finish_non_exhaustive()
    }
}

impl TiersBuilder {
    /// Adds (or replaces) the tier `name`.
    pub fn tier(mut self, name: &str, quota: Quota) -> Self {
        match self.tiers.iter_mut().find(|(n, _)| n == name) {
            Some(t) => t.1 = quota,
            None => self.tiers.push((name.to_owned(), quota)),
        }
        self
    }

    /// The tier for requests whose tier is missing or unknown (default: the first tier).
    pub fn default_tier(mut self, name: &str) -> Self {
        self.default = Some(name.to_owned());
        self
    }

    /// Resolves a request's tier name with `f` (from a header, a claim, a lookup).
    pub fn resolve<F, T>(mut self, f: F) -> Self
    where
        F: for<'a> Fn(&RequestInfo<'a>) -> Option<T> + Send + Sync + 'static,
        T: AsRef<str>,
    {
        self.resolver = Some(Box::new(move |names: Arc<[Arc<str>]>| {
            Arc::new(move |req: &RequestInfo<'_>| {
                let t = f(req)?;
                names.iter().position(|n| **n == *t.as_ref())
            })
        }));
        self
    }

    /// Resolves a request's tier from the value of the header `name`.
    pub fn resolve_from_header(self, name: &'static str) -> Self {
        self.resolve(move |req| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_owned())
        })
    }

    /// Checks the tiers and builds them.
    pub fn build(self) -> Result<Tiers, ConfigError> {
        if self.tiers.is_empty() {
            return Err(ConfigError::new(
                "rate_limit.tiers.tier",
                "at least one tier is needed",
            ));
        }
        let mut tiers = Vec::with_capacity(self.tiers.len());
        for (name, q) in &self.tiers {
            let name = check_name(name)
                .map_err(|e| ConfigError::new("rate_limit.tiers.tier", e.message()))?;
            tiers.push((name, q.validate()?));
        }
        let default = match &self.default {
            None => 0,
            Some(d) => tiers.iter().position(|(n, _)| **n == **d).ok_or_else(|| {
                ConfigError::new(
                    "rate_limit.tiers.default_tier",
                    format!("`{d}` is not one of the tiers"),
                )
            })?,
        };
        let names: Arc<[Arc<str>]> = tiers.iter().map(|(n, _)| n.clone()).collect();
        let resolver = match self.resolver {
            Some(make) => make(names),
            None => Arc::new(move |req: &RequestInfo<'_>| {
                let t = req.extensions().get::<RateLimitTier>()?;
                names.iter().position(|n| **n == *t.0)
            }),
        };
        Ok(Tiers {
            tiers,
            default,
            resolver,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::Global;

    #[test]
    fn configuration_errors_name_the_setting() {
        let q = Quota::per_second(1);
        let e = Policy::new("bad name", Global, q).unwrap_err();
        assert_eq!(e.setting(), "rate_limit.policy.name");
        assert_eq!(
            Tiers::builder().build().unwrap_err().setting(),
            "rate_limit.tiers.tier"
        );
        let e = Tiers::builder().tier("a b", q).build().unwrap_err();
        assert_eq!(e.setting(), "rate_limit.tiers.tier");
        let e = Tiers::builder()
            .tier("a", q)
            .default_tier("b")
            .build()
            .unwrap_err();
        assert_eq!(e.setting(), "rate_limit.tiers.default_tier");
    }

    #[test]
    fn tiers_resolve_with_fallback() {
        let p = Policy::tiered("k", Global, Tiers::preset().build().unwrap()).unwrap();
        let mut req = http::Request::new(());
        let (g, i) = p.quota_for(&RequestInfo::new(&req));
        assert_eq!((g.burst(), i), (20, 0), "missing tier: default");
        req.extensions_mut().insert(RateLimitTier("broker".into()));
        assert_eq!(p.quota_for(&RequestInfo::new(&req)).0.burst(), 1000);
        req.extensions_mut()
            .insert(RateLimitTier("platinum".into()));
        assert_eq!(
            p.quota_for(&RequestInfo::new(&req)).1,
            0,
            "unknown tier: default"
        );
    }

    #[test]
    fn header_resolver() {
        let tiers = Tiers::preset()
            .resolve_from_header("x-tier")
            .build()
            .unwrap();
        let p = Policy::tiered("k", Global, tiers).unwrap();
        let req = http::Request::get("/")
            .header("x-tier", "premium")
            .body(())
            .unwrap();
        assert_eq!(p.quota_for(&RequestInfo::new(&req)).0.burst(), 100);
    }

    #[test]
    fn invalid_tiers() {
        assert!(Tiers::builder().build().is_err());
        assert!(Tiers::builder()
            .tier("a", Quota::per_second(0))
            .build()
            .is_err());
        assert!(Tiers::builder()
            .tier("a b", Quota::per_second(1))
            .build()
            .is_err());
    }
}

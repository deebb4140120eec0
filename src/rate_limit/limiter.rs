//! The state every clone of the layer and its services shares ([`Limiter`]), and how one
//! request's policies become a [`Verdict`]: plan the cells, ask the store, conclude.
//!
//! It sits below `layer.rs`, `service.rs` and `future.rs`, which all read it; it reads
//! only the topic files (keys, policies, headers, the store).

use std::{
    fmt,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Response};
use smallvec::SmallVec;

use super::{
    headers::{
        ceil_secs, render, Applied, HeaderList, RateLimitHeaders, RATELIMIT, RATELIMIT_POLICY,
    },
    key::{Key, KeyExtractor, RequestInfo},
    policy::Policy,
    quota::Gcra,
    rejection::RateLimitRejection,
    store::{Cell, DecideResult, Decision, LayerStore, RateLimitStore},
};
use crate::{
    event::{SecurityEvent, SecurityEvents},
    rejection::{is_grpc, Responder},
};

/// What to do when a policy cannot find its key in a request (for example an API-key
/// header the client did not send).
///
/// A client's omission never gets a 5xx (it would let any client raise server-error
/// alerts), and omitting a header never escapes the limit by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MissingKey {
    /// Count the request against the client's address instead: the
    /// [fallback key](super::RateLimitLayerBuilder::fallback_key), [`PeerIp`](super::PeerIp) by default,
    /// under the same policy and quota. When even that is missing (a server that records
    /// no peer address) every such request of the policy shares one bucket (key `global`)
    /// and a `tracing` error is logged once per policy. The default.
    #[default]
    ClientAddress,
    /// Refuse with 400 problem+json (gRPC: `INVALID_ARGUMENT`) naming the policy and what
    /// is missing.
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

/// The configuration and state shared by a layer, its clones and its services.
pub(crate) struct Limiter {
    pub(crate) policies: Vec<PolicyEntry>,
    pub(crate) store: LayerStore,
    pub(crate) headers: RateLimitHeaders,
    pub(crate) shadow: bool,
    pub(crate) missing_key: MissingKey,
    /// The key of [`MissingKey::ClientAddress`].
    pub(crate) fallback_key: Arc<dyn KeyExtractor>,
    pub(crate) on_store_error: OnStoreError,
    /// Whether the last decision failed, so failures are logged once per outage.
    pub(crate) store_failing: AtomicBool,
    pub(crate) responder: Arc<dyn Responder<RateLimitRejection>>,
}

impl fmt::Debug for Limiter {
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

/// What the layer concluded about a request.
pub(crate) enum Verdict {
    /// Call the inner service, then add these headers and events to its response.
    Pass {
        headers: HeaderList,
        events: Vec<SecurityEvent>,
    },
    /// Answer with this response (headers, events and the rejection already in it).
    Reject(Response<Bytes>),
}

impl Verdict {
    /// Pass with nothing to add: the common case, no allocation.
    pub(crate) const PASS: Verdict = Verdict::Pass {
        headers: Vec::new(),
        events: Vec::new(),
    };
}

/// The cells of one request (one per policy that applies) and the tier each came from.
pub(crate) type Cells<'a> = SmallVec<[Cell<'a>; 3]>;
pub(crate) type TierList = SmallVec<[usize; 3]>;

/// What [`Limiter::decide_single`] concluded.
pub(crate) enum Single<'a> {
    /// Allowed with nothing to add (the hot path: no [`Verdict`] to move).
    Pass,
    Decided(Verdict),
    /// The store cannot decide at once: decide this cell (of this tier) the general way.
    Undecided(Cell<'a>, usize),
}

/// What [`MissingKey`] makes of a request whose policy found no key.
enum Missing<'a> {
    /// Count it against this key.
    Key(Key<'a>),
    /// Answer with this verdict.
    Refuse(Verdict),
    /// Skip the policy.
    Skip,
}

/// One policy applied to a request, with an owned key (for stores that decide later).
pub(crate) struct Planned {
    policy: usize,
    tier: usize,
    gcra: Gcra,
    cost: u32,
    key: Key<'static>,
}

impl Planned {
    /// Owned copies of `cells`, to carry across an await.
    pub(crate) fn from_cells(cells: Cells<'_>, tiers: TierList) -> Vec<Planned> {
        cells
            .into_iter()
            .zip(tiers)
            .map(|(c, tier)| Planned {
                policy: c.policy,
                tier,
                gcra: c.gcra,
                cost: c.cost,
                key: c.key.into_owned(),
            })
            .collect()
    }
}

impl Limiter {
    /// The single-policy path: decides the layer's one policy with
    /// [`RateLimitStore::decide_one`], and for an allowed request with no headers to send
    /// passes without building a [`Decision`]. Same verdicts as [`plan`](Self::plan) then
    /// [`conclude`](Self::conclude), which it falls back on for everything else.
    #[inline]
    pub(crate) fn decide_single<'a>(&'a self, info: &RequestInfo<'a>) -> Single<'a> {
        let p = &self.policies[0].policy;
        let key = match p.key.extract(info) {
            Some(key) => key,
            None => match self.missing_key(0, info) {
                Missing::Key(key) => key,
                Missing::Refuse(v) => return Single::Decided(v),
                Missing::Skip => return Single::Pass,
            },
        };
        let (gcra, tier) = p.quota_for(info);
        let cell = Cell::new(0, p.name(), key, gcra, p.cost_of(info));
        match self.store.decide_one(&cell) {
            Some(Ok(o))
                if o.allowed
                    && self.headers == RateLimitHeaders::None
                    && !self.store_failing.load(Ordering::Relaxed) =>
            {
                Single::Pass
            }
            Some(result) => Single::Decided(self.conclude(
                std::slice::from_ref(&cell),
                &[tier],
                result.map(|o| std::iter::once(o).collect()),
                info.headers(),
            )),
            None => Single::Undecided(cell, tier),
        }
    }

    /// Plans every policy for `req`: `Some` verdict when a missing key refuses the request.
    pub(crate) fn plan<'a>(
        &'a self,
        info: &RequestInfo<'a>,
        cells: &mut Cells<'a>,
        tiers: &mut TierList,
    ) -> Option<Verdict> {
        for (i, entry) in self.policies.iter().enumerate() {
            let p = &entry.policy;
            let key = match p.key.extract(info) {
                Some(key) => key,
                None => match self.missing_key(i, info) {
                    Missing::Key(key) => key,
                    Missing::Refuse(v) => return Some(v),
                    Missing::Skip => continue,
                },
            };
            let (gcra, tier) = p.quota_for(info);
            cells.push(Cell::new(i, p.name(), key, gcra, p.cost_of(info)));
            tiers.push(tier);
        }
        None
    }

    /// [`conclude`](Self::conclude) for cells that were carried across an await.
    pub(crate) fn conclude_planned(
        &self,
        planned: &[Planned],
        result: DecideResult,
        headers_in: &HeaderMap,
    ) -> Verdict {
        let cells: Cells<'_> = planned
            .iter()
            .map(|p| {
                let name = self.policies[p.policy].policy.name();
                Cell::new(p.policy, name, p.key.clone(), p.gcra, p.cost)
            })
            .collect();
        let tiers: TierList = planned.iter().map(|p| p.tier).collect();
        self.conclude(&cells, &tiers, result, headers_in)
    }

    /// Turns the store's result into a verdict.
    pub(crate) fn conclude(
        &self,
        cells: &[Cell<'_>],
        tiers: &[usize],
        result: DecideResult,
        headers_in: &HeaderMap,
    ) -> Verdict {
        let grpc = || is_grpc(headers_in);
        let decision = match result {
            Ok(d) if d.cells().len() == cells.len() => {
                if self.store_failing.load(Ordering::Relaxed)
                    && self.store_failing.swap(false, Ordering::Relaxed)
                {
                    tracing::info!("rate limit store answers again");
                }
                d
            }
            Ok(_) => return self.store_failed("the store returned a malformed decision", grpc()),
            Err(e) => return self.store_failed(&e.to_string(), grpc()),
        };
        // The common case: allowed, nothing to add.
        if self.headers == RateLimitHeaders::None
            && decision.degraded().is_none()
            && decision.allowed()
        {
            return Verdict::PASS;
        }
        self.conclude_slow(cells, tiers, &decision, grpc)
    }

    #[cold]
    fn conclude_slow(
        &self,
        cells: &[Cell<'_>],
        tiers: &[usize],
        decision: &Decision,
        grpc: impl FnOnce() -> bool,
    ) -> Verdict {
        let degraded = decision.degraded().map(|e| SecurityEvent::BackendError {
            component: e.component(),
            detail: Arc::from(e.message()),
        });
        let mut headers = HeaderList::new();
        let applied: SmallVec<[Applied<'_>; 4]> = cells
            .iter()
            .zip(tiers)
            .zip(decision.cells())
            .map(|((c, &tier), o)| {
                let entry = &self.policies[c.policy];
                Applied {
                    name: entry.policy.name(),
                    policy_item: &entry.items[tier.min(entry.items.len() - 1)],
                    gcra: c.gcra,
                    outcome: *o,
                }
            })
            .collect();
        render(self.headers, &applied, &mut headers);
        let mut events: Vec<SecurityEvent> = degraded.into_iter().collect();
        if decision.allowed() {
            return Verdict::Pass { headers, events };
        }
        let mut retry_after = Duration::ZERO;
        let mut exceeds_burst = false;
        let mut policies = Vec::new();
        for (c, o) in cells.iter().zip(decision.cells()) {
            if o.allowed {
                continue;
            }
            retry_after = retry_after.max(o.retry_after);
            exceeds_burst |= o.exceeds_burst;
            let name = self.policies[c.policy].policy.name.clone();
            events.push(SecurityEvent::RateLimited {
                policy: name.clone(),
                key: c.key.display(),
                retry_after: o.retry_after,
                shadow: self.shadow,
            });
            policies.push(name);
        }
        if self.shadow {
            return Verdict::Pass { headers, events };
        }
        let grpc = grpc();
        let mut res = self.refuse(RateLimitRejection::Limited {
            policies,
            retry_after,
            exceeds_burst,
            grpc,
        });
        let secs = ceil_secs(retry_after, true);
        let h = res.headers_mut();
        if grpc {
            let ms = u64::try_from(retry_after.as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            h.entry("grpc-retry-pushback-ms")
                .or_insert_with(|| HeaderValue::from(ms));
        }
        h.entry(header::RETRY_AFTER)
            .or_insert_with(|| HeaderValue::from(secs));
        finish(&mut res, headers, events);
        Verdict::Reject(res)
    }

    /// The responder's answer to `rejection`, with a clone of it in the extensions.
    fn refuse(&self, rejection: RateLimitRejection) -> Response<Bytes> {
        let mut res = self.responder.respond(&rejection);
        res.extensions_mut().insert(rejection);
        res
    }

    #[cold]
    fn store_failed(&self, detail: &str, grpc: bool) -> Verdict {
        // Log the transition, not every request: during an outage every request fails.
        if !self.store_failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = detail, on_store_error = ?self.on_store_error, "rate limit store failed");
        }
        let event = SecurityEvent::BackendError {
            component: "rate_limit.store",
            detail: Arc::from(detail),
        };
        match self.on_store_error {
            OnStoreError::FailOpen => Verdict::Pass {
                headers: HeaderList::new(),
                events: vec![event],
            },
            OnStoreError::FailClosed => {
                let mut res = self.refuse(RateLimitRejection::StoreUnavailable {
                    detail: Arc::from(detail),
                    grpc,
                });
                finish(&mut res, HeaderList::new(), vec![event]);
                Verdict::Reject(res)
            }
        }
    }

    /// What to do when policy `policy` found no key in the request.
    #[cold]
    #[inline(never)]
    fn missing_key<'a>(&self, policy: usize, info: &RequestInfo<'a>) -> Missing<'a> {
        let entry = &self.policies[policy];
        match self.missing_key {
            MissingKey::Skip => Missing::Skip,
            MissingKey::ClientAddress => Missing::Key(self.fallback_key.extract(info).unwrap_or_else(|| {
                if !entry.missing_logged.swap(true, Ordering::Relaxed) {
                    tracing::error!(
                        policy = %entry.policy.name(),
                        "rate limit key missing ({}), and the fallback key too ({}): such requests share one bucket",
                        entry.policy.key.missing(),
                        self.fallback_key.missing()
                    );
                }
                Key::Global
            })),
            MissingKey::Reject => {
                let hint = entry.policy.key.missing();
                Missing::Refuse(Verdict::Reject(self.refuse(
                    RateLimitRejection::MissingKey {
                        policy: entry.policy.name.clone(),
                        hint: Arc::from(&*hint),
                        grpc: is_grpc(info.headers()),
                    },
                )))
            }
        }
    }
}

/// Adds headers (appending, so nested layers' policies combine into one list) and events.
#[inline]
pub(crate) fn finish<B>(res: &mut Response<B>, headers: HeaderList, events: Vec<SecurityEvent>) {
    if headers.is_empty() && events.is_empty() {
        return;
    }
    let h = res.headers_mut();
    for (name, value) in headers {
        if name == RATELIMIT || name == RATELIMIT_POLICY {
            h.append(name, value);
        } else {
            h.entry(name).or_insert(value);
        }
    }
    for e in events {
        SecurityEvents::push_to(res.extensions_mut(), e);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::{Request, StatusCode};

    use super::*;
    use crate::{
        proxy::PeerAddr,
        rate_limit::{
            store::{ManualClock, MemoryStore},
            PeerIp, Quota, RateLimitLayer,
        },
    };

    fn limiter(headers: RateLimitHeaders, shadow: bool, clock: &ManualClock) -> Arc<Limiter> {
        limiter_with(headers, shadow, clock, MissingKey::default())
    }

    fn limiter_with(
        headers: RateLimitHeaders,
        shadow: bool,
        clock: &ManualClock,
        missing: MissingKey,
    ) -> Arc<Limiter> {
        let layer = RateLimitLayer::builder()
            .on_missing_key(missing)
            .policy(Policy::new("ip", PeerIp::new(), Quota::per_second(4).burst(2)).unwrap())
            .store(MemoryStore::new().clock(clock.clone()))
            .headers(headers)
            .shadow(shadow)
            .build()
            .unwrap();
        layer.limiter()
    }

    fn request(peer: Option<&str>) -> Request<()> {
        let mut req = Request::new(());
        if let Some(peer) = peer {
            req.extensions_mut().insert(PeerAddr(peer.parse().unwrap()));
        }
        req
    }

    /// What a verdict shows to the outside: status, headers, events, rejection.
    fn summary(v: Verdict) -> String {
        match v {
            Verdict::Pass { headers, events } => format!("pass {headers:?} {events:?}"),
            Verdict::Reject(res) => format!(
                "reject {} {:?} {:?} {:?}",
                res.status(),
                res.headers(),
                res.extensions().get::<SecurityEvents>(),
                res.extensions().get::<RateLimitRejection>(),
            ),
        }
    }

    fn general(l: &Limiter, req: &Request<()>) -> Verdict {
        let info = RequestInfo::new(req);
        let (mut cells, mut tiers) = (Cells::new(), TierList::new());
        if let Some(v) = l.plan(&info, &mut cells, &mut tiers) {
            return v;
        }
        if cells.is_empty() {
            return Verdict::PASS;
        }
        let result = l.store.decide(&cells).try_take().unwrap();
        l.conclude(&cells, &tiers, result, req.headers())
    }

    fn single(l: &Limiter, req: &Request<()>) -> Verdict {
        match l.decide_single(&RequestInfo::new(req)) {
            Single::Pass => Verdict::PASS,
            Single::Decided(v) => v,
            Single::Undecided(..) => panic!("the memory store decides at once"),
        }
    }

    #[test]
    fn the_single_policy_path_concludes_as_the_general_path() {
        let modes = [
            MissingKey::ClientAddress,
            MissingKey::Reject,
            MissingKey::Skip,
        ];
        for (headers, missing) in [RateLimitHeaders::None, RateLimitHeaders::IetfAndLegacy]
            .into_iter()
            .flat_map(|h| modes.map(|m| (h, m)))
        {
            for shadow in [false, true] {
                let (ca, cb) = (ManualClock::new(), ManualClock::new());
                let (a, b) = (
                    limiter_with(headers, shadow, &ca, missing),
                    limiter_with(headers, shadow, &cb, missing),
                );
                for i in 0..30u64 {
                    let peer = ["192.0.2.1:1", "192.0.2.2:1"][(i % 3 == 0) as usize];
                    let req = request((i % 11 != 5).then_some(peer));
                    let (fast, slow) = (summary(single(&a, &req)), summary(general(&b, &req)));
                    assert_eq!(
                        fast, slow,
                        "{headers:?} {missing:?} shadow {shadow} step {i}"
                    );
                    ca.advance(Duration::from_millis(90));
                    cb.advance(Duration::from_millis(90));
                }
            }
        }
    }

    #[test]
    fn refusals_put_the_rejection_in_the_extensions() {
        let clock = ManualClock::new();
        let l = limiter(RateLimitHeaders::None, false, &clock);
        let req = request(Some("192.0.2.1:1"));
        for _ in 0..2 {
            assert!(matches!(single(&l, &req), Verdict::Pass { .. }));
        }
        let Verdict::Reject(res) = single(&l, &req) else {
            panic!("the third request in the same instant is refused")
        };
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(matches!(
            res.extensions().get::<RateLimitRejection>(),
            Some(RateLimitRejection::Limited { .. })
        ));
        let l = limiter_with(RateLimitHeaders::None, false, &clock, MissingKey::Reject);
        let Verdict::Reject(res) = single(&l, &request(None)) else {
            panic!("a missing key is refused with MissingKey::Reject")
        };
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(matches!(
            res.extensions().get::<RateLimitRejection>(),
            Some(RateLimitRejection::MissingKey { .. })
        ));
    }
}

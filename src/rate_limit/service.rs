//! The [`RateLimit`] service.

use std::{
    fmt,
    sync::{atomic::Ordering, Arc},
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response};
use smallvec::SmallVec;
use tower_service::Service;

use super::{
    future::ResponseFuture,
    headers::{ceil_secs, render, Applied, HeaderList},
    key::{Key, RequestInfo},
    layer::{MissingKey, OnStoreError, Shared},
    quota::Gcra,
    response::Rejection,
    store::{Cell, DecideResult},
};
use crate::{
    body::GuardBody,
    event::{SecurityEvent, SecurityEvents},
    rejection::is_grpc,
};

/// The rate-limiting service made by [`RateLimitLayer`](super::RateLimitLayer).
pub struct RateLimit<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: Clone> Clone for RateLimit<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for RateLimit<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .field("config", &self.shared)
            .finish()
    }
}

impl<S> RateLimit<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

/// What the layer concluded about a request.
pub(crate) enum Verdict {
    Pass {
        headers: HeaderList,
        events: Vec<SecurityEvent>,
    },
    Reject(Response<Bytes>),
}

/// One policy applied to a request, with an owned key (for stores that decide later).
pub(crate) struct Planned {
    policy: usize,
    tier: usize,
    gcra: Gcra,
    cost: u32,
    key: Key<'static>,
}

impl Shared {
    /// Turns the store's result into a verdict.
    pub(crate) fn conclude(
        &self,
        cells: &[Cell<'_>],
        tiers: &[usize],
        result: DecideResult,
        headers_in: &http::HeaderMap,
    ) -> Verdict {
        let grpc = || is_grpc(headers_in);
        let decision = match result {
            Ok(d) if d.cells.len() == cells.len() => {
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
        if self.headers == super::headers::RateLimitHeaders::None
            && decision.degraded.is_none()
            && decision.allowed()
        {
            return Verdict::Pass {
                headers: HeaderList::new(),
                events: Vec::new(),
            };
        }
        let degraded = decision
            .degraded
            .as_ref()
            .map(|e| SecurityEvent::BackendError {
                component: e.component(),
                detail: Arc::from(e.message()),
            });
        let mut headers = HeaderList::new();
        let applied: SmallVec<[Applied<'_>; 4]> = cells
            .iter()
            .zip(tiers)
            .zip(&decision.cells)
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
        for (c, o) in cells.iter().zip(&decision.cells) {
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
        let rejection = Rejection::Limited {
            policies,
            retry_after,
            exceeds_burst,
            grpc,
        };
        let mut res = self.responder.respond(&rejection);
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
                let mut res = self.responder.respond(&Rejection::StoreUnavailable {
                    detail: Arc::from(detail),
                    grpc,
                });
                finish(&mut res, HeaderList::new(), vec![event]);
                Verdict::Reject(res)
            }
        }
    }

    fn missing_key(&self, policy: usize, grpc: bool) -> Option<Verdict> {
        let entry = &self.policies[policy];
        if self.missing_key == MissingKey::Skip {
            return None;
        }
        let hint = entry.policy.key.missing();
        if !entry.missing_logged.swap(true, Ordering::Relaxed) {
            tracing::error!(policy = %entry.policy.name(), "rate limit key missing: {hint}");
        }
        Some(Verdict::Reject(self.responder.respond(
            &Rejection::MissingKey {
                policy: entry.policy.name.clone(),
                hint: Arc::from(&*hint),
                grpc,
            },
        )))
    }

    /// Plans every policy for `req`: `Some` verdict when a missing key refuses the request.
    fn plan<'a, B>(
        &'a self,
        req: &'a Request<B>,
        cells: &mut SmallVec<[Cell<'a>; 3]>,
        tiers: &mut SmallVec<[usize; 3]>,
    ) -> Option<Verdict> {
        let info = RequestInfo::new(req);
        for (i, entry) in self.policies.iter().enumerate() {
            let p = &entry.policy;
            let Some(key) = p.key.extract(&info) else {
                match self.missing_key(i, is_grpc(req.headers())) {
                    Some(v) => return Some(v),
                    None => continue,
                }
            };
            let (gcra, tier) = p.quota_for(&info);
            cells.push(Cell {
                policy: i,
                policy_name: p.name(),
                key,
                gcra,
                cost: p.cost_of(&info),
            });
            tiers.push(tier);
        }
        None
    }
}

/// Adds headers (appending, so nested layers' policies combine into one list) and events.
pub(crate) fn finish<B>(res: &mut Response<B>, headers: HeaderList, events: Vec<SecurityEvent>) {
    if headers.is_empty() && events.is_empty() {
        return;
    }
    let h = res.headers_mut();
    for (name, value) in headers {
        if name == super::headers::RATELIMIT || name == super::headers::RATELIMIT_POLICY {
            h.append(name, value);
        } else {
            h.entry(name).or_insert(value);
        }
    }
    for e in events {
        SecurityEvents::push_to(res.extensions_mut(), e);
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RateLimit<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<GuardBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let shared = &*self.shared;
        let next = {
            let mut cells = SmallVec::new();
            let mut tiers = SmallVec::new();
            match shared.plan(&req, &mut cells, &mut tiers) {
                Some(v) => Next::Decided(v),
                None if cells.is_empty() => Next::Decided(Verdict::Pass {
                    headers: HeaderList::new(),
                    events: Vec::new(),
                }),
                None => {
                    let mut decide = shared.store.decide(&cells);
                    match decide.try_take() {
                        Some(result) => {
                            Next::Decided(shared.conclude(&cells, &tiers, result, req.headers()))
                        }
                        // An asynchronous store: keep owned keys and finish in a boxed
                        // future (its I/O dominates the cost of the allocation).
                        None => Next::Later(
                            decide,
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
                                .collect(),
                        ),
                    }
                }
            }
        };
        match next {
            Next::Decided(Verdict::Pass { headers, events }) => {
                ResponseFuture::inner(self.inner.call(req), headers, events)
            }
            Next::Decided(Verdict::Reject(res)) => ResponseFuture::done(res.map(GuardBody::fixed)),
            Next::Later(decide, planned) => {
                let shared = self.shared.clone();
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::boxed(async move {
                    let result = decide.await;
                    let cells: Vec<Cell<'_>> = planned
                        .iter()
                        .map(|p| Cell {
                            policy: p.policy,
                            policy_name: shared.policies[p.policy].policy.name(),
                            key: p.key.clone(),
                            gcra: p.gcra,
                            cost: p.cost,
                        })
                        .collect();
                    let tiers: Vec<usize> = planned.iter().map(|p| p.tier).collect();
                    match shared.conclude(&cells, &tiers, result, req.headers()) {
                        Verdict::Reject(res) => Ok(res.map(GuardBody::fixed)),
                        Verdict::Pass { headers, events } => {
                            let mut res = inner.call(req).await?.map(GuardBody::new);
                            finish(&mut res, headers, events);
                            Ok(res)
                        }
                    }
                })
            }
        }
    }
}

enum Next {
    Decided(Verdict),
    Later(super::store::DecideFuture, Vec<Planned>),
}

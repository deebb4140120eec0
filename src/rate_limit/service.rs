//! The [`RateLimit`] service.

use std::{
    fmt,
    sync::Arc,
    task::{Context, Poll},
};

use http::{Request, Response};
use tower_service::Service;

use super::{
    future::RateLimitFuture,
    key::RequestInfo,
    limiter::{Cells, Limiter, Planned, Single, TierList, Verdict},
    store::DecideFuture,
};
use crate::body::GuardBody;

/// The rate-limiting service made by [`RateLimitLayer`](super::RateLimitLayer).
///
/// Clones share the layer's state.
pub struct RateLimit<S> {
    inner: S,
    limiter: Arc<Limiter>,
}

impl<S: Clone> Clone for RateLimit<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            limiter: self.limiter.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for RateLimit<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .field("config", &self.limiter)
            .finish()
    }
}

impl<S> RateLimit<S> {
    pub(crate) fn new(inner: S, limiter: Arc<Limiter>) -> Self {
        Self { inner, limiter }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

enum Next {
    Decided(Verdict),
    Later(DecideFuture, Vec<Planned>),
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
    type Future = RateLimitFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let limiter = &*self.limiter;
        let next = {
            let info = RequestInfo::new(&req);
            let mut cells = Cells::new();
            let mut tiers = TierList::new();
            let planned = if limiter.policies.len() == 1 {
                match limiter.decide_single(&info) {
                    Single::Decided(v) => Some(v),
                    Single::Undecided(cell, tier) => {
                        cells.push(cell);
                        tiers.push(tier);
                        None
                    }
                }
            } else {
                limiter.plan(&info, &mut cells, &mut tiers)
            };
            match planned {
                Some(v) => Next::Decided(v),
                None if cells.is_empty() => Next::Decided(Verdict::PASS),
                None => {
                    let mut decide = limiter.store.decide(&cells);
                    match decide.try_take() {
                        Some(result) => {
                            Next::Decided(limiter.conclude(&cells, &tiers, result, req.headers()))
                        }
                        // An asynchronous store: keep owned keys and finish in a boxed
                        // future (its I/O dominates the cost of the allocation).
                        None => Next::Later(decide, Planned::from_cells(cells, tiers)),
                    }
                }
            }
        };
        match next {
            Next::Decided(Verdict::Pass { headers, events }) => {
                RateLimitFuture::inner(self.inner.call(req), headers, events)
            }
            Next::Decided(Verdict::Reject(res)) => RateLimitFuture::done(res.map(GuardBody::fixed)),
            Next::Later(decide, planned) => {
                let limiter = self.limiter.clone();
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                RateLimitFuture::boxed(async move {
                    let result = decide.await;
                    match limiter.conclude_planned(&planned, result, req.headers()) {
                        Verdict::Reject(res) => Ok(res.map(GuardBody::fixed)),
                        Verdict::Pass { headers, events } => {
                            let mut res = inner.call(req).await?.map(GuardBody::new);
                            super::limiter::finish(&mut res, headers, events);
                            Ok(res)
                        }
                    }
                })
            }
        }
    }
}

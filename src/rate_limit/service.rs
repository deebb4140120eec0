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
    store::{DecideFuture, RateLimitStore},
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

/// Where a request goes once the layer has looked at it (everything but a plain pass).
enum Next {
    Decided(Verdict),
    Later(DecideFuture, Vec<Planned>),
}

impl<S> RateLimit<S> {
    /// Every policy of a multi-policy layer: plan the cells, decide, conclude.
    #[inline(never)]
    fn plan_and_decide<B>(&self, req: &Request<B>) -> Next {
        let limiter = &*self.limiter;
        let info = RequestInfo::new(req);
        let mut cells = Cells::new();
        let mut tiers = TierList::new();
        if let Some(v) = limiter.plan(&info, &mut cells, &mut tiers) {
            return Next::Decided(v);
        }
        if cells.is_empty() {
            return Next::Decided(Verdict::PASS);
        }
        Self::decide(limiter, cells, tiers, req)
    }

    fn decide<B>(limiter: &Limiter, cells: Cells<'_>, tiers: TierList, req: &Request<B>) -> Next {
        let mut decide = limiter.store.decide(&cells);
        match decide.try_take() {
            Some(result) => Next::Decided(limiter.conclude(&cells, &tiers, result, req.headers())),
            // An asynchronous store: keep owned keys and finish in a boxed future (its
            // I/O dominates the cost of the allocation).
            None => Next::Later(decide, Planned::from_cells(cells, tiers)),
        }
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
    type Future = RateLimitFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // One policy: decide it alone; an allowed request with nothing to add goes straight
        // to the inner service (the hot path moves no verdict and builds no cell list).
        let next = if self.limiter.policies.len() == 1 {
            let next = match self.limiter.decide_single(&RequestInfo::new(&req)) {
                Single::Pass => None,
                Single::Decided(v) => Some(Next::Decided(v)),
                Single::Undecided(cell, tier) => {
                    let (mut cells, mut tiers) = (Cells::new(), TierList::new());
                    cells.push(cell);
                    tiers.push(tier);
                    Some(Self::decide(&self.limiter, cells, tiers, &req))
                }
            };
            match next {
                None => return RateLimitFuture::plain(self.inner.call(req)),
                Some(next) => next,
            }
        } else {
            self.plan_and_decide(&req)
        };
        self.respond(req, next)
    }
}

impl<S> RateLimit<S> {
    /// The future for a request the layer refused, decorates, or decides later.
    #[inline(never)]
    fn respond<ReqBody, ResBody>(
        &mut self,
        req: Request<ReqBody>,
        next: Next,
    ) -> RateLimitFuture<S::Future, ResBody, S::Error>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Send + 'static,
        ReqBody: Send + 'static,
        ResBody: Send + 'static,
    {
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

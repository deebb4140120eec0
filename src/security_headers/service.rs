//! The service.

use std::{
    fmt,
    sync::Arc,
    task::{Context, Poll},
};

use http::{Request, Response};
use tower_service::Service;

use super::{response::Shared, CspNonce, SecurityHeadersFuture};

/// The service built by [`SecurityHeadersLayer`](super::SecurityHeadersLayer): draws the
/// request's [`CspNonce`] when the policy uses one, and adds the headers to the response.
pub struct SecurityHeaders<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> SecurityHeaders<S> {
    pub(super) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }
}

impl<S: Clone> Clone for SecurityHeaders<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for SecurityHeaders<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityHeaders")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SecurityHeaders<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = SecurityHeadersFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let shared = &self.shared;
        let nonce = shared.needs_nonce.then(|| {
            let nonce = CspNonce::generate();
            req.extensions_mut().insert(nonce);
            nonce
        });
        let https = shared.hsts.is_some() && !shared.hsts_always && shared.is_https(&req);
        SecurityHeadersFuture::new(self.inner.call(req), Arc::clone(shared), nonce, https)
    }
}

//! The service.

use std::{
    fmt,
    sync::Arc,
    task::{Context, Poll},
};

use http::{Request, Response};
use tower_service::Service;

use super::{host::AllowList, HostRejection, TrustedHostFuture};
use crate::{
    body::GuardBody,
    event::{SecurityEvent, SecurityEvents},
    proxy::TrustedProxies,
    rejection::{is_grpc, Responder},
};

/// What every clone of one layer shares.
pub(super) struct Shared {
    pub(super) allow: AllowList,
    pub(super) proxies: TrustedProxies,
    pub(super) responder: Arc<dyn Responder<HostRejection>>,
}

/// The service built by [`TrustedHostLayer`](super::TrustedHostLayer).
pub struct TrustedHost<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> TrustedHost<S> {
    pub(super) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }
}

impl<S: Clone> Clone for TrustedHost<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for TrustedHost<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedHost")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// The refusal: the responder's answer, the rejection in the extensions, and the event.
fn refuse<B>(
    responder: &dyn Responder<HostRejection>,
    rejection: HostRejection,
) -> Response<GuardBody<B>> {
    let mut res = responder.respond(&rejection).map(GuardBody::fixed);
    let host = rejection.host_arc();
    res.extensions_mut().insert(rejection);
    SecurityEvents::push_to(res.extensions_mut(), SecurityEvent::UntrustedHost { host });
    res
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for TrustedHost<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<GuardBody<ResBody>>;
    type Error = S::Error;
    type Future = TrustedHostFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        match self.shared.allow.check(&req, &self.shared.proxies) {
            Ok(()) => TrustedHostFuture::inner(self.inner.call(req)),
            Err((kind, host)) => {
                let rejection = HostRejection::new(kind, Arc::from(host), is_grpc(req.headers()));
                TrustedHostFuture::rejected(refuse(&*self.shared.responder, rejection))
            }
        }
    }
}

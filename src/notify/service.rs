//! [`Notify`], the service [`NotifyLayer`](super::NotifyLayer) produces.

use std::{
    fmt,
    sync::Arc,
    task::{Context, Poll},
};

use http::{Request, Response};
use tokio::time::Instant;
use tower_service::Service;

use super::{
    future::NotifyFuture,
    observe::{LayerConfig, RequestInfo},
};
use crate::proxy::peer_ip;

/// The service [`NotifyLayer`](super::NotifyLayer) produces: passes every request and
/// response through untouched and queues the notifications the response calls for.
pub struct Notify<S> {
    inner: S,
    config: Arc<LayerConfig>,
}

impl<S> Notify<S> {
    pub(super) fn new(inner: S, config: Arc<LayerConfig>) -> Self {
        Self { inner, config }
    }
}

impl<S: Clone> Clone for Notify<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: self.config.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for Notify<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notify")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Notify<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = NotifyFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let peer = peer_ip(req.extensions());
        let client = match (&self.config.proxies, peer) {
            (Some(proxies), Some(peer)) => Some(proxies.client_ip(peer, req.headers())),
            _ => peer,
        };
        let info = RequestInfo {
            config: self.config.clone(),
            method: req.method().clone(),
            uri: req.uri().clone(),
            client,
            start: Instant::now(),
        };
        NotifyFuture::new(self.inner.call(req), info)
    }
}

//! The service, and the small inner service that gives a plain `OPTIONS` its method back.

use std::{
    fmt,
    task::{Context, Poll},
};

use http::{header, Method, Request, Response};
use tower_http::cors as thc;
use tower_layer::Layer;
use tower_service::Service;

use super::CorsFuture;

/// Marks a plain `OPTIONS` request disguised as `GET` while it passes tower-http's layer.
#[derive(Debug, Clone, Copy)]
struct PlainOptions;

/// Sits inside tower-http's `Cors` and gives a plain `OPTIONS` request its method back.
#[derive(Debug, Clone)]
pub(super) struct RestoreMethod<S> {
    inner: S,
}

impl<S, ReqBody> Service<Request<ReqBody>> for RestoreMethod<S>
where
    S: Service<Request<ReqBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        if req.extensions_mut().remove::<PlainOptions>().is_some() {
            *req.method_mut() = Method::OPTIONS;
        }
        self.inner.call(req)
    }
}

/// The service built by [`CorsLayer`](super::CorsLayer).
#[derive(Clone)]
pub struct Cors<S> {
    inner: thc::Cors<RestoreMethod<S>>,
}

impl<S> Cors<S> {
    pub(super) fn new(layer: &thc::CorsLayer, inner: S) -> Self {
        Self {
            inner: layer.layer(RestoreMethod { inner }),
        }
    }
}

impl<S> fmt::Debug for Cors<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cors").finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Cors<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = CorsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // tower-http answers every OPTIONS itself; only one with
        // Access-Control-Request-Method is a preflight. The others are ordinary requests:
        // let tower-http treat this one as such, and restore the method inside it.
        if req.method() == Method::OPTIONS
            && !req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            *req.method_mut() = Method::GET;
            req.extensions_mut().insert(PlainOptions);
        }
        CorsFuture::new(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use std::{convert::Infallible, future::Future, pin::pin, task::Waker};

    use super::*;

    fn cors(
    ) -> Cors<impl Service<Request<()>, Response = Response<String>, Error = Infallible> + Clone>
    {
        let echo = tower::service_fn(|req: Request<()>| async move {
            Ok::<_, Infallible>(Response::new(req.method().to_string()))
        });
        Cors::new(&thc::CorsLayer::new(), echo)
    }

    #[test]
    fn plain_options_keeps_its_method() {
        let req = Request::builder().method(Method::OPTIONS).body(()).unwrap();
        let mut fut = pin!(cors().call(req));
        let mut cx = Context::from_waker(Waker::noop());
        let Poll::Ready(Ok(res)) = fut.as_mut().poll(&mut cx) else {
            panic!("not ready")
        };
        assert_eq!(res.body(), "OPTIONS");
    }

    #[test]
    #[should_panic(expected = "`CorsFuture` polled after completion")]
    fn polled_after_completion_panics() {
        let mut fut = pin!(cors().call(Request::new(())));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_ready());
        let _ = fut.as_mut().poll(&mut cx);
    }
}

//! The response future.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{ready, Context, Poll},
};

use http::Response;
use pin_project_lite::pin_project;

use super::{response::Shared, CspNonce};

pin_project! {
    /// The response future of [`SecurityHeaders`](super::SecurityHeaders).
    pub struct SecurityHeadersFuture<F> {
        #[pin]
        inner: F,
        shared: Arc<Shared>,
        nonce: Option<CspNonce>,
        https: bool,
        done: bool,
    }
}

impl<F> SecurityHeadersFuture<F> {
    pub(super) fn new(inner: F, shared: Arc<Shared>, nonce: Option<CspNonce>, https: bool) -> Self {
        Self {
            inner,
            shared,
            nonce,
            https,
            done: false,
        }
    }
}

impl<F> fmt::Debug for SecurityHeadersFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityHeadersFuture")
            .field("nonce", &self.nonce)
            .field("https", &self.https)
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for SecurityHeadersFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if *this.done {
            crate::polled_after_completion("SecurityHeadersFuture");
        }
        let out = ready!(this.inner.poll(cx));
        *this.done = true;
        let mut res = out?;
        this.shared.apply(&mut res, *this.nonce, *this.https);
        Poll::Ready(Ok(res))
    }
}

#[cfg(test)]
mod tests {
    use std::{convert::Infallible, future::ready as done};

    use futures_util::FutureExt as _;
    use http::Response;

    use super::super::SecurityHeadersLayer;
    use super::*;

    fn future() -> SecurityHeadersFuture<std::future::Ready<Result<Response<()>, Infallible>>> {
        let layer = SecurityHeadersLayer::builder()
            .header("x-frame-options", "DENY")
            .build()
            .unwrap();
        SecurityHeadersFuture::new(
            done(Ok(Response::new(()))),
            Arc::clone(&layer.shared),
            None,
            false,
        )
    }

    #[test]
    fn applies_the_headers_once_ready() {
        let res = future().now_or_never().unwrap().unwrap();
        assert_eq!(res.headers()["x-frame-options"], "DENY");
    }

    #[test]
    #[should_panic(expected = "`SecurityHeadersFuture` polled after completion")]
    fn polled_after_completion_panics() {
        let mut fut = Box::pin(future());
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(fut.as_mut().poll(&mut cx).is_ready());
        let _ = fut.as_mut().poll(&mut cx);
    }
}

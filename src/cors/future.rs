//! The response future.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{ready, Context, Poll},
};

use http::Response;
use pin_project_lite::pin_project;
use tower_http::cors as thc;

pin_project! {
    /// The response future of [`Cors`](super::Cors).
    pub struct CorsFuture<F> {
        #[pin]
        inner: thc::ResponseFuture<F>,
        done: bool,
    }
}

impl<F> CorsFuture<F> {
    pub(super) fn new(inner: thc::ResponseFuture<F>) -> Self {
        Self { inner, done: false }
    }
}

impl<F> fmt::Debug for CorsFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CorsFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for CorsFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if *this.done {
            crate::polled_after_completion("CorsFuture");
        }
        let out = ready!(this.inner.poll(cx));
        *this.done = true;
        Poll::Ready(out)
    }
}

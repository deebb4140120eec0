//! [`NotifyFuture`], the response future of [`Notify`](super::Notify).

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use http::Response;
use pin_project_lite::pin_project;

use super::observe::{observe, RequestInfo};

pin_project! {
    /// The response future of [`Notify`](super::Notify): the inner service's future; when
    /// it yields a response, the notifications it calls for are queued (never awaited).
    pub struct NotifyFuture<F> {
        #[pin]
        inner: F,
        info: Option<RequestInfo>,
        done: bool,
    }
}

impl<F> NotifyFuture<F> {
    pub(super) fn new(inner: F, info: RequestInfo) -> Self {
        Self {
            inner,
            info: Some(info),
            done: false,
        }
    }
}

impl<F> fmt::Debug for NotifyFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyFuture")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for NotifyFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if *this.done {
            crate::polled_after_completion("NotifyFuture");
        }
        let result = std::task::ready!(this.inner.poll(cx));
        *this.done = true;
        if let (Ok(res), Some(info)) = (&result, this.info.take()) {
            observe(&info, res);
        }
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use std::{
        future::Future,
        pin::pin,
        sync::Arc,
        task::{Context, Poll, Waker},
    };

    use http::{Method, Response, Uri};
    use tokio::time::Instant;

    use super::*;
    use crate::notify::{notifier::Notifier, observe::LayerConfig, sink::channel::ChannelSink};

    fn info() -> RequestInfo {
        let (notifier, _worker) = Notifier::builder()
            .sink("s", ChannelSink::broadcast(1).unwrap())
            .pair()
            .unwrap();
        RequestInfo {
            config: Arc::new(LayerConfig::new(notifier)),
            method: Method::GET,
            uri: Uri::from_static("/"),
            client: None,
            start: Instant::now(),
        }
    }

    #[test]
    #[should_panic(expected = "`NotifyFuture` polled after completion")]
    fn polling_after_completion_panics_with_the_future_name() {
        let inner = std::future::ready(Ok::<_, ()>(Response::new(())));
        let mut fut = pin!(NotifyFuture::new(inner, info()));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Ready(Ok(_))));
        let _ = fut.as_mut().poll(&mut cx);
    }
}

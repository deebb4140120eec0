//! The response future.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{ready, Context, Poll},
};

use http::Response;
use pin_project_lite::pin_project;

use crate::body::GuardBody;

pin_project! {
    /// The response future of [`TrustedHost`](super::TrustedHost).
    pub struct TrustedHostFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Inner { #[pin] future: F },
        Rejected { response: Option<Response<GuardBody<B>>> },
        Done,
    }
}

impl<F, B> TrustedHostFuture<F, B> {
    pub(super) fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    pub(super) fn rejected(response: Response<GuardBody<B>>) -> Self {
        Self {
            kind: Kind::Rejected {
                response: Some(response),
            },
        }
    }
}

impl<F, B> fmt::Debug for TrustedHostFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Inner { .. } => "inner",
            Kind::Rejected { .. } => "rejected",
            Kind::Done => "done",
        };
        f.debug_struct("TrustedHostFuture")
            .field("kind", &kind)
            .finish()
    }
}

impl<F, B, E> Future for TrustedHostFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<GuardBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let out = match this.kind.as_mut().project() {
            KindProj::Inner { future } => {
                ready!(future.poll(cx)).map(|res| res.map(GuardBody::new))
            }
            KindProj::Rejected { response } => match response.take() {
                Some(res) => Ok(res),
                None => crate::polled_after_completion("TrustedHostFuture"),
            },
            KindProj::Done => crate::polled_after_completion("TrustedHostFuture"),
        };
        this.kind.set(Kind::Done);
        Poll::Ready(out)
    }
}

#[cfg(test)]
mod tests {
    use std::{convert::Infallible, future::Ready, task::Waker};

    use super::*;

    type Fut = TrustedHostFuture<Ready<Result<Response<()>, Infallible>>, ()>;

    fn poll_twice(mut fut: Pin<Box<Fut>>) {
        let mut cx = Context::from_waker(Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_ready());
        let _ = fut.as_mut().poll(&mut cx);
    }

    #[test]
    #[should_panic(expected = "`TrustedHostFuture` polled after completion")]
    fn inner_polled_after_completion_panics() {
        poll_twice(Box::pin(TrustedHostFuture::inner(std::future::ready(Ok(
            Response::new(()),
        )))));
    }

    #[test]
    #[should_panic(expected = "`TrustedHostFuture` polled after completion")]
    fn rejected_polled_after_completion_panics() {
        let res = Response::new(GuardBody::fixed(bytes::Bytes::new()));
        poll_twice(Box::pin(TrustedHostFuture::rejected(res)));
    }
}

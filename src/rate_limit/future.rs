//! [`RateLimitFuture`], the response future of [`RateLimit`](super::RateLimit).

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{ready, Context, Poll},
};

use http::Response;
use pin_project_lite::pin_project;

use super::{headers::HeaderList, limiter::finish};
use crate::{body::GuardBody, event::SecurityEvent};

type BoxFuture<B, E> = Pin<Box<dyn Future<Output = Result<Response<GuardBody<B>>, E>> + Send>>;

pin_project! {
    /// The response future of [`RateLimit`](super::RateLimit): the inner service's
    /// response with the rate-limit headers and events added, or the rejection.
    pub struct RateLimitFuture<F, B, E> {
        #[pin]
        kind: Kind<F, B, E>,
        // Set once the future returned `Ready` (cheaper than replacing `kind`).
        finished: bool,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B, E> {
        // Allowed with nothing to add: the fast path.
        Plain {
            #[pin]
            fut: F,
        },
        Inner {
            #[pin]
            fut: F,
            headers: HeaderList,
            events: Vec<SecurityEvent>,
        },
        Done {
            res: Option<Response<GuardBody<B>>>,
        },
        Boxed {
            fut: BoxFuture<B, E>,
        },
    }
}

impl<F, B, E> RateLimitFuture<F, B, E> {
    pub(crate) fn plain(fut: F) -> Self {
        Self {
            kind: Kind::Plain { fut },
            finished: false,
        }
    }

    pub(crate) fn inner(fut: F, headers: HeaderList, events: Vec<SecurityEvent>) -> Self {
        if headers.is_empty() && events.is_empty() {
            return Self::plain(fut);
        }
        Self {
            kind: Kind::Inner {
                fut,
                headers,
                events,
            },
            finished: false,
        }
    }

    pub(crate) fn done(res: Response<GuardBody<B>>) -> Self {
        Self {
            kind: Kind::Done { res: Some(res) },
            finished: false,
        }
    }

    pub(crate) fn boxed<Fut>(fut: Fut) -> Self
    where
        Fut: Future<Output = Result<Response<GuardBody<B>>, E>> + Send + 'static,
    {
        Self {
            kind: Kind::Boxed { fut: Box::pin(fut) },
            finished: false,
        }
    }
}

impl<F, B, E> fmt::Debug for RateLimitFuture<F, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.kind {
            _ if self.finished => "finished",
            Kind::Plain { .. } | Kind::Inner { .. } => "inner",
            Kind::Done { .. } => "rejected",
            Kind::Boxed { .. } => "deciding",
        };
        f.debug_struct("RateLimitFuture")
            .field("state", &state)
            .finish()
    }
}

impl<F, B, E> Future for RateLimitFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<GuardBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if *this.finished {
            crate::polled_after_completion("RateLimitFuture");
        }
        let out = match this.kind.project() {
            KindProj::Plain { fut } => ready!(fut.poll(cx)).map(|res| res.map(GuardBody::new)),
            KindProj::Inner {
                fut,
                headers,
                events,
            } => {
                let res = ready!(fut.poll(cx));
                res.map(|res| {
                    let mut res = res.map(GuardBody::new);
                    finish(&mut res, std::mem::take(headers), std::mem::take(events));
                    res
                })
            }
            KindProj::Done { res } => match res.take() {
                Some(res) => Ok(res),
                None => crate::polled_after_completion("RateLimitFuture"),
            },
            KindProj::Boxed { fut } => ready!(fut.as_mut().poll(cx)),
        };
        *this.finished = true;
        Poll::Ready(out)
    }
}

#[cfg(test)]
mod tests {
    use std::{convert::Infallible, pin::pin, task::Waker};

    use http::{HeaderName, HeaderValue};

    use super::*;

    type Fut =
        RateLimitFuture<std::future::Ready<Result<Response<()>, Infallible>>, (), Infallible>;

    fn poll(fut: Pin<&mut Fut>) -> Poll<Result<Response<GuardBody<()>>, Infallible>> {
        fut.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn inner_response_gets_the_headers() {
        let headers = vec![(
            HeaderName::from_static("ratelimit"),
            HeaderValue::from_static("\"ip\";r=1;t=1"),
        )];
        let fut: Fut = RateLimitFuture::inner(
            std::future::ready(Ok(Response::new(()))),
            headers,
            Vec::new(),
        );
        let Poll::Ready(Ok(res)) = poll(pin!(fut)) else {
            panic!("not ready")
        };
        assert_eq!(res.headers()["ratelimit"], "\"ip\";r=1;t=1");
    }

    #[test]
    #[should_panic(expected = "`RateLimitFuture` polled after completion")]
    fn polled_after_completion_panics() {
        let mut fut = pin!(Fut::plain(std::future::ready(Ok(Response::new(())))));
        assert!(poll(fut.as_mut()).is_ready());
        let _ = poll(fut.as_mut());
    }

    #[test]
    #[should_panic(expected = "`RateLimitFuture` polled after completion")]
    fn rejection_polled_after_completion_panics() {
        let mut fut = pin!(Fut::done(Response::new(GuardBody::empty())));
        assert!(poll(fut.as_mut()).is_ready());
        let _ = poll(fut.as_mut());
    }
}

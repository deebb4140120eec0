//! The response future of [`RateLimit`](super::RateLimit).

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{ready, Context, Poll},
};

use http::Response;
use pin_project_lite::pin_project;

use super::{headers::HeaderList, service::finish};
use crate::{body::GuardBody, event::SecurityEvent};

type BoxFuture<B, E> = Pin<Box<dyn Future<Output = Result<Response<GuardBody<B>>, E>> + Send>>;

pin_project! {
    /// The response future of [`RateLimit`](super::RateLimit).
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        kind: Kind<F, B, E>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B, E> {
        Inner {
            #[pin]
            fut: F,
            headers: Option<HeaderList>,
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

impl<F, B, E> ResponseFuture<F, B, E> {
    pub(crate) fn inner(fut: F, headers: HeaderList, events: Vec<SecurityEvent>) -> Self {
        Self {
            kind: Kind::Inner {
                fut,
                headers: Some(headers),
                events,
            },
        }
    }

    pub(crate) fn done(res: Response<GuardBody<B>>) -> Self {
        Self {
            kind: Kind::Done { res: Some(res) },
        }
    }

    pub(crate) fn boxed<Fut>(fut: Fut) -> Self
    where
        Fut: Future<Output = Result<Response<GuardBody<B>>, E>> + Send + 'static,
    {
        Self {
            kind: Kind::Boxed { fut: Box::pin(fut) },
        }
    }
}

impl<F, B, E> fmt::Debug for ResponseFuture<F, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.kind {
            Kind::Inner { .. } => "inner",
            Kind::Done { .. } => "rejected",
            Kind::Boxed { .. } => "deciding",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<GuardBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner {
                fut,
                headers,
                events,
            } => {
                let res = ready!(fut.poll(cx))?;
                let mut res = res.map(GuardBody::new);
                finish(
                    &mut res,
                    headers.take().unwrap_or_default(),
                    std::mem::take(events),
                );
                Poll::Ready(Ok(res))
            }
            KindProj::Done { res } => match res.take() {
                Some(res) => Poll::Ready(Ok(res)),
                // Polled after completion: answer an empty 500 rather than panic.
                None => {
                    let mut res = Response::new(GuardBody::empty());
                    *res.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                    Poll::Ready(Ok(res))
                }
            },
            KindProj::Boxed { fut } => fut.as_mut().poll(cx),
        }
    }
}

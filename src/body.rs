//! [`GuardBody`], the response body of every guard layer.
//!
//! A guard layer either passes the inner service's response through untouched or answers
//! by itself with a small fixed body. [`GuardBody<B>`] is that either-or, with
//! `Data = Bytes`, so a layer's response type does not depend on whether it rejected, and
//! it fits axum's `Router::layer` and tonic's `Server::layer`.
//!
//! The rejection itself (an RFC 9457 problem or a gRPC Trailers-Only response) is built
//! in [`crate::rejection`]; this module only carries it.
//!
//! ```
//! use http::StatusCode;
//! use http_body::Body as _;
//! use tower_fortify::{body::GuardBody, rejection::Problem};
//!
//! let res = Problem::new(StatusCode::FORBIDDEN, "Forbidden")
//!     .detail("The request was refused.")
//!     .into_response()
//!     .map(GuardBody::<String>::fixed);
//! assert_eq!(res.status(), StatusCode::FORBIDDEN);
//! assert!(res.body().is_rejection());
//! assert!(!res.body().is_end_stream());
//!
//! let passed: GuardBody<String> = GuardBody::new("hello".to_owned());
//! assert_eq!(passed.size_hint().exact(), Some(5));
//! ```

use std::{
    fmt,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// The response body of the guard layers: the inner service's body, untouched, or a
    /// small fixed body written by the layer itself.
    pub struct GuardBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Inner { #[pin] body: B },
        // Boxed so that `GuardBody<B>` is no larger than most `B` (one pointer, in the
        // niche of `B`'s pointers): a passed response is moved through every layer above,
        // and a larger body type made each move of it a `memcpy` call (the README's
        // rate-limit performance notes). The box costs a refusal one small allocation.
        Fixed { data: Option<Box<Bytes>> },
    }
}

impl<B> GuardBody<B> {
    /// Wraps the inner service's body; every frame passes through unchanged.
    pub fn new(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }

    /// A body of fixed bytes written by a layer.
    pub fn fixed(data: impl Into<Bytes>) -> Self {
        let data: Bytes = data.into();
        Self {
            kind: Kind::Fixed {
                data: (!data.is_empty()).then(|| Box::new(data)),
            },
        }
    }

    /// An empty body (used by gRPC Trailers-Only rejections).
    pub fn empty() -> Self {
        Self {
            kind: Kind::Fixed { data: None },
        }
    }

    /// Whether this body was written by a layer rather than by the inner service.
    pub fn is_rejection(&self) -> bool {
        matches!(self.kind, Kind::Fixed { .. })
    }
}

impl<B: Default> Default for GuardBody<B> {
    fn default() -> Self {
        Self::new(B::default())
    }
}

impl<B> fmt::Debug for GuardBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Inner { .. } => f.debug_struct("GuardBody::Inner").finish_non_exhaustive(),
            Kind::Fixed { data } => f
                .debug_struct("GuardBody::Fixed")
                .field("len", &data.as_ref().map_or(0, |d| d.len()))
                .finish(),
        }
    }
}

impl<B> Body for GuardBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Fixed { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(*d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Fixed { data } => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Fixed { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn fixed_body_yields_its_bytes_once() {
        let body: GuardBody<String> = GuardBody::fixed("abc");
        assert_eq!(body.size_hint().exact(), Some(3));
        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(&collected[..], b"abc");
    }

    #[tokio::test]
    async fn inner_body_passes_through() {
        let body: GuardBody<String> = GuardBody::new("inner".to_owned());
        assert!(!body.is_rejection());
        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(&collected[..], b"inner");
    }

    #[test]
    fn the_guard_body_of_a_boxed_body_is_no_larger_than_it() {
        type Boxed = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;
        assert_eq!(
            std::mem::size_of::<GuardBody<Boxed>>(),
            std::mem::size_of::<Boxed>()
        );
    }

    #[test]
    fn empty_body_is_end_of_stream() {
        let body: GuardBody<String> = GuardBody::empty();
        assert!(body.is_end_stream());
        assert!(body.is_rejection());
    }
}

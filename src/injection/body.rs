//! [`InspectedBody`]: the request body the inner service receives.

use std::{
    collections::VecDeque,
    fmt,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::config::Reservation;

pin_project! {
    /// The request body handed to the inner service: either the original body untouched
    /// (nothing was buffered), or the frames the layer buffered, replayed byte for byte
    /// (data and trailers, in order), followed by the rest of the original body or by the
    /// error the original body failed with.
    pub struct InspectedBody<B: Body> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B: Body> {
        Passthrough { #[pin] body: B },
        Replay {
            frames: VecDeque<Frame<Bytes>>,
            // Boxed so the layer can hand the partly read body on without it being `Unpin`;
            // only requests whose body was buffered pay this allocation.
            rest: Option<Pin<Box<B>>>,
            error: Option<B::Error>,
            // The share of the layer's total buffer limit the buffered frames hold, given
            // back once the inner service has taken the last of them.
            reservation: Option<Reservation>,
        },
    }
}

impl<B: Body> InspectedBody<B> {
    /// The original body, not buffered.
    pub(crate) fn passthrough(body: B) -> Self {
        Self {
            kind: Kind::Passthrough { body },
        }
    }

    /// Buffered frames, then `rest` (if the body was not read to its end), then `error`
    /// (if reading failed). `reservation` is released when the frames are handed on.
    pub(crate) fn replay(
        frames: Vec<Frame<Bytes>>,
        rest: Option<Pin<Box<B>>>,
        error: Option<B::Error>,
        reservation: Option<Reservation>,
    ) -> Self {
        Self {
            kind: Kind::Replay {
                frames: frames.into(),
                rest,
                error,
                reservation,
            },
        }
    }

    /// Whether the body was buffered by the layer (and is replayed).
    pub fn was_buffered(&self) -> bool {
        matches!(self.kind, Kind::Replay { .. })
    }
}

impl<B: Body> fmt::Debug for InspectedBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Passthrough { .. } => f
                .debug_struct("InspectedBody::Passthrough")
                .finish_non_exhaustive(),
            Kind::Replay {
                frames,
                rest,
                error,
                ..
            } => f
                .debug_struct("InspectedBody::Replay")
                .field("buffered_frames", &frames.len())
                .field("rest", &rest.is_some())
                .field("error", &error.is_some())
                .finish(),
        }
    }
}

impl<B> Body for InspectedBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            KindProj::Passthrough { body } => body.poll_frame(cx),
            KindProj::Replay {
                frames,
                rest,
                error,
                reservation,
            } => {
                if let Some(frame) = frames.pop_front() {
                    if frames.is_empty() {
                        *reservation = None;
                    }
                    return Poll::Ready(Some(Ok(frame)));
                }
                *reservation = None;
                if let Some(e) = error.take() {
                    return Poll::Ready(Some(Err(e)));
                }
                match rest {
                    Some(body) => {
                        let polled = body.as_mut().poll_frame(cx);
                        if let Poll::Ready(None) = polled {
                            *rest = None;
                        }
                        polled
                    }
                    None => Poll::Ready(None),
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Passthrough { body } => body.is_end_stream(),
            Kind::Replay {
                frames,
                rest,
                error,
                ..
            } => {
                frames.is_empty()
                    && error.is_none()
                    && rest.as_ref().is_none_or(|b| b.is_end_stream())
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Passthrough { body } => body.size_hint(),
            Kind::Replay { frames, rest, .. } => {
                let buffered: u64 = frames
                    .iter()
                    .filter_map(|f| f.data_ref().map(|d| d.len() as u64))
                    .sum();
                match rest {
                    None => SizeHint::with_exact(buffered),
                    Some(body) => {
                        let inner = body.size_hint();
                        let mut hint = SizeHint::new();
                        hint.set_lower(buffered + inner.lower());
                        if let Some(upper) = inner.upper() {
                            hint.set_upper(buffered + upper);
                        }
                        hint
                    }
                }
            }
        }
    }
}

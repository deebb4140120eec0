//! [`InjectionFuture`]: reads the body when it is inspected, then calls the inner service
//! or answers with the rejection.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{ready, Context, Poll},
};

use bytes::{Bytes, BytesMut};
use http::{request, Request, Response};
use http_body::{Body, Frame};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::{
    body::GuardBody,
    event::{SecurityEvent, SecurityEvents},
};

use super::{
    body::InspectedBody,
    config::{Mode, OversizedBody, Shared},
    inspect::Verdict,
    rejection::InjectionRejection,
};

/// At most this many findings are reported as events per request (the highest scores).
const MAX_EVENTS: usize = 8;

/// A request whose body is being read.
struct Buffering<S, B: Body> {
    body: Pin<Box<B>>,
    frames: Vec<Frame<Bytes>>,
    data_len: usize,
    parts: request::Parts,
    inner: S,
    shared: Arc<Shared>,
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<InspectedBody<B>>>,
        B: Body,
    {
        Buffering { buffering: Option<Buffering<S, B>> },
        Calling { #[pin] future: S::Future, events: Vec<SecurityEvent> },
        Rejected { response: Option<Response<Bytes>>, events: Vec<SecurityEvent> },
        Done,
    }
}

pin_project! {
    /// The response future of [`Injection`](super::Injection): reads the body (when it is
    /// inspected), then calls the inner service or answers with the rejection.
    pub struct InjectionFuture<S, B>
    where
        S: Service<Request<InspectedBody<B>>>,
        B: Body,
    {
        #[pin]
        state: State<S, B>,
    }
}

impl<S, B> InjectionFuture<S, B>
where
    S: Service<Request<InspectedBody<B>>>,
    B: Body,
{
    /// Waits for the inner service's response, then appends `events` to it.
    pub(crate) fn calling(future: S::Future, events: Vec<SecurityEvent>) -> Self {
        Self {
            state: State::Calling { future, events },
        }
    }

    /// Answers with the responder's response to `rejection`, a clone of `rejection` in
    /// its extensions, and `events`.
    pub(crate) fn refused(
        shared: &Shared,
        rejection: InjectionRejection,
        events: Vec<SecurityEvent>,
    ) -> Self {
        let mut response = shared.responder.respond(&rejection);
        response.extensions_mut().insert(rejection);
        Self {
            state: State::Rejected {
                response: Some(response),
                events,
            },
        }
    }

    /// Reads the body of the request made of `parts` and `body` before deciding.
    pub(crate) fn buffering(inner: S, shared: Arc<Shared>, parts: request::Parts, body: B) -> Self {
        Self {
            state: State::Buffering {
                buffering: Some(Buffering {
                    body: Box::pin(body),
                    frames: Vec::new(),
                    data_len: 0,
                    parts,
                    inner,
                    shared,
                }),
            },
        }
    }
}

impl<S, B, R> InjectionFuture<S, B>
where
    S: Service<Request<InspectedBody<B>>, Response = Response<R>>,
    B: Body<Data = Bytes>,
{
    /// Calls the inner service or answers with a rejection, according to the verdict.
    pub(crate) fn decide(
        inner: &mut S,
        shared: &Shared,
        verdict: Verdict,
        grpc: bool,
        req: Request<InspectedBody<B>>,
        mut events: Vec<SecurityEvent>,
    ) -> Self {
        if !verdict.flagged {
            return Self::calling(inner.call(req), events);
        }
        let block = shared.mode == Mode::Block;
        let mut findings = verdict.findings.clone();
        findings.sort_by_key(|f| std::cmp::Reverse(f.score));
        let top = findings.first().cloned();
        for f in findings.into_iter().take(MAX_EVENTS) {
            events.push(SecurityEvent::InjectionDetected {
                category: f.category,
                location: f.location,
                rule: f.rule,
                score: verdict.score,
                blocked: block,
            });
        }
        tracing::debug!(score = verdict.score, blocked = block, "injection detected");
        // A flagged verdict has at least one finding (its score is their sum).
        let (true, Some(top)) = (block, top) else {
            return Self::calling(inner.call(req), events);
        };
        let rejection = InjectionRejection::Blocked {
            category: top.category,
            location: top.location,
            rule: top.rule,
            score: verdict.score,
            categories: verdict.categories(),
            grpc,
        };
        Self::refused(shared, rejection, events)
    }
}

impl<S, B> fmt::Debug for InjectionFuture<S, B>
where
    S: Service<Request<InspectedBody<B>>>,
    B: Body,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Buffering { .. } => "buffering",
            State::Calling { .. } => "calling",
            State::Rejected { .. } => "rejected",
            State::Done => "done",
        };
        f.debug_struct("InjectionFuture")
            .field("state", &state)
            .finish()
    }
}

impl<S, B, R> Future for InjectionFuture<S, B>
where
    S: Service<Request<InspectedBody<B>>, Response = Response<R>>,
    B: Body<Data = Bytes>,
{
    type Output = Result<Response<GuardBody<R>>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project().state.project() {
                StateProj::Calling { future, events } => {
                    let res = ready!(future.poll(cx));
                    let events = std::mem::take(events);
                    self.as_mut().project().state.set(State::Done);
                    let mut res = res?.map(GuardBody::new);
                    for e in events {
                        SecurityEvents::push_to(res.extensions_mut(), e);
                    }
                    return Poll::Ready(Ok(res));
                }
                StateProj::Rejected { response, events } => {
                    let (Some(res), events) = (response.take(), std::mem::take(events)) else {
                        crate::polled_after_completion("InjectionFuture");
                    };
                    self.as_mut().project().state.set(State::Done);
                    let mut res = res.map(GuardBody::fixed);
                    for e in events {
                        SecurityEvents::push_to(res.extensions_mut(), e);
                    }
                    return Poll::Ready(Ok(res));
                }
                StateProj::Done => crate::polled_after_completion("InjectionFuture"),
                StateProj::Buffering { buffering } => {
                    let Some(b) = buffering.as_mut() else {
                        crate::polled_after_completion("InjectionFuture");
                    };
                    let limit = b.shared.detector.config.body_limit;
                    let outcome = loop {
                        if b.data_len > limit {
                            break Read::Over;
                        }
                        match ready!(b.body.as_mut().poll_frame(cx)) {
                            Some(Ok(frame)) => {
                                if let Some(data) = frame.data_ref() {
                                    b.data_len += data.len();
                                }
                                b.frames.push(frame);
                            }
                            Some(Err(e)) => break Read::Failed(e),
                            None => break Read::Done,
                        }
                    };
                    let Some(b) = buffering.take() else {
                        crate::polled_after_completion("InjectionFuture");
                    };
                    b.finish(outcome)
                }
            };
            self.as_mut().project().state.set(next);
        }
    }
}

/// How reading the body ended.
enum Read<E> {
    Done,
    Over,
    Failed(E),
}

impl<S, B, R> Buffering<S, B>
where
    S: Service<Request<InspectedBody<B>>, Response = Response<R>>,
    B: Body<Data = Bytes>,
{
    fn finish(self, outcome: Read<B::Error>) -> State<S, B> {
        let Buffering {
            body,
            frames,
            data_len,
            parts,
            mut inner,
            shared,
        } = self;
        let limit = shared.detector.config.body_limit;
        if matches!(outcome, Read::Over) && shared.oversized == OversizedBody::Reject {
            let rejection = InjectionRejection::BodyTooLarge { limit, grpc: false };
            return InjectionFuture::<S, B>::refused(&shared, rejection, Vec::new()).state;
        }
        let bytes = concat_prefix(&frames, data_len.min(limit));
        let verdict =
            shared
                .detector
                .inspect_parts(&parts.uri, &parts.headers, Some(&bytes), false);
        let (rest, error) = match outcome {
            Read::Done => (None, None),
            Read::Over => (Some(body), None),
            Read::Failed(e) => (None, Some(e)),
        };
        let req = Request::from_parts(parts, InspectedBody::replay(frames, rest, error));
        InjectionFuture::decide(&mut inner, &shared, verdict, false, req, Vec::new()).state
    }
}
/// The first `len` data bytes of `frames`, copied only when there is more than one frame.
fn concat_prefix(frames: &[Frame<Bytes>], len: usize) -> Bytes {
    let mut data = frames.iter().filter_map(Frame::data_ref);
    let (Some(first), None) = (data.next(), data.next()) else {
        let mut buf = BytesMut::with_capacity(len);
        for d in frames.iter().filter_map(Frame::data_ref) {
            let take = (len - buf.len()).min(d.len());
            buf.extend_from_slice(&d[..take]);
            if buf.len() == len {
                break;
            }
        }
        return buf.freeze();
    };
    first.slice(..len.min(first.len()))
}

#[cfg(test)]
mod tests {
    use std::{convert::Infallible, future::Ready};

    use http::StatusCode;
    use http_body_util::Full;

    use super::*;
    use crate::{
        injection::{inspect::Detector, UnknownEncoding},
        rejection::DefaultResponder,
    };

    fn shared() -> Shared {
        Shared {
            detector: Detector::builder().build().unwrap(),
            mode: Mode::Block,
            oversized: OversizedBody::Reject,
            unknown_encoding: UnknownEncoding::Reject,
            responder: Arc::new(DefaultResponder),
        }
    }

    type Inner = tower::util::ServiceFn<
        fn(Request<InspectedBody<Full<Bytes>>>) -> Ready<Result<Response<Full<Bytes>>, Infallible>>,
    >;

    fn refused() -> InjectionFuture<Inner, Full<Bytes>> {
        let rejection = InjectionRejection::BodyTooLarge {
            limit: 1,
            grpc: false,
        };
        InjectionFuture::refused(&shared(), rejection, Vec::new())
    }

    #[test]
    fn a_refusal_carries_its_rejection() {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut fut = std::pin::pin!(refused());
        let Poll::Ready(Ok(res)) = fut.as_mut().poll(&mut cx) else {
            panic!("a refusal is ready at once");
        };
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(matches!(
            res.extensions().get::<InjectionRejection>(),
            Some(InjectionRejection::BodyTooLarge { limit: 1, .. })
        ));
    }

    #[test]
    #[should_panic(expected = "`InjectionFuture` polled after completion")]
    fn polling_after_completion_panics() {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut fut = std::pin::pin!(refused());
        let _ = fut.as_mut().poll(&mut cx);
        let _ = fut.as_mut().poll(&mut cx);
    }

    #[test]
    fn the_prefix_is_copied_only_across_frames() {
        let one = [Frame::data(Bytes::from_static(b"hello"))];
        assert_eq!(concat_prefix(&one, 3), "hel");
        assert_eq!(concat_prefix(&one, 9), "hello");
        let two = [
            Frame::data(Bytes::from_static(b"he")),
            Frame::trailers(http::HeaderMap::new()),
            Frame::data(Bytes::from_static(b"llo")),
        ];
        assert_eq!(concat_prefix(&two, 4), "hell");
        assert_eq!(concat_prefix(&[], 4), "");
    }
}

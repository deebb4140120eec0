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
    event::{Category, SecurityEvent, SecurityEvents},
};

use super::{
    body::InspectedBody,
    config::{Mode, OversizedBody, Reservation, Shared},
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
    /// Whether the request claims gRPC (it is answered in gRPC).
    grpc: bool,
    /// The bytes held from the layer's total buffer limit.
    reservation: Reservation,
    /// When reading started; the body timeout counts from here.
    started: tokio::time::Instant,
    /// The body timeout, armed the first time the body makes us wait.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S, B: Body> Buffering<S, B> {
    /// Whether the body timeout has passed; arms it (registering `cx`) on first call.
    /// Without a Tokio runtime there is no timer and no timeout.
    fn timed_out(&mut self, cx: &mut Context<'_>) -> bool {
        if self.deadline.is_none() {
            if tokio::runtime::Handle::try_current().is_err() {
                return false;
            }
            let at = self.started + self.shared.body_timeout;
            self.deadline = Some(Box::pin(tokio::time::sleep_until(at)));
        }
        self.deadline
            .as_mut()
            .is_some_and(|d| d.as_mut().poll(cx).is_ready())
    }
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
    pub(crate) fn buffering(
        inner: S,
        shared: Arc<Shared>,
        parts: request::Parts,
        body: B,
        grpc: bool,
    ) -> Self {
        let reservation = Reservation::new(shared.budget.clone());
        Self {
            state: State::Buffering {
                buffering: Some(Buffering {
                    body: Box::pin(body),
                    frames: Vec::new(),
                    data_len: 0,
                    parts,
                    inner,
                    shared,
                    grpc,
                    reservation,
                    started: tokio::time::Instant::now(),
                    deadline: None,
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
                        let Poll::Ready(frame) = b.body.as_mut().poll_frame(cx) else {
                            if b.timed_out(cx) {
                                break Read::TimedOut;
                            }
                            return Poll::Pending;
                        };
                        match frame {
                            Some(Ok(frame)) => {
                                let len = frame.data_ref().map_or(0, Bytes::len);
                                b.data_len += len;
                                b.frames.push(frame);
                                // The frame is in memory either way; past the total
                                // limit, stop reading more.
                                if !b.reservation.grow(len) {
                                    break Read::NoBudget;
                                }
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
    /// Past the body limit.
    Over,
    /// Past the layer's total buffer limit.
    NoBudget,
    /// Past the body timeout.
    TimedOut,
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
            grpc,
            reservation,
            ..
        } = self;
        let limit = shared.detector.config.body_limit;
        let reject = shared.oversized == OversizedBody::Reject;
        let refusal = match outcome {
            Read::Over if reject => Some(InjectionRejection::BodyTooLarge { limit, grpc }),
            Read::NoBudget if reject => Some(InjectionRejection::Overloaded { grpc }),
            Read::TimedOut => Some(InjectionRejection::BodyTimeout {
                timeout: shared.body_timeout,
                grpc,
            }),
            _ => None,
        };
        if let Some(rejection) = refusal {
            return InjectionFuture::<S, B>::refused(&shared, rejection, Vec::new()).state;
        }
        let mut events = Vec::new();
        let truncated = data_len > limit || matches!(outcome, Read::NoBudget);
        if matches!(outcome, Read::NoBudget) {
            events.push(SecurityEvent::InjectionDetected {
                category: Category::Protocol,
                location: Arc::from("body"),
                rule: "protocol.buffer_budget_exhausted",
                score: 0,
                blocked: false,
            });
        }
        let bytes = concat_prefix(&frames, data_len.min(limit));
        let verdict =
            shared
                .detector
                .inspect_body_prefix(&parts.uri, &parts.headers, &bytes, truncated);
        let (rest, error) = match outcome {
            Read::Done => (None, None),
            Read::Over | Read::NoBudget | Read::TimedOut => (Some(body), None),
            Read::Failed(e) => (None, Some(e)),
        };
        let body = InspectedBody::replay(frames, rest, error, Some(reservation));
        let req = Request::from_parts(parts, body);
        InjectionFuture::decide(&mut inner, &shared, verdict, grpc, req, events).state
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
            grpc_routes: Vec::new(),
            budget: crate::injection::config::BufferBudget::new(1 << 20),
            body_timeout: std::time::Duration::from_secs(30),
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

//! [`Injection`], the service, and its [`ResponseFuture`].

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{ready, Context, Poll},
};

use bytes::{Bytes, BytesMut};
use http::{header, request, HeaderMap, Request, Response, StatusCode};
use http_body::{Body, Frame};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::{
    body::GuardBody,
    event::{Category, SecurityEvent, SecurityEvents},
    rejection::{grpc_rejection, is_grpc, GrpcCode, Problem},
};

use super::{
    body::InspectedBody,
    config::{Mode, OversizedBody, UnknownEncoding},
    inspect::Verdict,
    layer::Shared,
};

/// At most this many findings are reported as events per request (the highest scores).
const MAX_EVENTS: usize = 8;

/// Inspects each request for injection attacks before calling the inner service. See
/// [`InjectionLayer`](super::InjectionLayer).
pub struct Injection<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Injection<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: Clone> Clone for Injection<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for Injection<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Injection")
            .field("inner", &self.inner)
            .field("shared", &self.shared)
            .finish()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Injection<S>
where
    S: Service<Request<InspectedBody<ReqBody>>, Response = Response<ResBody>> + Clone,
    ReqBody: Body<Data = Bytes>,
{
    type Response = Response<GuardBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // The ready service is the one that must be called; keep a fresh clone here.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        start(inner, self.shared.clone(), req)
    }
}

/// Encodings the layer decodes before inspection.
fn encoding_is_known(headers: &HeaderMap) -> bool {
    headers.get_all(header::CONTENT_ENCODING).iter().all(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',').all(|e| {
                matches!(
                    e.trim().to_ascii_lowercase().as_str(),
                    "gzip" | "x-gzip" | "deflate" | "identity" | ""
                )
            })
        })
    })
}

fn start<S, B, R>(mut inner: S, shared: Arc<Shared>, req: Request<B>) -> ResponseFuture<S, B>
where
    S: Service<Request<InspectedBody<B>>, Response = Response<R>>,
    B: Body<Data = Bytes>,
{
    let detector = &shared.detector;
    let path = req.uri().path();
    if detector.skips_request(path) {
        let fut = inner.call(req.map(InspectedBody::passthrough));
        return ResponseFuture::calling(fut, Vec::new());
    }
    let grpc = is_grpc(req.headers());
    let mut extra = Vec::new();
    let buffer = !grpc && !detector.skips_body(path) && !req.body().is_end_stream();
    let buffer = buffer
        && if encoding_is_known(req.headers()) {
            true
        } else {
            match shared.layer.unknown_encoding {
                UnknownEncoding::Reject => {
                    let res = Problem::new(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "Unsupported Media Type",
                    )
                    .detail("The request body uses a content encoding that cannot be inspected.")
                    .into_response();
                    return ResponseFuture::rejected(res, Vec::new());
                }
                UnknownEncoding::PassUninspected => {
                    extra.push(SecurityEvent::InjectionDetected {
                        category: Category::Protocol,
                        location: Arc::from("body"),
                        rule: "protocol.uninspected_encoding",
                        score: 0,
                        blocked: false,
                    });
                    false
                }
            }
        };
    let limit = detector.config.body_limit;
    if buffer
        && shared.layer.oversized == OversizedBody::Reject
        && req.body().size_hint().lower() > limit as u64
    {
        return ResponseFuture::rejected(too_large(), Vec::new());
    }
    if !buffer {
        let verdict = detector.inspect_parts(req.uri(), req.headers(), None, grpc);
        return decide(
            &mut inner,
            &shared,
            verdict,
            grpc,
            req.map(InspectedBody::passthrough),
            extra,
        );
    }
    let (parts, body) = req.into_parts();
    ResponseFuture {
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

fn too_large() -> Response<Bytes> {
    Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "Content Too Large")
        .detail("The request body is larger than this endpoint inspects.")
        .into_response()
}

/// Calls the inner service or answers with a rejection, according to the verdict.
fn decide<S, B, R>(
    inner: &mut S,
    shared: &Shared,
    verdict: Verdict,
    grpc: bool,
    req: Request<InspectedBody<B>>,
    mut events: Vec<SecurityEvent>,
) -> ResponseFuture<S, B>
where
    S: Service<Request<InspectedBody<B>>, Response = Response<R>>,
    B: Body<Data = Bytes>,
{
    if !verdict.flagged {
        return ResponseFuture::calling(inner.call(req), events);
    }
    let block = shared.layer.mode == Mode::Block;
    let mut findings = verdict.findings.clone();
    findings.sort_by_key(|f| std::cmp::Reverse(f.score));
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
    if !block {
        return ResponseFuture::calling(inner.call(req), events);
    }
    let res = if grpc {
        grpc_rejection(
            GrpcCode::PermissionDenied,
            "request blocked by the injection filter",
        )
    } else {
        let categories: Vec<&str> = verdict.categories().iter().map(|c| c.as_str()).collect();
        Problem::new(StatusCode::FORBIDDEN, "Forbidden")
            .detail("The request was blocked because it looks like an injection attack.")
            .member("categories", categories)
            .into_response()
    };
    ResponseFuture::rejected(res, events)
}

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
    }
}

pin_project! {
    /// The response future of [`Injection`]: reads the body (when it is inspected), then
    /// calls the inner service or answers with the rejection.
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<InspectedBody<B>>>,
        B: Body,
    {
        #[pin]
        state: State<S, B>,
    }
}

impl<S, B> ResponseFuture<S, B>
where
    S: Service<Request<InspectedBody<B>>>,
    B: Body,
{
    fn calling(future: S::Future, events: Vec<SecurityEvent>) -> Self {
        Self {
            state: State::Calling { future, events },
        }
    }

    fn rejected(response: Response<Bytes>, events: Vec<SecurityEvent>) -> Self {
        Self {
            state: State::Rejected {
                response: Some(response),
                events,
            },
        }
    }
}

impl<S, B> fmt::Debug for ResponseFuture<S, B>
where
    S: Service<Request<InspectedBody<B>>>,
    B: Body,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Buffering { .. } => "buffering",
            State::Calling { .. } => "calling",
            State::Rejected { .. } => "rejected",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}

impl<S, B, R> Future for ResponseFuture<S, B>
where
    S: Service<Request<InspectedBody<B>>, Response = Response<R>>,
    B: Body<Data = Bytes>,
{
    type Output = Result<Response<GuardBody<R>>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project().state.project() {
                StateProj::Calling { future, events } => {
                    let mut res = ready!(future.poll(cx))?.map(GuardBody::new);
                    for e in events.drain(..) {
                        SecurityEvents::push_to(res.extensions_mut(), e);
                    }
                    return Poll::Ready(Ok(res));
                }
                StateProj::Rejected { response, events } => {
                    let Some(res) = response.take() else {
                        // Polled after completion: nothing sensible to return but pending.
                        return Poll::Pending;
                    };
                    let mut res = res.map(GuardBody::fixed);
                    for e in events.drain(..) {
                        SecurityEvents::push_to(res.extensions_mut(), e);
                    }
                    return Poll::Ready(Ok(res));
                }
                StateProj::Buffering { buffering } => {
                    let Some(b) = buffering.as_mut() else {
                        return Poll::Pending;
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
                        return Poll::Pending;
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
        if matches!(outcome, Read::Over) && shared.layer.oversized == OversizedBody::Reject {
            return ResponseFuture::<S, B>::rejected(too_large(), Vec::new()).state;
        }
        let limit = shared.detector.config.body_limit;
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
        decide(&mut inner, &shared, verdict, false, req, Vec::new()).state
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

//! The response future.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{ready, Context, Poll},
};

use http::{header, HeaderMap, Response};
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
        let mut out = ready!(this.inner.poll(cx));
        *this.done = true;
        if let Ok(res) = &mut out {
            strip_without_allowed_origin(res.headers_mut());
        }
        Poll::Ready(out)
    }
}

/// An origin that is not allowed gets no CORS headers at all: tower-http still sends
/// `Access-Control-Allow-Credentials`, `-Methods` and `-Headers` to it (harmless without
/// `Access-Control-Allow-Origin`, but they tell a stranger what the API accepts).
/// `Vary` stays: caches need it whatever the answer.
fn strip_without_allowed_origin(headers: &mut HeaderMap) {
    if headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        return;
    }
    for name in [
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        header::ACCESS_CONTROL_ALLOW_METHODS,
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        header::ACCESS_CONTROL_MAX_AGE,
    ] {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_cors_header_without_an_allowed_origin() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            "true".parse().unwrap(),
        );
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, "GET".parse().unwrap());
        h.insert(header::VARY, "origin".parse().unwrap());
        let mut allowed = h.clone();
        allowed.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            "https://a.example".parse().unwrap(),
        );
        strip_without_allowed_origin(&mut allowed);
        assert_eq!(allowed.len(), 4);
        strip_without_allowed_origin(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key(header::VARY));
    }
}

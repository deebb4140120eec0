//! [`MonitoringBody`]: one chunk of bytes, and the headers every answer carries.

use std::{
    convert::Infallible,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{header, HeaderValue, Response};
use http_body::{Body, Frame, SizeHint};

/// The body of the monitoring service's responses: one chunk of bytes.
#[derive(Debug, Default)]
pub struct MonitoringBody {
    data: Option<Bytes>,
}

impl MonitoringBody {
    fn new(data: Bytes) -> Self {
        Self {
            data: (!data.is_empty()).then_some(data),
        }
    }
}

impl Body for MonitoringBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.data.take().map(|d| Ok(Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

/// The final response: `Cache-Control: no-store`, and no body for `HEAD`.
pub(super) fn respond(res: Response<Bytes>, head: bool) -> Response<MonitoringBody> {
    let (mut parts, body) = res.into_parts();
    parts
        .headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let body = if head { Bytes::new() } else { body };
    Response::from_parts(parts, MonitoringBody::new(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn one_chunk_with_its_exact_size() {
        let body = MonitoringBody::new(Bytes::from_static(b"ok"));
        assert_eq!(body.size_hint().exact(), Some(2));
        assert!(!body.is_end_stream());
        assert_eq!(body.collect().await.unwrap().to_bytes(), "ok");
        assert!(MonitoringBody::new(Bytes::new()).is_end_stream());
    }

    #[test]
    fn answers_are_not_cached_and_head_has_no_body() {
        let res = respond(Response::new(Bytes::from_static(b"ok")), true);
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        assert!(res.body().is_end_stream());
        let res = respond(Response::new(Bytes::from_static(b"ok")), false);
        assert_eq!(res.body().size_hint().exact(), Some(2));
    }
}

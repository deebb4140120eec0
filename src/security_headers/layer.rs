//! The layer.

use std::{fmt, sync::Arc};

use http::header;
use tower_layer::Layer;

use super::{response::Shared, SecurityHeaders};
use crate::openapi::{HeaderDoc, LayerDoc};

/// Adds the configured security headers to every response.
///
/// Built by [`SecurityHeadersLayerBuilder::build`](super::SecurityHeadersLayerBuilder::build)
/// from [`SecurityHeadersLayer::builder`] or a preset ([`helmet`](Self::helmet),
/// [`strict`](Self::strict), [`development`](Self::development)). Clones share one
/// rendered header set.
#[derive(Clone)]
#[must_use]
pub struct SecurityHeadersLayer {
    pub(super) shared: Arc<Shared>,
}

impl fmt::Debug for SecurityHeadersLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityHeadersLayer")
            .field(
                "headers",
                &self
                    .shared
                    .fixed
                    .iter()
                    .map(|h| h.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("csp", &self.shared.csp)
            .field("csp_report_only", &self.shared.csp_report_only)
            .field("hsts", &self.shared.hsts.as_ref().map(|h| &h.value))
            .field("nonce", &self.shared.needs_nonce)
            .finish_non_exhaustive()
    }
}

impl SecurityHeadersLayer {
    /// What this layer adds to every response, for an OpenAPI document
    /// ([`FortifyDocs::security_headers`](crate::openapi::FortifyDocs::security_headers)):
    /// each configured header with the value it sends (a nonce shown as `{nonce}`).
    /// `Strict-Transport-Security` is described as sent on HTTPS responses when the
    /// layer sends it only there.
    pub fn openapi_doc(&self) -> LayerDoc {
        let s = &self.shared;
        let mut doc = LayerDoc::new();
        let text = |v: &http::HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned();
        for (policy, name) in [
            (&s.csp, header::CONTENT_SECURITY_POLICY),
            (
                &s.csp_report_only,
                header::CONTENT_SECURITY_POLICY_REPORT_ONLY,
            ),
        ] {
            if let Some(p) = policy {
                doc = doc.header(
                    HeaderDoc::new(name, "Sent by the security headers layer.")
                        .example(p.render_with_nonce("{nonce}")),
                );
            }
        }
        if let Some(h) = &s.hsts {
            let when = if s.hsts_always {
                "Sent by the security headers layer."
            } else {
                "Sent by the security headers layer on HTTPS responses."
            };
            doc = doc.header(HeaderDoc::new(h.name.clone(), when).example(text(&h.value)));
        }
        for h in &s.fixed {
            doc = doc.header(
                HeaderDoc::new(h.name.clone(), "Sent by the security headers layer.")
                    .example(text(&h.value)),
            );
        }
        doc
    }
}

impl<S> Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecurityHeaders::new(inner, Arc::clone(&self.shared))
    }
}

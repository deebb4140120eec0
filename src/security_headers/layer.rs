//! The layer.

use std::{fmt, sync::Arc};

use tower_layer::Layer;

use super::{response::Shared, SecurityHeaders};

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

impl<S> Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecurityHeaders::new(inner, Arc::clone(&self.shared))
    }
}

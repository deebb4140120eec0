//! [`MetricsLayer`], handed out by [`MetricsRegistry::layer`](super::MetricsRegistry::layer).

use std::sync::Arc;

use tower_layer::Layer;

use super::{recorder::Recorder, service::Metrics};

/// Records every request that passes through: duration, in-flight count, body sizes,
/// outcome, and gRPC calls. Get one from
/// [`MetricsRegistry::layer`](super::MetricsRegistry::layer); see the
/// [module docs](super).
#[derive(Clone, Debug)]
#[must_use]
pub struct MetricsLayer {
    recorder: Arc<Recorder>,
}

impl MetricsLayer {
    pub(super) fn new(recorder: Arc<Recorder>) -> Self {
        Self { recorder }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = Metrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Metrics::new(inner, self.recorder.clone())
    }
}

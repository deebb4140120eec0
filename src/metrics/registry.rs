//! [`MetricsRegistry`], the handle that owns the recorder, and its builder.

use std::{borrow::Cow, fmt, sync::Arc, time::Duration};

use http::{Method, Uri};
use prometheus_client::registry::Registry;

use super::{
    dashboard::Dashboard,
    exposition::{ExpositionFormat, RecorderCollector},
    layer::MetricsLayer,
    percentiles::window_problem,
    recorder::{Recorder, RecorderSettings, RouteFn},
    series::{DEFAULT_DURATION_BUCKETS, DEFAULT_MAX_LABEL_SETS, DEFAULT_UNMATCHED_ROUTE},
};
use crate::{proxy::TrustedProxies, ConfigError};

/// Settings of a [`MetricsRegistry`]; [`MetricsRegistryBuilder::build`] validates them.
///
/// Setters never fail; `build()` reports the first bad setting as a [`ConfigError`] named
/// `metrics.<setter>`.
#[must_use]
pub struct MetricsRegistryBuilder {
    duration_buckets: Vec<f64>,
    max_label_sets: usize,
    unmatched_route: String,
    route_fn: Option<Box<RouteFn>>,
    https: bool,
    trusted_proxies: Option<TrustedProxies>,
    window: Duration,
    window_slots: usize,
    dashboard_cache: Duration,
    prometheus_registry: Option<Registry>,
}

impl fmt::Debug for MetricsRegistryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsRegistryBuilder")
            .field("duration_buckets", &self.duration_buckets)
            .field("max_label_sets", &self.max_label_sets)
            .field("unmatched_route", &self.unmatched_route)
            .field("route_fn", &self.route_fn.is_some())
            .field("https", &self.https)
            .field("window", &self.window)
            .field("window_slots", &self.window_slots)
            .field("dashboard_cache", &self.dashboard_cache)
            .finish_non_exhaustive()
    }
}

impl Default for MetricsRegistryBuilder {
    fn default() -> Self {
        Self {
            duration_buckets: DEFAULT_DURATION_BUCKETS.to_vec(),
            max_label_sets: DEFAULT_MAX_LABEL_SETS,
            unmatched_route: DEFAULT_UNMATCHED_ROUTE.to_owned(),
            route_fn: None,
            https: false,
            trusted_proxies: None,
            window: Duration::from_secs(60),
            window_slots: 6,
            dashboard_cache: Duration::from_secs(10),
            prometheus_registry: None,
        }
    }
}

impl MetricsRegistryBuilder {
    /// Bucket boundaries of the duration histograms, in seconds (default: the
    /// OpenTelemetry ones, [`DEFAULT_DURATION_BUCKETS`]). Finite, positive and strictly
    /// increasing; at most 64.
    pub fn duration_buckets(mut self, bounds: impl Into<Vec<f64>>) -> Self {
        self.duration_buckets = bounds.into();
        self
    }

    /// The cap on distinct label sets per metric (default 10,000). Past it, observations
    /// go to one series labelled `otel_metric_overflow="true"` and
    /// `tower_fortify_metrics_label_overflow_total` counts them. The same cap bounds the
    /// number of distinct routes.
    pub fn max_label_sets(mut self, cap: usize) -> Self {
        self.max_label_sets = cap;
        self
    }

    /// The `http.route` (and `rpc.method`) value of requests no route matched (default
    /// `unmatched`). The raw path is never used.
    pub fn unmatched_route(mut self, value: impl Into<String>) -> Self {
        self.unmatched_route = value.into();
        self
    }

    /// A function giving the route template of a request (such as `/users/{id}`), used
    /// when the request carries no axum `MatchedPath`. Returning `None` files the request
    /// under the unmatched route. Return templates, not raw paths: each distinct value is
    /// a new series (up to the cap).
    pub fn route_fn<F>(mut self, f: F) -> Self
    where
        F: Fn(&Method, &Uri) -> Option<Cow<'static, str>> + Send + Sync + 'static,
    {
        self.route_fn = Some(Box::new(f));
        self
    }

    /// Report `url.scheme="https"` for requests whose URI carries no scheme (a server that
    /// terminates TLS itself sees none in HTTP/1.1). Default `false`.
    pub fn https(mut self, https: bool) -> Self {
        self.https = https;
        self
    }

    /// Read `url.scheme` from forwarding headers (`X-Forwarded-Proto` or `Forwarded`) of
    /// requests whose TCP peer is one of these proxies.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.trusted_proxies = Some(proxies);
        self
    }

    /// The sliding window of the per-route percentiles (default 60 s in 6 slots).
    pub fn percentile_window(mut self, window: Duration, slots: usize) -> Self {
        self.window = window;
        self.window_slots = slots;
        self
    }

    /// How long a computed dashboard is reused (default 10 s), so a dashboard that polls
    /// often costs nothing extra.
    pub fn dashboard_cache(mut self, interval: Duration) -> Self {
        self.dashboard_cache = interval;
        self
    }

    /// Registers this crate's metrics in `registry` (with your own metrics already in
    /// it), so one scrape returns both. Without it, a new registry is used.
    ///
    /// `Registry` is `prometheus-client`'s: a new major version of that crate is a
    /// breaking change of this method.
    pub fn prometheus_registry(mut self, registry: Registry) -> Self {
        self.prometheus_registry = Some(registry);
        self
    }

    /// Validates the settings and builds the registry.
    ///
    /// # Errors
    ///
    /// `metrics.duration_buckets` (empty, over 64, not finite and positive, not strictly
    /// increasing), `metrics.max_label_sets` (zero), `metrics.unmatched_route` (empty or
    /// over 128 bytes), `metrics.percentile_window` (under 2 or over 600 slots, or slots
    /// under 1 ms).
    pub fn build(self) -> Result<MetricsRegistry, ConfigError> {
        let b = &self.duration_buckets;
        if b.is_empty() || b.len() > 64 {
            return Err(ConfigError::new(
                "metrics.duration_buckets",
                format!("give between 1 and 64 bucket boundaries, got {}", b.len()),
            ));
        }
        if b.iter().any(|v| !v.is_finite() || *v <= 0.0) {
            return Err(ConfigError::new(
                "metrics.duration_buckets",
                "bucket boundaries must be finite and greater than zero (seconds)",
            ));
        }
        if b.windows(2).any(|w| w[0] >= w[1]) {
            return Err(ConfigError::new(
                "metrics.duration_buckets",
                "bucket boundaries must be strictly increasing",
            ));
        }
        if self.max_label_sets == 0 {
            return Err(ConfigError::new(
                "metrics.max_label_sets",
                "the cap must be at least 1",
            ));
        }
        if self.unmatched_route.is_empty() || self.unmatched_route.len() > 128 {
            return Err(ConfigError::new(
                "metrics.unmatched_route",
                "the value must be between 1 and 128 bytes long",
            ));
        }
        if let Some(problem) = window_problem(self.window, self.window_slots) {
            return Err(ConfigError::new(
                "metrics.percentile_window",
                problem.message(),
            ));
        }
        let recorder = Arc::new(Recorder::new(RecorderSettings {
            duration_buckets: self.duration_buckets,
            max_label_sets: self.max_label_sets,
            unmatched_route: self.unmatched_route,
            route_fn: self.route_fn,
            https: self.https,
            trusted_proxies: self.trusted_proxies,
            window: self.window,
            window_slots: self.window_slots,
            dashboard_cache: self.dashboard_cache,
        }));
        let mut registry = self.prometheus_registry.unwrap_or_default();
        registry.register_collector(Box::new(RecorderCollector(recorder.clone())));
        Ok(MetricsRegistry {
            recorder,
            registry: Arc::new(registry),
        })
    }
}

/// The request metrics of one service: recorded by the [`MetricsLayer`] that
/// [`layer`](Self::layer) hands out, exposed in the Prometheus or OpenMetrics text format,
/// summarised for a dashboard.
///
/// A handle rather than a layer: the series, percentile windows and event counters are
/// shared by every layer it hands out and outlive any one of them, and the exposition
/// (for the monitoring service or your own `/metrics` route) reads them from here.
/// Cheap to clone; every clone shares the same series.
///
/// ```
/// use tower_fortify::metrics::{ExpositionFormat, MetricsRegistry};
///
/// let metrics = MetricsRegistry::builder().build()?;
/// let _layer = metrics.layer(); // add it with `ServiceBuilder::layer` or `Router::layer`
/// assert!(metrics.render(ExpositionFormat::Prometheus).contains("tower_fortify_metrics_label_overflow_total"));
/// # Ok::<(), tower_fortify::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct MetricsRegistry {
    recorder: Arc<Recorder>,
    registry: Arc<Registry>,
}

impl MetricsRegistry {
    /// Starts configuring a registry; [`MetricsRegistryBuilder::build`] finishes it (the
    /// defaults are valid, so `MetricsRegistry::builder().build()?` never fails).
    pub fn builder() -> MetricsRegistryBuilder {
        MetricsRegistryBuilder::default()
    }

    /// The layer that records requests into this registry. Every layer it hands out
    /// writes to the same series.
    pub fn layer(&self) -> MetricsLayer {
        MetricsLayer::new(self.recorder.clone())
    }

    /// The `prometheus-client` registry holding this crate's metrics (and yours, if you
    /// passed one to [`MetricsRegistryBuilder::prometheus_registry`]).
    pub fn prometheus_registry(&self) -> &Registry {
        &self.registry
    }

    /// Encodes every metric of the registry in `format`.
    pub fn render(&self, format: ExpositionFormat) -> String {
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail, and our collector's encoders only fail on
        // a failing writer.
        let result = match format {
            ExpositionFormat::Prometheus => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            }
            ExpositionFormat::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut out, &self.registry)
            }
        };
        if result.is_err() {
            tracing::warn!("metrics exposition failed to encode");
        }
        out
    }

    /// Per-route rate, error rate and latency percentiles over the sliding window, and
    /// the guard layers' event counts; recomputed at most once per dashboard cache interval.
    pub fn dashboard(&self) -> Arc<Dashboard> {
        self.recorder.dashboard()
    }
}

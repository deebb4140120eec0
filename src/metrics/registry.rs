//! The recorder behind [`MetricsLayer`](super::MetricsLayer): series in atomics, handed to a
//! `prometheus-client` [`Registry`] at scrape time.
//!
//! Why not `prometheus_client::metrics::family::Family<_, Histogram>` directly: a
//! `Family` hashes a full owned label set on every observation (so every request would
//! build a label struct with owned strings) and has no cap on distinct label sets. Here a
//! request looks its route up by `&str` once, keeps an `Arc` to it, and at the end looks
//! up a packed `u64` of the other labels: no allocation once a series exists. At scrape
//! time a [`Collector`] encodes the series, so users still register their own metrics
//! in the same registry and get one exposition (see `benches/metrics.rs` for the cost).

use std::{
    borrow::Cow,
    collections::HashMap,
    fmt,
    sync::{
        atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use foldhash::fast::RandomState;
use http::{HeaderValue, Method, Uri};
use parking_lot::{Mutex, RwLock};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{counter::ConstCounter, MetricType},
    registry::{Registry, Unit},
};

use super::percentiles::{PercentileWindow, Percentiles};
use crate::{event::Category, proxy::TrustedProxies, ConfigError};

/// The OpenTelemetry advisory bucket boundaries of `http.server.request.duration`, seconds.
pub const DEFAULT_DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Bucket boundaries of the body size histograms, bytes (powers of four from 64 B to 64 MiB).
pub const BODY_SIZE_BUCKETS: [f64; 12] = [
    0.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
    67108864.0,
];

/// Default cap on distinct label sets per metric.
pub const DEFAULT_MAX_LABEL_SETS: usize = 10_000;

/// Default `http.route` value of requests no route matched.
pub const DEFAULT_UNMATCHED_ROUTE: &str = "unmatched";

const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "_OTHER",
];

pub(crate) fn method_index(m: &Method) -> u8 {
    match *m {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        Method::DELETE => 4,
        Method::CONNECT => 5,
        Method::OPTIONS => 6,
        Method::TRACE => 7,
        Method::PATCH => 8,
        _ => 9,
    }
}

const SCHEMES: [&str; 2] = ["http", "https"];

/// What the guard layers decided, from the response's `SecurityEvents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    None = 0,
    RateLimited = 1,
    InjectionBlocked = 2,
    UntrustedHost = 3,
}

impl Outcome {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => Outcome::RateLimited,
            2 => Outcome::InjectionBlocked,
            3 => Outcome::UntrustedHost,
            _ => Outcome::None,
        }
    }

    fn label(self) -> Option<&'static str> {
        match self {
            Outcome::None => None,
            Outcome::RateLimited => Some("rate_limited"),
            Outcome::InjectionBlocked => Some("injection_blocked"),
            Outcome::UntrustedHost => Some("untrusted_host"),
        }
    }
}

/// Why a request failed, for `error.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    None = 0,
    /// 5xx for HTTP, a non-OK status for gRPC: `error.type` is the status code.
    Status = 1,
    /// The inner service returned `Err`.
    Service = 2,
    /// The future or the body was dropped before the response was complete.
    Cancelled = 3,
    /// The response body returned an error.
    Body = 4,
    /// A gRPC response ended without a `grpc-status`.
    MissingGrpcStatus = 5,
}

impl Failure {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => Failure::Status,
            2 => Failure::Service,
            3 => Failure::Cancelled,
            4 => Failure::Body,
            5 => Failure::MissingGrpcStatus,
            _ => Failure::None,
        }
    }
}

/// Everything but the route, packed: method, scheme, status, outcome, failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SeriesKey(u64);

/// `status` 0 means "no status" (the request failed before a response).
const NO_STATUS: u16 = u16::MAX;

impl SeriesKey {
    pub(crate) fn new(
        method: u8,
        scheme: u8,
        status: Option<u16>,
        outcome: Outcome,
        failure: Failure,
    ) -> Self {
        let status = status.unwrap_or(NO_STATUS);
        Self(
            u64::from(method)
                | u64::from(scheme) << 8
                | u64::from(status) << 16
                | (outcome as u64) << 32
                | (failure as u64) << 40,
        )
    }
    fn method(self) -> &'static str {
        METHODS[(self.0 & 0xff) as usize % METHODS.len()]
    }
    fn scheme(self) -> &'static str {
        SCHEMES[((self.0 >> 8) & 0xff) as usize % SCHEMES.len()]
    }
    fn status(self) -> Option<u16> {
        let s = ((self.0 >> 16) & 0xffff) as u16;
        (s != NO_STATUS).then_some(s)
    }
    fn outcome(self) -> Outcome {
        Outcome::from_u8(((self.0 >> 32) & 0xff) as u8)
    }
    fn failure(self) -> Failure {
        Failure::from_u8(((self.0 >> 40) & 0xff) as u8)
    }
    fn error_type(self) -> Option<Cow<'static, str>> {
        match self.failure() {
            Failure::None => None,
            Failure::Status => Some(Cow::Owned(self.status().unwrap_or(0).to_string())),
            Failure::Service => Some(Cow::Borrowed("service_error")),
            Failure::Cancelled => Some(Cow::Borrowed("cancelled")),
            Failure::Body => Some(Cow::Borrowed("body_error")),
            Failure::MissingGrpcStatus => Some(Cow::Borrowed("missing_grpc_status")),
        }
    }
}

/// A fixed-bucket histogram of integers (nanoseconds or bytes) in atomics.
#[derive(Debug)]
struct AtomicHistogram {
    /// One per bound, plus the `+Inf` bucket (not cumulative).
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl AtomicHistogram {
    fn new(bounds: usize) -> Self {
        Self {
            buckets: (0..=bounds).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    /// `bounds` are inclusive upper bounds in the same unit as `v`.
    fn observe(&self, bounds: &[u64], v: u64) {
        let i = bounds.partition_point(|b| *b < v);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(v, Ordering::Relaxed);
    }

    /// Whether anything was observed.
    fn is_empty(&self) -> bool {
        self.buckets.iter().all(|b| b.load(Ordering::Relaxed) == 0)
    }

    /// `(sum, count, per-bucket counts with their bounds)`.
    fn read(&self, bounds: &[f64]) -> (u64, u64, Vec<(f64, u64)>) {
        let buckets: Vec<(f64, u64)> = bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.buckets.iter().map(|b| b.load(Ordering::Relaxed)))
            .collect();
        // The count is the buckets' total (no separate counter to update per request), so
        // `_count` always equals the `+Inf` bucket even while requests are being recorded.
        let count = buckets.iter().map(|(_, n)| n).sum();
        (self.sum.load(Ordering::Relaxed), count, buckets)
    }
}

/// One label set: the three HTTP histograms (gRPC series use only `duration`).
#[derive(Debug)]
pub(crate) struct Series {
    key: SeriesKey,
    duration: AtomicHistogram,
    request_size: AtomicHistogram,
    response_size: AtomicHistogram,
}

/// What one request leaves when it ends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Observation {
    pub(crate) key: SeriesKey,
    pub(crate) end: Instant,
    pub(crate) elapsed: Duration,
    pub(crate) request_size: Option<u64>,
    pub(crate) response_size: Option<u64>,
}

/// One `http.route` (or gRPC `rpc.method`) and its series.
#[derive(Debug)]
pub(crate) struct RouteEntry {
    name: Arc<str>,
    series: RwLock<HashMap<SeriesKey, Arc<Series>, RandomState>>,
    window: PercentileWindow,
    /// `true` for the overflow entry: observations go to the family's overflow series.
    overflow: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FamilyKind {
    Http,
    Grpc,
}

#[derive(Debug)]
struct Family {
    kind: FamilyKind,
    routes: RwLock<HashMap<Arc<str>, Arc<RouteEntry>, RandomState>>,
    unmatched: Arc<RouteEntry>,
    overflow_route: Arc<RouteEntry>,
    overflow_series: Series,
    /// Distinct label sets (series) in this family, the overflow series excluded.
    label_sets: AtomicUsize,
    /// Observations that landed in the overflow series.
    overflowed: AtomicU64,
}

/// The route function's signature: the route template of a request, or `None`.
pub(crate) type RouteFn = dyn Fn(&Method, &Uri) -> Option<Cow<'static, str>> + Send + Sync;

/// Counters of the events the guard layers left, for the dashboard and the
/// `tower_fortify_security_events` counter.
#[derive(Debug, Default)]
struct EventCounters {
    rate_limited: AtomicU64,
    rate_limited_shadow: AtomicU64,
    injection_blocked: [AtomicU64; CATEGORIES.len()],
    injection_detected: [AtomicU64; CATEGORIES.len()],
    untrusted_host: AtomicU64,
    backend_error: AtomicU64,
}

const CATEGORIES: [Category; 10] = [
    Category::Sqli,
    Category::Xss,
    Category::PathTraversal,
    Category::RemoteFileInclusion,
    Category::CommandInjection,
    Category::PhpInjection,
    Category::JavaInjection,
    Category::GenericInjection,
    Category::SessionFixation,
    Category::Protocol,
];

fn category_index(c: Category) -> usize {
    CATEGORIES.iter().position(|x| *x == c).unwrap_or(0)
}

/// The shared state of a [`Metrics`] handle.
pub(crate) struct Recorder {
    pub(crate) duration_bounds: Vec<f64>,
    duration_bounds_ns: Vec<u64>,
    size_bounds: Vec<u64>,
    max_label_sets: usize,
    window: Duration,
    window_slots: usize,
    pub(crate) route_fn: Option<Box<RouteFn>>,
    pub(crate) https: bool,
    pub(crate) trusted_proxies: Option<TrustedProxies>,
    http: Family,
    grpc: Family,
    active: [AtomicI64; METHODS.len() * SCHEMES.len()],
    active_seen: [AtomicBool; METHODS.len() * SCHEMES.len()],
    events: EventCounters,
    dashboard_cache: Duration,
    dashboard: Mutex<Option<(Instant, Arc<Dashboard>)>>,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("duration_bounds", &self.duration_bounds)
            .field("max_label_sets", &self.max_label_sets)
            .field("window", &self.window)
            .field("https", &self.https)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    fn new_entry(&self, name: Arc<str>, overflow: bool) -> Arc<RouteEntry> {
        Arc::new(RouteEntry {
            name,
            series: RwLock::new(HashMap::default()),
            // Validated in the builder.
            window: PercentileWindow::new(self.window, self.window_slots)
                .unwrap_or_else(|_| unreachable_window()),
            overflow,
        })
    }

    fn family(&self, kind: FamilyKind) -> &Family {
        match kind {
            FamilyKind::Http => &self.http,
            FamilyKind::Grpc => &self.grpc,
        }
    }

    /// The entry of `route`, created if new and under the cap.
    pub(crate) fn route(&self, kind: FamilyKind, route: Option<&str>) -> Arc<RouteEntry> {
        let family = self.family(kind);
        let Some(route) = route else {
            return family.unmatched.clone();
        };
        if let Some(entry) = family.routes.read().get(route) {
            return entry.clone();
        }
        let mut routes = family.routes.write();
        if let Some(entry) = routes.get(route) {
            return entry.clone();
        }
        if routes.len() >= self.max_label_sets {
            return family.overflow_route.clone();
        }
        let name: Arc<str> = Arc::from(route);
        let entry = self.new_entry(name.clone(), false);
        routes.insert(name, entry.clone());
        entry
    }

    pub(crate) fn request_started(&self, method: u8, scheme: u8) {
        let i = usize::from(method) * SCHEMES.len() + usize::from(scheme);
        self.active[i].fetch_add(1, Ordering::Relaxed);
        if !self.active_seen[i].load(Ordering::Relaxed) {
            self.active_seen[i].store(true, Ordering::Relaxed);
        }
    }

    pub(crate) fn record(&self, kind: FamilyKind, entry: &RouteEntry, obs: Observation) {
        let i = ((obs.key.0 & 0xff) as usize) * SCHEMES.len() + ((obs.key.0 >> 8) & 0xff) as usize;
        if let Some(active) = self.active.get(i) {
            active.fetch_sub(1, Ordering::Relaxed);
        }
        let is_error = obs.key.failure() != Failure::None;
        entry.window.record_at(obs.end, obs.elapsed, is_error);

        let family = self.family(kind);
        let ns = u64::try_from(obs.elapsed.as_nanos()).unwrap_or(u64::MAX);
        let observe = |series: &Series| {
            series.duration.observe(&self.duration_bounds_ns, ns);
            if let Some(n) = obs.request_size {
                series.request_size.observe(&self.size_bounds, n);
            }
            if let Some(n) = obs.response_size {
                series.response_size.observe(&self.size_bounds, n);
            }
        };
        let overflow = |family: &Family| {
            family.overflowed.fetch_add(1, Ordering::Relaxed);
            observe(&family.overflow_series);
        };
        if entry.overflow {
            return overflow(family);
        }
        if let Some(series) = entry.series.read().get(&obs.key) {
            return observe(series);
        }
        let series = {
            let mut map = entry.series.write();
            match map.get(&obs.key) {
                Some(s) => s.clone(),
                None => {
                    // Reserve a place under the cap before creating the series.
                    let reserved = family
                        .label_sets
                        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                            (n < self.max_label_sets).then_some(n + 1)
                        })
                        .is_ok();
                    if !reserved {
                        drop(map);
                        return overflow(family);
                    }
                    let s = Arc::new(self.new_series(obs.key));
                    map.insert(obs.key, s.clone());
                    s
                }
            }
        };
        observe(&series);
    }

    fn new_series(&self, key: SeriesKey) -> Series {
        Series {
            key,
            duration: AtomicHistogram::new(self.duration_bounds.len()),
            request_size: AtomicHistogram::new(self.size_bounds.len()),
            response_size: AtomicHistogram::new(self.size_bounds.len()),
        }
    }

    pub(crate) fn count_events(&self, events: &crate::event::SecurityEvents) -> Outcome {
        use crate::event::SecurityEvent;
        let mut outcome = Outcome::None;
        for event in events {
            match event {
                SecurityEvent::RateLimited { shadow, .. } => {
                    if *shadow {
                        self.events
                            .rate_limited_shadow
                            .fetch_add(1, Ordering::Relaxed);
                    } else {
                        self.events.rate_limited.fetch_add(1, Ordering::Relaxed);
                        if outcome == Outcome::None {
                            outcome = Outcome::RateLimited;
                        }
                    }
                }
                SecurityEvent::InjectionDetected {
                    category, blocked, ..
                } => {
                    let i = category_index(*category);
                    if *blocked {
                        self.events.injection_blocked[i].fetch_add(1, Ordering::Relaxed);
                        if outcome == Outcome::None {
                            outcome = Outcome::InjectionBlocked;
                        }
                    } else {
                        self.events.injection_detected[i].fetch_add(1, Ordering::Relaxed);
                    }
                }
                SecurityEvent::UntrustedHost { .. } => {
                    self.events.untrusted_host.fetch_add(1, Ordering::Relaxed);
                    if outcome == Outcome::None {
                        outcome = Outcome::UntrustedHost;
                    }
                }
                SecurityEvent::BackendError { .. } => {
                    self.events.backend_error.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        outcome
    }

    /// The dashboard, recomputed at most once per cache interval.
    pub(crate) fn dashboard(&self) -> Arc<Dashboard> {
        let mut cache = self.dashboard.lock();
        if let Some((at, d)) = cache.as_ref() {
            if at.elapsed() < self.dashboard_cache {
                return d.clone();
            }
        }
        let d = Arc::new(self.compute_dashboard());
        *cache = Some((Instant::now(), d.clone()));
        d
    }

    fn compute_dashboard(&self) -> Dashboard {
        let now = Instant::now();
        let secs = self.window.as_secs_f64();
        let mut routes = Vec::new();
        for family in [&self.http, &self.grpc] {
            let mut entries: Vec<Arc<RouteEntry>> =
                family.routes.read().values().cloned().collect();
            entries.push(family.unmatched.clone());
            entries.push(family.overflow_route.clone());
            for entry in entries {
                let (requests, errors) = entry.window.counts_at(now);
                if requests == 0 {
                    continue;
                }
                let p = entry.window.percentiles_at(now);
                routes.push(RouteStats {
                    route: entry.name.to_string(),
                    protocol: match family.kind {
                        FamilyKind::Http => "http",
                        FamilyKind::Grpc => "grpc",
                    },
                    requests,
                    rate_per_second: requests as f64 / secs,
                    errors,
                    error_rate: errors as f64 / requests as f64,
                    latency_seconds: p,
                });
            }
        }
        routes.sort_by(|a, b| (a.protocol, &a.route).cmp(&(b.protocol, &b.route)));
        let by_category = |counters: &[AtomicU64; CATEGORIES.len()]| {
            CATEGORIES
                .iter()
                .zip(counters.iter())
                .map(|(c, n)| (c.as_str().to_owned(), n.load(Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect()
        };
        Dashboard {
            window_seconds: secs,
            routes,
            security: SecurityStats {
                rate_limited: self.events.rate_limited.load(Ordering::Relaxed),
                rate_limited_shadow: self.events.rate_limited_shadow.load(Ordering::Relaxed),
                injection_blocked: by_category(&self.events.injection_blocked),
                injection_detected_not_blocked: by_category(&self.events.injection_detected),
                untrusted_hosts: self.events.untrusted_host.load(Ordering::Relaxed),
                backend_errors: self.events.backend_error.load(Ordering::Relaxed),
            },
            label_overflows: self.http.overflowed.load(Ordering::Relaxed)
                + self.grpc.overflowed.load(Ordering::Relaxed),
        }
    }
}

#[cold]
fn unreachable_window() -> PercentileWindow {
    // The builder validated the same arguments; a 60 s window of 6 slots is always valid.
    match PercentileWindow::new(Duration::from_secs(60), 6) {
        Ok(w) => w,
        Err(_) => unreachable!("a 60 s window of 6 slots is valid"),
    }
}

/// The JSON `/dashboard` shape: per-route traffic over the percentile window, and what the
/// guard layers did since start.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Dashboard {
    /// Length of the sliding window the per-route figures cover.
    pub window_seconds: f64,
    /// One entry per route (HTTP) or method (gRPC) with traffic in the window.
    pub routes: Vec<RouteStats>,
    /// Counts of the guard layers' events since start.
    pub security: SecurityStats,
    /// Observations recorded in an overflow series because a metric hit its label-set cap.
    pub label_overflows: u64,
}

/// Traffic of one route over the window.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RouteStats {
    /// The `http.route` (or `rpc.method`) value.
    pub route: String,
    /// `http` or `grpc`.
    pub protocol: &'static str,
    /// Requests that ended in the window.
    pub requests: u64,
    /// `requests` divided by the window length.
    pub rate_per_second: f64,
    /// Requests that failed (5xx, non-OK gRPC status, service error, cancelled).
    pub errors: u64,
    /// `errors / requests`.
    pub error_rate: f64,
    /// Duration percentiles over the window.
    pub latency_seconds: Percentiles,
}

/// What the guard layers reported since start.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SecurityStats {
    /// Requests refused by a rate-limit policy.
    pub rate_limited: u64,
    /// Requests a shadow-mode policy would have refused.
    pub rate_limited_shadow: u64,
    /// Requests blocked by the injection layer, by category.
    pub injection_blocked: std::collections::BTreeMap<String, u64>,
    /// Detections the injection layer let through (monitor mode), by category.
    pub injection_detected_not_blocked: std::collections::BTreeMap<String, u64>,
    /// Requests refused for naming an untrusted host.
    pub untrusted_hosts: u64,
    /// Backend failures reported by a guard layer.
    pub backend_errors: u64,
}

/// Encodes the recorder's series into a `prometheus-client` registry.
#[derive(Debug)]
struct RecorderCollector(Arc<Recorder>);

type Labels = Vec<(&'static str, Cow<'static, str>)>;

impl RecorderCollector {
    fn http_labels(route: &str, key: SeriesKey) -> Labels {
        let mut labels: Labels = vec![
            ("http_request_method", Cow::Borrowed(key.method())),
            ("http_route", Cow::Owned(route.to_owned())),
        ];
        if let Some(s) = key.status() {
            labels.push(("http_response_status_code", Cow::Owned(s.to_string())));
        }
        labels.push(("url_scheme", Cow::Borrowed(key.scheme())));
        if let Some(e) = key.error_type() {
            labels.push(("error_type", e));
        }
        if let Some(o) = key.outcome().label() {
            labels.push(("outcome", Cow::Borrowed(o)));
        }
        labels
    }

    fn grpc_labels(method: &str, key: SeriesKey) -> Labels {
        let mut labels: Labels = vec![
            ("rpc_system", Cow::Borrowed("grpc")),
            ("rpc_method", Cow::Owned(method.to_owned())),
        ];
        if let Some(s) = key.status() {
            labels.push(("rpc_grpc_status_code", Cow::Owned(s.to_string())));
        }
        if let Some(e) = key.error_type() {
            labels.push(("error_type", e));
        }
        if let Some(o) = key.outcome().label() {
            labels.push(("outcome", Cow::Borrowed(o)));
        }
        labels
    }

    /// Every series of a family with its labels, in a stable order.
    fn collect(family: &Family) -> Vec<(Labels, Arc<Series>)> {
        let mut entries: Vec<Arc<RouteEntry>> = family.routes.read().values().cloned().collect();
        entries.push(family.unmatched.clone());
        let mut out = Vec::new();
        for entry in entries {
            let mut series: Vec<Arc<Series>> = entry.series.read().values().cloned().collect();
            series.sort_by_key(|s| s.key.0);
            for s in series {
                let labels = match family.kind {
                    FamilyKind::Http => Self::http_labels(&entry.name, s.key),
                    FamilyKind::Grpc => Self::grpc_labels(&entry.name, s.key),
                };
                out.push((labels, s));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn overflow_labels() -> Labels {
        vec![("otel_metric_overflow", Cow::Borrowed("true"))]
    }
}

fn encode_histograms(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Unit,
    series: &[(Labels, &AtomicHistogram)],
    bounds: &[f64],
    sum_divisor: f64,
) -> Result<(), fmt::Error> {
    if series.is_empty() {
        return Ok(());
    }
    let mut metric = encoder.encode_descriptor(name, help, Some(&unit), MetricType::Histogram)?;
    for (labels, h) in series {
        let (sum, count, buckets) = h.read(bounds);
        metric.encode_family(labels)?.encode_histogram::<Labels>(
            sum as f64 / sum_divisor,
            count,
            &buckets,
            None,
        )?;
    }
    Ok(())
}

impl Collector for RecorderCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let r = &self.0;
        let http = Self::collect(&r.http);
        let http_overflow = r.http.overflowed.load(Ordering::Relaxed) > 0;
        let mut duration: Vec<(Labels, &AtomicHistogram)> =
            http.iter().map(|(l, s)| (l.clone(), &s.duration)).collect();
        if http_overflow {
            duration.push((Self::overflow_labels(), &r.http.overflow_series.duration));
        }
        encode_histograms(
            &mut encoder,
            "http_server_request_duration",
            "Duration of HTTP server requests (OpenTelemetry http.server.request.duration).",
            Unit::Seconds,
            &duration,
            &r.duration_bounds,
            1e9,
        )?;
        for (name, help, pick) in [
            (
                "http_server_request_body_size",
                "Size of HTTP request bodies, from Content-Length (OpenTelemetry http.server.request.body.size).",
                (|s: &Series| &s.request_size) as fn(&Series) -> &AtomicHistogram,
            ),
            (
                "http_server_response_body_size",
                "Size of HTTP response bodies, counted once at end of body (OpenTelemetry http.server.response.body.size).",
                |s: &Series| &s.response_size,
            ),
        ] {
            let mut list: Vec<(Labels, &AtomicHistogram)> = http
                .iter()
                .filter(|(_, s)| !pick(s).is_empty())
                .map(|(l, s)| (l.clone(), pick(s)))
                .collect();
            if http_overflow && !pick(&r.http.overflow_series).is_empty() {
                list.push((Self::overflow_labels(), pick(&r.http.overflow_series)));
            }
            let bounds: Vec<f64> = BODY_SIZE_BUCKETS.to_vec();
            encode_histograms(&mut encoder, name, help, Unit::Bytes, &list, &bounds, 1.0)?;
        }

        let active: Vec<(Labels, i64)> = (0..METHODS.len() * SCHEMES.len())
            .filter(|i| r.active_seen[*i].load(Ordering::Relaxed))
            .map(|i| {
                (
                    vec![
                        (
                            "http_request_method",
                            Cow::Borrowed(METHODS[i / SCHEMES.len()]),
                        ),
                        ("url_scheme", Cow::Borrowed(SCHEMES[i % SCHEMES.len()])),
                    ],
                    r.active[i].load(Ordering::Relaxed),
                )
            })
            .collect();
        if !active.is_empty() {
            let mut metric = encoder.encode_descriptor(
                "http_server_active_requests",
                "Number of HTTP server requests in flight, until their response body ends (OpenTelemetry http.server.active_requests).",
                None,
                MetricType::Gauge,
            )?;
            for (labels, v) in &active {
                metric.encode_family(labels)?.encode_gauge(v)?;
            }
        }

        let grpc = Self::collect(&r.grpc);
        let mut rpc: Vec<(Labels, &AtomicHistogram)> =
            grpc.iter().map(|(l, s)| (l.clone(), &s.duration)).collect();
        if r.grpc.overflowed.load(Ordering::Relaxed) > 0 {
            rpc.push((Self::overflow_labels(), &r.grpc.overflow_series.duration));
        }
        encode_histograms(
            &mut encoder,
            "rpc_server_call_duration",
            "Duration of gRPC server calls (OpenTelemetry rpc.server.call.duration).",
            Unit::Seconds,
            &rpc,
            &r.duration_bounds,
            1e9,
        )?;

        {
            let mut metric = encoder.encode_descriptor(
                "tower_fortify_metrics_label_overflow",
                "Observations recorded in the overflow series because a metric reached its cap on distinct label sets.",
                None,
                MetricType::Counter,
            )?;
            for (name, family) in [
                ("http.server.request.duration", &r.http),
                ("rpc.server.call.duration", &r.grpc),
            ] {
                let labels: Labels = vec![("metric", Cow::Borrowed(name))];
                ConstCounter::new(family.overflowed.load(Ordering::Relaxed))
                    .encode(metric.encode_family(&labels)?)?;
            }
        }

        let e = &r.events;
        let mut events: Vec<(Labels, u64)> = vec![
            (
                vec![
                    ("event", Cow::Borrowed("rate_limited")),
                    ("mode", Cow::Borrowed("enforced")),
                ],
                e.rate_limited.load(Ordering::Relaxed),
            ),
            (
                vec![
                    ("event", Cow::Borrowed("rate_limited")),
                    ("mode", Cow::Borrowed("shadow")),
                ],
                e.rate_limited_shadow.load(Ordering::Relaxed),
            ),
            (
                vec![
                    ("event", Cow::Borrowed("untrusted_host")),
                    ("mode", Cow::Borrowed("enforced")),
                ],
                e.untrusted_host.load(Ordering::Relaxed),
            ),
            (
                vec![
                    ("event", Cow::Borrowed("backend_error")),
                    ("mode", Cow::Borrowed("enforced")),
                ],
                e.backend_error.load(Ordering::Relaxed),
            ),
        ];
        for (c, (blocked, detected)) in CATEGORIES
            .iter()
            .zip(e.injection_blocked.iter().zip(e.injection_detected.iter()))
        {
            for (mode, n) in [("enforced", blocked), ("monitor", detected)] {
                events.push((
                    vec![
                        ("event", Cow::Borrowed("injection_detected")),
                        ("mode", Cow::Borrowed(mode)),
                        ("category", Cow::Borrowed(c.as_str())),
                    ],
                    n.load(Ordering::Relaxed),
                ));
            }
        }
        events.retain(|(_, n)| *n > 0);
        if !events.is_empty() {
            let mut metric = encoder.encode_descriptor(
                "tower_fortify_security_events",
                "Events the guard layers left on responses (rate limits, injection detections, untrusted hosts, backend errors).",
                None,
                MetricType::Counter,
            )?;
            for (labels, n) in &events {
                ConstCounter::new(*n).encode(metric.encode_family(labels)?)?;
            }
        }
        Ok(())
    }
}

/// The exposition format of a scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExpositionFormat {
    /// The Prometheus text format 0.0.4 (what `promtool check metrics` reads).
    Prometheus,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl ExpositionFormat {
    /// Picks the format an `Accept` header asks for: OpenMetrics when it names
    /// `application/openmetrics-text` (with a non-zero `q`), the Prometheus text format otherwise.
    pub fn from_accept(accept: Option<&HeaderValue>) -> Self {
        let Some(accept) = accept.and_then(|v| v.to_str().ok()) else {
            return Self::Prometheus;
        };
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            if parts
                .next()
                .is_some_and(|m| m.eq_ignore_ascii_case("application/openmetrics-text"))
            {
                let refused = parts.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                if !refused {
                    return Self::OpenMetrics;
                }
            }
        }
        Self::Prometheus
    }

    /// The `Content-Type` of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Settings of a [`Metrics`] recorder; build it with [`MetricsBuilder::build`].
pub struct MetricsBuilder {
    duration_buckets: Vec<f64>,
    max_label_sets: usize,
    unmatched_route: String,
    route_fn: Option<Box<RouteFn>>,
    https: bool,
    trusted_proxies: Option<TrustedProxies>,
    window: Duration,
    window_slots: usize,
    dashboard_cache: Duration,
    registry: Option<Registry>,
}

impl fmt::Debug for MetricsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsBuilder")
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

impl Default for MetricsBuilder {
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
            registry: None,
        }
    }
}

impl MetricsBuilder {
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
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Validates the settings.
    pub fn build(self) -> Result<Metrics, ConfigError> {
        let b = &self.duration_buckets;
        if b.is_empty() || b.len() > 64 {
            return Err(ConfigError::new(
                "duration_buckets",
                format!("give between 1 and 64 bucket boundaries, got {}", b.len()),
            ));
        }
        if b.iter().any(|v| !v.is_finite() || *v <= 0.0) {
            return Err(ConfigError::new(
                "duration_buckets",
                "bucket boundaries must be finite and greater than zero (seconds)",
            ));
        }
        if b.windows(2).any(|w| w[0] >= w[1]) {
            return Err(ConfigError::new(
                "duration_buckets",
                "bucket boundaries must be strictly increasing",
            ));
        }
        if self.max_label_sets == 0 {
            return Err(ConfigError::new(
                "max_label_sets",
                "the cap must be at least 1",
            ));
        }
        if self.unmatched_route.is_empty() || self.unmatched_route.len() > 128 {
            return Err(ConfigError::new(
                "unmatched_route",
                "the value must be between 1 and 128 bytes long",
            ));
        }
        PercentileWindow::new(self.window, self.window_slots)?;
        let duration_bounds_ns = b.iter().map(|s| (s * 1e9).round() as u64).collect();
        let size_bounds = BODY_SIZE_BUCKETS.iter().map(|v| *v as u64).collect();

        let family = |kind| {
            let window = || {
                PercentileWindow::new(self.window, self.window_slots)
                    .unwrap_or_else(|_| unreachable_window())
            };
            Family {
                kind,
                routes: RwLock::new(HashMap::default()),
                unmatched: Arc::new(RouteEntry {
                    name: Arc::from(self.unmatched_route.as_str()),
                    series: RwLock::new(HashMap::default()),
                    window: window(),
                    overflow: false,
                }),
                overflow_route: Arc::new(RouteEntry {
                    name: Arc::from("overflow"),
                    series: RwLock::new(HashMap::default()),
                    window: window(),
                    overflow: true,
                }),
                overflow_series: Series {
                    key: SeriesKey(0),
                    duration: AtomicHistogram::new(self.duration_buckets.len()),
                    request_size: AtomicHistogram::new(BODY_SIZE_BUCKETS.len()),
                    response_size: AtomicHistogram::new(BODY_SIZE_BUCKETS.len()),
                },
                label_sets: AtomicUsize::new(0),
                overflowed: AtomicU64::new(0),
            }
        };
        let recorder = Arc::new(Recorder {
            http: family(FamilyKind::Http),
            grpc: family(FamilyKind::Grpc),
            duration_bounds_ns,
            size_bounds,
            max_label_sets: self.max_label_sets,
            window: self.window,
            window_slots: self.window_slots,
            route_fn: self.route_fn,
            https: self.https,
            trusted_proxies: self.trusted_proxies,
            active: std::array::from_fn(|_| AtomicI64::new(0)),
            active_seen: std::array::from_fn(|_| AtomicBool::new(false)),
            events: EventCounters::default(),
            dashboard_cache: self.dashboard_cache,
            dashboard: Mutex::new(None),
            duration_bounds: self.duration_buckets,
        });
        let mut registry = self.registry.unwrap_or_default();
        registry.register_collector(Box::new(RecorderCollector(recorder.clone())));
        Ok(Metrics {
            recorder,
            registry: Arc::new(registry),
        })
    }
}

/// The request metrics of one service: recorded by [`MetricsLayer`](super::MetricsLayer),
/// exposed in the Prometheus or OpenMetrics text format, summarised for a dashboard.
///
/// Cheap to clone; every clone shares the same series.
#[derive(Clone, Debug)]
pub struct Metrics {
    pub(crate) recorder: Arc<Recorder>,
    registry: Arc<Registry>,
}

impl Metrics {
    /// Starts configuring a recorder.
    pub fn builder() -> MetricsBuilder {
        MetricsBuilder::default()
    }

    /// A recorder with the default settings.
    pub fn new() -> Self {
        // The defaults are valid.
        match MetricsBuilder::default().build() {
            Ok(m) => m,
            Err(e) => unreachable!("default metrics settings are valid: {e}"),
        }
    }

    /// The layer that records requests into this recorder.
    pub fn layer(&self) -> super::MetricsLayer {
        super::MetricsLayer::new(self.clone())
    }

    /// The registry holding this crate's metrics (and yours, if you passed one to
    /// [`MetricsBuilder::registry`]).
    pub fn registry(&self) -> &Registry {
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

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

//! The series of the recorder: packed label keys, fixed-bucket histograms in atomics, the
//! per-route entries, the two metric families (HTTP and gRPC) and the guard-layer event
//! counters. A leaf: everything else in `metrics` builds on these types.

use std::{
    borrow::Cow,
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use foldhash::fast::RandomState;
use http::Method;
use parking_lot::RwLock;

use super::percentiles::PercentileWindow;
use crate::event::{self, Category, SecurityEvent, SecurityEvents};

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

pub(super) const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "_OTHER",
];

pub(super) fn method_index(m: &Method) -> u8 {
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

pub(super) const SCHEMES: [&str; 2] = ["http", "https"];

/// The outcome label of a request a guard layer further in refused: which
/// [`SecurityEvent::refusal`] it carried. Packed into a [`SeriesKey`] as a number; its
/// label is the `event::REFUSED_*` spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
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

    /// The outcome of a refusal named by [`SecurityEvent::refusal`].
    fn from_refusal(refusal: &str) -> Self {
        match refusal {
            event::REFUSED_RATE_LIMITED => Outcome::RateLimited,
            event::REFUSED_INJECTION_BLOCKED => Outcome::InjectionBlocked,
            event::REFUSED_UNTRUSTED_HOST => Outcome::UntrustedHost,
            // A refusal this recorder has no label for yet: counted without an outcome
            // rather than under a wrong one.
            _ => Outcome::None,
        }
    }

    /// The `outcome` label, `None` for requests no guard refused.
    pub(super) fn label(self) -> Option<&'static str> {
        match self {
            Outcome::None => None,
            Outcome::RateLimited => Some(event::REFUSED_RATE_LIMITED),
            Outcome::InjectionBlocked => Some(event::REFUSED_INJECTION_BLOCKED),
            Outcome::UntrustedHost => Some(event::REFUSED_UNTRUSTED_HOST),
        }
    }
}

/// Why a request failed, for `error.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
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
pub(super) struct SeriesKey(pub(super) u64);

/// `status` 0 means "no status" (the request failed before a response).
const NO_STATUS: u16 = u16::MAX;

impl SeriesKey {
    pub(super) fn new(
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
    pub(super) fn method(self) -> &'static str {
        METHODS[(self.0 & 0xff) as usize % METHODS.len()]
    }
    pub(super) fn scheme(self) -> &'static str {
        SCHEMES[((self.0 >> 8) & 0xff) as usize % SCHEMES.len()]
    }
    pub(super) fn status(self) -> Option<u16> {
        let s = ((self.0 >> 16) & 0xffff) as u16;
        (s != NO_STATUS).then_some(s)
    }
    pub(super) fn outcome(self) -> Outcome {
        Outcome::from_u8(((self.0 >> 32) & 0xff) as u8)
    }
    pub(super) fn failure(self) -> Failure {
        Failure::from_u8(((self.0 >> 40) & 0xff) as u8)
    }
    pub(super) fn error_type(self) -> Option<Cow<'static, str>> {
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
pub(super) struct AtomicHistogram {
    /// One per bound, plus the `+Inf` bucket (not cumulative).
    pub(super) buckets: Box<[AtomicU64]>,
    pub(super) sum: AtomicU64,
}

impl AtomicHistogram {
    pub(super) fn new(bounds: usize) -> Self {
        Self {
            buckets: (0..=bounds).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    /// `bounds` are inclusive upper bounds in the same unit as `v`.
    pub(super) fn observe(&self, bounds: &[u64], v: u64) {
        let i = bounds.partition_point(|b| *b < v);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(v, Ordering::Relaxed);
    }

    /// Whether anything was observed.
    pub(super) fn is_empty(&self) -> bool {
        self.buckets.iter().all(|b| b.load(Ordering::Relaxed) == 0)
    }

    /// `(sum, count, per-bucket counts with their bounds)`.
    pub(super) fn read(&self, bounds: &[f64]) -> (u64, u64, Vec<(f64, u64)>) {
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
pub(super) struct Series {
    pub(super) key: SeriesKey,
    pub(super) duration: AtomicHistogram,
    pub(super) request_size: AtomicHistogram,
    pub(super) response_size: AtomicHistogram,
}

/// What one request leaves when it ends.
#[derive(Debug, Clone, Copy)]
pub(super) struct Observation {
    pub(super) key: SeriesKey,
    pub(super) end: Instant,
    pub(super) elapsed: Duration,
    pub(super) request_size: Option<u64>,
    pub(super) response_size: Option<u64>,
}

/// One `http.route` (or gRPC `rpc.method`) and its series.
#[derive(Debug)]
pub(super) struct RouteEntry {
    pub(super) name: Arc<str>,
    pub(super) series: RwLock<HashMap<SeriesKey, Arc<Series>, RandomState>>,
    pub(super) window: PercentileWindow,
    /// `true` for the overflow entry: observations go to the family's overflow series.
    pub(super) overflow: bool,
}

impl Series {
    pub(super) fn new(key: SeriesKey, duration_buckets: usize, size_buckets: usize) -> Self {
        Self {
            key,
            duration: AtomicHistogram::new(duration_buckets),
            request_size: AtomicHistogram::new(size_buckets),
            response_size: AtomicHistogram::new(size_buckets),
        }
    }
}

impl RouteEntry {
    pub(super) fn new(name: Arc<str>, window: PercentileWindow, overflow: bool) -> Self {
        Self {
            name,
            series: RwLock::new(HashMap::default()),
            window,
            overflow,
        }
    }
}

/// HTTP requests or gRPC calls: two metric families with their own routes and caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FamilyKind {
    Http,
    Grpc,
}

/// The routes and series of one [`FamilyKind`].
#[derive(Debug)]
pub(super) struct Family {
    pub(super) kind: FamilyKind,
    pub(super) routes: RwLock<HashMap<Arc<str>, Arc<RouteEntry>, RandomState>>,
    pub(super) unmatched: Arc<RouteEntry>,
    pub(super) overflow_route: Arc<RouteEntry>,
    pub(super) overflow_series: Series,
    /// Distinct label sets (series) in this family, the overflow series excluded.
    pub(super) label_sets: AtomicUsize,
    /// Observations that landed in the overflow series.
    pub(super) overflowed: AtomicU64,
}

impl Family {
    /// An empty family; `window` makes the percentile window of each route.
    pub(super) fn new(
        kind: FamilyKind,
        unmatched_route: Arc<str>,
        window: &dyn Fn() -> PercentileWindow,
        duration_buckets: usize,
        size_buckets: usize,
    ) -> Self {
        Self {
            kind,
            routes: RwLock::new(HashMap::default()),
            unmatched: Arc::new(RouteEntry::new(unmatched_route, window(), false)),
            overflow_route: Arc::new(RouteEntry::new(Arc::from("overflow"), window(), true)),
            overflow_series: Series::new(SeriesKey(0), duration_buckets, size_buckets),
            label_sets: AtomicUsize::new(0),
            overflowed: AtomicU64::new(0),
        }
    }
}

/// Counters of the events the guard layers left, for the dashboard and the
/// `tower_fortify_security_events` counter.
#[derive(Debug, Default)]
pub(super) struct EventCounters {
    pub(super) rate_limited: AtomicU64,
    pub(super) rate_limited_shadow: AtomicU64,
    pub(super) injection_blocked: [AtomicU64; CATEGORIES.len()],
    pub(super) injection_detected: [AtomicU64; CATEGORIES.len()],
    pub(super) untrusted_host: AtomicU64,
    pub(super) backend_error: AtomicU64,
}

pub(super) const CATEGORIES: [Category; 10] = [
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

pub(super) fn category_index(c: Category) -> usize {
    CATEGORIES.iter().position(|x| *x == c).unwrap_or(0)
}

impl EventCounters {
    /// Counts every event of a response and returns the request's outcome: the first
    /// refusal in the list (innermost layer first), if any.
    pub(super) fn count(&self, events: &SecurityEvents) -> Outcome {
        let mut outcome = Outcome::None;
        for event in events {
            if outcome == Outcome::None {
                if let Some(refusal) = event.refusal() {
                    outcome = Outcome::from_refusal(refusal);
                }
            }
            match event {
                SecurityEvent::RateLimited { shadow: true, .. } => {
                    self.rate_limited_shadow.fetch_add(1, Ordering::Relaxed);
                }
                SecurityEvent::RateLimited { shadow: false, .. } => {
                    self.rate_limited.fetch_add(1, Ordering::Relaxed);
                }
                SecurityEvent::InjectionDetected {
                    category, blocked, ..
                } => {
                    let i = category_index(*category);
                    let counters = if *blocked {
                        &self.injection_blocked
                    } else {
                        &self.injection_detected
                    };
                    counters[i].fetch_add(1, Ordering::Relaxed);
                }
                SecurityEvent::UntrustedHost { .. } => {
                    self.untrusted_host.fetch_add(1, Ordering::Relaxed);
                }
                SecurityEvent::BackendError { .. } => {
                    self.backend_error.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn series_keys_unpack_what_they_packed() {
        let key = SeriesKey::new(
            method_index(&Method::PATCH),
            1,
            Some(503),
            Outcome::InjectionBlocked,
            Failure::Status,
        );
        assert_eq!(key.method(), "PATCH");
        assert_eq!(key.scheme(), "https");
        assert_eq!(key.status(), Some(503));
        assert_eq!(key.outcome(), Outcome::InjectionBlocked);
        assert_eq!(key.error_type().as_deref(), Some("503"));
        let key = SeriesKey::new(
            method_index(&Method::from_bytes(b"PURGE").unwrap()),
            0,
            None,
            Outcome::None,
            Failure::Cancelled,
        );
        assert_eq!(key.method(), "_OTHER");
        assert_eq!(key.status(), None);
        assert_eq!(key.error_type().as_deref(), Some("cancelled"));
    }

    #[test]
    fn histogram_buckets_are_inclusive_upper_bounds() {
        let h = AtomicHistogram::new(2);
        assert!(h.is_empty());
        for v in [5, 10, 11, 1000] {
            h.observe(&[10, 100], v);
        }
        let (sum, count, buckets) = h.read(&[10.0, 100.0]);
        assert_eq!((sum, count), (1026, 4));
        assert_eq!(buckets, vec![(10.0, 2), (100.0, 1), (f64::INFINITY, 1)]);
    }

    #[test]
    fn outcome_labels_are_the_event_refusals() {
        for (event, label) in [
            (
                SecurityEvent::RateLimited {
                    policy: Arc::from("p"),
                    key: Arc::from("k"),
                    retry_after: Duration::from_secs(1),
                    shadow: false,
                },
                Some(event::REFUSED_RATE_LIMITED),
            ),
            (
                SecurityEvent::UntrustedHost {
                    host: Arc::from("evil.example"),
                },
                Some(event::REFUSED_UNTRUSTED_HOST),
            ),
            (
                SecurityEvent::InjectionDetected {
                    category: Category::Xss,
                    location: Arc::from("query:q"),
                    rule: "r",
                    score: 5,
                    blocked: true,
                },
                Some(event::REFUSED_INJECTION_BLOCKED),
            ),
            (
                SecurityEvent::InjectionDetected {
                    category: Category::Xss,
                    location: Arc::from("query:q"),
                    rule: "r",
                    score: 5,
                    blocked: false,
                },
                None,
            ),
        ] {
            assert_eq!(event.refusal(), label);
            let mut events = SecurityEvents::new();
            events.push(event);
            assert_eq!(EventCounters::default().count(&events).label(), label);
        }
    }

    #[test]
    fn the_first_refusal_is_the_outcome_and_every_event_is_counted() {
        let counters = EventCounters::default();
        let mut events = SecurityEvents::new();
        events.push(SecurityEvent::RateLimited {
            policy: Arc::from("p"),
            key: Arc::from("k"),
            retry_after: Duration::from_secs(1),
            shadow: true,
        });
        events.push(SecurityEvent::BackendError {
            component: "rate_limit.redis",
            detail: Arc::from("down"),
        });
        events.push(SecurityEvent::UntrustedHost {
            host: Arc::from("evil.example"),
        });
        events.push(SecurityEvent::RateLimited {
            policy: Arc::from("p"),
            key: Arc::from("k"),
            retry_after: Duration::from_secs(1),
            shadow: false,
        });
        assert_eq!(counters.count(&events), Outcome::UntrustedHost);
        assert_eq!(counters.rate_limited_shadow.load(Ordering::Relaxed), 1);
        assert_eq!(counters.rate_limited.load(Ordering::Relaxed), 1);
        assert_eq!(counters.backend_error.load(Ordering::Relaxed), 1);
        assert_eq!(counters.untrusted_host.load(Ordering::Relaxed), 1);
    }
}

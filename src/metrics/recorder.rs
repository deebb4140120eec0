//! The recorder: the shared state every clone of a [`MetricsRegistry`](super::MetricsRegistry)
//! and every [`Metrics`](super::Metrics) service writes to, and [`InFlight`], one request
//! between `call` and the end of its response body.
//!
//! Why not `prometheus_client::metrics::family::Family<_, Histogram>` directly: a
//! `Family` hashes a full owned label set on every observation (so every request would
//! build a label struct with owned strings) and has no cap on distinct label sets. Here a
//! request looks its route up by `&str` once, keeps an `Arc` to it, and at the end looks
//! up a packed `u64` of the other labels: no allocation once a series exists. At scrape
//! time the collector in `exposition.rs` encodes the series.

use std::{
    borrow::Cow,
    fmt,
    sync::{
        atomic::{AtomicBool, AtomicI64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use http::{Method, Uri};
use parking_lot::Mutex;

use super::{
    clock::now,
    dashboard::Dashboard,
    percentiles::PercentileWindow,
    series::{
        EventCounters, Failure, Family, FamilyKind, Observation, Outcome, RouteEntry, Series,
        SeriesKey, BODY_SIZE_BUCKETS, METHODS, SCHEMES,
    },
};
use crate::{event::SecurityEvents, proxy::TrustedProxies};

/// The route function's signature: the route template of a request, or `None`.
pub(super) type RouteFn = dyn Fn(&Method, &Uri) -> Option<Cow<'static, str>> + Send + Sync;

/// The validated settings a recorder is made from.
pub(super) struct RecorderSettings {
    pub(super) duration_buckets: Vec<f64>,
    pub(super) max_label_sets: usize,
    pub(super) unmatched_route: String,
    pub(super) route_fn: Option<Box<RouteFn>>,
    pub(super) https: bool,
    pub(super) trusted_proxies: Option<TrustedProxies>,
    pub(super) window: Duration,
    pub(super) window_slots: usize,
    pub(super) dashboard_cache: Duration,
}

/// The shared state of a [`MetricsRegistry`](super::MetricsRegistry) handle.
pub(super) struct Recorder {
    pub(super) duration_bounds: Vec<f64>,
    duration_bounds_ns: Vec<u64>,
    size_bounds: Vec<u64>,
    max_label_sets: usize,
    window: Duration,
    window_slots: usize,
    pub(super) route_fn: Option<Box<RouteFn>>,
    pub(super) https: bool,
    pub(super) trusted_proxies: Option<TrustedProxies>,
    pub(super) http: Family,
    pub(super) grpc: Family,
    pub(super) active: [AtomicI64; METHODS.len() * SCHEMES.len()],
    pub(super) active_seen: [AtomicBool; METHODS.len() * SCHEMES.len()],
    pub(super) events: EventCounters,
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
    /// A recorder from settings the builder validated.
    pub(super) fn new(s: RecorderSettings) -> Self {
        let duration_bounds_ns = s
            .duration_buckets
            .iter()
            .map(|v| (v * 1e9).round() as u64)
            .collect();
        let size_bounds = BODY_SIZE_BUCKETS.iter().map(|v| *v as u64).collect();
        let window = || {
            PercentileWindow::new(s.window, s.window_slots).unwrap_or_else(|_| unreachable_window())
        };
        let unmatched: Arc<str> = Arc::from(s.unmatched_route.as_str());
        let family = |kind| {
            Family::new(
                kind,
                unmatched.clone(),
                &window,
                s.duration_buckets.len(),
                BODY_SIZE_BUCKETS.len(),
            )
        };
        Self {
            http: family(FamilyKind::Http),
            grpc: family(FamilyKind::Grpc),
            duration_bounds_ns,
            size_bounds,
            max_label_sets: s.max_label_sets,
            window: s.window,
            window_slots: s.window_slots,
            route_fn: s.route_fn,
            https: s.https,
            trusted_proxies: s.trusted_proxies,
            active: std::array::from_fn(|_| AtomicI64::new(0)),
            active_seen: std::array::from_fn(|_| AtomicBool::new(false)),
            events: EventCounters::default(),
            dashboard_cache: s.dashboard_cache,
            dashboard: Mutex::new(None),
            duration_bounds: s.duration_buckets,
        }
    }

    fn window(&self) -> PercentileWindow {
        // Validated in the builder.
        PercentileWindow::new(self.window, self.window_slots)
            .unwrap_or_else(|_| unreachable_window())
    }

    fn family(&self, kind: FamilyKind) -> &Family {
        match kind {
            FamilyKind::Http => &self.http,
            FamilyKind::Grpc => &self.grpc,
        }
    }

    /// The entry of `route` if it exists already; never creates one.
    pub(super) fn existing_route(&self, kind: FamilyKind, route: &str) -> Option<Arc<RouteEntry>> {
        self.family(kind).routes.read().get(route).cloned()
    }

    /// The entry of `route`, created if new and under the cap.
    pub(super) fn route(&self, kind: FamilyKind, route: Option<&str>) -> Arc<RouteEntry> {
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
        let entry = Arc::new(RouteEntry::new(name.clone(), self.window(), false));
        routes.insert(name, entry.clone());
        entry
    }

    /// Counts a request in flight (`http.server.active_requests`).
    pub(super) fn request_started(&self, method: u8, scheme: u8) {
        let i = usize::from(method) * SCHEMES.len() + usize::from(scheme);
        self.active[i].fetch_add(1, Ordering::Relaxed);
        if !self.active_seen[i].load(Ordering::Relaxed) {
            self.active_seen[i].store(true, Ordering::Relaxed);
        }
    }

    /// Records a request that ended, and counts it out of the in-flight gauge.
    pub(super) fn record(&self, kind: FamilyKind, entry: &RouteEntry, obs: Observation) {
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
                    let s = Arc::new(Series::new(
                        obs.key,
                        self.duration_bounds.len(),
                        self.size_bounds.len(),
                    ));
                    map.insert(obs.key, s.clone());
                    s
                }
            }
        };
        observe(&series);
    }

    /// Counts the guard layers' events of a response; returns the request's outcome.
    pub(super) fn count_events(&self, events: &SecurityEvents) -> Outcome {
        self.events.count(events)
    }

    /// The dashboard, recomputed at most once per cache interval.
    pub(super) fn dashboard(&self) -> Arc<Dashboard> {
        let mut cache = self.dashboard.lock();
        if let Some((at, d)) = cache.as_ref() {
            if now().saturating_duration_since(*at) < self.dashboard_cache {
                return d.clone();
            }
        }
        let d = Arc::new(Dashboard::compute(
            [&self.http, &self.grpc],
            &self.events,
            self.window,
            now(),
        ));
        *cache = Some((now(), d.clone()));
        d
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

/// gRPC `UNIMPLEMENTED`: what a gRPC server answers for a method it does not serve.
const GRPC_UNIMPLEMENTED: u16 = 12;

/// The route a request is recorded under.
pub(super) enum Route {
    /// Known when the request started.
    Entry(Arc<RouteEntry>),
    /// A gRPC method (`package.Service/Method`, from the path) that no route named and that
    /// has no series yet. Decided at the end of the call: its own entry when the server
    /// answered with a status other than `UNIMPLEMENTED` and no guard layer refused the
    /// call, else the family's fixed unmatched entry. Random method names a client makes
    /// up therefore cost one series, not one each (issue #13).
    GrpcMethod(Box<str>),
}

/// The state of one request between `call` and the end of its response body.
pub(super) struct InFlight {
    pub(super) recorder: Arc<Recorder>,
    pub(super) route: Route,
    pub(super) kind: FamilyKind,
    pub(super) start: Instant,
    pub(super) method: u8,
    pub(super) scheme: u8,
    pub(super) request_size: Option<u64>,
}

impl InFlight {
    /// Records the request with what its response said.
    pub(super) fn finish(
        self,
        status: Option<u16>,
        outcome: Outcome,
        failure: Failure,
        response_size: Option<u64>,
    ) {
        let obs = Observation {
            key: SeriesKey::new(self.method, self.scheme, status, outcome, failure),
            end: now(),
            elapsed: self.start.elapsed(),
            request_size: self.request_size,
            response_size,
        };
        let entry = match self.route {
            Route::Entry(entry) => entry,
            Route::GrpcMethod(method) => {
                let served = matches!(status, Some(s) if s != GRPC_UNIMPLEMENTED)
                    && outcome == Outcome::None;
                self.recorder.route(self.kind, served.then_some(&*method))
            }
        };
        self.recorder.record(self.kind, &entry, obs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder(max_label_sets: usize) -> Recorder {
        Recorder::new(RecorderSettings {
            duration_buckets: vec![0.1, 1.0],
            max_label_sets,
            unmatched_route: "unmatched".into(),
            route_fn: None,
            https: false,
            trusted_proxies: None,
            window: Duration::from_secs(60),
            window_slots: 6,
            dashboard_cache: Duration::ZERO,
        })
    }

    fn observe(r: &Recorder, route: &Arc<RouteEntry>, status: u16) {
        r.request_started(0, 0);
        let obs = Observation {
            key: SeriesKey::new(0, 0, Some(status), Outcome::None, Failure::None),
            end: Instant::now(),
            elapsed: Duration::from_millis(5),
            request_size: None,
            response_size: Some(10),
        };
        r.record(FamilyKind::Http, route, obs);
    }

    #[test]
    fn routes_and_series_past_the_cap_go_to_the_overflow() {
        let r = recorder(2);
        let a = r.route(FamilyKind::Http, Some("/a"));
        assert!(Arc::ptr_eq(&a, &r.route(FamilyKind::Http, Some("/a"))));
        let b = r.route(FamilyKind::Http, Some("/b"));
        let c = r.route(FamilyKind::Http, Some("/c"));
        assert!(c.overflow, "a third route is over the cap of 2");
        assert!(Arc::ptr_eq(
            &r.route(FamilyKind::Http, None),
            &r.http.unmatched
        ));
        observe(&r, &a, 200);
        observe(&r, &b, 200);
        observe(&r, &a, 404); // a third label set: over the cap
        observe(&r, &c, 200);
        assert_eq!(r.http.label_sets.load(Ordering::Relaxed), 2);
        assert_eq!(r.http.overflowed.load(Ordering::Relaxed), 2);
        assert_eq!(r.active[0].load(Ordering::Relaxed), 0);
        assert!(r.active_seen[0].load(Ordering::Relaxed));
        assert_eq!(r.grpc.overflowed.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn the_dashboard_counts_the_window() {
        let r = recorder(10);
        let a = r.route(FamilyKind::Http, Some("/a"));
        observe(&r, &a, 200);
        observe(&r, &a, 500);
        let d = r.dashboard();
        assert_eq!(d.routes.len(), 1);
        assert_eq!(d.routes[0].route, "/a");
        assert_eq!(d.routes[0].protocol, "http");
        assert_eq!(d.routes[0].requests, 2);
        assert_eq!(d.window_seconds, 60.0);
        assert_eq!(d.label_overflows, 0);
    }
}

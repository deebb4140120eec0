//! [`Dashboard`]: the JSON summary the monitoring service serves at `/dashboard`, computed
//! from the recorder's percentile windows and event counters.

use std::{
    collections::BTreeMap,
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use super::{
    percentiles::Percentiles,
    series::{EventCounters, Family, FamilyKind, RouteEntry, CATEGORIES},
};

/// The JSON `/dashboard` shape: per-route traffic over the percentile window, and what the
/// guard layers did since start.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
pub struct SecurityStats {
    /// Requests refused by a rate-limit policy.
    pub rate_limited: u64,
    /// Requests a shadow-mode policy would have refused.
    pub rate_limited_shadow: u64,
    /// Requests blocked by the injection layer, by category.
    pub injection_blocked: BTreeMap<String, u64>,
    /// Detections the injection layer let through (monitor mode), by category.
    pub injection_detected_not_blocked: BTreeMap<String, u64>,
    /// Requests refused for naming an untrusted host.
    pub untrusted_hosts: u64,
    /// Backend failures reported by a guard layer.
    pub backend_errors: u64,
}

impl Dashboard {
    /// The dashboard of the window (of length `window`) ending at `now`.
    pub(super) fn compute(
        families: [&Family; 2],
        events: &EventCounters,
        window: Duration,
        now: Instant,
    ) -> Self {
        let secs = window.as_secs_f64();
        let mut routes = Vec::new();
        for family in families {
            let mut entries: Vec<Arc<RouteEntry>> =
                family.routes.read().values().cloned().collect();
            entries.push(family.unmatched.clone());
            entries.push(family.overflow_route.clone());
            for entry in entries {
                let (requests, errors) = entry.window.counts_at(now);
                if requests == 0 {
                    continue;
                }
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
                    latency_seconds: entry.window.percentiles_at(now),
                });
            }
        }
        routes.sort_by(|a, b| (a.protocol, &a.route).cmp(&(b.protocol, &b.route)));
        let by_category = |counters: &[std::sync::atomic::AtomicU64; CATEGORIES.len()]| {
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
                rate_limited: events.rate_limited.load(Ordering::Relaxed),
                rate_limited_shadow: events.rate_limited_shadow.load(Ordering::Relaxed),
                injection_blocked: by_category(&events.injection_blocked),
                injection_detected_not_blocked: by_category(&events.injection_detected),
                untrusted_hosts: events.untrusted_host.load(Ordering::Relaxed),
                backend_errors: events.backend_error.load(Ordering::Relaxed),
            },
            label_overflows: families
                .iter()
                .map(|f| f.overflowed.load(Ordering::Relaxed))
                .sum(),
        }
    }
}

//! Exposition: [`ExpositionFormat`], and the collector that encodes the recorder's series
//! into a `prometheus-client` [`Registry`](prometheus_client::registry::Registry) at
//! scrape time, so a user's own metrics in the same registry come out in the same text.

use std::{borrow::Cow, fmt, sync::atomic::Ordering, sync::Arc};

use http::HeaderValue;
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{counter::ConstCounter, MetricType},
    registry::Unit,
};

use super::{
    recorder::Recorder,
    series::{
        AtomicHistogram, Family, FamilyKind, RouteEntry, Series, SeriesKey, BODY_SIZE_BUCKETS,
        CATEGORIES, METHODS, SCHEMES,
    },
};
use crate::event::EventKind;

/// Encodes the recorder's series into a `prometheus-client` registry.
#[derive(Debug)]
pub(super) struct RecorderCollector(pub(super) Arc<Recorder>);

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
        let event = |kind: EventKind, mode: &'static str| -> Labels {
            vec![
                ("event", Cow::Borrowed(kind.as_str())),
                ("mode", Cow::Borrowed(mode)),
            ]
        };
        let mut events: Vec<(Labels, u64)> = vec![
            (
                event(EventKind::RateLimited, "enforced"),
                e.rate_limited.load(Ordering::Relaxed),
            ),
            (
                event(EventKind::RateLimited, "shadow"),
                e.rate_limited_shadow.load(Ordering::Relaxed),
            ),
            (
                event(EventKind::UntrustedHost, "enforced"),
                e.untrusted_host.load(Ordering::Relaxed),
            ),
            (
                event(EventKind::BackendError, "enforced"),
                e.backend_error.load(Ordering::Relaxed),
            ),
        ];
        for (c, (blocked, detected)) in CATEGORIES
            .iter()
            .zip(e.injection_blocked.iter().zip(e.injection_detected.iter()))
        {
            for (mode, n) in [("enforced", blocked), ("monitor", detected)] {
                let mut labels = event(EventKind::InjectionDetected, mode);
                labels.push(("category", Cow::Borrowed(c.as_str())));
                events.push((labels, n.load(Ordering::Relaxed)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_picks_openmetrics_unless_refused() {
        let pick =
            |v: &'static str| ExpositionFormat::from_accept(Some(&HeaderValue::from_static(v)));
        assert_eq!(
            pick("application/openmetrics-text; version=1.0.0"),
            ExpositionFormat::OpenMetrics
        );
        assert_eq!(
            pick("text/plain, application/openmetrics-text;q=0"),
            ExpositionFormat::Prometheus
        );
        assert_eq!(pick("*/*"), ExpositionFormat::Prometheus);
        assert_eq!(
            ExpositionFormat::from_accept(None),
            ExpositionFormat::Prometheus
        );
    }

    #[test]
    fn labels_follow_the_otel_names() {
        use super::super::series::{Failure, Outcome};
        let key = SeriesKey::new(0, 1, Some(429), Outcome::RateLimited, Failure::None);
        let labels = RecorderCollector::http_labels("/users/{id}", key);
        let names: Vec<&str> = labels.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "http_request_method",
                "http_route",
                "http_response_status_code",
                "url_scheme",
                "outcome"
            ]
        );
        assert_eq!(labels[4].1, crate::event::REFUSED_RATE_LIMITED);
        let key = SeriesKey::new(0, 0, Some(14), Outcome::None, Failure::Status);
        let labels = RecorderCollector::grpc_labels("pkg.Svc/Call", key);
        assert_eq!(labels[0], ("rpc_system", Cow::Borrowed("grpc")));
        assert_eq!(labels[3], ("error_type", Cow::Borrowed("14")));
    }
}

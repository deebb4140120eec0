//! Cost of `Notifier::notify`, throughput to a null sink and notify-to-delivery latency,
//! side by side with the hand-rolled alternative a user would write instead: a bounded
//! `tokio::sync::mpsc` channel with a consumer task that batches.
//!
//! Run with `cargo bench --bench notify -- --warm-up-time 1 --measurement-time 3`.

// `criterion_group!` generates an undocumented function.
#![allow(missing_docs)]

use std::{
    hint::black_box,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tokio::runtime::Runtime;
use tower_fortify::{
    event::EventKind,
    notify::{Batch, Kind, Notification, Notifier, Priority, Sink, SinkError, SinkFuture},
};

/// Accepts everything and counts it.
#[derive(Clone, Default)]
struct NullSink {
    delivered: Arc<AtomicU64>,
}

impl Sink for NullSink {
    fn send<'a>(&'a self, batch: &'a Batch) -> SinkFuture<'a> {
        self.delivered
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        Box::pin(std::future::ready(Ok::<(), SinkError>(())))
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn notification() -> Notification {
    Notification::new(
        Kind::from(EventKind::RateLimited),
        Priority::Normal,
        "Rate limit exceeded",
    )
}

/// The hand-rolled peer: a bounded mpsc channel and a consumer batching by 10.
fn mpsc_peer(
    rt: &Runtime,
    capacity: usize,
) -> (tokio::sync::mpsc::Sender<Notification>, Arc<AtomicU64>) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Notification>(capacity);
    let delivered = Arc::new(AtomicU64::new(0));
    let counter = delivered.clone();
    rt.spawn(async move {
        let mut batch = Vec::with_capacity(10);
        while rx.recv_many(&mut batch, 10).await > 0 {
            counter.fetch_add(batch.len() as u64, Ordering::Relaxed);
            black_box(&batch);
            batch.clear();
        }
    });
    (tx, delivered)
}

fn submit(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("notify/submit");
    group.throughput(Throughput::Elements(1));

    let null = NullSink::default();
    let notifier = {
        let _guard = rt.enter();
        Notifier::builder()
            .max_items(1_000)
            .max_latency(Duration::from_millis(1))
            .queue_capacity(1 << 20)
            .sink("null", null)
            .build()
            .unwrap()
    };
    group.bench_function("tower_fortify_notify", |b| {
        b.iter(|| black_box(notifier.notify(notification())))
    });

    let (tx, _) = mpsc_peer(&rt, 1 << 20);
    group.bench_function("mpsc_try_send", |b| {
        b.iter(|| black_box(tx.try_send(notification()).is_ok()))
    });

    // The same two with the notification built beforehand (cloned), to isolate the
    // cost of the call from the cost of building a notification.
    let proto = notification();
    group.bench_function("tower_fortify_notify_prebuilt", |b| {
        b.iter(|| black_box(notifier.notify(proto.clone())))
    });
    group.bench_function("mpsc_try_send_prebuilt", |b| {
        b.iter(|| black_box(tx.try_send(proto.clone()).is_ok()))
    });
    group.bench_function("notification_new_only", |b| {
        b.iter(|| black_box(notification()))
    });
    group.finish();
    rt.block_on(notifier.shutdown(Duration::from_secs(5)));
}

fn throughput(c: &mut Criterion) {
    const N: u64 = 100_000;
    let rt = runtime();
    let mut group = c.benchmark_group("notify/throughput");
    group.throughput(Throughput::Elements(N));
    group.sample_size(10);

    group.bench_function("tower_fortify_null_sink", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let null = NullSink::default();
                let delivered = null.delivered.clone();
                let notifier = {
                    let _guard = rt.enter();
                    Notifier::builder()
                        .queue_capacity(N as usize)
                        .sink("null", null)
                        .build()
                        .unwrap()
                };
                let start = Instant::now();
                for _ in 0..N {
                    notifier.notify(notification());
                }
                while delivered.load(Ordering::Relaxed) < N {
                    std::thread::yield_now();
                }
                total += start.elapsed();
                rt.block_on(notifier.shutdown(Duration::from_secs(5)));
            }
            total
        })
    });

    group.bench_function("mpsc_batching_consumer", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (tx, delivered) = mpsc_peer(&rt, N as usize);
                let start = Instant::now();
                for _ in 0..N {
                    let _ = tx.try_send(notification());
                }
                while delivered.load(Ordering::Relaxed) < N {
                    std::thread::yield_now();
                }
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

/// Records notify-to-delivery latency from a field stamped at submission.
#[derive(Clone)]
struct LatencySink {
    base: Instant,
    samples: Arc<Mutex<Vec<Duration>>>,
}

impl Sink for LatencySink {
    fn send<'a>(&'a self, batch: &'a Batch) -> SinkFuture<'a> {
        let now = self.base.elapsed();
        let mut samples = self.samples.lock().unwrap();
        for n in batch.notifications() {
            let sent = n.fields()["t_ns"].as_u64().unwrap_or(0);
            samples.push(now.saturating_sub(Duration::from_nanos(sent)));
        }
        Box::pin(std::future::ready(Ok::<(), SinkError>(())))
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Not a criterion measurement: percentiles of the delivery latency, printed.
fn latency(_c: &mut Criterion) {
    let rt = runtime();
    for (label, priority, max_latency) in [
        (
            "critical (sent at once)",
            Priority::Critical,
            Duration::from_millis(100),
        ),
        (
            "normal, max_latency 1 ms",
            Priority::Normal,
            Duration::from_millis(1),
        ),
        (
            "normal, max_latency 100 ms",
            Priority::Normal,
            Duration::from_millis(100),
        ),
    ] {
        let sink = LatencySink {
            base: Instant::now(),
            samples: Arc::default(),
        };
        let notifier = {
            let _guard = rt.enter();
            Notifier::builder()
                .max_latency(max_latency)
                .sink("latency", sink.clone())
                .build()
                .unwrap()
        };
        let rounds = if max_latency >= Duration::from_millis(100) && priority != Priority::Critical
        {
            50
        } else {
            1_000
        };
        for _ in 0..rounds {
            // One at a time: each item is alone in its batch, the worst case for latency.
            let expected = sink.samples.lock().unwrap().len() + 1;
            let t = sink.base.elapsed().as_nanos() as u64;
            notifier.notify(
                Notification::new(Kind::custom("probe"), priority, "probe").field("t_ns", t),
            );
            while sink.samples.lock().unwrap().len() < expected {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        rt.block_on(notifier.shutdown(Duration::from_secs(5)));
        let mut samples = sink.samples.lock().unwrap().clone();
        samples.sort();
        println!(
            "notify/latency {label}: p50 {:?}, p99 {:?}, max {:?} over {} items",
            percentile(&samples, 0.50),
            percentile(&samples, 0.99),
            samples[samples.len() - 1],
            samples.len()
        );
    }
}

/// What `NotifyLayer` adds to a request with nothing to report (the common case), against
/// the bare service.
fn layer(c: &mut Criterion) {
    use http::{Request, Response};
    use tower::{Layer, Service, ServiceExt};
    use tower_fortify::notify::NotifyLayer;

    let rt = runtime();
    let notifier = {
        let _guard = rt.enter();
        Notifier::builder()
            .sink("null", NullSink::default())
            .build()
            .unwrap()
    };
    let bare = tower::service_fn(|_req: Request<()>| async {
        Ok::<_, std::convert::Infallible>(Response::new(()))
    });
    let layered = NotifyLayer::builder(&notifier)
        .slow_requests(Duration::from_secs(1))
        .build()
        .unwrap()
        .layer(bare);
    let mut group = c.benchmark_group("notify/layer");
    group.bench_function("bare_service", |b| {
        b.to_async(&rt).iter(|| {
            let mut svc = bare;
            async move {
                svc.ready()
                    .await
                    .unwrap()
                    .call(Request::new(()))
                    .await
                    .unwrap()
            }
        })
    });
    group.bench_function("notify_layer_nothing_to_report", |b| {
        b.to_async(&rt).iter(|| {
            let mut svc = layered.clone();
            async move {
                svc.ready()
                    .await
                    .unwrap()
                    .call(Request::new(()))
                    .await
                    .unwrap()
            }
        })
    });
    group.finish();
    drop(layered);
    rt.block_on(notifier.shutdown(Duration::from_secs(5)));
}

criterion_group!(benches, submit, throughput, layer, latency);
criterion_main!(benches);

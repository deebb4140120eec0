//! Percentile accuracy of `PercentileWindow` against the exact quantiles of known samples.
#![cfg(feature = "metrics")]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tower_fortify::metrics::{PercentileWindow, RELATIVE_ACCURACY};

/// xorshift64*: a fixed, reproducible sequence.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The value of rank `floor(q * (n - 1))` in sorted order: the definition the window uses.
fn exact(sorted: &[u64], q: f64) -> f64 {
    sorted[(q * (sorted.len() - 1) as f64).floor() as usize] as f64 / 1e9
}

fn check(name: &str, samples: &[u64]) {
    let window = PercentileWindow::new(Duration::from_secs(60), 6).unwrap();
    let now = Instant::now();
    for ns in samples {
        window.record_at(now, Duration::from_nanos(*ns), false);
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let p = window.percentiles_at(now);
    assert_eq!(p.count, samples.len() as u64, "{name}");
    for (q, got) in [(0.50, p.p50), (0.95, p.p95), (0.99, p.p99)] {
        let want = exact(&sorted, q);
        let err = (got - want).abs() / want;
        assert!(
            err <= RELATIVE_ACCURACY + 1e-9,
            "{name}: q{q} estimated {got}, exact {want}, relative error {err}"
        );
    }
    assert_eq!(
        p.max,
        *sorted.last().unwrap() as f64 / 1e9,
        "{name}: max is exact"
    );
}

#[test]
fn log_uniform_latencies_from_100us_to_10s() {
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let samples: Vec<u64> = (0..100_000)
        .map(|_| (1e5 * 10f64.powf(5.0 * rng.next_f64())) as u64)
        .collect();
    check("log-uniform", &samples);
}

#[test]
fn bimodal_latencies_fast_cache_and_slow_database() {
    let mut rng = Rng(42);
    let samples: Vec<u64> = (0..50_000)
        .map(|i| {
            let jitter = 1.0 + rng.next_f64();
            if i % 10 == 0 {
                (250e6 * jitter) as u64 // 250-500 ms
            } else {
                (800e3 * jitter) as u64 // 0.8-1.6 ms
            }
        })
        .collect();
    check("bimodal", &samples);
}

#[test]
fn a_single_value_and_tiny_samples() {
    check("single", &[1_234_567]);
    check("three", &[5_000, 7_000_000, 9_000_000_000]);
}

#[test]
fn concurrent_recording_loses_nothing_within_a_slot() {
    let window = Arc::new(PercentileWindow::new(Duration::from_secs(3600), 6).unwrap());
    let now = Instant::now();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let w = window.clone();
            std::thread::spawn(move || {
                for i in 0..10_000u64 {
                    w.record_at(
                        now,
                        Duration::from_micros(100 + (i * 7 + t) % 5000),
                        i % 100 == 0,
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(window.counts_at(now), (40_000, 400));
    assert_eq!(window.percentiles_at(now).count, 40_000);
}

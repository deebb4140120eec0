//! Criterion benches of the injection layer and of per-value SQLi detection, side by
//! side with a bare service and with `libinjectionrs` in the same run.
//!
//! Every layer figure rotates over 512 distinct requests of its kind (generated with a
//! fixed seed by `benches/support/requests.rs`, shared with `benches/stack.rs`).
//!
//! Run with `nice cargo bench --bench injection`.

use std::{cell::Cell, convert::Infallible};

use bytes::Bytes;
use criterion::{criterion_main, BatchSize, Criterion};
use http::{Request, Response};
use http_body_util::Full;
use tower::{service_fn, Layer, Service, ServiceExt};
use tower_fortify::injection::{detect_sqli, InjectionLayer};

#[path = "support/requests.rs"]
mod requests;

use requests::Fixture;

/// Each iteration takes the next fixture, so every figure is an average over
/// [`requests::DISTINCT`] distinct requests.
fn next<'a>(set: &'a [Fixture], i: &Cell<usize>) -> &'a Fixture {
    let k = i.get();
    i.set(k + 1);
    &set[k % set.len()]
}

fn layer_benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let inner = service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    });
    let layer = InjectionLayer::builder().build().unwrap();
    let sets = [
        ("simple_get", requests::simple_gets()),
        ("get_10_params", requests::gets_10_params()),
        ("post_json_4k", requests::json_posts_4k()),
    ];
    let mut group = c.benchmark_group("injection_layer");
    for (name, set) in &sets {
        let i = Cell::new(0);
        group.bench_function(format!("{name}/bare_service"), |b| {
            let mut svc = inner;
            b.iter_batched(
                || next(set, &i).request::<Full<Bytes>>(),
                |req| rt.block_on(async { svc.ready().await.unwrap().call(req).await.unwrap() }),
                BatchSize::SmallInput,
            )
        });
        let i = Cell::new(0);
        group.bench_function(format!("{name}/injection_layer"), |b| {
            let mut svc = layer.layer(service_fn(|_req: Request<_>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
            }));
            b.iter_batched(
                || next(set, &i).request::<Full<Bytes>>(),
                |req| rt.block_on(async { svc.ready().await.unwrap().call(req).await.unwrap() }),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// Benign values, including libinjection's documented false positives.
const BENIGN: &[&str] = &[
    "blue running shoes",
    "O'Brien",
    "2104 GRANT AVE #A",
    "Yahoo! (Y!)",
    "cos(accckt)",
    "ann@example.com",
    "2024-01-01",
    "Leave it with the neighbour, thanks!",
    "It's 5 o'clock",
    "rock 'n' roll",
];

/// SQL injections, including forms libinjection is documented to miss.
const ATTACKS: &[&str] = &[
    "1' OR '1'='1",
    "1 UNION SELECT username, password FROM users--",
    "admin'--",
    "1; DROP TABLE users",
    "1 AND SLEEP(5)",
    "' or 1=1#",
    "1; SHOW WARNINGS;",
    "1 INTO OUTFILE '/tmp/x'",
    "[1' or '1'='1]",
    "x' AND extractvalue(1,concat(0x7e,version()))--",
    "1' ORDER BY 3--+",
    "'; exec xp_cmdshell('dir')--",
    "1 RLIKE (SELECT 1)",
    "1/*!50000UNION*/SELECT 1,2",
    "'||(SELECT pg_sleep(5))||'",
    "1 AND 1=1",
];

fn sqli_benches(c: &mut Criterion) {
    let values: Vec<&str> = BENIGN.iter().chain(ATTACKS).copied().collect();
    let mut group = c.benchmark_group("sqli_per_value");
    group.bench_function("tower_fortify_detect_sqli", |b| {
        b.iter(|| {
            values
                .iter()
                .filter(|v| detect_sqli(std::hint::black_box(v)).is_some())
                .count()
        })
    });
    group.bench_function("libinjectionrs_detect_sqli", |b| {
        b.iter(|| {
            values
                .iter()
                .filter(|v| {
                    libinjectionrs::detect_sqli(std::hint::black_box(v.as_bytes())).is_injection()
                })
                .count()
        })
    });
    // The values of the request fixtures: query values (decoded), user agents, referers
    // and cookie values, as a WAF meets them.
    let mut realistic: Vec<String> = Vec::new();
    for f in requests::simple_gets()
        .iter()
        .chain(&requests::gets_10_params())
        .take(400)
    {
        if let Some(q) = f.uri.split_once('?').map(|(_, q)| q) {
            for pair in q.split('&') {
                let v = pair
                    .split_once('=')
                    .map_or(pair, |(_, v)| v)
                    .replace('+', " ");
                realistic.push(
                    percent_encoding::percent_decode_str(&v)
                        .decode_utf8_lossy()
                        .into_owned(),
                );
            }
        }
        for h in ["user-agent", "referer"] {
            if let Some(v) = f.headers.get(h).and_then(|v| v.to_str().ok()) {
                realistic.push(v.to_owned());
            }
        }
        if let Some(c) = f.headers.get("cookie").and_then(|v| v.to_str().ok()) {
            realistic.extend(
                c.split("; ")
                    .filter_map(|p| p.split_once('='))
                    .map(|(_, v)| v.to_owned()),
            );
        }
    }
    group.bench_function("realistic_values/tower_fortify_detect_sqli", |b| {
        b.iter(|| {
            realistic
                .iter()
                .filter(|v| detect_sqli(std::hint::black_box(v)).is_some())
                .count()
        })
    });
    group.bench_function("realistic_values/libinjectionrs_detect_sqli", |b| {
        b.iter(|| {
            realistic
                .iter()
                .filter(|v| {
                    libinjectionrs::detect_sqli(std::hint::black_box(v.as_bytes())).is_injection()
                })
                .count()
        })
    });
    group.finish();
    println!("realistic values per iteration: {}", realistic.len());
    let ours = |set: &[&str]| set.iter().filter(|v| detect_sqli(v).is_some()).count();
    let theirs = |set: &[&str]| {
        set.iter()
            .filter(|v| libinjectionrs::detect_sqli(v.as_bytes()).is_injection())
            .count()
    };
    println!(
        "attacks flagged: tower-fortify {}/{n}, libinjectionrs {}/{n}; benign flagged: tower-fortify {}/{m}, libinjectionrs {}/{m}",
        ours(ATTACKS),
        theirs(ATTACKS),
        ours(BENIGN),
        theirs(BENIGN),
        n = ATTACKS.len(),
        m = BENIGN.len(),
    );
}
/// The bench group (its generated function carries no docs of its own).
#[allow(missing_docs)]
mod group {
    use super::{layer_benches, sqli_benches};
    criterion::criterion_group!(benches, layer_benches, sqli_benches);
}

criterion_main!(group::benches);

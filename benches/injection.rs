//! Criterion benches of the injection layer and of per-value SQLi detection, side by
//! side with a bare service and with `libinjectionrs` in the same run.
//!
//! Run with `cargo bench --bench injection -- --warm-up-time 1 --measurement-time 3`.

use std::convert::Infallible;

use bytes::Bytes;
use criterion::{criterion_main, BatchSize, Criterion};
use http::{Request, Response};
use http_body_util::Full;
use tower::{service_fn, Layer, Service, ServiceExt};
use tower_fortify::injection::{detect_sqli, InjectionLayer};

const GET: &str = "/products?category=shoes&min_price=10&max_price=250&color=SlateBlue&brand=Vogt+%26+Sons&in_stock=true&from=2024-01-01&to=2024-12-31&page=3&sort=price_asc";

fn json_4k() -> String {
    let mut items = Vec::new();
    let mut i = 0;
    loop {
        items.push(format!(
            r#"{{"sku": "QW-{i:04}", "qty": {q}, "price": 19.99, "note": "Leave it with the neighbour at number {i}, thanks!"}}"#,
            q = i % 5 + 1
        ));
        let s = format!(
            r#"{{"customer": {{"name": "Ann O'Neil", "email": "ann@example.com"}}, "items": [{}]}}"#,
            items.join(", ")
        );
        if s.len() >= 4096 {
            return s;
        }
        i += 1;
    }
}

fn request(uri: &str, body: &Bytes, json: bool) -> Request<Full<Bytes>> {
    let mut b = Request::builder()
        .method(if json { "POST" } else { "GET" })
        .uri(uri)
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
        )
        .header(
            "cookie",
            "session=294c6e9490febd971c0ee0bbbcae6f50; theme=light",
        )
        .header("referer", "https://shop.example.com/search?q=shoes");
    if json {
        b = b.header("content-type", "application/json");
    }
    b.body(Full::new(body.clone())).unwrap()
}

fn layer_benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let json = Bytes::from(json_4k());
    let empty = Bytes::new();
    let inner = service_fn(|_req: Request<_>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    });
    let layer = InjectionLayer::builder().build().unwrap();
    let mut group = c.benchmark_group("injection_layer");
    for (name, uri, body, is_json) in [
        ("get_10_params", GET, &empty, false),
        ("post_json_4k", "/api/v1/orders", &json, true),
    ] {
        group.bench_function(format!("{name}/bare_service"), |b| {
            let mut svc = inner;
            b.iter_batched(
                || request(uri, body, is_json),
                |req| rt.block_on(async { svc.ready().await.unwrap().call(req).await.unwrap() }),
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("{name}/injection_layer"), |b| {
            let mut svc = layer.layer(service_fn(|_req: Request<_>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
            }));
            b.iter_batched(
                || request(uri, body, is_json),
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
    group.finish();
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

//! Measures the injection layer on request corpora in JSON Lines.
//!
//! Run with
//!
//! ```text
//! cargo run --release --example injection_eval -- ../shared/corpus/crs-requests.jsonl ../shared/corpus/benign-requests.jsonl
//! cargo run --release --example injection_eval -- --jsonl my-requests.jsonl
//! ```
//!
//! Each line is one request: `{"id", "family", "paranoia", "method", "uri", "headers",
//! "body", "expect"}` (`expect` is `attack` or `benign`; `family` and `paranoia` are
//! optional for your own logs). Every request is sent through the layer itself, built
//! with each profile, in front of a service that records whether it was reached. A
//! request target the `http` crate refuses is sent with the offending bytes
//! percent-encoded, as a client library would, and counted.
//!
//! The table shows, per profile and family, the attack cases by paranoia level and the
//! share blocked, the benign cases and the share blocked, and the throughput. With
//! `--jsonl`, one JSON object per case and profile is printed instead.

use std::{
    collections::BTreeMap,
    convert::Infallible,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Instant,
};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, Uri};
use http_body_util::{BodyExt, Full};
use tower::{service_fn, Layer, Service, ServiceExt};
use tower_fortify::{
    event::{SecurityEvent, SecurityEvents},
    injection::{InjectionLayer, InspectedBody, Profile},
};

#[derive(serde::Deserialize)]
struct Case {
    #[serde(default)]
    id: String,
    #[serde(default = "unknown")]
    family: String,
    #[serde(default)]
    paranoia: u8,
    #[serde(default = "get")]
    method: String,
    uri: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: String,
    #[serde(default = "benign")]
    expect: String,
}

fn unknown() -> String {
    "unknown".into()
}
fn get() -> String {
    "GET".into()
}
fn benign() -> String {
    "benign".into()
}

/// Percent-encodes every byte the `http` crate refuses in a request target.
fn encode_target(uri: &str) -> String {
    let mut out = String::with_capacity(uri.len());
    for b in uri.bytes() {
        let ok = b.is_ascii_graphic()
            && !matches!(
                b,
                b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
            );
        if ok {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

struct Built {
    request: Request<Full<Bytes>>,
    reencoded: bool,
}

fn build(case: &Case) -> Option<Built> {
    let (uri, reencoded) = match case.uri.parse::<Uri>() {
        Ok(u) => (u, false),
        Err(_) => (encode_target(&case.uri).parse::<Uri>().ok()?, true),
    };
    let mut req = Request::builder()
        .method(case.method.as_str())
        .uri(uri)
        .body(Full::new(Bytes::from(case.body.clone())))
        .ok()?;
    for (k, v) in &case.headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_bytes(v.as_bytes()),
        ) else {
            continue;
        };
        req.headers_mut().append(name, value);
    }
    Some(Built {
        request: req,
        reencoded,
    })
}

#[derive(Default)]
struct Row {
    attacks: BTreeMap<u8, (usize, usize)>,
    benign: (usize, usize),
}

fn pct(n: usize, d: usize) -> String {
    if d == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * n as f64 / d as f64)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut jsonl = false;
    let mut files = Vec::new();
    for arg in std::env::args().skip(1) {
        if arg == "--jsonl" {
            jsonl = true;
        } else {
            files.push(arg);
        }
    }
    if files.is_empty() {
        eprintln!("usage: injection_eval [--jsonl] FILE.jsonl...");
        std::process::exit(2);
    }
    let mut cases = Vec::new();
    let mut unreadable = 0usize;
    for f in &files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<Case>(line) {
                Ok(c) => cases.push(c),
                Err(_) => unreadable += 1,
            }
        }
    }

    for profile in [Profile::Balanced, Profile::Strict] {
        let layer = InjectionLayer::builder().profile(profile).build()?;
        let reached = Arc::new(AtomicBool::new(false));
        let flag = reached.clone();
        let mut svc = layer.layer(service_fn(
            move |req: Request<InspectedBody<Full<Bytes>>>| {
                let flag = flag.clone();
                async move {
                    // Read the body as an application would.
                    let _ = req.into_body().collect().await;
                    flag.store(true, Ordering::Relaxed);
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
                }
            },
        ));
        let mut rows: BTreeMap<String, Row> = BTreeMap::new();
        let mut reencoded = 0usize;
        let mut unbuildable = 0usize;
        let started = Instant::now();
        let mut sent = 0usize;
        for case in &cases {
            let Some(built) = build(case) else {
                unbuildable += 1;
                continue;
            };
            reencoded += usize::from(built.reencoded);
            reached.store(false, Ordering::Relaxed);
            let res = svc.ready().await?.call(built.request).await?;
            sent += 1;
            let blocked = !reached.load(Ordering::Relaxed);
            let mut categories: Vec<&str> = Vec::new();
            let mut rules: Vec<String> = Vec::new();
            if let Some(events) = res.extensions().get::<SecurityEvents>() {
                for e in events {
                    if let SecurityEvent::InjectionDetected {
                        category,
                        rule,
                        location,
                        ..
                    } = e
                    {
                        if !categories.contains(&category.as_str()) {
                            categories.push(category.as_str());
                        }
                        rules.push(format!("{rule}@{location}"));
                    }
                }
            }
            if jsonl {
                println!(
                    "{}",
                    serde_json::json!({"id": case.id, "profile": profile.as_str(), "blocked": blocked, "categories": categories, "rules": rules})
                );
            }
            let row = rows.entry(case.family.clone()).or_default();
            let slot = if case.expect == "attack" {
                row.attacks.entry(case.paranoia).or_default()
            } else {
                &mut row.benign
            };
            slot.0 += usize::from(blocked);
            slot.1 += 1;
        }
        let elapsed = started.elapsed();
        if jsonl {
            continue;
        }
        println!("\nprofile: {}", profile.as_str());
        println!("| family | PL1 attacks | PL2 attacks | PL3+ attacks | benign cases blocked |");
        println!("|---|---|---|---|---|");
        let mut total_pl12 = (0, 0);
        for (family, row) in &rows {
            let cell = |lo: u8, hi: u8| {
                let (b, n) = row
                    .attacks
                    .iter()
                    .filter(|(p, _)| (lo..=hi).contains(*p))
                    .fold((0, 0), |acc, (_, (b, n))| (acc.0 + b, acc.1 + n));
                if n == 0 {
                    "-".to_owned()
                } else {
                    format!("{b}/{n} ({})", pct(b, n))
                }
            };
            for (p, (b, n)) in &row.attacks {
                if (1..=2).contains(p) {
                    total_pl12.0 += b;
                    total_pl12.1 += n;
                }
            }
            let benign = if row.benign.1 == 0 {
                "-".to_owned()
            } else {
                format!(
                    "{}/{} ({})",
                    row.benign.0,
                    row.benign.1,
                    pct(row.benign.0, row.benign.1)
                )
            };
            println!(
                "| {family} | {} | {} | {} | {benign} |",
                cell(0, 1),
                cell(2, 2),
                cell(3, 9)
            );
        }
        println!(
            "PL1+PL2 attacks blocked: {}/{} ({}); {} requests in {:.2?} ({:.0} requests/s); {} targets re-encoded, {} not buildable, {} lines unreadable",
            total_pl12.0,
            total_pl12.1,
            pct(total_pl12.0, total_pl12.1),
            sent,
            elapsed,
            sent as f64 / elapsed.as_secs_f64(),
            reencoded,
            unbuildable,
            unreadable
        );
    }
    Ok(())
}

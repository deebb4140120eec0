//! Measures the injection layer on request corpora in JSON Lines, and gates on goals.
//!
//! Run with
//!
//! ```text
//! cargo run --release --example injection_eval -- ../shared/corpus/crs-requests.jsonl ../shared/corpus/benign-requests.jsonl
//! cargo run --release --example injection_eval -- --part validation ../shared/corpus/crs-requests.jsonl
//! cargo run --release --example injection_eval -- --min-recall 90 --min-recall sqli=95 --max-fp 0.05 FILES...
//! cargo run --release --example injection_eval -- --jsonl my-requests.jsonl
//! ```
//!
//! Each line is one request: `{"id", "family", "paranoia", "method", "uri", "headers",
//! "body" or "body_base64", "expect"}` (`expect` is `attack` or `benign`; `family` and
//! `paranoia` are optional for your own logs). Every request is sent through the layer
//! itself, built with each profile, in front of a service that records whether it was
//! reached. A request target the `http` crate refuses is sent with the offending bytes
//! percent-encoded, as a client library would, and counted.
//!
//! **The split.** Each case belongs to the *tuning* or the *validation* part by a hash of
//! its id: FNV-1a 64 of the id's UTF-8 bytes, `% 10 < 3` is validation (about 30%). No
//! salt and no dependence on line order, so a case keeps its part for ever. Rules are tuned
//! on the tuning part only; the validation part is a measurement. `--part` selects the
//! cases counted (default `all`); the table always shows the tuning and validation figures
//! side by side, with a Wilson 95% interval where a cell has fewer than 100 cases (and
//! always for validation).
//!
//! **Thresholds** (exit status 1 when one fails, each failure printed on stderr), over the
//! cases `--part` selects:
//! - `--min-recall PCT`: every family's paranoia-1 attacks, `balanced`;
//!   `--min-recall FAMILY=PCT` for one family (overrides the general figure);
//! - `--max-fp PCT`: share of benign traffic blocked under `balanced`;
//! - `--strict-min-recall PCT`: paranoia-1 and -2 attacks of all families together under
//!   `strict`; `--strict-max-fp PCT`: benign traffic blocked under `strict`.
//!
//! **Benign traffic and rule negatives.** A benign case with a `rule_id` is a CRS rule's
//! negative test: a request that *one* rule must not fire on, often still an attack-like
//! string to other rules (the corpus README calls them a second opinion, not ground truth).
//! Those are counted apart, in the "rule negatives" column, and no threshold reads them;
//! `--max-fp` and `--strict-max-fp` read benign traffic only (no `rule_id`: generated
//! traffic, the real-world suite, prose, passwords), whose false positives are real ones.
//!
//! `--profile balanced|strict` runs one profile only (default both). With `--jsonl`, one
//! JSON object per case and profile is printed instead of the table.

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
    /// The CRS rule a case was written for; 0 where none applies (benign traffic).
    #[serde(default)]
    rule_id: u64,
    #[serde(default = "get")]
    method: String,
    uri: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    body_base64: Option<String>,
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

/// FNV-1a 64 (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`).
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The part a case id belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Tuning,
    Validation,
}

fn part_of(id: &str) -> Part {
    if fnv1a64(id.as_bytes()) % 10 < 3 {
        Part::Validation
    } else {
        Part::Tuning
    }
}

/// Standard base64 (padding optional); `None` on a byte outside the alphabet.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
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
    let body = match &case.body_base64 {
        Some(b64) => Bytes::from(decode_base64(b64)?),
        None => Bytes::from(case.body.clone()),
    };
    let mut req = Request::builder()
        .method(case.method.as_str())
        .uri(uri)
        .body(Full::new(body))
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

/// Blocked / total.
type Count = (usize, usize);

fn add(a: &mut Count, blocked: bool) {
    a.0 += usize::from(blocked);
    a.1 += 1;
}

#[derive(Default, Clone)]
struct Row {
    /// Per part (tuning, validation), per paranoia level.
    attacks: [BTreeMap<u8, Count>; 2],
    /// Benign traffic (`expect: benign`, no `rule_id`): real false positives.
    benign: [Count; 2],
    /// A CRS rule's negative cases (`expect: benign` with a `rule_id`): requests that one
    /// rule must not fire on, some still suspicious to other rules; a second opinion only.
    negatives: [Count; 2],
}

impl Row {
    fn attacks(&self, parts: &[usize], lo: u8, hi: u8) -> Count {
        parts
            .iter()
            .flat_map(|p| self.attacks[*p].iter())
            .filter(|(pl, _)| (lo..=hi).contains(*pl))
            .fold((0, 0), |acc, (_, (b, n))| (acc.0 + b, acc.1 + n))
    }
    fn benign(&self, parts: &[usize]) -> Count {
        sum(&self.benign, parts)
    }
    fn negatives(&self, parts: &[usize]) -> Count {
        sum(&self.negatives, parts)
    }
}

fn sum(counts: &[Count; 2], parts: &[usize]) -> Count {
    parts.iter().fold((0, 0), |acc, p| {
        (acc.0 + counts[*p].0, acc.1 + counts[*p].1)
    })
}

fn pct(n: usize, d: usize) -> f64 {
    if d == 0 {
        0.0
    } else {
        100.0 * n as f64 / d as f64
    }
}

/// Wilson score interval (95%) in percent.
fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 100.0);
    }
    let z = 1.96f64;
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    (
        100.0 * (centre - half).max(0.0),
        100.0 * (centre + half).min(1.0),
    )
}

/// `b/n (x%)`, with the Wilson interval when `n < 100` or `always`.
fn cell((b, n): Count, always: bool) -> String {
    if n == 0 {
        return "-".into();
    }
    let p = pct(b, n);
    let digits = if p > 0.0 && p < 1.0 { 2 } else { 1 };
    if n < 100 || always {
        let (lo, hi) = wilson(b, n);
        format!("{b}/{n} ({p:.digits$}% [{lo:.1}, {hi:.1}])")
    } else {
        format!("{b}/{n} ({p:.digits$}%)")
    }
}

struct Args {
    jsonl: bool,
    parts: Vec<usize>,
    profiles: Vec<Profile>,
    min_recall: Option<f64>,
    family_recall: BTreeMap<String, f64>,
    max_fp: Option<f64>,
    strict_min_recall: Option<f64>,
    strict_max_fp: Option<f64>,
    files: Vec<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: injection_eval [--jsonl] [--part tuning|validation|all] [--profile balanced|strict] \
         [--min-recall PCT|FAMILY=PCT]... [--max-fp PCT] [--strict-min-recall PCT] [--strict-max-fp PCT] FILE.jsonl..."
    );
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut a = Args {
        jsonl: false,
        parts: vec![0, 1],
        profiles: vec![Profile::Balanced, Profile::Strict],
        min_recall: None,
        family_recall: BTreeMap::new(),
        max_fp: None,
        strict_min_recall: None,
        strict_max_fp: None,
        files: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    let num =
        |v: Option<String>| -> f64 { v.and_then(|s| s.parse().ok()).unwrap_or_else(|| usage()) };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--jsonl" => a.jsonl = true,
            "--part" => {
                a.parts = match it.next().as_deref() {
                    Some("tuning") => vec![0],
                    Some("validation") => vec![1],
                    Some("all") => vec![0, 1],
                    _ => usage(),
                }
            }
            "--profile" => {
                a.profiles = match it.next().as_deref() {
                    Some("balanced") => vec![Profile::Balanced],
                    Some("strict") => vec![Profile::Strict],
                    Some("both") => vec![Profile::Balanced, Profile::Strict],
                    _ => usage(),
                }
            }
            "--min-recall" => {
                let v = it.next().unwrap_or_else(|| usage());
                match v.split_once('=') {
                    Some((fam, p)) => {
                        a.family_recall
                            .insert(fam.to_owned(), num(Some(p.to_owned())));
                    }
                    None => a.min_recall = Some(num(Some(v))),
                }
            }
            "--max-fp" => a.max_fp = Some(num(it.next())),
            "--strict-min-recall" => a.strict_min_recall = Some(num(it.next())),
            "--strict-max-fp" => a.strict_max_fp = Some(num(it.next())),
            s if s.starts_with("--") => usage(),
            _ => a.files.push(arg),
        }
    }
    if a.files.is_empty() {
        usage();
    }
    a
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args();
    let mut cases = Vec::new();
    let mut unreadable = 0usize;
    for f in &args.files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<Case>(line) {
                Ok(c) => cases.push(c),
                Err(_) => unreadable += 1,
            }
        }
    }
    let selected = |c: &Case| {
        let p = part_of(&c.id) as usize;
        args.parts.contains(&p)
    };
    let mut failures: Vec<String> = Vec::new();

    for profile in args.profiles.iter().copied() {
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
        for case in cases.iter().filter(|c| selected(c)) {
            let Some(built) = build(case) else {
                unbuildable += 1;
                continue;
            };
            reencoded += usize::from(built.reencoded);
            reached.store(false, Ordering::Relaxed);
            let res = svc.ready().await?.call(built.request).await?;
            sent += 1;
            let blocked = !reached.load(Ordering::Relaxed);
            if args.jsonl {
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
                let part = match part_of(&case.id) {
                    Part::Tuning => "tuning",
                    Part::Validation => "validation",
                };
                println!(
                    "{}",
                    serde_json::json!({"id": case.id, "part": part, "family": case.family, "paranoia": case.paranoia, "expect": case.expect, "profile": profile.as_str(), "blocked": blocked, "categories": categories, "rules": rules})
                );
            }
            let p = part_of(&case.id) as usize;
            let row = rows.entry(case.family.clone()).or_default();
            if case.expect == "attack" {
                add(
                    row.attacks[p].entry(case.paranoia.max(1)).or_default(),
                    blocked,
                );
            } else if case.rule_id != 0 {
                add(&mut row.negatives[p], blocked);
            } else {
                add(&mut row.benign[p], blocked);
            }
        }
        let elapsed = started.elapsed();
        let all: Vec<usize> = args.parts.clone();
        let total = rows.values().fold(Row::default(), |mut acc, r| {
            for p in 0..2 {
                for (pl, c) in &r.attacks[p] {
                    let e = acc.attacks[p].entry(*pl).or_default();
                    e.0 += c.0;
                    e.1 += c.1;
                }
                acc.benign[p].0 += r.benign[p].0;
                acc.benign[p].1 += r.benign[p].1;
                acc.negatives[p].0 += r.negatives[p].0;
                acc.negatives[p].1 += r.negatives[p].1;
            }
            acc
        });
        if !args.jsonl {
            println!("\nprofile: {}", profile.as_str());
            println!(
                "| family | PL1 tuning | PL1 validation | PL2 tuning | PL2 validation | PL3+ (all) | benign blocked (tuning) | benign blocked (validation) | rule negatives blocked (all) |"
            );
            println!("|---|---|---|---|---|---|---|---|---|");
            for (family, row) in rows.iter().chain([(&"**all**".to_owned(), &total)]) {
                println!(
                    "| {family} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    cell(row.attacks(&[0], 1, 1), false),
                    cell(row.attacks(&[1], 1, 1), true),
                    cell(row.attacks(&[0], 2, 2), false),
                    cell(row.attacks(&[1], 2, 2), true),
                    cell(row.attacks(&all, 3, 9), false),
                    cell(row.benign(&[0]), false),
                    cell(row.benign(&[1]), true),
                    cell(row.negatives(&all), false),
                );
            }
            let pl12 = total.attacks(&all, 1, 2);
            let ben = total.benign(&all);
            println!(
                "selected part(s): {}; PL1 attacks blocked: {}; PL1+PL2 attacks blocked: {}; benign blocked: {}; rule negatives blocked (second opinion): {}; {} requests in {:.2?} ({:.0} requests/s); {} targets re-encoded, {} not buildable, {} lines unreadable",
                match all.as_slice() {
                    [0] => "tuning",
                    [1] => "validation",
                    _ => "all",
                },
                cell(total.attacks(&all, 1, 1), false),
                cell(pl12, false),
                cell(ben, false),
                cell(total.negatives(&all), false),
                sent,
                elapsed,
                sent as f64 / elapsed.as_secs_f64(),
                reencoded,
                unbuildable,
                unreadable
            );
        }
        // Thresholds.
        let mut check = |what: String, got: Count, ok: bool| {
            if !ok {
                failures.push(format!("{what}: {} ", cell(got, false)));
            }
        };
        match profile {
            Profile::Balanced => {
                for (family, row) in &rows {
                    let goal = args.family_recall.get(family).copied().or(args.min_recall);
                    let c = row.attacks(&all, 1, 1);
                    if let (Some(goal), true) = (goal, c.1 > 0) {
                        check(
                            format!("balanced {family} PL1 recall below {goal}%"),
                            c,
                            pct(c.0, c.1) >= goal,
                        );
                    }
                }
                if let Some(goal) = args.max_fp {
                    let c = total.benign(&all);
                    check(
                        format!("balanced benign blocked above {goal}%"),
                        c,
                        pct(c.0, c.1) <= goal,
                    );
                }
            }
            _ => {
                if let Some(goal) = args.strict_min_recall {
                    let c = total.attacks(&all, 1, 2);
                    check(
                        format!("strict PL1+PL2 recall below {goal}%"),
                        c,
                        c.1 == 0 || pct(c.0, c.1) >= goal,
                    );
                }
                if let Some(goal) = args.strict_max_fp {
                    let c = total.benign(&all);
                    check(
                        format!("strict benign blocked above {goal}%"),
                        c,
                        pct(c.0, c.1) <= goal,
                    );
                }
            }
        }
    }
    if !failures.is_empty() {
        for f in &failures {
            eprintln!("injection_eval: FAIL {f}");
        }
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"942100-2"), 0x384033f7007599d6);
        assert_eq!(part_of("942100-2"), Part::Validation);
    }
}

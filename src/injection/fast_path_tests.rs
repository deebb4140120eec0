//! The fast path never changes a verdict: whole requests inspected with it and with the
//! reference scan (every rule over every view of every value) give the same findings,
//! in the same order, with the same score. The requests are the real-world benign
//! suite (`tests/fixtures/benign/*.jsonl`) and every string literal of the rule and
//! layer tests (`tests/layers/injection*.rs`, attacks and look-alikes alike), each sent
//! as a query value, a path segment, a header, a cookie and a form, JSON, XML and
//! multipart body, under both profiles.

use std::path::Path;

use bytes::Bytes;
use http::Request;

use super::{Detector, Profile};

fn detectors(profile: Profile) -> (Detector, Detector) {
    let fast = Detector::builder().profile(profile).build().unwrap();
    let mut reference = fast.clone();
    reference.reference = true;
    (fast, reference)
}

fn assert_same(req: &Request<Bytes>, what: &str) {
    for profile in [Profile::Balanced, Profile::Strict] {
        let (fast, reference) = detectors(profile);
        assert_eq!(
            fast.inspect(req),
            reference.inspect(req),
            "{what} ({profile:?})"
        );
    }
}

/// Standard base64 (the fixtures' `body_base64`).
fn base64(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for v in s.bytes().filter_map(value) {
        acc = acc << 6 | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[test]
fn the_benign_suite_gets_the_same_verdicts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/benign");
    let mut cases = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "jsonl") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let case: serde_json::Value = serde_json::from_str(line).unwrap();
            let mut req = Request::builder()
                .method(case["method"].as_str().unwrap_or("GET"))
                .uri(case["uri"].as_str().unwrap());
            if let Some(headers) = case["headers"].as_object() {
                for (k, v) in headers {
                    req = req.header(k.as_str(), v.as_str().unwrap());
                }
            }
            let body = match case["body_base64"].as_str() {
                Some(b) => base64(b),
                None => case["body"].as_str().unwrap_or("").as_bytes().to_vec(),
            };
            let req = req.body(Bytes::from(body)).unwrap();
            assert_same(&req, case["id"].as_str().unwrap_or("?"));
            cases += 1;
        }
    }
    assert!(cases > 400, "{cases}");
}

/// The string literals of a Rust source file, unescaped (enough of Rust's escapes for
/// the test files: `\\ \" \' \n \r \t \0 \u{..}`; raw strings are skipped).
fn literals(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = src.chars().peekable();
    let mut prev = ' ';
    while let Some(c) = chars.next() {
        if c != '"' || prev == '\'' || prev == '#' || prev == 'r' {
            prev = c;
            continue;
        }
        let mut s = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => s.push('\n'),
                    Some('r') => s.push('\r'),
                    Some('t') => s.push('\t'),
                    Some('0') => s.push('\0'),
                    Some('u') => {
                        let hex: String = chars
                            .by_ref()
                            .skip_while(|c| *c == '{')
                            .take_while(|c| *c != '}')
                            .collect();
                        if let Some(c) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                        {
                            s.push(c);
                        }
                    }
                    Some('\n') => {
                        while chars.peek().is_some_and(|c| c.is_whitespace()) {
                            chars.next();
                        }
                    }
                    Some(c) => s.push(c),
                    None => break,
                },
                c => s.push(c),
            }
        }
        prev = '"';
        if !s.is_empty() {
            out.push(s);
        }
    }
    out
}

fn percent(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[test]
fn the_rule_test_payloads_get_the_same_verdicts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/layers");
    let mut payloads = Vec::new();
    for file in ["injection_rules.rs", "injection.rs", "injection_benign.rs"] {
        payloads.extend(literals(&std::fs::read_to_string(root.join(file)).unwrap()));
    }
    payloads.sort();
    payloads.dedup();
    assert!(payloads.len() > 300, "{}", payloads.len());
    for p in &payloads {
        let enc = percent(p);
        let json = serde_json::json!({ "note": p, p.as_str(): [p] }).to_string();
        let xml = format!("<a b=\"{p}\">{p}<c>{p}</c></a>");
        let multipart = format!(
            "--b\r\ncontent-disposition: form-data; name=\"f\"; filename=\"{p}\"\r\n\r\n{p}\r\n--b--\r\n"
        );
        let mut reqs = vec![
            Request::get(format!("/s/{enc}/x?q={enc}&{enc}=1")).body(Bytes::new()),
            Request::post("/f")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Bytes::from(format!("a={enc}&b=2"))),
            Request::post("/j")
                .header("content-type", "application/json")
                .body(Bytes::from(json)),
            Request::post("/x")
                .header("content-type", "application/xml")
                .body(Bytes::from(xml)),
            Request::post("/m")
                .header("content-type", "multipart/form-data; boundary=b")
                .body(Bytes::from(multipart)),
            Request::post("/t").body(Bytes::from(p.clone())),
        ];
        if http::HeaderValue::from_str(p).is_ok() {
            reqs.push(
                Request::get("/h")
                    .header("user-agent", p.as_str())
                    .header("x-file-name", p.as_str())
                    .header("accept-language", format!("en;q=0.9, {p}"))
                    .header("cookie", format!("a={enc}; {p}"))
                    .body(Bytes::new()),
            );
        }
        for req in reqs.into_iter().filter_map(Result::ok) {
            assert_same(&req, p);
        }
    }
}

//! Fuzzes the Content-Security-Policy builder with arbitrary directive names and source
//! values.
//!
//! Invariants: never panic; `build()` either refuses (a `ConfigError` naming a
//! `security_headers.csp.*` setting) or returns a policy that renders, with any valid
//! nonce, to a valid header value that parses back to the directives that were set: one
//! `;`-separated part per directive, in order, each its name and as many
//! space-separated values as were given (so no value smuggled a separator in), and no `,`
//! (which would start a second policy).
//!
//! Run with `cargo fuzz run -s none csp_config` (stable toolchain).
#![no_main]

use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use tower_fortify::security_headers::{ContentSecurityPolicy, CspSource};

fn source(kind: u8, text: &str) -> CspSource {
    match kind % 12 {
        0 => CspSource::SelfOrigin,
        1 => CspSource::None,
        2 => CspSource::UnsafeInline,
        3 => CspSource::StrictDynamic,
        4 => CspSource::Nonce,
        5 => CspSource::sha256(text),
        6 => CspSource::scheme(text),
        7 => CspSource::ReportSample,
        _ => CspSource::host(text),
    }
}

fuzz_target!(|data: &[u8]| {
    // Records separated by '\n': a kind byte then text. Kind: directive (name in text),
    // then sources until the next directive; or a sandbox / report-uri token.
    let mut builder = ContentSecurityPolicy::builder();
    // The model: directive name (lowercase) -> number of values, in first-set order.
    let mut model: Vec<(String, Option<usize>)> = Vec::new();
    let mut current: Option<(String, Vec<CspSource>, bool)> = None;
    let set = |model: &mut Vec<(String, Option<usize>)>, name: &str, n: Option<usize>| {
        let name = name.to_ascii_lowercase();
        match model.iter_mut().find(|(m, _)| *m == name) {
            Some(slot) => slot.1 = n,
            None => model.push((name, n)),
        }
    };
    for record in data.split(|b| *b == b'\n') {
        let Some((&kind, text)) = record.split_first() else {
            continue;
        };
        let text = String::from_utf8_lossy(text).into_owned();
        match kind % 8 {
            0 | 1 => {
                if let Some((name, sources, fixed)) = current.take() {
                    set(&mut model, &name, Some(sources.len()));
                    builder = if fixed {
                        builder.default_src(sources)
                    } else {
                        builder.directive(&name, sources)
                    };
                }
                current = Some(if kind % 8 == 0 {
                    ("default-src".to_owned(), Vec::new(), true)
                } else {
                    (text, Vec::new(), false)
                });
            }
            2 => {
                set(&mut model, "sandbox", Some(1));
                builder = builder.sandbox([text]);
            }
            3 => {
                set(&mut model, "upgrade-insecure-requests", Some(0));
                builder = builder.upgrade_insecure_requests();
            }
            4 => {
                builder = builder.waive_default_src();
            }
            _ => {
                if let Some((_, sources, _)) = current.as_mut() {
                    sources.push(source(kind >> 3, &text));
                }
            }
        }
    }
    if let Some((name, sources, fixed)) = current.take() {
        set(&mut model, &name, Some(sources.len()));
        builder = if fixed {
            builder.default_src(sources)
        } else {
            builder.directive(&name, sources)
        };
    }

    let csp = match builder.build() {
        Ok(csp) => csp,
        Err(e) => {
            assert!(
                e.setting().starts_with("security_headers.csp."),
                "{}",
                e.setting()
            );
            return;
        }
    };
    let rendered = csp.render_with_nonce("rAnd0m+N0nce/Value==");
    assert!(HeaderValue::from_str(&rendered).is_ok(), "{rendered:?}");
    assert!(!rendered.contains(','), "{rendered:?}");
    let parts: Vec<&str> = rendered.split(';').collect();
    assert_eq!(parts.len(), model.len(), "{rendered:?} vs {model:?}");
    for (part, (name, n)) in parts.iter().zip(&model) {
        let mut words = part.split(' ');
        assert_eq!(words.next(), Some(name.as_str()), "{rendered:?}");
        if let Some(n) = n {
            assert_eq!(words.count(), *n, "{part:?} in {rendered:?}");
        }
    }
    if csp.uses_nonce() {
        assert!(
            rendered.contains("'nonce-rAnd0m+N0nce/Value=='"),
            "{rendered:?}"
        );
    }
});

//! Fuzzes `proxy::TrustedProxies` (client address, scheme and host behind proxies) with
//! arbitrary `Forwarded` / `X-Forwarded-*` header lines, and checks a render -> parse
//! round trip of RFC 7239 quoted strings.
//!
//! Invariants: never panic; from an untrusted peer the headers are ignored; a resolved
//! client other than the peer only ever comes from a trusted peer; the scheme is
//! lowercase; a `Forwarded` element rendered with quoted strings (escapes included) parses
//! back to the same client address and host.
//!
//! Run with `cargo fuzz run -s none forwarded` (stable toolchain).
#![no_main]

use std::net::{IpAddr, Ipv6Addr};

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use tower_fortify::proxy::{ForwardedHeader, TrustedProxies};

const NAMES: [&str; 4] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
];

/// `value` as an RFC 7230 quoted string; `escape_all` escapes every character (a
/// quoted-pair may escape any of them), else only `"` and `\`.
fn quote(value: &str, escape_all: bool) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        if escape_all || c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let header = if sel & 1 == 0 {
        ForwardedHeader::XForwardedFor
    } else {
        ForwardedHeader::Forwarded
    };
    let trusted = TrustedProxies::from_cidrs(["10.0.0.0/8", "fd00::/8"])
        .expect("valid networks")
        .header(header);
    let peers: [IpAddr; 3] = [
        "10.0.0.1".parse().unwrap(),
        "fd00::1".parse().unwrap(),
        "203.0.113.1".parse().unwrap(),
    ];
    let peer = peers[usize::from(sel >> 1) % 3];

    // Arbitrary lines: the first byte of each picks the header name.
    let mut headers = HeaderMap::new();
    for line in rest.split(|b| *b == b'\n') {
        let Some((&name, value)) = line.split_first() else {
            continue;
        };
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.append(NAMES[usize::from(name) % NAMES.len()], v);
        }
    }
    let client = trusted.client_ip(peer, &headers);
    let proto = trusted.forwarded_proto(peer, &headers);
    let host = trusted.forwarded_host(peer, &headers);
    if !trusted.is_trusted(peer) {
        assert_eq!(client, peer);
        assert_eq!(proto, None);
        assert_eq!(host, None);
    }
    if let Some(p) = &proto {
        assert_eq!(*p, p.to_ascii_lowercase());
    }
    let nobody = TrustedProxies::none().header(header);
    assert_eq!(nobody.client_ip(peer, &headers), peer);
    assert_eq!(nobody.forwarded_host(peer, &headers), None);

    // Round trip: an element written with quoted strings reads back the same.
    let text: String = rest
        .iter()
        .map(|&b| b as char)
        .filter(|c| *c == '\t' || (' '..='~').contains(c))
        .collect();
    let a = u16::from_le_bytes([rest.first().copied().unwrap_or(0), sel]);
    let ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, a));
    let element = format!(
        "for={};host={};proto={}",
        quote(&format!("[{ip}]:{a}"), sel & 4 != 0),
        quote(&text, sel & 8 != 0),
        if sel & 16 != 0 { "HTTPS" } else { "\"http\"" },
    );
    let mut headers = HeaderMap::new();
    headers.append(
        "forwarded",
        HeaderValue::from_str(&element).expect("printable"),
    );
    headers.append("forwarded", HeaderValue::from_static("for=10.0.0.7"));
    let trusted = trusted.header(ForwardedHeader::Forwarded);
    assert_eq!(trusted.client_ip(peers[0], &headers), ip, "{element}");
    assert_eq!(
        trusted.forwarded_host(peers[0], &headers).as_deref(),
        Some(text.trim()),
        "{element}"
    );
    assert_eq!(
        trusted.forwarded_proto(peers[0], &headers).as_deref(),
        Some(if sel & 16 != 0 { "https" } else { "http" })
    );
});

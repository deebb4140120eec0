//! Host parsing and the allow-list: what a `Host` / `:authority` value is, what a pattern
//! is, and whether a request's host is allowed.

use std::net::Ipv6Addr;

use http::{header, Request};

use super::HostRejectionKind;
use crate::{
    proxy::{peer_ip, TrustedProxies},
    ConfigError,
};

/// The longest host carried in a rejection or an event; longer ones are truncated.
const MAX_REPORTED_HOST: usize = 255;

/// The host part of a pattern or of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostName {
    /// A DNS name or IPv4 literal, lowercase, without a trailing dot.
    Name(String),
    /// An IPv6 literal (written in brackets).
    V6(Ipv6Addr),
}

/// A parsed `host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Authority {
    host: HostName,
    port: Option<u16>,
}

/// Parses a `Host` value or URI authority; `None` for anything malformed.
fn parse_authority(raw: &str) -> Option<Authority> {
    if raw.is_empty() || raw.contains('@') {
        return None;
    }
    let (host, port) = if let Some(rest) = raw.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = inside.parse().ok()?;
        let port = match after {
            "" => None,
            p => Some(parse_port(p.strip_prefix(':')?)?),
        };
        (HostName::V6(ip), port)
    } else {
        let (name, port) = match raw.rsplit_once(':') {
            Some((n, p)) => (n, Some(parse_port(p)?)),
            None => (raw, None),
        };
        (HostName::Name(normalize_name(name)?), port)
    };
    Some(Authority { host, port })
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok()
}

/// Lowercases, drops one trailing dot, and checks the characters of a DNS name or IPv4 literal.
fn normalize_name(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    ok.then(|| name.to_ascii_lowercase())
}

/// One entry of the allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(Authority),
    /// `*.suffix`: stored as `.suffix`.
    Wildcard {
        suffix: String,
        port: Option<u16>,
    },
}

impl Pattern {
    fn parse(raw: &str) -> Result<Self, ConfigError> {
        let bad = |why: &str| {
            ConfigError::new(
                "trusted_host.hosts",
                format!("`{}` {why}", raw.escape_debug()),
            )
        };
        let trimmed = raw.trim();
        if trimmed == "*" {
            return Err(bad("would allow every host; leave the layer out instead"));
        }
        if let Some(rest) = trimmed.strip_prefix("*.") {
            let auth = parse_authority(rest)
                .ok_or_else(|| bad("is not a host pattern such as `*.example.com`"))?;
            return match auth.host {
                HostName::Name(n) if !n.contains('*') => Ok(Pattern::Wildcard {
                    suffix: format!(".{n}"),
                    port: auth.port,
                }),
                _ => Err(bad("is not a host pattern such as `*.example.com`")),
            };
        }
        if trimmed.contains('*') {
            return Err(bad(
                "has a `*` that is not a whole leftmost label (`*.example.com`)",
            ));
        }
        parse_authority(trimmed).map(Pattern::Exact).ok_or_else(|| {
            bad("is not a host such as `example.com`, `example.com:8080` or `[::1]:8080`")
        })
    }

    fn matches(&self, req: &Authority) -> bool {
        match self {
            Pattern::Exact(p) => p.host == req.host && (p.port.is_none() || p.port == req.port),
            Pattern::Wildcard { suffix, port } => {
                let name_ok = match &req.host {
                    HostName::Name(n) => n.len() > suffix.len() && n.ends_with(suffix.as_str()),
                    HostName::V6(_) => false,
                };
                name_ok && (port.is_none() || *port == req.port)
            }
        }
    }
}

/// The parsed allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AllowList {
    patterns: Vec<Pattern>,
}

impl AllowList {
    /// Parses the hosts given to `TrustedHostLayer::builder`. An empty list, `*`, or a
    /// malformed pattern is a [`ConfigError`] for `trusted_host.hosts`.
    pub(super) fn parse(hosts: &[String]) -> Result<Self, ConfigError> {
        let patterns = hosts
            .iter()
            .map(|h| Pattern::parse(h))
            .collect::<Result<Vec<_>, _>>()?;
        if patterns.is_empty() {
            return Err(ConfigError::new(
                "trusted_host.hosts",
                "the allow-list is empty, so every request would be refused",
            ));
        }
        Ok(Self { patterns })
    }

    /// Checks the request; on refusal returns why and the raw host to report.
    ///
    /// From a trusted proxy that names a forwarded host, that host **and** the request's
    /// own host must both be allowed: a proxy that passes the client's `X-Forwarded-Host`
    /// through must not let a poisoned `Host` in (issue #13).
    pub(super) fn check<B>(
        &self,
        req: &Request<B>,
        proxies: &TrustedProxies,
    ) -> Result<(), (HostRejectionKind, String)> {
        if !proxies.is_empty() {
            if let Some(fwd) =
                peer_ip(req.extensions()).and_then(|p| proxies.forwarded_host(p, req.headers()))
            {
                self.check_one(&fwd)?;
            }
        }
        self.check_request_host(req)
    }

    /// Checks the URI authority and the `Host` header.
    fn check_request_host<B>(&self, req: &Request<B>) -> Result<(), (HostRejectionKind, String)> {
        let from_uri = req.uri().authority().map(|a| a.as_str());
        let mut host_headers = req.headers().get_all(header::HOST).iter();
        let from_header = match (host_headers.next(), host_headers.next()) {
            (None, _) => None,
            (Some(v), None) => match v.to_str() {
                Ok(s) => Some(s.trim()),
                Err(_) => return Err((HostRejectionKind::Malformed, lossy(v.as_bytes()))),
            },
            (Some(v), Some(_)) => {
                return Err((HostRejectionKind::Conflicting, lossy(v.as_bytes())))
            }
        };
        match (from_uri, from_header) {
            (None, None) => Err((HostRejectionKind::Missing, String::new())),
            (Some(h), None) | (None, Some(h)) => self.check_one(h),
            (Some(u), Some(h)) => {
                let (pu, ph) = (parse_authority(u), parse_authority(h));
                match (pu, ph) {
                    (Some(a), Some(b)) if a == b => self.check_one(h),
                    (Some(_), Some(_)) => Err((HostRejectionKind::Conflicting, truncate(h))),
                    _ => Err((HostRejectionKind::Malformed, truncate(h))),
                }
            }
        }
    }

    fn check_one(&self, raw: &str) -> Result<(), (HostRejectionKind, String)> {
        if raw.is_empty() {
            return Err((HostRejectionKind::Missing, String::new()));
        }
        match parse_authority(raw) {
            None => Err((HostRejectionKind::Malformed, truncate(raw))),
            Some(a) if self.patterns.iter().any(|p| p.matches(&a)) => Ok(()),
            Some(_) => Err((HostRejectionKind::NotAllowed, truncate(raw))),
        }
    }
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_REPORTED_HOST {
        return s.to_owned();
    }
    let mut end = MAX_REPORTED_HOST;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

fn lossy(b: &[u8]) -> String {
    truncate(&String::from_utf8_lossy(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(patterns: &[&str]) -> AllowList {
        let owned: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        AllowList::parse(&owned).unwrap()
    }

    fn allow(patterns: &[&str], host: &str) -> bool {
        list(patterns).check_one(host).is_ok()
    }

    #[test]
    fn pattern_matching() {
        let p = ["example.com", "*.example.com"];
        assert!(allow(&p, "example.com"));
        assert!(allow(&p, "EXAMPLE.com."));
        assert!(allow(&p, "a.b.example.com:8080"));
        assert!(!allow(&p, "example.com.evil.net"));
        assert!(!allow(&p, "evilexample.com"));
        assert!(!allow(&p, "[::1]evil.example.com"));
        assert!(!allow(&p, ""));
        assert!(!allow(&p, "user@example.com"));
        assert!(!allow(&p, "example.com:99999"));
        assert!(!allow(&p, "example.com:"));
        assert!(
            !allow(&["*.example.com"], "example.com"),
            "apex only when listed"
        );
        assert!(allow(&["[::1]:8080"], "[::1]:8080"));
        assert!(allow(&["[::1]:8080"], "[0:0::1]:8080"));
        assert!(!allow(&["[::1]:8080"], "[::1]:8081"));
        assert!(!allow(&["[::1]:8080"], "[::1]"));
        assert!(allow(&["[::1]"], "[::1]:1234"));
        assert!(!allow(&["[::1]"], "::1"));
        assert!(allow(&["127.0.0.1:3000"], "127.0.0.1:3000"));
    }

    #[test]
    fn bad_patterns_are_config_errors() {
        for bad in [
            "*",
            "",
            "exa mple.com",
            "*.",
            "a.*.com",
            "foo*.example.com",
            "[::1",
            "[nope]",
            "x:abc",
        ] {
            let err = AllowList::parse(&[bad.to_owned()]).unwrap_err();
            assert_eq!(err.setting(), "trusted_host.hosts", "{bad:?}");
        }
        let err = AllowList::parse(&[]).unwrap_err();
        assert_eq!(err.setting(), "trusted_host.hosts");
    }

    #[test]
    fn the_reason_and_the_reported_host() {
        let l = list(&["example.com"]);
        let req = |host: &str| {
            Request::builder()
                .header(header::HOST, host)
                .body(())
                .unwrap()
        };
        assert_eq!(
            l.check(&req("example.com"), &TrustedProxies::none()),
            Ok(())
        );
        assert_eq!(
            l.check(&req("evil.example"), &TrustedProxies::none()),
            Err((HostRejectionKind::NotAllowed, "evil.example".to_owned()))
        );
        assert_eq!(
            l.check(&req("a b"), &TrustedProxies::none()),
            Err((HostRejectionKind::Malformed, "a b".to_owned()))
        );
        let none = Request::builder().body(()).unwrap();
        assert_eq!(
            l.check(&none, &TrustedProxies::none()),
            Err((HostRejectionKind::Missing, String::new()))
        );
        let mut twice = req("example.com");
        twice
            .headers_mut()
            .append(header::HOST, "example.com".parse().unwrap());
        assert_eq!(
            l.check(&twice, &TrustedProxies::none()).unwrap_err().0,
            HostRejectionKind::Conflicting
        );
    }

    #[test]
    fn garbage_never_panics_and_never_matches_by_accident() {
        let list = list(&["a.b", "*.b", "[::1]:8"]);
        let alphabet = [
            "a", ".", "b", ":", "8", "[", "]", "::1", "@", "*", "\u{e9}", "%",
        ];
        let mut allowed = 0usize;
        let mut buf = String::new();
        for i in 0..alphabet.len().pow(4) {
            buf.clear();
            let mut n = i;
            for _ in 0..4 {
                buf.push_str(alphabet[n % alphabet.len()]);
                n /= alphabet.len();
            }
            if list.check_one(&buf).is_ok() {
                allowed += 1;
                // Whatever passed must really be one of the allowed hosts.
                let a = parse_authority(&buf).unwrap();
                let ok = match &a.host {
                    HostName::Name(n) => n == "a.b" || (n.ends_with(".b") && n.len() > 2),
                    HostName::V6(ip) => ip.is_loopback() && a.port == Some(8),
                };
                assert!(ok, "{buf:?} passed");
            }
        }
        assert!(allowed > 0);
    }

    #[test]
    fn long_hosts_are_truncated_for_events() {
        let long = "a".repeat(600);
        assert_eq!(truncate(&long).len(), MAX_REPORTED_HOST);
        let wide = "é".repeat(200);
        assert!(truncate(&wide).len() <= MAX_REPORTED_HOST);
    }
}

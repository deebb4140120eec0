//! A `Host` / `:authority` allow-list: requests for any other host get `400 Bad Request`.
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_fortify::trusted_host::TrustedHostLayer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let layer = TrustedHostLayer::new(["example.com", "*.example.com", "localhost:3000"])?;
//! let app = ServiceBuilder::new()
//!     .layer(layer)
//!     .service(service_fn(|_req: Request<()>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(String::from("hi")))
//!     }));
//!
//! let ok = Request::builder().header("host", "API.Example.com.").body(())?;
//! assert_eq!(app.clone().oneshot(ok).await?.status(), StatusCode::OK);
//!
//! let evil = Request::builder().header("host", "example.com.evil.net").body(())?;
//! let res = app.oneshot(evil).await?;
//! assert_eq!(res.status(), StatusCode::BAD_REQUEST);
//! assert_eq!(res.headers()["content-type"], "application/problem+json");
//! # Ok(())
//! # }
//! ```
//!
//! # Patterns
//!
//! - `example.com`: that host, any port. Names are compared case-insensitively, with one
//!   trailing dot ignored on both sides (`EXAMPLE.com.` is `example.com`).
//! - `*.example.com`: any subdomain, at any depth; **not** `example.com` itself (list it too).
//! - `example.com:8443`: that host on that port only. A request that names no port does not
//!   match a pattern with one (the default port is not guessed).
//! - `[::1]`, `[::1]:8080`, `127.0.0.1`: IP literals; IPv6 in brackets, compared as addresses.
//!
//! # What is checked
//!
//! The host comes from the request URI's authority (HTTP/2 `:authority`, HTTP/1.1
//! absolute-form) and from the `Host` header. When both are present they must name the same
//! host and port; several `Host` headers, a missing or empty host, user info (`a@b`), or
//! anything after an IPv6 literal other than a port (`[::1]evil.example.com`) is rejected.
//! When the TCP peer is one of the [`TrustedProxies`] given to
//! [`TrustedHostLayer::trusted_proxies`] and it sends `X-Forwarded-Host` (or `Forwarded:
//! host=`), that host is checked instead: it is the one the client asked the proxy for.
//!
//! # Rejection
//!
//! By default ([`DefaultHostResponder`]; replace it with [`TrustedHostLayer::responder`])
//! `400 Bad Request` with an `application/problem+json` body (gRPC calls: HTTP 200 with
//! `grpc-status: 3`, `INVALID_ARGUMENT`), and a [`SecurityEvent::UntrustedHost`] appended to
//! the response's [`SecurityEvents`] (the host truncated to 255 bytes). The response body
//! does not echo the host.
//!
//! # Deployment caveats
//!
//! - Trust only proxies you run: from any other peer `X-Forwarded-Host` is ignored, and the
//!   `Host` header is checked.
//! - A proxy that rewrites `Host` to its upstream name without sending `X-Forwarded-Host`
//!   makes every request look like the upstream name: list that name, or configure the
//!   proxy to forward the host.
//! - This protects against Host-header attacks (poisoned password-reset links, cache
//!   poisoning, DNS rebinding), not against a client that sends an allowed host.

use std::{
    fmt,
    future::Future,
    net::Ipv6Addr,
    pin::Pin,
    sync::Arc,
    task::{ready, Context, Poll},
};

use bytes::Bytes;
use http::{header, HeaderMap, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::{
    body::GuardBody,
    event::{SecurityEvent, SecurityEvents},
    proxy::{peer_ip, TrustedProxies},
    rejection::{grpc_rejection, is_grpc, GrpcCode, Problem},
    ConfigError,
};

const SETTING: &str = "trusted_hosts";
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
        let bad = |why: &str| ConfigError::new(SETTING, format!("`{}` {why}", raw.escape_debug()));
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

/// Why a request's host was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostRejection {
    /// No host at all (HTTP/1.0 without `Host`, or HTTP/1.1 breaking the spec), or an empty one.
    Missing,
    /// More than one `Host` header, or `Host` and the URI authority disagree.
    Conflicting,
    /// The host is not a valid `host[:port]`.
    Malformed,
    /// A valid host that is not on the allow-list.
    NotAllowed,
}

impl HostRejection {
    /// A short explanation, used as the problem `detail`.
    pub fn detail(self) -> &'static str {
        match self {
            HostRejection::Missing => "The request names no host.",
            HostRejection::Conflicting => "The request names more than one host.",
            HostRejection::Malformed => "The request's host is malformed.",
            HostRejection::NotAllowed => "The request's host is not served here.",
        }
    }
}

/// Builds the response for a refused request. The layer still appends the
/// [`SecurityEvent::UntrustedHost`] and inserts the [`HostRejection`] into the response
/// extensions, whatever the responder returns.
///
/// Implemented for closures `Fn(HostRejection, &HeaderMap) -> Response<Bytes>` (the request
/// headers, to choose a format); [`DefaultHostResponder`] is the default.
///
/// ```
/// use bytes::Bytes;
/// use http::{HeaderMap, Response, StatusCode};
/// use tower_fortify::trusted_host::{HostRejection, TrustedHostLayer};
///
/// let layer = TrustedHostLayer::new(["example.com"]).unwrap().responder(
///     |_why: HostRejection, _headers: &HeaderMap| {
///         let mut res = Response::new(Bytes::from_static(b"misdirected"));
///         *res.status_mut() = StatusCode::MISDIRECTED_REQUEST;
///         res
///     },
/// );
/// # let _ = layer;
/// ```
pub trait HostResponder: Send + Sync + 'static {
    /// The response for a request refused for `why`.
    fn respond(&self, why: HostRejection, request_headers: &HeaderMap) -> Response<Bytes>;
}

impl<F> HostResponder for F
where
    F: Fn(HostRejection, &HeaderMap) -> Response<Bytes> + Send + Sync + 'static,
{
    fn respond(&self, why: HostRejection, request_headers: &HeaderMap) -> Response<Bytes> {
        self(why, request_headers)
    }
}

/// The default [`HostResponder`]: `400 Bad Request` with an `application/problem+json` body
/// whose `detail` is [`HostRejection::detail`]; for gRPC calls a Trailers-Only response with
/// `grpc-status: 3` (`INVALID_ARGUMENT`).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultHostResponder;

impl HostResponder for DefaultHostResponder {
    fn respond(&self, why: HostRejection, request_headers: &HeaderMap) -> Response<Bytes> {
        if is_grpc(request_headers) {
            grpc_rejection(GrpcCode::InvalidArgument, why.detail())
        } else {
            Problem::new(StatusCode::BAD_REQUEST, "Bad Request")
                .detail(why.detail())
                .into_response()
        }
    }
}

struct Shared {
    patterns: Vec<Pattern>,
    proxies: TrustedProxies,
    responder: Arc<dyn HostResponder>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("patterns", &self.patterns)
            .field("proxies", &self.proxies)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Checks the request; on refusal returns why and the raw host to report.
    fn check<B>(&self, req: &Request<B>) -> Result<(), (HostRejection, String)> {
        if !self.proxies.is_empty() {
            if let Some(fwd) = peer_ip(req.extensions())
                .and_then(|p| self.proxies.forwarded_host(p, req.headers()))
            {
                return self.check_one(&fwd);
            }
        }
        let from_uri = req.uri().authority().map(|a| a.as_str());
        let mut host_headers = req.headers().get_all(header::HOST).iter();
        let from_header = match (host_headers.next(), host_headers.next()) {
            (None, _) => None,
            (Some(v), None) => match v.to_str() {
                Ok(s) => Some(s.trim()),
                Err(_) => return Err((HostRejection::Malformed, lossy(v.as_bytes()))),
            },
            (Some(v), Some(_)) => return Err((HostRejection::Conflicting, lossy(v.as_bytes()))),
        };
        match (from_uri, from_header) {
            (None, None) => Err((HostRejection::Missing, String::new())),
            (Some(h), None) | (None, Some(h)) => self.check_one(h),
            (Some(u), Some(h)) => {
                let (pu, ph) = (parse_authority(u), parse_authority(h));
                match (pu, ph) {
                    (Some(a), Some(b)) if a == b => self.check_one(h),
                    (Some(_), Some(_)) => Err((HostRejection::Conflicting, truncate(h))),
                    _ => Err((HostRejection::Malformed, truncate(h))),
                }
            }
        }
    }

    fn check_one(&self, raw: &str) -> Result<(), (HostRejection, String)> {
        if raw.is_empty() {
            return Err((HostRejection::Missing, String::new()));
        }
        match parse_authority(raw) {
            None => Err((HostRejection::Malformed, truncate(raw))),
            Some(a) if self.patterns.iter().any(|p| p.matches(&a)) => Ok(()),
            Some(_) => Err((HostRejection::NotAllowed, truncate(raw))),
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

/// Refuses requests whose host is not on the allow-list (see the [module docs](self)).
#[derive(Clone)]
#[must_use]
pub struct TrustedHostLayer {
    shared: Arc<Shared>,
}

impl fmt::Debug for TrustedHostLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedHostLayer")
            .field("patterns", &self.shared.patterns)
            .field("proxies", &self.shared.proxies)
            .finish()
    }
}

impl TrustedHostLayer {
    /// Allows the given hosts and patterns (`example.com`, `*.example.com`,
    /// `example.com:8443`, `[::1]:8080`). An empty list, `*`, or a malformed pattern is a
    /// [`ConfigError`].
    pub fn new<I, S>(hosts: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let patterns = hosts
            .into_iter()
            .map(|h| Pattern::parse(h.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        if patterns.is_empty() {
            return Err(ConfigError::new(
                SETTING,
                "the allow-list is empty, so every request would be refused",
            ));
        }
        Ok(Self {
            shared: Arc::new(Shared {
                patterns,
                proxies: TrustedProxies::none(),
                responder: Arc::new(DefaultHostResponder),
            }),
        })
    }

    /// Believes `X-Forwarded-Host` / `Forwarded: host=` from these proxies (default: nobody).
    pub fn trusted_proxies(self, proxies: TrustedProxies) -> Self {
        Self {
            shared: Arc::new(Shared {
                patterns: self.shared.patterns.clone(),
                proxies,
                responder: Arc::clone(&self.shared.responder),
            }),
        }
    }

    /// Replaces the response sent for a refused request (default [`DefaultHostResponder`]).
    pub fn responder(self, responder: impl HostResponder) -> Self {
        Self {
            shared: Arc::new(Shared {
                patterns: self.shared.patterns.clone(),
                proxies: self.shared.proxies.clone(),
                responder: Arc::new(responder),
            }),
        }
    }
}

impl<S> Layer<S> for TrustedHostLayer {
    type Service = TrustedHost<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TrustedHost {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service built by [`TrustedHostLayer`].
pub struct TrustedHost<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: Clone> Clone for TrustedHost<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for TrustedHost<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedHost")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

fn rejection<B>(
    responder: &dyn HostResponder,
    request_headers: &HeaderMap,
    why: HostRejection,
    host: String,
) -> Response<GuardBody<B>> {
    let mut res = responder
        .respond(why, request_headers)
        .map(GuardBody::fixed);
    res.extensions_mut().insert(why);
    SecurityEvents::push_to(
        res.extensions_mut(),
        SecurityEvent::UntrustedHost {
            host: Arc::from(host),
        },
    );
    res
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for TrustedHost<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<GuardBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        match self.shared.check(&req) {
            Ok(()) => ResponseFuture {
                kind: Kind::Inner {
                    future: self.inner.call(req),
                },
            },
            Err((why, host)) => ResponseFuture {
                kind: Kind::Rejected {
                    response: Some(rejection(&*self.shared.responder, req.headers(), why, host)),
                },
            },
        }
    }
}

pin_project! {
    /// The response future of [`TrustedHost`].
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Inner { #[pin] future: F },
        Rejected { response: Option<Response<GuardBody<B>>> },
    }
}

impl<F, B> fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Inner { .. } => "inner",
            Kind::Rejected { .. } => "rejected",
        };
        f.debug_struct("ResponseFuture")
            .field("kind", &kind)
            .finish()
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<GuardBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => {
                let res = ready!(future.poll(cx))?;
                Poll::Ready(Ok(res.map(GuardBody::new)))
            }
            KindProj::Rejected { response } => match response.take() {
                Some(res) => Poll::Ready(Ok(res)),
                // Polled after completion: tower futures are not fused; stay pending.
                None => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(patterns: &[&str], host: &str) -> bool {
        let layer = TrustedHostLayer::new(patterns).unwrap();
        layer.shared.check_one(host).is_ok()
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
            assert!(TrustedHostLayer::new([bad]).is_err(), "{bad:?} accepted");
        }
        assert!(TrustedHostLayer::new(Vec::<String>::new()).is_err());
    }

    #[test]
    fn garbage_never_panics_and_never_matches_by_accident() {
        let layer = TrustedHostLayer::new(["a.b", "*.b", "[::1]:8"]).unwrap();
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
            if layer.shared.check_one(&buf).is_ok() {
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
    }
}

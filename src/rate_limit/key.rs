//! What a policy counts against: keys and the extractors that find them in a request.

use std::{
    borrow::Cow,
    fmt,
    hash::Hasher,
    net::IpAddr,
    sync::{Arc, OnceLock},
};

use http::{header::HeaderName, Extensions, HeaderMap, Method, Request, Uri};
use siphasher::sip128::{Hasher128, SipHasher13};

use crate::{
    proxy::{self, TrustedProxies},
    ConfigError,
};

/// A borrowed view of the request a [`KeyExtractor`] reads.
///
/// It exists so extractors can be trait objects whatever the request body type is.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    extensions: &'a Extensions,
}

impl<'a> RequestInfo<'a> {
    /// A view of `req`.
    #[inline]
    pub fn new<B>(req: &'a Request<B>) -> Self {
        Self {
            method: req.method(),
            uri: req.uri(),
            headers: req.headers(),
            extensions: req.extensions(),
        }
    }

    /// The request method.
    pub fn method(&self) -> &'a Method {
        self.method
    }

    /// The request target.
    pub fn uri(&self) -> &'a Uri {
        self.uri
    }

    /// The request headers.
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    /// The request extensions.
    pub fn extensions(&self) -> &'a Extensions {
        self.extensions
    }

    /// The TCP peer address ([`proxy::peer_ip`]).
    #[inline]
    pub fn peer_ip(&self) -> Option<IpAddr> {
        proxy::peer_ip(self.extensions)
    }
}

/// The key a policy counts a request against.
///
/// Keys that may be secrets ([`Key::Secret`]: API keys, user ids from headers) are never
/// shown verbatim: [`Key::display`] gives a short keyed hash.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Key<'a> {
    /// A client network: the address with host bits past `prefix` cleared.
    Ip {
        /// The network address.
        addr: IpAddr,
        /// The prefix length (32 for a single IPv4 host, 64 for an IPv6 /64).
        prefix: u8,
    },
    /// A value that may be shown in events and logs (a tenant name, a tier).
    Public(Cow<'a, str>),
    /// A value that must not be shown (an API key, a session id).
    Secret(Cow<'a, [u8]>),
    /// A route: the method and the route pattern (never the raw path).
    Route {
        /// The method.
        method: &'a Method,
        /// The route pattern, such as `/users/{id}`.
        route: Cow<'a, str>,
    },
    /// One key for every request.
    Global,
}

impl Key<'_> {
    /// A key for one client address, IPv4 hosts keyed alone and IPv6 hosts by their
    /// `/ipv6_prefix` network.
    #[inline]
    pub fn ip(addr: IpAddr, ipv6_prefix: u8) -> Key<'static> {
        let addr = proxy::normalize_ip(addr);
        let prefix = if addr.is_ipv4() {
            32
        } else {
            ipv6_prefix.min(128)
        };
        Key::Ip {
            addr: proxy::mask(addr, prefix),
            prefix,
        }
    }

    /// How the key appears in events and logs: the address (`203.0.113.7`,
    /// `2001:db8:1:2::/64`), the public value, `GET /users/{id}`, `global`, or for a secret
    /// `redacted:` and a 16-hex-digit keyed hash (stable within one process).
    pub fn display(&self) -> Arc<str> {
        match self {
            Key::Ip { addr, prefix } if (addr.is_ipv4() && *prefix == 32) || *prefix == 128 => {
                Arc::from(addr.to_string())
            }
            Key::Ip { addr, prefix } => Arc::from(format!("{addr}/{prefix}")),
            Key::Public(s) => Arc::from(&**s),
            Key::Secret(s) => {
                let (a, _) = keyed_hash(b's', s, b"");
                Arc::from(format!("redacted:{a:016x}"))
            }
            Key::Route { method, route } => Arc::from(format!("{method} {route}")),
            Key::Global => Arc::from("global"),
        }
    }

    /// A 128-bit identity, unique per key with overwhelming probability. IP keys use
    /// their address bits directly; other keys a SipHash-1-3 keyed with a per-process
    /// random key (so an attacker cannot craft colliding keys). Used by the in-memory store.
    #[inline]
    pub fn identity(&self) -> (u64, u64) {
        match self {
            Key::Ip { addr, .. } => {
                let bits = match addr {
                    IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
                    IpAddr::V6(v6) => u128::from(*v6),
                };
                ((bits >> 64) as u64, bits as u64)
            }
            Key::Public(s) => keyed_hash(b'p', s.as_bytes(), b""),
            Key::Secret(s) => keyed_hash(b's', s, b""),
            Key::Route { method, route } => {
                keyed_hash(b'r', method.as_str().as_bytes(), route.as_bytes())
            }
            Key::Global => (0, 0),
        }
    }

    /// A name for the key that is the same in every process (for shared stores such as
    /// Redis): `ip:203.0.113.7`, `ip:2001:db8::/64`, `pub:<value>`, `route:GET /x`,
    /// `global`; secrets and long values as `h:` and an unkeyed 128-bit hash in hex.
    pub fn stable_name(&self) -> String {
        let short = |prefix: &str, s: &str| {
            if s.len() <= 96 && s.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
                format!("{prefix}:{s}")
            } else {
                let (a, b) = stable_hash(s.as_bytes());
                format!("h:{a:016x}{b:016x}")
            }
        };
        match self {
            Key::Ip { .. } => format!("ip:{}", self.display()),
            Key::Public(s) => short("pub", s),
            Key::Secret(s) => {
                let (a, b) = stable_hash(s);
                format!("h:{a:016x}{b:016x}")
            }
            Key::Route { method, route } => short("route", &format!("{method} {route}")),
            Key::Global => "global".to_owned(),
        }
    }

    /// The key with borrowed parts copied, so it can outlive the request.
    pub fn into_owned(self) -> Key<'static> {
        match self {
            Key::Ip { addr, prefix } => Key::Ip { addr, prefix },
            Key::Public(s) => Key::Public(Cow::Owned(s.into_owned())),
            Key::Secret(s) => Key::Secret(Cow::Owned(s.into_owned())),
            // The method is small; a route key that must outlive the request becomes public text.
            Key::Route { method, route } => Key::Public(Cow::Owned(format!("{method} {route}"))),
            Key::Global => Key::Global,
        }
    }
}

impl fmt::Debug for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.display())
    }
}

fn process_key() -> (u64, u64) {
    static KEY: OnceLock<(u64, u64)> = OnceLock::new();
    *KEY.get_or_init(|| (rand::random(), rand::random()))
}

fn keyed_hash(domain: u8, a: &[u8], b: &[u8]) -> (u64, u64) {
    let (k0, k1) = process_key();
    let mut h = SipHasher13::new_with_keys(k0, k1);
    h.write_u8(domain);
    h.write_usize(a.len());
    h.write(a);
    h.write(b);
    let out = h.finish128();
    (out.h1, out.h2)
}

fn stable_hash(a: &[u8]) -> (u64, u64) {
    let mut h = SipHasher13::new_with_keys(0x7f0e_a11c_0de5_eed5, 0x2a5d_ba5e_d0c5_f00d);
    h.write(a);
    let out = h.finish128();
    (out.h1, out.h2)
}

/// Finds the key a policy counts a request against.
///
/// Implemented by the built-in extractors ([`PeerIp`], [`ClientIp`], [`Header`], [`Route`],
/// [`Global`]), by functions `fn(&RequestInfo<'a>) -> Option<Key<'a>>`, and by closures
/// wrapped in [`key_fn`] (which lets the compiler infer the closure's lifetimes):
///
/// ```
/// use std::borrow::Cow;
/// use tower_fortify::rate_limit::{key_fn, Key, KeyExtractor, RequestInfo};
///
/// let tenant = key_fn(|req| req.uri().host().map(|h| Key::Public(Cow::Borrowed(h))));
/// let req = http::Request::get("https://acme.example/").body(()).unwrap();
/// assert_eq!(&*tenant.extract(&RequestInfo::new(&req)).unwrap().display(), "acme.example");
/// ```
pub trait KeyExtractor: Send + Sync + 'static {
    /// The key of `req`, or `None` when the request does not carry one.
    fn extract<'a>(&self, req: &RequestInfo<'a>) -> Option<Key<'a>>;

    /// What is missing when [`extract`](KeyExtractor::extract) returns `None`, phrased so
    /// an operator can fix the setup. Used in the 400 response of
    /// [`MissingKey::Reject`](super::MissingKey::Reject) and the log line.
    fn missing(&self) -> Cow<'static, str> {
        Cow::Borrowed("the key extractor found no key in the request")
    }
}

impl<F> KeyExtractor for F
where
    F: for<'a> Fn(&RequestInfo<'a>) -> Option<Key<'a>> + Send + Sync + 'static,
{
    fn extract<'a>(&self, req: &RequestInfo<'a>) -> Option<Key<'a>> {
        self(req)
    }
}

/// Turns a closure into a [`KeyExtractor`], guiding type inference so the key may borrow
/// from the request.
pub fn key_fn<F>(f: F) -> F
where
    F: for<'a> Fn(&RequestInfo<'a>) -> Option<Key<'a>> + Send + Sync + 'static,
{
    f
}

fn check_prefix(setting: &'static str, prefix: u8) -> Result<u8, ConfigError> {
    if (48..=128).contains(&prefix) {
        Ok(prefix)
    } else {
        Err(ConfigError::new(
            setting,
            format!(
                "/{prefix} is outside /48../128; IPv6 clients are keyed by a network of that size"
            ),
        ))
    }
}

const PEER_MISSING: &str = "the TCP peer address is unknown: serve axum with \
`into_make_service_with_connect_info::<SocketAddr>()`, insert `tower_fortify::proxy::PeerAddr` \
per connection in a plain hyper server (tonic inserts `TcpConnectInfo` itself)";

/// Keys by the TCP peer address (IPv6 peers by their /64 network by default).
///
/// Reads [`PeerAddr`](crate::proxy::PeerAddr), axum's `ConnectInfo<SocketAddr>` (feature
/// `axum`) or tonic's `TcpConnectInfo` (feature `tonic`). Behind a reverse proxy every
/// request has the proxy's address: use [`ClientIp`] there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerIp {
    ipv6_prefix: u8,
}

impl Default for PeerIp {
    fn default() -> Self {
        Self { ipv6_prefix: 64 }
    }
}

impl PeerIp {
    /// IPv4 peers by address, IPv6 peers by /64.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keys IPv6 peers by a network of `prefix` bits (48 to 128).
    pub fn ipv6_prefix(self, prefix: u8) -> Result<Self, ConfigError> {
        Ok(Self {
            ipv6_prefix: check_prefix("rate_limit.peer_ip.ipv6_prefix", prefix)?,
        })
    }
}

impl KeyExtractor for PeerIp {
    #[inline]
    fn extract<'a>(&self, req: &RequestInfo<'a>) -> Option<Key<'a>> {
        req.peer_ip().map(|ip| Key::ip(ip, self.ipv6_prefix))
    }

    fn missing(&self) -> Cow<'static, str> {
        Cow::Borrowed(PEER_MISSING)
    }
}

/// Keys by the real client address behind trusted proxies.
///
/// The peer address is used unless the peer is one of the [`TrustedProxies`]; then the
/// forwarding header is walked from the right and the first untrusted address is the
/// client ([`TrustedProxies::client_ip`]). A client cannot choose its key by sending its
/// own `X-Forwarded-For`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp {
    proxies: Arc<TrustedProxies>,
    ipv6_prefix: u8,
}

impl ClientIp {
    /// Believes forwarding headers from `proxies` only.
    pub fn new(proxies: TrustedProxies) -> Self {
        Self {
            proxies: Arc::new(proxies),
            ipv6_prefix: 64,
        }
    }

    /// Keys IPv6 clients by a network of `prefix` bits (48 to 128).
    pub fn ipv6_prefix(self, prefix: u8) -> Result<Self, ConfigError> {
        Ok(Self {
            ipv6_prefix: check_prefix("rate_limit.client_ip.ipv6_prefix", prefix)?,
            ..self
        })
    }

    /// The trusted proxies.
    pub fn proxies(&self) -> &TrustedProxies {
        &self.proxies
    }
}

impl KeyExtractor for ClientIp {
    fn extract<'a>(&self, req: &RequestInfo<'a>) -> Option<Key<'a>> {
        let peer = req.peer_ip()?;
        let ip = self.proxies.client_ip(peer, req.headers());
        Some(Key::ip(ip, self.ipv6_prefix))
    }

    fn missing(&self) -> Cow<'static, str> {
        Cow::Borrowed(PEER_MISSING)
    }
}

/// Keys by the value of a request header, such as an API key or a user id set by an
/// authentication layer.
///
/// Values are treated as secrets by default: events and logs show a keyed hash, never the
/// value. [`Header::public`] shows them verbatim (for tenant names and the like). A missing
/// or empty header has no key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    name: HeaderName,
    secret: bool,
}

impl Header {
    /// Keys by the header `name`, treating values as secrets.
    pub fn new(name: &str) -> Result<Self, ConfigError> {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            ConfigError::new(
                "rate_limit.header.name",
                format!("`{name}` is not a valid header name"),
            )
        })?;
        Ok(Self { name, secret: true })
    }

    /// Shows values verbatim in events and logs.
    pub fn public(self) -> Self {
        Self {
            secret: false,
            ..self
        }
    }

    /// The header name.
    pub fn name(&self) -> &HeaderName {
        &self.name
    }
}

impl KeyExtractor for Header {
    fn extract<'a>(&self, req: &RequestInfo<'a>) -> Option<Key<'a>> {
        let v = req.headers().get(&self.name)?.as_bytes();
        let v = v.trim_ascii();
        if v.is_empty() {
            return None;
        }
        Some(if self.secret {
            Key::Secret(Cow::Borrowed(v))
        } else {
            Key::Public(String::from_utf8_lossy(v))
        })
    }

    fn missing(&self) -> Cow<'static, str> {
        Cow::Owned(format!("the request has no `{}` header", self.name))
    }
}

/// One key for every request: a limit on the whole service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Global;

impl KeyExtractor for Global {
    fn extract<'a>(&self, _req: &RequestInfo<'a>) -> Option<Key<'a>> {
        Some(Key::Global)
    }
}

type RouteFn = dyn for<'a> Fn(&RequestInfo<'a>) -> Option<Cow<'a, str>> + Send + Sync;

/// Keys by method and route pattern: one limit per endpoint.
///
/// The route is axum's `MatchedPath` (feature `axum`) when present, else the result of the
/// function given to [`Route::with`]; requests with neither share the one key
/// `<method> <unmatched>`. The raw path is never used: a scanner requesting random paths
/// would create unbounded keys.
#[derive(Clone, Default)]
pub struct Route {
    route: Option<Arc<RouteFn>>,
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("custom", &self.route.is_some())
            .finish()
    }
}

/// The route of requests that matched no known route.
pub const UNMATCHED_ROUTE: &str = "<unmatched>";

impl Route {
    /// Routes from axum's `MatchedPath` only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes from `f` when axum's `MatchedPath` is absent. `f` must return a route
    /// *pattern* from a bounded set.
    pub fn with<F>(f: F) -> Self
    where
        F: for<'a> Fn(&RequestInfo<'a>) -> Option<Cow<'a, str>> + Send + Sync + 'static,
    {
        Self {
            route: Some(Arc::new(f)),
        }
    }
}

impl KeyExtractor for Route {
    fn extract<'a>(&self, req: &RequestInfo<'a>) -> Option<Key<'a>> {
        #[cfg(feature = "axum")]
        if let Some(m) = req.extensions().get::<axum::extract::MatchedPath>() {
            return Some(Key::Route {
                method: req.method(),
                route: Cow::Borrowed(m.as_str()),
            });
        }
        let route = self
            .route
            .as_ref()
            .and_then(|f| f(req))
            .unwrap_or(Cow::Borrowed(UNMATCHED_ROUTE));
        Some(Key::Route {
            method: req.method(),
            route,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::PeerAddr;

    fn req_from(peer: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::get("/");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let mut req = b.body(()).unwrap();
        req.extensions_mut().insert(PeerAddr(peer.parse().unwrap()));
        req
    }

    #[test]
    fn ipv6_keyed_by_prefix_and_mapped_v4_unmapped() {
        let a = req_from("[2001:db8:1:2:aaaa::1]:5000", &[]);
        let b = req_from("[2001:db8:1:2:bbbb::9]:5000", &[]);
        let pa = PeerIp::new().extract(&RequestInfo::new(&a)).unwrap();
        let pb = PeerIp::new().extract(&RequestInfo::new(&b)).unwrap();
        assert_eq!(pa, pb);
        assert_eq!(&*pa.display(), "2001:db8:1:2::/64");
        let p128 = PeerIp::new().ipv6_prefix(128).unwrap();
        assert_ne!(
            p128.extract(&RequestInfo::new(&a)),
            p128.extract(&RequestInfo::new(&b))
        );
        assert!(PeerIp::new().ipv6_prefix(40).is_err());
        assert!(PeerIp::new().ipv6_prefix(129).is_err());

        let m = req_from("[::ffff:192.0.2.1]:80", &[]);
        let k = PeerIp::new().extract(&RequestInfo::new(&m)).unwrap();
        assert_eq!(&*k.display(), "192.0.2.1");
        assert_eq!(k, Key::ip("192.0.2.1".parse().unwrap(), 64));
    }

    #[test]
    fn client_ip_ignores_spoofed_header_from_untrusted_peer() {
        let ex = ClientIp::new(TrustedProxies::from_cidrs(["10.0.0.0/8"]).unwrap());
        let spoof = req_from("198.51.100.2:4000", &[("x-forwarded-for", "1.1.1.1")]);
        assert_eq!(
            &*ex.extract(&RequestInfo::new(&spoof)).unwrap().display(),
            "198.51.100.2"
        );
        let proxied = req_from(
            "10.0.0.2:4000",
            &[("x-forwarded-for", "1.1.1.1, 203.0.113.5")],
        );
        assert_eq!(
            &*ex.extract(&RequestInfo::new(&proxied)).unwrap().display(),
            "203.0.113.5"
        );
    }

    #[test]
    fn header_keys_are_redacted() {
        let ex = Header::new("x-api-key").unwrap();
        let r = req_from("127.0.0.1:1", &[("x-api-key", "sk_live_very_secret")]);
        let k = ex.extract(&RequestInfo::new(&r)).unwrap();
        let shown = k.display();
        assert!(shown.starts_with("redacted:"), "{shown}");
        assert!(!shown.contains("secret"));
        assert!(!k.stable_name().contains("secret"));
        let empty = req_from("127.0.0.1:1", &[("x-api-key", "  ")]);
        assert!(ex.extract(&RequestInfo::new(&empty)).is_none());
        assert!(ex.missing().contains("x-api-key"));
        assert!(Header::new("bad header").is_err());
        let public = Header::new("x-tenant").unwrap().public();
        let r = req_from("127.0.0.1:1", &[("x-tenant", "acme")]);
        assert_eq!(
            &*public.extract(&RequestInfo::new(&r)).unwrap().display(),
            "acme"
        );
    }

    #[test]
    fn route_never_uses_raw_path() {
        let r = Request::get("/users/12345").body(()).unwrap();
        let k = Route::new().extract(&RequestInfo::new(&r)).unwrap();
        assert_eq!(&*k.display(), "GET <unmatched>");
        let custom = Route::with(|req| {
            req.uri()
                .path()
                .starts_with("/users/")
                .then_some(Cow::Borrowed("/users/{id}"))
        });
        let k = custom.extract(&RequestInfo::new(&r)).unwrap();
        assert_eq!(&*k.display(), "GET /users/{id}");
    }

    #[test]
    fn configuration_errors_name_the_setting() {
        let e = PeerIp::new().ipv6_prefix(20).unwrap_err();
        assert_eq!(e.setting(), "rate_limit.peer_ip.ipv6_prefix");
        let e = ClientIp::new(TrustedProxies::none())
            .ipv6_prefix(200)
            .unwrap_err();
        assert_eq!(e.setting(), "rate_limit.client_ip.ipv6_prefix");
        let e = Header::new("bad header").unwrap_err();
        assert_eq!(e.setting(), "rate_limit.header.name");
    }

    #[test]
    fn identities_differ_by_kind() {
        let ids = [
            Key::Global.identity(),
            Key::Public("a".into()).identity(),
            Key::Secret(Cow::Borrowed(b"a")).identity(),
            Key::ip("10.0.0.1".parse().unwrap(), 64).identity(),
        ];
        for i in 0..ids.len() {
            for j in i + 1..ids.len() {
                assert_ne!(ids[i], ids[j]);
            }
        }
    }
}

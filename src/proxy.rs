//! Who sent the request, as seen through **trusted** proxies only.
//!
//! This is the one place in the crate that reads `Forwarded` (RFC 7239) and
//! `X-Forwarded-For` / `-Proto` / `-Host`. The rate limiter keys by the client address
//! from here, the security-headers layer decides HSTS by the scheme from here, and the
//! trusted-host layer reads the forwarded host from here: one type, one behaviour.
//!
//! Forwarding headers are written by whoever sent the request, so they are believed only
//! when the TCP peer is a configured trusted proxy, and then walked **from the right**:
//! each trusted proxy appends the address it received the request from, so the first
//! address (from the right) that is not a trusted proxy is the client. The leftmost entry
//! is whatever the client chose to write and is never used.
//!
//! ```
//! use std::net::IpAddr;
//! use http::HeaderMap;
//! use tower_fortify::proxy::TrustedProxies;
//!
//! let proxies = TrustedProxies::from_cidrs(["10.0.0.0/8"]).unwrap();
//! let mut headers = HeaderMap::new();
//! // The client wrote "1.2.3.4" itself; the proxy at 10.0.0.2 appended the real peer.
//! headers.insert("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.0.0.2".parse().unwrap());
//! let peer: IpAddr = "10.0.0.3".parse().unwrap();
//! assert_eq!(proxies.client_ip(peer, &headers), "203.0.113.9".parse::<IpAddr>().unwrap());
//!
//! // The same headers from an untrusted peer are ignored.
//! let peer: IpAddr = "198.51.100.1".parse().unwrap();
//! assert_eq!(proxies.client_ip(peer, &headers), peer);
//! ```
//!
//! # Where the peer address comes from
//!
//! [`peer_ip`] reads, in this order (a server inserts one of them):
//!
//! 1. with the `axum` feature, `axum::extract::ConnectInfo<SocketAddr>`, present when the
//!    app is served with `into_make_service_with_connect_info::<SocketAddr>()`;
//! 2. this crate's [`PeerAddr`] request extension, which a plain hyper server inserts per
//!    connection (see [`PeerAddr`]);
//! 3. with the `tonic` feature, `tonic::transport::server::TcpConnectInfo`, which tonic's
//!    server inserts for every call.
//!
//! IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, what dual-stack listeners report) are
//! turned back into IPv4 first, so IPv4 proxy networks match and IPv4 clients are keyed
//! by their own address.
//!
//! # Deployment caveats
//!
//! - Trust only the proxies you run. A CIDR such as `0.0.0.0/0` lets every client choose
//!   its own address.
//! - Configure the header your proxy actually writes ([`ForwardedHeader`]). If your proxy
//!   writes `X-Forwarded-For` but passes a client's `Forwarded` header through, reading
//!   `Forwarded` would believe the client.
//! - `X-Forwarded-Proto` and `X-Forwarded-Host` are read from their **rightmost** entry,
//!   the one written by the proxy nearest to this service; `Forwarded` `proto=` and
//!   `host=` are read from the element that names the client.
//!
//! # `Forwarded` syntax
//!
//! `Forwarded` is parsed as RFC 7239 says: elements separated by `,`, pairs by `;`, each
//! value a token or a quoted string in which `,`, `;` and `\"` (an escaped quote) are
//! part of the value: `for="[2001:db8::1]:4711";host="a,b"` is one element whose host is
//! `a,b` (which the trusted-host layer then refuses as malformed). Unquoted values are
//! read leniently (`for=10.0.0.2:80`, which RFC 7239 wants quoted, is understood).
//! A header line that is not this syntax (an unterminated quote, a pair without `=`,
//! text after a value, a parameter twice in one element) is **not believed**: the walk
//! stops there and the last trusted hop is the client, as for an unparsable address;
//! lines after it (those of nearer proxies) are still read. Nothing here panics on any
//! input (the `forwarded` fuzz target checks it).
//!
//! Why this file is long (about 580 lines of non-test code): it is the one place that reads
//! forwarding headers (`Forwarded` with its RFC 7239 quoted strings, `X-Forwarded-*`), so the
//! parser, the trusted-network matching and the walk from the right stay together, as the
//! other modules rely on them agreeing.

use std::{
    borrow::Cow,
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    str::FromStr,
};

use http::{Extensions, HeaderMap};

use crate::ConfigError;

/// The TCP peer address of a connection, as a request extension.
///
/// A plain hyper server inserts it per connection, for example:
///
/// ```
/// # use std::net::SocketAddr;
/// # use tower_fortify::proxy::PeerAddr;
/// # let remote: SocketAddr = "127.0.0.1:5000".parse().unwrap();
/// # let mut req = http::Request::new(());
/// // inside `service_fn(move |mut req| { ... })`, with `remote` from `listener.accept()`:
/// req.extensions_mut().insert(PeerAddr(remote));
/// # assert_eq!(tower_fortify::proxy::peer_ip(req.extensions()), Some(remote.ip()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerAddr(pub SocketAddr);

/// The client address a guard layer resolved for this request, left in the request
/// extensions for the handler to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResolvedClientIp(pub IpAddr);

/// Turns an IPv4-mapped IPv6 address back into IPv4; other addresses are returned as they are.
#[inline]
pub fn normalize_ip(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// The TCP peer address of the request, from axum's `ConnectInfo` (feature `axum`),
/// [`PeerAddr`] or tonic's `TcpConnectInfo` (feature `tonic`), normalised by
/// [`normalize_ip`]. `None` when the server inserted none of them.
#[inline]
pub fn peer_ip(extensions: &Extensions) -> Option<IpAddr> {
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(addr)) =
        extensions.get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(normalize_ip(addr.ip()));
    }
    if let Some(PeerAddr(addr)) = extensions.get::<PeerAddr>() {
        return Some(normalize_ip(addr.ip()));
    }
    #[cfg(feature = "tonic")]
    if let Some(info) = extensions.get::<tonic::transport::server::TcpConnectInfo>() {
        if let Some(addr) = info.remote_addr() {
            return Some(normalize_ip(addr.ip()));
        }
    }
    None
}

/// An IP network in CIDR notation, such as `10.0.0.0/8` or `2001:db8::/32`.
///
/// A bare address parses as a single-host network (`/32` or `/128`). IPv4-mapped IPv6
/// networks are not accepted: write the IPv4 network.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// A network from an address and a prefix length; host bits are cleared.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, ConfigError> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(ConfigError::new(
                "proxy.ip_net",
                format!("prefix /{prefix} is longer than /{max} for {addr}"),
            ));
        }
        Ok(Self {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// Whether `ip` (normalised first) lies in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = normalize_ip(ip);
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

/// Clears the bits of `ip` past `prefix`.
#[inline]
pub(crate) fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix.min(32)))
            };
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix.min(128)))
            };
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

impl FromStr for IpNet {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let bad = || {
            ConfigError::new(
                "proxy.ip_net",
                format!("`{s}` is not an IP network such as `10.0.0.0/8` or `2001:db8::/32`"),
            )
        };
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => {
                let addr: IpAddr = a.parse().map_err(|_| bad())?;
                let prefix: u8 = p.parse().map_err(|_| bad())?;
                (addr, prefix)
            }
            None => {
                let addr: IpAddr = s.parse().map_err(|_| bad())?;
                (addr, if addr.is_ipv4() { 32 } else { 128 })
            }
        };
        if let IpAddr::V6(v6) = addr {
            if v6.to_ipv4_mapped().is_some() && prefix >= 96 {
                return Err(ConfigError::new(
                    "proxy.ip_net",
                    format!("`{s}` is an IPv4-mapped network; write the IPv4 network instead"),
                ));
            }
        }
        IpNet::new(addr, prefix)
    }
}

impl fmt::Debug for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Which forwarding header the trusted proxies write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For`, with `X-Forwarded-Proto` and `X-Forwarded-Host` (nginx, HAProxy,
    /// AWS ALB, most CDNs). The default.
    #[default]
    XForwardedFor,
    /// `Forwarded` (RFC 7239) with `for=`, `proto=` and `host=`.
    Forwarded,
}

/// The networks whose forwarding headers are believed.
///
/// The default trusts nobody: every request is attributed to its TCP peer.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ForwardedHeader,
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedProxies")
            .field("nets", &self.nets)
            .field("header", &self.header)
            .finish()
    }
}

/// What a trusted proxy chain says about the request.
struct Hop<'a> {
    client: IpAddr,
    proto: Option<Cow<'a, str>>,
    host: Option<Cow<'a, str>>,
}

impl TrustedProxies {
    /// Trusts nobody (the default).
    pub fn none() -> Self {
        Self::default()
    }

    /// Trusts the given networks, e.g. `["10.0.0.0/8", "fd00::/8"]`.
    pub fn from_cidrs<I, S>(cidrs: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut this = Self::default();
        for c in cidrs {
            this = this.with(c.as_ref())?;
        }
        Ok(this)
    }

    /// Trusts loopback, the RFC 1918 private networks, IPv6 unique-local and link-local
    /// addresses: a proxy on the same host or the same private network.
    pub fn private_networks() -> Self {
        Self::from_cidrs([
            "127.0.0.0/8",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "169.254.0.0/16",
            "::1/128",
            "fc00::/7",
            "fe80::/10",
        ])
        .unwrap_or_default()
    }

    /// Adds a trusted network in CIDR notation.
    pub fn with(mut self, cidr: &str) -> Result<Self, ConfigError> {
        self.nets.push(cidr.parse()?);
        Ok(self)
    }

    /// Adds a trusted network.
    pub fn with_net(mut self, net: IpNet) -> Self {
        self.nets.push(net);
        self
    }

    /// Sets which forwarding header the proxies write (default `X-Forwarded-For`).
    pub fn header(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// The trusted networks.
    pub fn networks(&self) -> &[IpNet] {
        &self.nets
    }

    /// Whether any network is trusted.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = normalize_ip(ip);
        self.nets.iter().any(|n| n.contains(ip))
    }

    /// The client address: `peer` itself unless `peer` is a trusted proxy, else the first
    /// address from the right of the forwarding header that is not a trusted proxy. When
    /// every listed address is trusted, the leftmost one; when an entry cannot be parsed
    /// (an obfuscated `Forwarded` identifier, garbage), the last trusted hop before it.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        self.walk(peer, headers).client
    }

    /// The scheme the client used (`"https"` or `"http"`, lowercase), when a trusted proxy
    /// says so; `None` when the peer is not trusted or no proxy header names one.
    pub fn forwarded_proto(&self, peer: IpAddr, headers: &HeaderMap) -> Option<String> {
        self.walk(peer, headers)
            .proto
            .map(|p| p.trim().to_ascii_lowercase())
    }

    /// The host the client asked for, when a trusted proxy says so.
    pub fn forwarded_host(&self, peer: IpAddr, headers: &HeaderMap) -> Option<String> {
        self.walk(peer, headers).host.map(|h| h.trim().to_owned())
    }

    fn walk<'h>(&self, peer: IpAddr, headers: &'h HeaderMap) -> Hop<'h> {
        let peer = normalize_ip(peer);
        let mut hop = Hop {
            client: peer,
            proto: None,
            host: None,
        };
        if !self.is_trusted(peer) {
            return hop;
        }
        match self.header {
            ForwardedHeader::XForwardedFor => {
                hop.proto = rightmost(headers, "x-forwarded-proto").map(Cow::Borrowed);
                hop.host = rightmost(headers, "x-forwarded-host").map(Cow::Borrowed);
                let entries = headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .rev()
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(|v| v.rsplit(','));
                for entry in entries {
                    match parse_node(entry) {
                        Some(ip) if self.is_trusted(ip) => hop.client = ip,
                        Some(ip) => {
                            hop.client = ip;
                            break;
                        }
                        None => break,
                    }
                }
            }
            ForwardedHeader::Forwarded => {
                // Lines from the last; a line that is not RFC 7239 syntax ends the walk
                // (the last trusted hop is the client), like an unparsable address.
                'lines: for line in headers.get_all("forwarded").iter().rev() {
                    let Some(elements) = line.to_str().ok().and_then(parse_forwarded) else {
                        break;
                    };
                    for element in elements.into_iter().rev() {
                        let (mut for_, mut proto, mut host) = (None, None, None);
                        for (key, value) in element {
                            if key.eq_ignore_ascii_case("for") {
                                for_ = Some(value);
                            } else if key.eq_ignore_ascii_case("proto") {
                                proto = Some(value);
                            } else if key.eq_ignore_ascii_case("host") {
                                host = Some(value);
                            }
                        }
                        if proto.is_some() {
                            hop.proto = proto;
                        }
                        if host.is_some() {
                            hop.host = host;
                        }
                        match for_.as_deref().and_then(parse_node) {
                            Some(ip) if self.is_trusted(ip) => hop.client = ip,
                            Some(ip) => {
                                hop.client = ip;
                                break 'lines;
                            }
                            None => break 'lines,
                        }
                    }
                }
            }
        }
        hop
    }
}

fn rightmost<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let last = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    let v = last.rsplit(',').next()?.trim();
    (!v.is_empty()).then_some(v)
}

/// The `key=value` pairs of one `Forwarded` element, values unquoted.
type Element<'h> = Vec<(&'h str, Cow<'h, str>)>;

/// Whether `b` is a `tchar` (RFC 7230 section 3.2.6): the characters of a token.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `b` may appear inside a quoted string (`qdtext`, or after a backslash):
/// tab, space, visible ASCII and bytes of non-ASCII characters.
fn is_quotable(b: u8) -> bool {
    b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80
}

/// Parses one `Forwarded` header line (RFC 7239 section 4): a comma-separated list of
/// elements, each a semicolon-separated list of `token=value` pairs, a value being a token
/// or a quoted string (RFC 7230 section 3.2.6, `\` escaping the next character). `,` and
/// `;` inside a quoted string belong to the value.
///
/// Empty elements and empty pairs are allowed (the grammar allows them). Unquoted values
/// are read leniently: any visible ASCII but `,`, `;` and `"`, so the common unquoted
/// `for=10.0.0.2:80` is understood. `None` when the line is not this syntax: an unterminated
/// quoted string, a pair without `=` or with an empty key or value, text after a value,
/// a parameter twice in one element, or a control character.
fn parse_forwarded(line: &str) -> Option<Vec<Element<'_>>> {
    let b = line.as_bytes();
    let ows = |i: &mut usize| {
        while *i < b.len() && matches!(b[*i], b' ' | b'\t') {
            *i += 1;
        }
    };
    let mut elements = Vec::new();
    let mut element: Element<'_> = Vec::new();
    let mut i = 0;
    loop {
        ows(&mut i);
        let Some(&c) = b.get(i) else { break };
        if c == b',' {
            i += 1;
            if !element.is_empty() {
                elements.push(std::mem::take(&mut element));
            }
            continue;
        }
        if c == b';' {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_tchar(b[i]) {
            i += 1;
        }
        let key = &line[start..i];
        ows(&mut i);
        if key.is_empty() || b.get(i) != Some(&b'=') {
            return None;
        }
        i += 1;
        ows(&mut i);
        let value = if b.get(i) == Some(&b'"') {
            i += 1;
            let start = i;
            let mut unescaped: Option<Vec<u8>> = None;
            loop {
                let &c = b.get(i)?;
                match c {
                    b'"' => break,
                    b'\\' => {
                        let &next = b.get(i + 1).filter(|n| is_quotable(**n))?;
                        unescaped
                            .get_or_insert_with(|| b[start..i].to_vec())
                            .push(next);
                        i += 2;
                    }
                    c if is_quotable(c) => {
                        if let Some(u) = unescaped.as_mut() {
                            u.push(c);
                        }
                        i += 1;
                    }
                    _ => return None,
                }
            }
            let value = match unescaped {
                // Only ASCII backslashes were removed: still UTF-8.
                Some(u) => Cow::Owned(String::from_utf8(u).ok()?),
                None => Cow::Borrowed(&line[start..i]),
            };
            i += 1; // the closing quote
            value
        } else {
            let start = i;
            while i < b.len() && (0x21..=0x7e).contains(&b[i]) && !b",;\"".contains(&b[i]) {
                i += 1;
            }
            if i == start {
                return None;
            }
            Cow::Borrowed(&line[start..i])
        };
        if element.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
            return None;
        }
        element.push((key, value));
        ows(&mut i);
        if !matches!(b.get(i), None | Some(b',' | b';')) {
            return None;
        }
    }
    if !element.is_empty() {
        elements.push(element);
    }
    Some(elements)
}

/// Parses one node of a forwarding header: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:443` (quotes already stripped for `Forwarded`).
fn parse_node(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        return rest[..end].parse().ok().map(normalize_ip);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(normalize_ip(ip));
    }
    s.parse::<SocketAddr>().ok().map(|a| normalize_ip(a.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn cidr_parsing_and_matching() {
        let n: IpNet = "10.1.2.3/8".parse().unwrap();
        assert_eq!(n.to_string(), "10.0.0.0/8");
        assert!(n.contains(ip("10.200.0.1")));
        assert!(
            n.contains(ip("::ffff:10.0.0.1")),
            "mapped addresses match IPv4 networks"
        );
        assert!(!n.contains(ip("11.0.0.1")));
        let n6: IpNet = "2001:db8::/32".parse().unwrap();
        assert!(n6.contains(ip("2001:db8:1::1")));
        assert!(!n6.contains(ip("10.0.0.1")));
        assert!("10.0.0.0/33".parse::<IpNet>().is_err());
        assert!("nonsense".parse::<IpNet>().is_err());
        assert!("::ffff:10.0.0.0/104".parse::<IpNet>().is_err());
        assert_eq!("192.0.2.1".parse::<IpNet>().unwrap().prefix(), 32);
        assert_eq!("0.0.0.0/0".parse::<IpNet>().unwrap().prefix(), 0);
    }

    #[test]
    fn untrusted_peer_headers_are_ignored() {
        let p = TrustedProxies::none();
        let h = headers(&[("x-forwarded-for", "9.9.9.9")]);
        assert_eq!(p.client_ip(ip("203.0.113.1"), &h), ip("203.0.113.1"));
        assert_eq!(p.forwarded_proto(ip("203.0.113.1"), &h), None);
    }

    #[test]
    fn walks_from_the_right_across_lines() {
        let p = TrustedProxies::from_cidrs(["10.0.0.0/8"]).unwrap();
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6, 7.7.7.7"),
            ("x-forwarded-for", "10.0.0.5"),
        ]);
        assert_eq!(p.client_ip(ip("10.0.0.1"), &h), ip("7.7.7.7"));
    }

    #[test]
    fn all_trusted_yields_leftmost_and_garbage_stops() {
        let p = TrustedProxies::from_cidrs(["10.0.0.0/8"]).unwrap();
        let h = headers(&[("x-forwarded-for", "10.0.0.9, 10.0.0.8")]);
        assert_eq!(p.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.9"));
        let h = headers(&[("x-forwarded-for", "1.1.1.1, garbage, 10.0.0.8")]);
        assert_eq!(p.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.8"));
    }

    #[test]
    fn forwarded_header_with_ipv6_and_ports() {
        let p = TrustedProxies::from_cidrs(["10.0.0.0/8"])
            .unwrap()
            .header(ForwardedHeader::Forwarded);
        let h = headers(&[(
            "forwarded",
            r#"for=1.2.3.4, for="[2001:db8::7]:4711";proto=https;host=shop.example, for=10.0.0.2:80"#,
        )]);
        assert_eq!(p.client_ip(ip("10.0.0.1"), &h), ip("2001:db8::7"));
        assert_eq!(
            p.forwarded_proto(ip("10.0.0.1"), &h).as_deref(),
            Some("https")
        );
        assert_eq!(
            p.forwarded_host(ip("10.0.0.1"), &h).as_deref(),
            Some("shop.example")
        );
        // An obfuscated identifier stops the walk at the last trusted hop.
        let h = headers(&[("forwarded", "for=_hidden, for=10.0.0.2")]);
        assert_eq!(p.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.2"));
    }

    /// Issue #13 item 6: RFC 7239 values may be quoted strings holding `,`, `;`, `=` and
    /// escaped quotes; they are one value, not list or pair separators.
    #[test]
    fn forwarded_quoted_strings_hold_commas_semicolons_and_escapes() {
        let p = TrustedProxies::from_cidrs(["10.0.0.0/8"])
            .unwrap()
            .header(ForwardedHeader::Forwarded);
        let peer = ip("10.0.0.1");
        let h = headers(&[(
            "forwarded",
            r#"for="[2001:db8::1]:4711";host="a,b";proto=https"#,
        )]);
        assert_eq!(p.client_ip(peer, &h), ip("2001:db8::1"));
        assert_eq!(p.forwarded_host(peer, &h).as_deref(), Some("a,b"));
        assert_eq!(p.forwarded_proto(peer, &h).as_deref(), Some("https"));

        // A comma inside quotes does not start a new element: the client is 198.51.100.7,
        // not whatever follows the comma.
        let h = headers(&[(
            "forwarded",
            r#"for="_x, for=6.6.6.6";host="h;for=7.7.7.7", for=198.51.100.7;host=shop.example, for=10.0.0.2"#,
        )]);
        assert_eq!(p.client_ip(peer, &h), ip("198.51.100.7"));
        assert_eq!(p.forwarded_host(peer, &h).as_deref(), Some("shop.example"));

        // Escaped quotes and backslashes inside a quoted string.
        let h = headers(&[(
            "forwarded",
            r#"for=192.0.2.60;host="x\"y\\z,w", for=10.0.0.3"#,
        )]);
        assert_eq!(p.client_ip(peer, &h), ip("192.0.2.60"));
        assert_eq!(p.forwarded_host(peer, &h).as_deref(), Some(r#"x"y\z,w"#));
        assert_eq!(
            parse_forwarded(r#"for="a\\";host=c"#).map(|e| e.len()),
            Some(1),
            "an escaped backslash does not escape the closing quote"
        );
    }

    /// Malformed `Forwarded` lines never panic; a line that is not RFC 7239 syntax is not
    /// believed (the walk stops at the last trusted hop), later lines still are.
    #[test]
    fn malformed_forwarded_is_distrusted_never_panics() {
        let p = TrustedProxies::from_cidrs(["10.0.0.0/8"])
            .unwrap()
            .header(ForwardedHeader::Forwarded);
        let peer = ip("10.0.0.1");
        for bad in [
            r#"for="1.2.3.4"#,
            r#"for="1.2.3.4, for=10.0.0.2"#,
            r#"for=1.2.3.4;for=5.6.7.8"#,
            r#"for"#,
            r#"=1.2.3.4"#,
            r#"for=1.2.3.4 x"#,
            r#"for="1.2.3.4"x"#,
            r#"for=1.2"3.4"#,
            r#"for="\"#,
            r#"f o=1"#,
        ] {
            let h = headers(&[("forwarded", bad)]);
            assert_eq!(parse_forwarded(bad), None, "{bad:?}");
            assert_eq!(p.client_ip(peer, &h), peer, "{bad:?}");
            assert_eq!(p.forwarded_host(peer, &h), None, "{bad:?}");
            // The proxy's own line after the client's malformed one is still read.
            let h = headers(&[("forwarded", bad), ("forwarded", "for=203.0.113.9")]);
            assert_eq!(p.client_ip(peer, &h), ip("203.0.113.9"), "{bad:?}");
        }
        assert_eq!(parse_forwarded("for=\"\u{1}\""), None, "control characters");
        // Empty elements and pairs are allowed by the grammar.
        let h = headers(&[("forwarded", r#" , for=203.0.113.4;;proto=http ,, "#)]);
        assert_eq!(p.client_ip(peer, &h), ip("203.0.113.4"));
        // Every short string over the grammar's alphabet: no panic, and a parse yields
        // pairs whose keys are tokens.
        let alphabet = ["for", "=", "\"", ",", ";", "\\", " ", "1", "[", "]", ":"];
        let mut buf = String::new();
        for i in 0..alphabet.len().pow(5) {
            buf.clear();
            let mut n = i;
            for _ in 0..5 {
                buf.push_str(alphabet[n % alphabet.len()]);
                n /= alphabet.len();
            }
            if let Some(elements) = parse_forwarded(&buf) {
                for (k, _) in elements.iter().flatten() {
                    assert!(!k.is_empty() && k.bytes().all(is_tchar), "{buf:?}");
                }
            }
            let Ok(v) = http::HeaderValue::from_str(&buf) else {
                continue;
            };
            let mut h = HeaderMap::new();
            h.insert("forwarded", v);
            let _ = p.client_ip(peer, &h);
            let _ = p.forwarded_host(peer, &h);
        }
    }

    #[test]
    fn mapped_peer_matches_ipv4_proxies() {
        let p = TrustedProxies::from_cidrs(["127.0.0.0/8"]).unwrap();
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.4"),
            ("x-forwarded-proto", "http, HTTPS"),
        ]);
        assert_eq!(p.client_ip(ip("::ffff:127.0.0.1"), &h), ip("198.51.100.4"));
        assert_eq!(
            p.forwarded_proto(ip("::ffff:127.0.0.1"), &h).as_deref(),
            Some("https")
        );
    }

    #[test]
    fn peer_ip_reads_extension_and_normalises() {
        let mut ext = Extensions::new();
        assert_eq!(peer_ip(&ext), None);
        ext.insert(PeerAddr("[::ffff:192.0.2.1]:80".parse().unwrap()));
        assert_eq!(peer_ip(&ext), Some(ip("192.0.2.1")));
    }
}

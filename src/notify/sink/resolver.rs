//! The webhook sink's guard against server-side request forgery: a resolver that drops
//! non-public addresses, and the test of what "public" means.

use std::{
    fmt,
    future::Future,
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    pin::Pin,
    task::{Context, Poll},
};

use hyper_util::client::legacy::connect::dns::Name;

/// A target name that resolved only to non-public addresses.
#[derive(Debug)]
pub(super) struct RefusedTarget(String);

impl fmt::Display for RefusedTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} resolves only to non-public addresses; allow_private_networks(true) permits them",
            self.0
        )
    }
}

impl std::error::Error for RefusedTarget {}

/// Resolves names with the system resolver and drops non-public addresses unless allowed,
/// so a name cannot smuggle a request to an internal service (checked on the addresses
/// actually connected to, which defeats DNS rebinding between check and use).
#[derive(Clone, Copy, Debug)]
pub(super) struct GuardedResolver {
    pub(super) allow_private: bool,
}

type ResolveFuture =
    Pin<Box<dyn Future<Output = Result<std::vec::IntoIter<SocketAddr>, io::Error>> + Send>>;

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = ResolveFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    RefusedTarget(host),
                ));
            }
            Ok(addrs.into_iter())
        })
    }
}

/// Whether `ip` is a globally routable unicast address.
///
/// IPv6 transition addresses are judged by the IPv4 address they carry, because that is
/// where a translator or relay delivers the packets: NAT64 `64:ff9b::/96` (RFC 6052),
/// 6to4 `2002::/16` (RFC 3056), IPv4-mapped `::ffff:0:0/96`, and Teredo `2001::/32`
/// (RFC 4380: both the server and the client address must be public). Ranges that are
/// never global are refused whatever they carry: local-use NAT64 `64:ff9b:1::/48`
/// (RFC 8215), IPv4-compatible `::/96` (deprecated, RFC 4291), site-local `fec0::/10`
/// (deprecated, RFC 3879), unique local, link-local, documentation, multicast, and on the
/// IPv4 side `192.0.0.0/24` (IETF protocol assignments), private, shared, benchmarking and
/// reserved space.
pub(super) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    !(v4.is_private()
        || v4.is_loopback()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments (RFC 6890)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240)
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    let seg = v6.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    // IPv4-mapped (::ffff:a.b.c.d): the IPv4 address itself.
    if let Some(v4) = v6.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // IPv4-compatible (::a.b.c.d, deprecated), `::` and `::1` included: never global.
    if seg[..6] == [0; 6] {
        return false;
    }
    // NAT64 well-known prefix 64:ff9b::/96: the IPv4 address in the last 32 bits.
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(seg[6], seg[7]));
    }
    // Local-use NAT64 64:ff9b:1::/48: a network's own translator, never global.
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2] == 1 {
        return false;
    }
    // 6to4 2002::/16: the IPv4 address in bits 16..48.
    if seg[0] == 0x2002 {
        return is_public_v4(embedded(seg[1], seg[2]));
    }
    // Teredo 2001::/32: the server in bits 32..64, the client (inverted) in the last 32.
    if seg[0] == 0x2001 && seg[1] == 0 {
        return is_public_v4(embedded(seg[2], seg[3])) && is_public_v4(embedded(!seg[6], !seg[7]));
    }
    let first = seg[0];
    !(v6.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || first == 0x2001 && seg[1] == 0x0db8) // documentation
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_public_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            // Issue #13 item 5: each missed range.
            "64:ff9b::7f00:1",
            "64:ff9b::c0a8:101",
            "64:ff9b:1::808:808",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "fec0::1",
            "192.0.0.8",
            "::ffff:192.0.0.1",
            "::7f00:1",
            "::808:808",
            "2001:0:7f00:1::1",
            "2001:0:808:808::f5ff:fffe",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:0:808:808::f7f7:f7f7",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}

//! What the layer does to one response: the header set rendered by
//! [`SecurityHeadersLayerBuilder::build`](super::SecurityHeadersLayerBuilder::build), and the
//! per-response [`SecurityHeadersOverride`] a handler may leave in the response extensions.
//!
//! A leaf of the module: the builder fills [`Shared`], the service decides HTTPS with it, and
//! the future applies it.

use http::{
    header::{self, Entry},
    uri::Scheme,
    HeaderMap, HeaderName, HeaderValue, Request, Response,
};
use smallvec::SmallVec;

use super::{ContentSecurityPolicy, CspNonce};
use crate::proxy::{peer_ip, TrustedProxies};

/// A per-response adjustment of the layer's policy, set by the handler as a **response
/// extension**. The layer removes it from the response and applies it.
///
/// The handler reads its [`CspNonce`] only when the layer's own policy uses
/// [`CspSource::Nonce`](super::CspSource::Nonce) (the nonce is drawn before the handler
/// runs). A replacement policy with a nonce under a layer policy without one still gets a
/// valid, fresh nonce in its header, but no script can carry it.
///
/// ```
/// use tower_fortify::security_headers::{ContentSecurityPolicy, CspSource, SecurityHeadersOverride};
///
/// // In a handler that serves one page embedding a video player:
/// let relaxed = ContentSecurityPolicy::builder()
///     .default_src([CspSource::SelfOrigin])
///     .frame_src([CspSource::host("https://player.example")])
///     .build()
///     .unwrap();
/// let mut res = http::Response::new(());
/// res.extensions_mut().insert(
///     SecurityHeadersOverride::new()
///         .content_security_policy(relaxed)
///         .omit(http::header::X_FRAME_OPTIONS),
/// );
/// # assert!(res.extensions().get::<SecurityHeadersOverride>().is_some());
/// ```
#[derive(Debug, Clone, Default)]
pub struct SecurityHeadersOverride {
    csp: Option<Option<ContentSecurityPolicy>>,
    csp_report_only: Option<Option<ContentSecurityPolicy>>,
    omit: SmallVec<[HeaderName; 2]>,
}

impl SecurityHeadersOverride {
    /// No change.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends `policy` as `Content-Security-Policy` on this response instead of the layer's.
    pub fn content_security_policy(mut self, policy: ContentSecurityPolicy) -> Self {
        self.csp = Some(Some(policy));
        self
    }

    /// Sends `policy` as `Content-Security-Policy-Report-Only` on this response instead of the layer's.
    pub fn content_security_policy_report_only(mut self, policy: ContentSecurityPolicy) -> Self {
        self.csp_report_only = Some(Some(policy));
        self
    }

    /// Sends no `Content-Security-Policy` on this response.
    pub fn no_content_security_policy(mut self) -> Self {
        self.csp = Some(None);
        self
    }

    /// Does not send `name` on this response (any header the layer sets, CSP and HSTS included).
    pub fn omit(mut self, name: HeaderName) -> Self {
        self.omit.push(name);
        self
    }
}

/// One prebuilt header.
#[derive(Debug)]
pub(super) struct FixedHeader {
    pub(super) name: HeaderName,
    pub(super) value: HeaderValue,
    pub(super) overwrite: bool,
}

/// Everything a built layer sends, rendered once and shared by every clone.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) fixed: Vec<FixedHeader>,
    pub(super) csp: Option<ContentSecurityPolicy>,
    pub(super) csp_overwrite: bool,
    pub(super) csp_report_only: Option<ContentSecurityPolicy>,
    pub(super) csp_ro_overwrite: bool,
    pub(super) hsts: Option<FixedHeader>,
    pub(super) hsts_always: bool,
    pub(super) https_listener: bool,
    pub(super) proxies: TrustedProxies,
    pub(super) strip: Vec<HeaderName>,
    pub(super) strip_prefixes: Vec<String>,
    pub(super) nonce_no_store: bool,
    pub(super) needs_nonce: bool,
}

impl Shared {
    /// Whether the request is known to have come over HTTPS.
    pub(super) fn is_https<B>(&self, req: &Request<B>) -> bool {
        if self.https_listener || req.uri().scheme() == Some(&Scheme::HTTPS) {
            return true;
        }
        if self.proxies.is_empty() {
            return false;
        }
        peer_ip(req.extensions())
            .and_then(|peer| self.proxies.forwarded_proto(peer, req.headers()))
            .is_some_and(|p| p == "https")
    }

    /// Removes the fingerprinting headers and adds the configured ones.
    pub(super) fn apply<B>(&self, res: &mut Response<B>, mut nonce: Option<CspNonce>, https: bool) {
        let adjust = res.extensions_mut().remove::<SecurityHeadersOverride>();
        let omitted = |name: &HeaderName| adjust.as_ref().is_some_and(|a| a.omit.contains(name));
        let headers = res.headers_mut();

        for name in &self.strip {
            headers.remove(name);
        }
        if !self.strip_prefixes.is_empty() {
            let doomed: SmallVec<[HeaderName; 4]> = headers
                .keys()
                .filter(|k| {
                    self.strip_prefixes
                        .iter()
                        .any(|p| k.as_str().starts_with(p.as_str()))
                })
                .cloned()
                .collect();
            for name in doomed {
                headers.remove(name);
            }
        }

        for h in &self.fixed {
            if !omitted(&h.name) {
                put(headers, &h.name, &h.value, h.overwrite);
            }
        }
        if let Some(h) = &self.hsts {
            if (https || self.hsts_always) && !omitted(&h.name) {
                put(headers, &h.name, &h.value, h.overwrite);
            }
        }

        let csp = match adjust.as_ref().and_then(|a| a.csp.as_ref()) {
            Some(chosen) => chosen.as_ref(),
            None => self.csp.as_ref(),
        };
        let csp_ro = match adjust.as_ref().and_then(|a| a.csp_report_only.as_ref()) {
            Some(chosen) => chosen.as_ref(),
            None => self.csp_report_only.as_ref(),
        };
        let mut nonce_sent = false;
        for (policy, name, overwrite) in [
            (csp, header::CONTENT_SECURITY_POLICY, self.csp_overwrite),
            (
                csp_ro,
                header::CONTENT_SECURITY_POLICY_REPORT_ONLY,
                self.csp_ro_overwrite,
            ),
        ] {
            let Some(policy) = policy else { continue };
            if omitted(&name) || (!overwrite && headers.contains_key(&name)) {
                continue;
            }
            if policy.uses_nonce() && nonce.is_none() {
                // A per-response policy asked for a nonce the layer's own policy did not use.
                nonce = Some(CspNonce::generate());
            }
            if let Some(value) = policy.header_value(nonce.as_ref().map(CspNonce::as_str)) {
                nonce_sent |= policy.uses_nonce();
                headers.insert(name, value);
            }
        }

        if nonce_sent && self.nonce_no_store && shareable(headers) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
}

/// Whether `Cache-Control` lets a shared cache keep the response (no `no-store`, no `private`).
fn shareable(headers: &HeaderMap) -> bool {
    match headers
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
    {
        None => true,
        Some(cc) => !cc
            .split(',')
            .map(|d| {
                d.trim()
                    .split('=')
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase()
            })
            .any(|d| d == "no-store" || d == "private"),
    }
}

fn put(headers: &mut HeaderMap, name: &HeaderName, value: &HeaderValue, overwrite: bool) {
    if overwrite {
        headers.insert(name.clone(), value.clone());
    } else if let Entry::Vacant(slot) = headers.entry(name.clone()) {
        slot.insert(value.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(value: Option<&str>) -> bool {
        let mut h = HeaderMap::new();
        if let Some(v) = value {
            h.insert(header::CACHE_CONTROL, HeaderValue::from_str(v).unwrap());
        }
        shareable(&h)
    }

    #[test]
    fn cache_control_that_keeps_a_nonce_private() {
        assert!(cc(None));
        assert!(cc(Some("max-age=60")));
        assert!(cc(Some("public, no-cache")));
        assert!(!cc(Some("no-store")));
        assert!(!cc(Some("max-age=0, No-Store")));
        assert!(!cc(Some("private=\"set-cookie\"")));
    }

    #[test]
    fn put_keeps_or_overwrites() {
        let name = header::X_FRAME_OPTIONS;
        let mut h = HeaderMap::new();
        h.insert(&name, HeaderValue::from_static("SAMEORIGIN"));
        put(&mut h, &name, &HeaderValue::from_static("DENY"), false);
        assert_eq!(h[&name], "SAMEORIGIN");
        put(&mut h, &name, &HeaderValue::from_static("DENY"), true);
        assert_eq!(h[&name], "DENY");
        assert_eq!(h.get_all(&name).iter().count(), 1);
        h.clear();
        put(&mut h, &name, &HeaderValue::from_static("DENY"), false);
        assert_eq!(h[&name], "DENY");
    }
}

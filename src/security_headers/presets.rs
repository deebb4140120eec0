//! The presets: helmet 8's defaults, the OWASP Secure Headers Project's recommendations,
//! and a development preset for `http://localhost`.

use std::time::Duration;

use super::{
    ContentSecurityPolicy, CspBuilder, CspSource, HeaderMode, Hsts, HstsScope,
    SecurityHeadersLayer, SecurityHeadersLayerBuilder,
};

/// The OWASP Secure Headers Project's deny-all `Permissions-Policy` (its `headers_add.json`,
/// with `sync-xhr` denied too and the retired `interest-cohort`/`unload` features left out).
pub const DENY_ALL_PERMISSIONS_POLICY: &str = "accelerometer=(), autoplay=(), camera=(), \
cross-origin-isolated=(), display-capture=(), encrypted-media=(), fullscreen=(), geolocation=(), \
gyroscope=(), keyboard-map=(), magnetometer=(), microphone=(), midi=(), payment=(), \
picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), sync-xhr=(), usb=(), \
web-share=(), xr-spatial-tracking=(), clipboard-read=(), clipboard-write=(), gamepad=(), hid=(), \
idle-detection=(), serial=()";

/// Headers that reveal the server's software and version, removed by [`SecurityHeadersLayer::strict`]
/// (a selection of the OWASP Secure Headers Project's `headers_remove.json`). Entries ending
/// in `*` remove every header with that prefix.
pub const FINGERPRINT_HEADERS: &[&str] = &[
    "server",
    "x-powered-by",
    "x-powered-by-plesk",
    "powered-by",
    "x-aspnet-version",
    "x-aspnetmvc-version",
    "x-generator",
    "x-generated-by",
    "x-runtime",
    "x-php-version",
    "x-framework",
    "x-redirect-by",
    "x-server-powered-by",
    "x-sourcefiles",
    "sourcemap",
    "x-sourcemap",
    "x-envoy-*",
    "x-kong-*",
];

fn h(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

impl ContentSecurityPolicy {
    /// helmet 8's default policy, as a builder to adjust:
    /// `default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';`
    /// `frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';`
    /// `script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests`.
    pub fn helmet() -> CspBuilder {
        ContentSecurityPolicy::builder()
            .default_src([CspSource::SelfOrigin])
            .base_uri([CspSource::SelfOrigin])
            .font_src([
                CspSource::SelfOrigin,
                CspSource::scheme("https"),
                CspSource::scheme("data"),
            ])
            .form_action([CspSource::SelfOrigin])
            .frame_ancestors([CspSource::SelfOrigin])
            .img_src([CspSource::SelfOrigin, CspSource::scheme("data")])
            .object_src([CspSource::None])
            .script_src([CspSource::SelfOrigin])
            .script_src_attr([CspSource::None])
            .style_src([
                CspSource::SelfOrigin,
                CspSource::scheme("https"),
                CspSource::UnsafeInline,
            ])
            .upgrade_insecure_requests()
    }

    /// The OWASP Secure Headers Project's policy, as a builder to adjust:
    /// `default-src 'self';form-action 'self';base-uri 'self';object-src 'none';`
    /// `frame-ancestors 'none';upgrade-insecure-requests`.
    pub fn strict() -> CspBuilder {
        ContentSecurityPolicy::builder()
            .default_src([CspSource::SelfOrigin])
            .form_action([CspSource::SelfOrigin])
            .base_uri([CspSource::SelfOrigin])
            .object_src([CspSource::None])
            .frame_ancestors([CspSource::None])
            .upgrade_insecure_requests()
    }
}

impl SecurityHeadersLayer {
    /// Byte for byte the defaults of helmet 8 (Node.js): 12 headers on every response, HSTS
    /// included (as helmet does; browsers ignore HSTS over plain HTTP), and `X-Powered-By`
    /// removed. No `Cross-Origin-Embedder-Policy`.
    ///
    /// | header | value |
    /// |---|---|
    /// | `Content-Security-Policy` | [`ContentSecurityPolicy::helmet`] |
    /// | `Cross-Origin-Opener-Policy` | `same-origin` |
    /// | `Cross-Origin-Resource-Policy` | `same-origin` |
    /// | `Origin-Agent-Cluster` | `?1` |
    /// | `Referrer-Policy` | `no-referrer` |
    /// | `Strict-Transport-Security` | `max-age=31536000; includeSubDomains` |
    /// | `X-Content-Type-Options` | `nosniff` |
    /// | `X-DNS-Prefetch-Control` | `off` |
    /// | `X-Download-Options` | `noopen` |
    /// | `X-Frame-Options` | `SAMEORIGIN` |
    /// | `X-Permitted-Cross-Domain-Policies` | `none` |
    /// | `X-XSS-Protection` | `0` |
    pub fn helmet() -> SecurityHeadersLayerBuilder {
        let mut this = SecurityHeadersLayer::builder()
            .preset_csp(ContentSecurityPolicy::helmet().build())
            .hsts(Hsts::new(Duration::from_secs(31_536_000)).include_subdomains())
            .hsts_scope(HstsScope::Always)
            .strip_headers(["x-powered-by"]);
        this.headers = vec![
            h("cross-origin-opener-policy", "same-origin"),
            h("cross-origin-resource-policy", "same-origin"),
            h("origin-agent-cluster", "?1"),
            h("referrer-policy", "no-referrer"),
            h("x-content-type-options", "nosniff"),
            h("x-dns-prefetch-control", "off"),
            h("x-download-options", "noopen"),
            h("x-frame-options", "SAMEORIGIN"),
            h("x-permitted-cross-domain-policies", "none"),
            h("x-xss-protection", "0"),
        ];
        this
    }

    /// The OWASP Secure Headers Project's recommendations for an API or an app that embeds
    /// nothing, with HSTS sent only on responses known to be HTTPS ([`HstsScope::HttpsOnly`])
    /// and every header in [`FINGERPRINT_HEADERS`] removed.
    ///
    /// | header | value |
    /// |---|---|
    /// | `Content-Security-Policy` | [`ContentSecurityPolicy::strict`] |
    /// | `Strict-Transport-Security` | `max-age=63072000; includeSubDomains` (two years; HTTPS only) |
    /// | `Cross-Origin-Embedder-Policy` | `require-corp` |
    /// | `Cross-Origin-Opener-Policy` | `same-origin` |
    /// | `Cross-Origin-Resource-Policy` | `same-origin` |
    /// | `Permissions-Policy` | [`DENY_ALL_PERMISSIONS_POLICY`] |
    /// | `Referrer-Policy` | `no-referrer` |
    /// | `X-Content-Type-Options` | `nosniff` |
    /// | `X-Frame-Options` | `DENY` |
    /// | `X-Permitted-Cross-Domain-Policies` | `none` |
    ///
    /// `X-XSS-Protection` is not sent (deprecated; OWASP advises against it). Add
    /// `Cache-Control: no-store, max-age=0` for API responses with
    /// [`cache_control_no_store`](SecurityHeadersLayerBuilder::cache_control_no_store).
    pub fn strict() -> SecurityHeadersLayerBuilder {
        let mut this = SecurityHeadersLayer::builder()
            .preset_csp(ContentSecurityPolicy::strict().build())
            .hsts(Hsts::new(Duration::from_secs(63_072_000)).include_subdomains())
            .hsts_scope(HstsScope::HttpsOnly)
            .strip_headers(FINGERPRINT_HEADERS);
        this.headers = vec![
            h("cross-origin-embedder-policy", "require-corp"),
            h("cross-origin-opener-policy", "same-origin"),
            h("cross-origin-resource-policy", "same-origin"),
            h("permissions-policy", DENY_ALL_PERMISSIONS_POLICY),
            h("referrer-policy", "no-referrer"),
            h("x-content-type-options", "nosniff"),
            h("x-frame-options", "DENY"),
            h("x-permitted-cross-domain-policies", "none"),
        ];
        this
    }

    /// [`helmet`](SecurityHeadersLayer::helmet) made safe for `http://localhost`: no HSTS (a
    /// browser that cached it for `localhost` refuses every plain-HTTP dev server for a
    /// year) and no `upgrade-insecure-requests` in the CSP (it would send subresources to
    /// `https://localhost`).
    pub fn development() -> SecurityHeadersLayerBuilder {
        let mut this = SecurityHeadersLayer::helmet().preset_csp(
            ContentSecurityPolicy::helmet()
                .remove("upgrade-insecure-requests")
                .build(),
        );
        this.hsts = None;
        this
    }
}

impl SecurityHeadersLayerBuilder {
    /// Adds `Cache-Control: no-store, max-age=0` (OWASP's value for API responses), kept
    /// when the handler set its own `Cache-Control`.
    pub fn cache_control_no_store(self) -> Self {
        self.header("cache-control", "no-store, max-age=0")
            .header_mode("cache-control", HeaderMode::KeepExisting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_is_helmet_without_hsts_or_upgrades() {
        let helmet = SecurityHeadersLayer::helmet();
        let dev = SecurityHeadersLayer::development();
        assert!(helmet.hsts.is_some());
        assert!(dev.hsts.is_none());
        assert_eq!(helmet.headers, dev.headers);
        let csp = |b: &SecurityHeadersLayerBuilder| b.csp.as_ref().unwrap().render_with_nonce("");
        assert!(csp(&helmet).ends_with(";upgrade-insecure-requests"));
        assert!(!csp(&dev).contains("upgrade-insecure-requests"));
        assert!(dev.build().is_ok());
    }

    #[test]
    fn strict_strips_every_fingerprint_header() {
        let layer = SecurityHeadersLayer::strict().build().unwrap();
        let stripped = layer.shared.strip.len() + layer.shared.strip_prefixes.len();
        assert_eq!(stripped, FINGERPRINT_HEADERS.len());
        assert!(layer.shared.strip_prefixes.iter().any(|p| p == "x-envoy-"));
    }
}

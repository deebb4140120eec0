//! The builder of [`SecurityHeadersLayer`] and [`HeaderMode`]; the HSTS setting types are
//! in `hsts.rs`.

use std::sync::Arc;

use http::{header, HeaderName, HeaderValue};

use super::{
    response::{FixedHeader, Shared},
    ContentSecurityPolicy, Hsts, HstsScope, SecurityHeadersLayer,
};
use crate::{proxy::TrustedProxies, ConfigError};

/// What the layer does when the handler already set a header it would send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HeaderMode {
    /// Keep the handler's value (the default): the handler knows its response best.
    #[default]
    KeepExisting,
    /// Replace the handler's value with the configured one.
    Override,
}

/// Headers with their own setter; [`SecurityHeadersLayerBuilder::header`] refuses them.
const DEDICATED: [&str; 4] = [
    "content-security-policy",
    "content-security-policy-report-only",
    "strict-transport-security",
    "reporting-endpoints",
];

/// Builder of a [`SecurityHeadersLayer`]: start from a preset
/// ([`SecurityHeadersLayer::helmet`], [`SecurityHeadersLayer::strict`],
/// [`SecurityHeadersLayer::development`]) or from an empty set
/// ([`SecurityHeadersLayer::builder`]), adjust, then [`build`](Self::build).
///
/// Setters never fail: they store what they are given, and `build` reports the first
/// invalid setting as a [`ConfigError`] naming it (`security_headers.header`,
/// `security_headers.header_mode`, `security_headers.reporting_endpoint`,
/// `security_headers.hsts`, `security_headers.strip_headers`,
/// `security_headers.strip_header`).
#[derive(Debug, Clone)]
#[must_use]
pub struct SecurityHeadersLayerBuilder {
    /// `(lowercased name, value)`, in the order they are sent.
    pub(super) headers: Vec<(String, String)>,
    /// `(lowercased name, mode)`.
    modes: Vec<(String, HeaderMode)>,
    pub(super) csp: Option<ContentSecurityPolicy>,
    csp_report_only: Option<ContentSecurityPolicy>,
    pub(super) hsts: Option<Hsts>,
    hsts_scope: HstsScope,
    https_listener: bool,
    proxies: TrustedProxies,
    /// `(lowercased name or `prefix*`, the setter that added it)`.
    strip: Vec<(String, &'static str)>,
    reporting_endpoints: Vec<(String, String)>,
    nonce_no_store: bool,
    /// A preset's own policy failed to build (a bug of the preset, reported by `build`).
    preset_error: Option<ConfigError>,
}

impl Default for SecurityHeadersLayerBuilder {
    fn default() -> Self {
        Self {
            headers: Vec::new(),
            modes: Vec::new(),
            csp: None,
            csp_report_only: None,
            hsts: None,
            hsts_scope: HstsScope::HttpsOnly,
            https_listener: false,
            proxies: TrustedProxies::none(),
            strip: Vec::new(),
            reporting_endpoints: Vec::new(),
            nonce_no_store: true,
            preset_error: None,
        }
    }
}

impl SecurityHeadersLayer {
    /// No headers at all: build your own set. The presets
    /// ([`helmet`](Self::helmet), [`strict`](Self::strict),
    /// [`development`](Self::development)) are the usual start.
    pub fn builder() -> SecurityHeadersLayerBuilder {
        SecurityHeadersLayerBuilder::default()
    }
}

impl SecurityHeadersLayerBuilder {
    /// Sends `name: value` (replacing the preset's value for `name`, keeping its position).
    ///
    /// Use the dedicated setters for `Content-Security-Policy`,
    /// `Content-Security-Policy-Report-Only`, `Strict-Transport-Security` and
    /// `Reporting-Endpoints`; naming them here, an invalid name, or a value with a control
    /// or non-ASCII character is a [`ConfigError`] from [`build`](Self::build).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = name.to_ascii_lowercase();
        match self.headers.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value.to_owned(),
            None => self.headers.push((name, value.to_owned())),
        }
        self
    }

    /// Stops sending `name` (any header, CSP and HSTS included). Unknown names are ignored.
    pub fn remove_header(mut self, name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        self.headers.retain(|(n, _)| *n != lower);
        match lower.as_str() {
            "content-security-policy" => self.csp = None,
            "content-security-policy-report-only" => self.csp_report_only = None,
            "strict-transport-security" => self.hsts = None,
            "reporting-endpoints" => self.reporting_endpoints.clear(),
            _ => {}
        }
        self
    }

    /// Sets what happens when the handler already set `name` (default
    /// [`HeaderMode::KeepExisting`]).
    pub fn header_mode(mut self, name: &str, mode: HeaderMode) -> Self {
        let name = name.to_ascii_lowercase();
        self.modes.retain(|(m, _)| *m != name);
        self.modes.push((name, mode));
        self
    }

    /// The enforcing `Content-Security-Policy`.
    pub fn content_security_policy(mut self, policy: ContentSecurityPolicy) -> Self {
        self.csp = Some(policy);
        self
    }

    /// A `Content-Security-Policy-Report-Only` policy, sent **alongside** the enforcing one
    /// (to try a stricter policy before enforcing it).
    pub fn content_security_policy_report_only(mut self, policy: ContentSecurityPolicy) -> Self {
        self.csp_report_only = Some(policy);
        self
    }

    /// Sets the preset's own policy; a preset whose policy fails reports it from `build`.
    pub(super) fn preset_csp(mut self, policy: Result<ContentSecurityPolicy, ConfigError>) -> Self {
        match policy {
            Ok(p) => self.csp = Some(p),
            Err(e) => {
                self.preset_error.get_or_insert(e);
            }
        }
        self
    }

    /// Declares a reporting endpoint in `Reporting-Endpoints` (`name="url"`), for the CSP
    /// `report-to` directive. The URL must be absolute `https://` (browsers ignore others),
    /// or `http://localhost`; the name lowercase letters, digits and `_-.*`.
    pub fn reporting_endpoint(mut self, name: &str, url: &str) -> Self {
        self.reporting_endpoints.retain(|(n, _)| n != name);
        self.reporting_endpoints
            .push((name.to_owned(), url.to_owned()));
        self
    }

    /// The `Strict-Transport-Security` policy.
    pub fn hsts(mut self, hsts: Hsts) -> Self {
        self.hsts = Some(hsts);
        self
    }

    /// When HSTS is sent (see [`HstsScope`]).
    pub fn hsts_scope(mut self, scope: HstsScope) -> Self {
        self.hsts_scope = scope;
        self
    }

    /// Declares that this listener serves HTTPS itself: a server that terminates TLS sees
    /// no scheme in HTTP/1.1 request targets, so the layer cannot tell otherwise.
    pub fn https_listener(mut self, https: bool) -> Self {
        self.https_listener = https;
        self
    }

    /// The proxies whose `X-Forwarded-Proto` / `Forwarded: proto=` is believed when deciding
    /// whether a request came over HTTPS (default: none).
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// Replaces the list of fingerprinting headers removed from every response. A name
    /// ending in `*` removes every header with that prefix (`x-envoy-*`).
    pub fn strip_headers<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.strip.clear();
        for n in names {
            self.add_strip(n.as_ref(), "security_headers.strip_headers");
        }
        self
    }

    /// Adds one header (or `prefix-*`) to the list of headers removed from every response.
    pub fn strip_header(mut self, name: &str) -> Self {
        self.add_strip(name, "security_headers.strip_header");
        self
    }

    fn add_strip(&mut self, name: &str, setting: &'static str) {
        let lower = name.to_ascii_lowercase();
        if !self.strip.iter().any(|(n, _)| *n == lower) {
            self.strip.push((lower, setting));
        }
    }

    /// Whether a response carrying a nonce is marked `Cache-Control: no-store` (default
    /// `true`). A cached page would hand one user's nonce to every other user, which makes
    /// the nonce predictable. Turn it off only if you set cache headers yourself.
    pub fn nonce_no_store(mut self, enabled: bool) -> Self {
        self.nonce_no_store = enabled;
        self
    }

    /// The header names this configuration sends (before per-response adjustments), in
    /// order. Names that are not valid header names are left out (`build` refuses them).
    pub fn header_names(&self) -> Vec<HeaderName> {
        let mut out = Vec::new();
        if self.csp.is_some() {
            out.push(header::CONTENT_SECURITY_POLICY);
        }
        if self.csp_report_only.is_some() {
            out.push(header::CONTENT_SECURITY_POLICY_REPORT_ONLY);
        }
        if !self.reporting_endpoints.is_empty() {
            out.push(HeaderName::from_static("reporting-endpoints"));
        }
        if self.hsts.is_some() {
            out.push(header::STRICT_TRANSPORT_SECURITY);
        }
        out.extend(
            self.headers
                .iter()
                .filter_map(|(n, _)| HeaderName::try_from(n.as_str()).ok()),
        );
        out
    }

    /// Validates the configuration and builds the layer. Header values are rendered here,
    /// once; per request the layer only inserts them (and renders the nonce).
    pub fn build(self) -> Result<SecurityHeadersLayer, ConfigError> {
        if let Some(e) = self.preset_error {
            return Err(e);
        }
        let modes = self
            .modes
            .iter()
            .map(|(name, mode)| {
                HeaderName::try_from(name.as_str())
                    .map(|n| (n, *mode))
                    .map_err(|_| {
                        ConfigError::new(
                            "security_headers.header_mode",
                            format!("`{}` is not a header name", name.escape_debug()),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let override_of = |name: &HeaderName| {
            modes
                .iter()
                .find(|(n, _)| n == name)
                .is_some_and(|(_, m)| *m == HeaderMode::Override)
        };

        let mut fixed: Vec<FixedHeader> = Vec::new();
        if !self.reporting_endpoints.is_empty() {
            let name = HeaderName::from_static("reporting-endpoints");
            fixed.push(FixedHeader {
                overwrite: override_of(&name),
                value: reporting_endpoints(&self.reporting_endpoints)?,
                name,
            });
        }
        for (name, value) in &self.headers {
            let (name, value) = fixed_header(name, value)?;
            fixed.push(FixedHeader {
                overwrite: override_of(&name),
                name,
                value,
            });
        }

        let mut strip = Vec::new();
        let mut strip_prefixes = Vec::new();
        for (name, setting) in &self.strip {
            if let Some(prefix) = name.strip_suffix('*') {
                if prefix.is_empty() || HeaderName::try_from(prefix).is_err() {
                    return Err(ConfigError::new(
                        setting,
                        format!("`{}` is not a header prefix", name.escape_debug()),
                    ));
                }
                strip_prefixes.push(prefix.to_owned());
            } else {
                strip.push(HeaderName::try_from(name.as_str()).map_err(|_| {
                    ConfigError::new(
                        setting,
                        format!("`{}` is not a header name", name.escape_debug()),
                    )
                })?);
            }
        }

        let hsts = match self.hsts {
            Some(h) => {
                h.validate()?;
                let value = HeaderValue::from_str(&h.to_string()).map_err(|_| {
                    ConfigError::new("security_headers.hsts", "not a valid header value")
                })?;
                Some(FixedHeader {
                    overwrite: override_of(&header::STRICT_TRANSPORT_SECURITY),
                    name: header::STRICT_TRANSPORT_SECURITY,
                    value,
                })
            }
            None => None,
        };
        let needs_nonce = self
            .csp
            .as_ref()
            .is_some_and(ContentSecurityPolicy::uses_nonce)
            || self
                .csp_report_only
                .as_ref()
                .is_some_and(ContentSecurityPolicy::uses_nonce);
        let shared = Shared {
            csp_overwrite: override_of(&header::CONTENT_SECURITY_POLICY),
            csp_ro_overwrite: override_of(&header::CONTENT_SECURITY_POLICY_REPORT_ONLY),
            csp: self.csp,
            csp_report_only: self.csp_report_only,
            fixed,
            hsts,
            hsts_always: self.hsts_scope == HstsScope::Always,
            https_listener: self.https_listener,
            proxies: self.proxies,
            strip,
            strip_prefixes,
            nonce_no_store: self.nonce_no_store,
            needs_nonce,
        };
        Ok(SecurityHeadersLayer {
            shared: Arc::new(shared),
        })
    }
}

/// Validates one header given to [`SecurityHeadersLayerBuilder::header`].
fn fixed_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), ConfigError> {
    const SETTING: &str = "security_headers.header";
    let name = HeaderName::try_from(name).map_err(|_| {
        ConfigError::new(
            SETTING,
            format!("`{}` is not a header name", name.escape_debug()),
        )
    })?;
    if DEDICATED.contains(&name.as_str()) {
        return Err(ConfigError::new(
            SETTING,
            format!("set `{name}` with its own method (content_security_policy, hsts, reporting_endpoint)"),
        ));
    }
    let value = HeaderValue::from_str(value).map_err(|_| {
        ConfigError::new(
            SETTING,
            format!("the value of `{name}` contains a control or non-ASCII character"),
        )
    })?;
    Ok((name, value))
}

/// Validates the endpoints and renders `Reporting-Endpoints`.
fn reporting_endpoints(endpoints: &[(String, String)]) -> Result<HeaderValue, ConfigError> {
    const SETTING: &str = "security_headers.reporting_endpoint";
    for (name, url) in endpoints {
        let name_ok = name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'*')
            && name.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'_' | b'-' | b'.' | b'*')
            });
        if !name_ok {
            return Err(ConfigError::new(
                SETTING,
                format!(
                    "`{}` is not an endpoint name (lowercase letters, digits, `_-.*`)",
                    name.escape_debug()
                ),
            ));
        }
        let url_ok = (url.starts_with("https://") || url.starts_with("http://localhost"))
            && url.parse::<http::Uri>().is_ok()
            && !url
                .bytes()
                .any(|b| matches!(b, b'"' | b'\\' | b',' | b';') || !b.is_ascii_graphic());
        if !url_ok {
            return Err(ConfigError::new(
                SETTING,
                format!("`{}` is not an absolute https:// URL", url.escape_debug()),
            ));
        }
    }
    let text = endpoints
        .iter()
        .map(|(n, u)| format!("{n}=\"{u}\""))
        .collect::<Vec<_>>()
        .join(", ");
    HeaderValue::from_str(&text)
        .map_err(|_| ConfigError::new(SETTING, "the endpoints are not a valid header value"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn setting(b: SecurityHeadersLayerBuilder) -> &'static str {
        b.build().unwrap_err().setting()
    }

    #[test]
    fn setters_store_and_build_names_the_bad_setting() {
        let b = SecurityHeadersLayer::builder;
        assert_eq!(
            setting(b().header("bad name", "x")),
            "security_headers.header"
        );
        assert_eq!(
            setting(b().header("x-ok", "line\r\nbreak")),
            "security_headers.header"
        );
        assert_eq!(
            setting(b().header("Strict-Transport-Security", "max-age=1")),
            "security_headers.header"
        );
        assert_eq!(
            setting(b().header_mode("bad name", HeaderMode::Override)),
            "security_headers.header_mode"
        );
        assert_eq!(
            setting(b().reporting_endpoint("Bad", "https://r.example")),
            "security_headers.reporting_endpoint"
        );
        assert_eq!(
            setting(b().reporting_endpoint("csp", "http://r.example")),
            "security_headers.reporting_endpoint"
        );
        assert_eq!(
            setting(b().strip_header("*")),
            "security_headers.strip_header"
        );
        assert_eq!(
            setting(b().strip_headers(["ok", "bad name"])),
            "security_headers.strip_headers"
        );
        assert_eq!(
            setting(b().hsts(Hsts::new(Duration::from_secs(60)).preload())),
            "security_headers.hsts"
        );
        // A bad header that is removed again is never sent, so it is no error.
        assert!(b()
            .header("bad name", "x")
            .remove_header("bad name")
            .build()
            .is_ok());
    }

    #[test]
    fn headers_keep_their_position_and_names_are_case_insensitive() {
        let b = SecurityHeadersLayer::builder()
            .header("X-A", "1")
            .header("x-b", "2")
            .header("x-a", "3");
        assert_eq!(b.header_names(), ["x-a", "x-b"]);
        assert_eq!(b.headers[0].1, "3");
        let layer = b.build().unwrap();
        let names: Vec<_> = layer.shared.fixed.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["x-a", "x-b"]);
    }

    #[test]
    fn reporting_endpoints_render_in_order() {
        let v = reporting_endpoints(&[
            ("csp".into(), "https://r.example/csp".into()),
            ("dev".into(), "http://localhost:8080/r".into()),
        ])
        .unwrap();
        assert_eq!(
            v,
            "csp=\"https://r.example/csp\", dev=\"http://localhost:8080/r\""
        );
    }
}

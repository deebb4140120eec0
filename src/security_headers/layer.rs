//! The configuration, the layer, the service and its future.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{ready, Context, Poll},
    time::Duration,
};

use http::{
    header::{self, Entry},
    uri::Scheme,
    HeaderMap, HeaderName, HeaderValue, Request, Response,
};
use pin_project_lite::pin_project;
use smallvec::SmallVec;
use tower_layer::Layer;
use tower_service::Service;

use super::{ContentSecurityPolicy, CspNonce};
use crate::{
    proxy::{peer_ip, TrustedProxies},
    ConfigError,
};

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

/// An HTTP Strict Transport Security policy (`Strict-Transport-Security`).
///
/// ```
/// use std::time::Duration;
/// use tower_fortify::security_headers::Hsts;
///
/// let hsts = Hsts::new(Duration::from_secs(63_072_000)).include_subdomains().preload();
/// assert_eq!(hsts.to_string(), "max-age=63072000; includeSubDomains; preload");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hsts {
    max_age: u64,
    include_subdomains: bool,
    preload: bool,
}

impl Hsts {
    /// A policy that tells browsers to use HTTPS for `max_age` (whole seconds).
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age: max_age.as_secs(),
            include_subdomains: false,
            preload: false,
        }
    }

    /// Adds `includeSubDomains`.
    pub fn include_subdomains(mut self) -> Self {
        self.include_subdomains = true;
        self
    }

    /// Adds `preload`. The preload list requires `includeSubDomains` and a `max-age` of at
    /// least one year; [`SecurityHeaders::build`] refuses a preload policy without them.
    pub fn preload(mut self) -> Self {
        self.preload = true;
        self
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.preload && (!self.include_subdomains || self.max_age < 31_536_000) {
            return Err(ConfigError::new(
                "hsts",
                "`preload` requires `includeSubDomains` and a max-age of at least one year (31536000 s)",
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Hsts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "max-age={}", self.max_age)?;
        if self.include_subdomains {
            f.write_str("; includeSubDomains")?;
        }
        if self.preload {
            f.write_str("; preload")?;
        }
        Ok(())
    }
}

/// When `Strict-Transport-Security` is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HstsScope {
    /// On every response, as helmet does (browsers ignore it over plain HTTP).
    Always,
    /// Only on responses the layer knows are served over HTTPS: the listener is marked
    /// HTTPS ([`SecurityHeaders::https_listener`]), the request URI has the `https` scheme
    /// (HTTP/2 `:scheme`), or a **trusted** proxy says `https` in `X-Forwarded-Proto` /
    /// `Forwarded` ([`SecurityHeaders::trusted_proxies`]).
    HttpsOnly,
}

/// A per-response adjustment of the layer's policy, set by the handler as a **response
/// extension**. The layer removes it from the response and applies it.
///
/// The handler reads its [`CspNonce`] only when the layer's own policy uses
/// [`Source::Nonce`](super::Source::Nonce) (the nonce is drawn before the handler runs). A
/// replacement policy with a nonce under a layer policy without one still gets a valid,
/// fresh nonce in its header, but no script can carry it.
///
/// ```
/// use tower_fortify::security_headers::{ContentSecurityPolicy, SecurityHeadersOverride, Source};
///
/// // In a handler that serves one page embedding a video player:
/// let relaxed = ContentSecurityPolicy::builder()
///     .default_src([Source::SelfOrigin])
///     .frame_src([Source::host("https://player.example")])
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

/// Configuration of the security headers: start from a preset
/// ([`helmet`](SecurityHeaders::helmet), [`strict`](SecurityHeaders::strict),
/// [`development`](SecurityHeaders::development)) or from [`new`](SecurityHeaders::new),
/// adjust, then [`build`](SecurityHeaders::build) the [`SecurityHeadersLayer`].
///
/// Setters never fail; the first invalid value is reported by `build`.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    pub(super) headers: Vec<(HeaderName, HeaderValue)>,
    pub(super) modes: Vec<(HeaderName, HeaderMode)>,
    pub(super) csp: Option<ContentSecurityPolicy>,
    pub(super) csp_report_only: Option<ContentSecurityPolicy>,
    pub(super) hsts: Option<Hsts>,
    pub(super) hsts_scope: HstsScope,
    pub(super) https_listener: bool,
    pub(super) proxies: TrustedProxies,
    pub(super) strip: Vec<HeaderName>,
    pub(super) strip_prefixes: Vec<String>,
    pub(super) reporting_endpoints: Vec<(String, String)>,
    pub(super) nonce_no_store: bool,
    pub(super) error: Option<ConfigError>,
}

impl Default for SecurityHeaders {
    fn default() -> Self {
        Self::new()
    }
}

impl SecurityHeaders {
    /// No headers at all: build your own set.
    pub fn new() -> Self {
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
            strip_prefixes: Vec::new(),
            reporting_endpoints: Vec::new(),
            nonce_no_store: true,
            error: None,
        }
    }

    fn fail(&mut self, e: ConfigError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Sends `name: value` (replacing the preset's value for `name`, keeping its position).
    ///
    /// Use the dedicated setters for `Content-Security-Policy`,
    /// `Content-Security-Policy-Report-Only`, `Strict-Transport-Security` and
    /// `Reporting-Endpoints`; naming them here is a [`ConfigError`].
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = match HeaderName::try_from(name) {
            Ok(n) => n,
            Err(_) => {
                self.fail(ConfigError::new(
                    "header",
                    format!("`{}` is not a header name", name.escape_debug()),
                ));
                return self;
            }
        };
        if [
            header::CONTENT_SECURITY_POLICY,
            header::CONTENT_SECURITY_POLICY_REPORT_ONLY,
            header::STRICT_TRANSPORT_SECURITY,
        ]
        .contains(&name)
            || name == "reporting-endpoints"
        {
            self.fail(ConfigError::new(
                "header",
                format!("set `{name}` with its own method (content_security_policy, hsts, reporting_endpoint)"),
            ));
            return self;
        }
        let value = match HeaderValue::from_str(value) {
            Ok(v) => v,
            Err(_) => {
                self.fail(ConfigError::new(
                    "header",
                    format!("the value of `{name}` contains a control or non-ASCII character"),
                ));
                return self;
            }
        };
        match self.headers.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.headers.push((name, value)),
        }
        self
    }

    /// Stops sending `name` (any header, CSP and HSTS included). Unknown names are ignored.
    pub fn remove_header(mut self, name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        self.headers.retain(|(n, _)| n.as_str() != lower);
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
        match HeaderName::try_from(name) {
            Ok(n) => {
                self.modes.retain(|(m, _)| *m != n);
                self.modes.push((n, mode));
            }
            Err(_) => self.fail(ConfigError::new(
                "header_mode",
                format!("`{}` is not a header name", name.escape_debug()),
            )),
        }
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

    pub(super) fn csp_result(mut self, policy: Result<ContentSecurityPolicy, ConfigError>) -> Self {
        match policy {
            Ok(p) => self.csp = Some(p),
            Err(e) => self.fail(e),
        }
        self
    }

    /// Declares a reporting endpoint in `Reporting-Endpoints` (`name="url"`), for the CSP
    /// `report-to` directive. The URL must be absolute `https://` (browsers ignore others),
    /// or `http://localhost`.
    pub fn reporting_endpoint(mut self, name: &str, url: &str) -> Self {
        let name_ok = !name.is_empty()
            && name
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b == b'*')
            && name.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'_' | b'-' | b'.' | b'*')
            });
        if !name_ok {
            self.fail(ConfigError::new(
                "reporting_endpoint",
                format!(
                    "`{}` is not an endpoint name (lowercase letters, digits, `_-.*`)",
                    name.escape_debug()
                ),
            ));
            return self;
        }
        let url_ok = (url.starts_with("https://") || url.starts_with("http://localhost"))
            && url.parse::<http::Uri>().is_ok()
            && !url
                .bytes()
                .any(|b| matches!(b, b'"' | b'\\' | b',' | b';') || !b.is_ascii_graphic());
        if !url_ok {
            self.fail(ConfigError::new(
                "reporting_endpoint",
                format!("`{}` is not an absolute https:// URL", url.escape_debug()),
            ));
            return self;
        }
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
        self.strip_prefixes.clear();
        for n in names {
            self = self.strip_header(n.as_ref());
        }
        self
    }

    /// Adds one header (or `prefix-*`) to the list of headers removed from every response.
    pub fn strip_header(mut self, name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        if let Some(prefix) = lower.strip_suffix('*') {
            if prefix.is_empty() || HeaderName::try_from(prefix).is_err() {
                self.fail(ConfigError::new(
                    "strip_headers",
                    format!("`{}` is not a header prefix", name.escape_debug()),
                ));
            } else if !self.strip_prefixes.iter().any(|p| p == prefix) {
                self.strip_prefixes.push(prefix.to_owned());
            }
            return self;
        }
        match HeaderName::try_from(lower.as_str()) {
            Ok(n) => {
                if !self.strip.contains(&n) {
                    self.strip.push(n);
                }
            }
            Err(_) => self.fail(ConfigError::new(
                "strip_headers",
                format!("`{}` is not a header name", name.escape_debug()),
            )),
        }
        self
    }

    /// Whether a response carrying a nonce is marked `Cache-Control: no-store` (default
    /// `true`). A cached page would hand one user's nonce to every other user, which makes
    /// the nonce predictable. Turn it off only if you set cache headers yourself.
    pub fn nonce_no_store(mut self, enabled: bool) -> Self {
        self.nonce_no_store = enabled;
        self
    }

    /// The header names this configuration sends (before per-response adjustments), in order.
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
        out.extend(self.headers.iter().map(|(n, _)| n.clone()));
        out
    }

    /// Validates the configuration and builds the layer. Header values are rendered here,
    /// once; per request the layer only inserts them (and renders the nonce).
    pub fn build(self) -> Result<SecurityHeadersLayer, ConfigError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let override_of = |name: &HeaderName| {
            self.modes
                .iter()
                .find(|(n, _)| n == name)
                .is_some_and(|(_, m)| *m == HeaderMode::Override)
        };
        let mut fixed: Vec<FixedHeader> = Vec::new();
        if !self.reporting_endpoints.is_empty() {
            let text = self
                .reporting_endpoints
                .iter()
                .map(|(n, u)| format!("{n}=\"{u}\""))
                .collect::<Vec<_>>()
                .join(", ");
            let name = HeaderName::from_static("reporting-endpoints");
            let value = HeaderValue::from_str(&text).map_err(|_| {
                ConfigError::new(
                    "reporting_endpoint",
                    "the endpoints are not a valid header value",
                )
            })?;
            fixed.push(FixedHeader {
                overwrite: override_of(&name),
                name,
                value,
            });
        }
        for (name, value) in &self.headers {
            fixed.push(FixedHeader {
                overwrite: override_of(name),
                name: name.clone(),
                value: value.clone(),
            });
        }
        let hsts = match self.hsts {
            Some(h) => {
                h.validate()?;
                let value = HeaderValue::from_str(&h.to_string())
                    .map_err(|_| ConfigError::new("hsts", "not a valid header value"))?;
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
            strip: self.strip,
            strip_prefixes: self.strip_prefixes,
            nonce_no_store: self.nonce_no_store,
            needs_nonce,
        };
        Ok(SecurityHeadersLayer {
            shared: Arc::new(shared),
        })
    }
}

#[derive(Debug)]
struct FixedHeader {
    name: HeaderName,
    value: HeaderValue,
    overwrite: bool,
}

#[derive(Debug)]
struct Shared {
    fixed: Vec<FixedHeader>,
    csp: Option<ContentSecurityPolicy>,
    csp_overwrite: bool,
    csp_report_only: Option<ContentSecurityPolicy>,
    csp_ro_overwrite: bool,
    hsts: Option<FixedHeader>,
    hsts_always: bool,
    https_listener: bool,
    proxies: TrustedProxies,
    strip: Vec<HeaderName>,
    strip_prefixes: Vec<String>,
    nonce_no_store: bool,
    needs_nonce: bool,
}

impl Shared {
    fn is_https<B>(&self, req: &Request<B>) -> bool {
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

    fn apply<B>(&self, res: &mut Response<B>, mut nonce: Option<CspNonce>, https: bool) {
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

        if nonce_sent && self.nonce_no_store {
            let shareable = match headers
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
            };
            if shareable {
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            }
        }
    }
}

fn put(headers: &mut HeaderMap, name: &HeaderName, value: &HeaderValue, overwrite: bool) {
    if overwrite {
        headers.insert(name.clone(), value.clone());
    } else if let Entry::Vacant(slot) = headers.entry(name.clone()) {
        slot.insert(value.clone());
    }
}

/// Adds the configured security headers to every response (built by [`SecurityHeaders::build`]).
#[derive(Clone)]
#[must_use]
pub struct SecurityHeadersLayer {
    shared: Arc<Shared>,
}

impl fmt::Debug for SecurityHeadersLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityHeadersLayer")
            .field(
                "headers",
                &self
                    .shared
                    .fixed
                    .iter()
                    .map(|h| h.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("csp", &self.shared.csp)
            .field("csp_report_only", &self.shared.csp_report_only)
            .field("hsts", &self.shared.hsts.as_ref().map(|h| &h.value))
            .field("nonce", &self.shared.needs_nonce)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeadersService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecurityHeadersService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service built by [`SecurityHeadersLayer`].
pub struct SecurityHeadersService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: Clone> Clone for SecurityHeadersService<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for SecurityHeadersService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityHeadersService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SecurityHeadersService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let shared = &self.shared;
        let nonce = shared.needs_nonce.then(|| {
            let nonce = CspNonce::generate();
            req.extensions_mut().insert(nonce);
            nonce
        });
        let https = shared.hsts.is_some() && !shared.hsts_always && shared.is_https(&req);
        ResponseFuture {
            inner: self.inner.call(req),
            shared: Arc::clone(shared),
            nonce,
            https,
        }
    }
}

pin_project! {
    /// The response future of [`SecurityHeadersService`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        shared: Arc<Shared>,
        nonce: Option<CspNonce>,
        https: bool,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("nonce", &self.nonce)
            .field("https", &self.https)
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = ready!(this.inner.poll(cx))?;
        this.shared.apply(&mut res, *this.nonce, *this.https);
        Poll::Ready(Ok(res))
    }
}

//! The typed Content-Security-Policy: [`ContentSecurityPolicy`] and its [`CspBuilder`].
//!
//! A policy is a standalone value: it is validated by [`CspBuilder::build`], where it is
//! written, and its errors name the builder method that set the bad value
//! (`security_headers.csp.<method>`).

use std::{fmt, sync::Arc};

use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderValue;

use super::{
    source::{check_token, CspSource},
    template::Template,
};
use crate::ConfigError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Sources(Vec<CspSource>),
    Tokens(Vec<String>),
    Flag,
}

/// A validated Content-Security-Policy, ready to be sent.
///
/// Built with [`ContentSecurityPolicy::builder`]. Directives are rendered in the order they
/// were first set, joined by `;` with no space (as helmet renders them).
///
/// ```
/// use tower_fortify::security_headers::{ContentSecurityPolicy, CspSource};
///
/// let csp = ContentSecurityPolicy::builder()
///     .default_src([CspSource::SelfOrigin])
///     .script_src([CspSource::SelfOrigin, CspSource::Nonce])
///     .img_src([CspSource::SelfOrigin, CspSource::scheme("data")])
///     .upgrade_insecure_requests()
///     .build()
///     .unwrap();
/// assert!(csp.uses_nonce());
/// assert_eq!(
///     csp.render_with_nonce("abc"),
///     "default-src 'self';script-src 'self' 'nonce-abc';img-src 'self' data:;upgrade-insecure-requests"
/// );
///
/// // Values that would break out of a directive are configuration errors.
/// let err = ContentSecurityPolicy::builder()
///     .default_src([CspSource::host("example.com; script-src *")])
///     .build()
///     .unwrap_err();
/// assert_eq!(err.setting(), "security_headers.csp.default_src");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ContentSecurityPolicy {
    template: Arc<Template>,
}

impl fmt::Debug for ContentSecurityPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ContentSecurityPolicy")
            .field(&self.render_with_nonce("{nonce}"))
            .finish()
    }
}

impl ContentSecurityPolicy {
    /// Starts an empty policy.
    pub fn builder() -> CspBuilder {
        CspBuilder::default()
    }

    /// Whether the policy contains [`CspSource::Nonce`], so the layer must generate a nonce per request.
    pub fn uses_nonce(&self) -> bool {
        self.template.static_value.is_none()
    }

    /// The policy as text, with `nonce` in place of every `'nonce-…'` value.
    pub fn render_with_nonce(&self, nonce: &str) -> String {
        let mut out = String::new();
        for (i, part) in self.template.parts.iter().enumerate() {
            if i > 0 {
                out.push_str(nonce);
            }
            out.push_str(part);
        }
        out
    }

    /// The header value: the prebuilt one when the policy has no nonce, else rendered with `nonce`.
    pub(crate) fn header_value(&self, nonce: Option<&str>) -> Option<HeaderValue> {
        if let Some(v) = &self.template.static_value {
            return Some(v.clone());
        }
        let nonce = nonce?;
        let parts = &self.template.parts;
        let len = parts.iter().map(String::len).sum::<usize>() + nonce.len() * (parts.len() - 1);
        let mut buf = BytesMut::with_capacity(len);
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                buf.put_slice(nonce.as_bytes());
            }
            buf.put_slice(part.as_bytes());
        }
        // Parts were validated as visible ASCII at build time and the nonce is base64.
        HeaderValue::from_maybe_shared(Bytes::from(buf)).ok()
    }
}

/// Builder of a [`ContentSecurityPolicy`]; errors are reported by [`CspBuilder::build`],
/// naming the method that set the bad value (`security_headers.csp.script_src`, ...).
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct CspBuilder {
    /// `(lowercased name, value, the setting that set it)`, in the order first set.
    directives: Vec<(String, Value, &'static str)>,
    waive_default_src: bool,
}

macro_rules! fetch_directives {
    ($($(#[$doc:meta])* $fn:ident => $name:literal, $setting:literal;)*) => {
        $(
            $(#[$doc])*
            pub fn $fn(mut self, sources: impl IntoIterator<Item = CspSource>) -> Self {
                self.set($name, Value::Sources(sources.into_iter().collect()), $setting);
                self
            }
        )*
    };
}

impl CspBuilder {
    fetch_directives! {
        /// `default-src`: the fallback for every fetch directive. Required unless
        /// [`waive_default_src`](Self::waive_default_src) is called.
        default_src => "default-src", "security_headers.csp.default_src";
        /// `script-src`.
        script_src => "script-src", "security_headers.csp.script_src";
        /// `script-src-attr`: inline event handlers (`onclick=`).
        script_src_attr => "script-src-attr", "security_headers.csp.script_src_attr";
        /// `script-src-elem`.
        script_src_elem => "script-src-elem", "security_headers.csp.script_src_elem";
        /// `style-src`.
        style_src => "style-src", "security_headers.csp.style_src";
        /// `style-src-attr`.
        style_src_attr => "style-src-attr", "security_headers.csp.style_src_attr";
        /// `style-src-elem`.
        style_src_elem => "style-src-elem", "security_headers.csp.style_src_elem";
        /// `img-src`.
        img_src => "img-src", "security_headers.csp.img_src";
        /// `font-src`.
        font_src => "font-src", "security_headers.csp.font_src";
        /// `connect-src`: fetch, XHR, WebSocket and EventSource targets.
        connect_src => "connect-src", "security_headers.csp.connect_src";
        /// `media-src`.
        media_src => "media-src", "security_headers.csp.media_src";
        /// `object-src`: `<object>` and `<embed>`; `'none'` is recommended.
        object_src => "object-src", "security_headers.csp.object_src";
        /// `frame-src`.
        frame_src => "frame-src", "security_headers.csp.frame_src";
        /// `child-src`.
        child_src => "child-src", "security_headers.csp.child_src";
        /// `worker-src`.
        worker_src => "worker-src", "security_headers.csp.worker_src";
        /// `manifest-src`.
        manifest_src => "manifest-src", "security_headers.csp.manifest_src";
        /// `base-uri`: what `<base href>` may point to.
        base_uri => "base-uri", "security_headers.csp.base_uri";
        /// `form-action`: where forms may submit.
        form_action => "form-action", "security_headers.csp.form_action";
        /// `frame-ancestors`: who may embed this page (the modern `X-Frame-Options`).
        frame_ancestors => "frame-ancestors", "security_headers.csp.frame_ancestors";
    }

    /// Sets any directive that takes a source list, by name (lowercase letters and `-`).
    /// Setting a directive again replaces its sources and keeps its position.
    pub fn directive(mut self, name: &str, sources: impl IntoIterator<Item = CspSource>) -> Self {
        self.set(
            name,
            Value::Sources(sources.into_iter().collect()),
            "security_headers.csp.directive",
        );
        self
    }

    /// `upgrade-insecure-requests`: the browser fetches `http:` subresources over `https:`.
    /// Leave it out of policies served on `http://localhost`.
    pub fn upgrade_insecure_requests(mut self) -> Self {
        self.set(
            "upgrade-insecure-requests",
            Value::Flag,
            "security_headers.csp.upgrade_insecure_requests",
        );
        self
    }

    /// `sandbox` with the given tokens (for example `allow-scripts`); no tokens sandboxes everything.
    pub fn sandbox<I, T>(mut self, tokens: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        let tokens: Vec<String> = tokens.into_iter().map(Into::into).collect();
        self.set(
            "sandbox",
            if tokens.is_empty() {
                Value::Flag
            } else {
                Value::Tokens(tokens)
            },
            "security_headers.csp.sandbox",
        );
        self
    }

    /// `report-to`: the name of an endpoint declared in `Reporting-Endpoints`
    /// (see [`SecurityHeadersLayerBuilder::reporting_endpoint`](super::SecurityHeadersLayerBuilder::reporting_endpoint)).
    pub fn report_to(mut self, endpoint: impl Into<String>) -> Self {
        self.set(
            "report-to",
            Value::Tokens(vec![endpoint.into()]),
            "security_headers.csp.report_to",
        );
        self
    }

    /// `report-uri`: the deprecated reporting URL, still the only one some browsers use.
    pub fn report_uri(mut self, uri: impl Into<String>) -> Self {
        self.set(
            "report-uri",
            Value::Tokens(vec![uri.into()]),
            "security_headers.csp.report_uri",
        );
        self
    }

    /// `require-trusted-types-for 'script'`.
    pub fn require_trusted_types_for_script(mut self) -> Self {
        self.set(
            "require-trusted-types-for",
            Value::Tokens(vec!["'script'".into()]),
            "security_headers.csp.require_trusted_types_for_script",
        );
        self
    }

    /// Allows a policy without `default-src` (for example a report-only policy that only
    /// watches `script-src`). Without it, a missing `default-src` is a [`ConfigError`]:
    /// every fetch type not listed would be unrestricted.
    pub fn waive_default_src(mut self) -> Self {
        self.waive_default_src = true;
        self
    }

    /// Removes a directive.
    pub fn remove(mut self, name: &str) -> Self {
        self.directives
            .retain(|(n, _, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    fn set(&mut self, name: &str, value: Value, setting: &'static str) {
        let name = name.to_ascii_lowercase();
        match self.directives.iter_mut().find(|(n, _, _)| *n == name) {
            Some(slot) => {
                slot.1 = value;
                slot.2 = setting;
            }
            None => self.directives.push((name, value, setting)),
        }
    }

    /// Validates and renders the policy.
    pub fn build(self) -> Result<ContentSecurityPolicy, ConfigError> {
        if self.directives.is_empty() {
            return Err(ConfigError::new(
                "security_headers.csp.default_src",
                "the policy has no directives",
            ));
        }
        if !self.waive_default_src && !self.directives.iter().any(|(n, _, _)| n == "default-src") {
            return Err(ConfigError::new(
                "security_headers.csp.default_src",
                "the policy has no `default-src`; add one, or call `waive_default_src()` to send it without",
            ));
        }
        let mut t = Template::default();
        for (i, (name, value, setting)) in self.directives.iter().enumerate() {
            let setting = *setting;
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
                return Err(ConfigError::new(
                    setting,
                    format!("`{}` is not a directive name", name.escape_debug()),
                ));
            }
            if i > 0 {
                t.push(";");
            }
            t.push(name);
            match value {
                Value::Flag => {}
                Value::Tokens(tokens) => {
                    for tok in tokens {
                        if tok.is_empty() {
                            return Err(ConfigError::new(
                                setting,
                                format!("`{name}` has an empty value"),
                            ));
                        }
                        check_token(tok, name, setting)?;
                        t.push(" ");
                        t.push(tok);
                    }
                }
                Value::Sources(sources) => {
                    if sources.is_empty() {
                        return Err(ConfigError::new(
                            setting,
                            format!(
                                "`{name}` has no sources; use `CspSource::None` to block everything"
                            ),
                        ));
                    }
                    if sources.len() > 1 && sources.contains(&CspSource::None) {
                        return Err(ConfigError::new(
                            setting,
                            format!("`{name}` combines 'none' with other sources; browsers ignore the 'none'"),
                        ));
                    }
                    for s in sources {
                        s.validate(setting)?;
                        t.push(" ");
                        s.render(&mut t);
                    }
                }
            }
        }
        if t.parts.len() == 1 {
            let v = HeaderValue::from_str(&t.parts[0]).map_err(|_| {
                ConfigError::new(
                    "security_headers.csp.directive",
                    "the policy is not a valid header value",
                )
            })?;
            t.static_value = Some(v);
        }
        Ok(ContentSecurityPolicy {
            template: Arc::new(t),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_quoted_and_directives_joined() {
        let csp = ContentSecurityPolicy::builder()
            .default_src([CspSource::SelfOrigin])
            .script_src([
                CspSource::StrictDynamic,
                CspSource::sha256("abc+/="),
                CspSource::UnsafeHashes,
            ])
            .object_src([CspSource::None])
            .build()
            .unwrap();
        assert_eq!(
            csp.header_value(None).unwrap(),
            "default-src 'self';script-src 'strict-dynamic' 'sha256-abc+/=' 'unsafe-hashes';object-src 'none'"
        );
        assert!(!csp.uses_nonce());
    }

    #[test]
    fn bad_values_are_config_errors() {
        for bad in [
            "a;b",
            "a,b",
            "a b",
            "a\u{7}b",
            "self",
            "'self'",
            "nonce-abc",
            "é.example",
        ] {
            let r = ContentSecurityPolicy::builder()
                .default_src([CspSource::host(bad)])
                .build();
            assert!(r.is_err(), "{bad:?} accepted");
        }
        assert!(ContentSecurityPolicy::builder()
            .default_src([CspSource::scheme("ht tp")])
            .build()
            .is_err());
        assert!(ContentSecurityPolicy::builder()
            .default_src([CspSource::sha256("a'b")])
            .build()
            .is_err());
        assert!(ContentSecurityPolicy::builder()
            .default_src([])
            .build()
            .is_err());
        assert!(ContentSecurityPolicy::builder()
            .default_src([CspSource::None, CspSource::SelfOrigin])
            .build()
            .is_err());
        assert!(ContentSecurityPolicy::builder()
            .default_src([CspSource::SelfOrigin])
            .report_to("a;b")
            .build()
            .is_err());
        assert!(ContentSecurityPolicy::builder()
            .directive("Bad_Name!", [CspSource::SelfOrigin])
            .default_src([CspSource::SelfOrigin])
            .build()
            .is_err());
    }

    #[test]
    fn errors_name_the_method_that_set_the_value() {
        let setting = |b: CspBuilder| b.build().unwrap_err().setting();
        let base = || ContentSecurityPolicy::builder().default_src([CspSource::SelfOrigin]);
        assert_eq!(
            setting(base().script_src([CspSource::host("a;b")])),
            "security_headers.csp.script_src"
        );
        assert_eq!(
            setting(base().frame_ancestors([])),
            "security_headers.csp.frame_ancestors"
        );
        assert_eq!(
            setting(base().directive("Bad_Name!", [CspSource::SelfOrigin])),
            "security_headers.csp.directive"
        );
        assert_eq!(
            setting(base().report_to("a b")),
            "security_headers.csp.report_to"
        );
        assert_eq!(
            setting(base().report_uri("")),
            "security_headers.csp.report_uri"
        );
        assert_eq!(
            setting(base().sandbox(["allow;scripts"])),
            "security_headers.csp.sandbox"
        );
        assert_eq!(
            setting(ContentSecurityPolicy::builder().img_src([CspSource::SelfOrigin])),
            "security_headers.csp.default_src"
        );
        assert_eq!(
            setting(ContentSecurityPolicy::builder()),
            "security_headers.csp.default_src"
        );
        // Setting a directive again through `directive` names the last method used.
        assert_eq!(
            setting(
                base()
                    .img_src([CspSource::SelfOrigin])
                    .directive("img-src", [CspSource::host("'x'")])
            ),
            "security_headers.csp.directive"
        );
    }

    #[test]
    fn default_src_required_unless_waived() {
        let e = ContentSecurityPolicy::builder()
            .script_src([CspSource::SelfOrigin])
            .build()
            .unwrap_err();
        assert!(e.message().contains("default-src"));
        let csp = ContentSecurityPolicy::builder()
            .script_src([CspSource::SelfOrigin])
            .waive_default_src()
            .build()
            .unwrap();
        assert_eq!(csp.render_with_nonce("x"), "script-src 'self'");
    }

    #[test]
    fn resetting_a_directive_keeps_its_place() {
        let csp = ContentSecurityPolicy::builder()
            .default_src([CspSource::SelfOrigin])
            .img_src([CspSource::SelfOrigin])
            .default_src([CspSource::None])
            .sandbox(Vec::<String>::new())
            .build()
            .unwrap();
        assert_eq!(
            csp.render_with_nonce(""),
            "default-src 'none';img-src 'self';sandbox"
        );
    }

    #[test]
    fn nonce_is_inserted_everywhere() {
        let csp = ContentSecurityPolicy::builder()
            .default_src([CspSource::SelfOrigin])
            .script_src([CspSource::Nonce])
            .style_src([CspSource::Nonce, CspSource::SelfOrigin])
            .build()
            .unwrap();
        assert!(csp.uses_nonce());
        assert_eq!(csp.header_value(None), None);
        assert_eq!(
            csp.header_value(Some("N0nce==")).unwrap(),
            "default-src 'self';script-src 'nonce-N0nce==';style-src 'nonce-N0nce==' 'self'"
        );
    }
}

//! The typed Content-Security-Policy builder.

use std::{fmt, sync::Arc};

use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderValue;

use crate::ConfigError;

const SETTING: &str = "content_security_policy";

/// One source expression of a CSP directive.
///
/// Keywords are quoted for you (`Source::SelfOrigin` renders as `'self'`); hosts and schemes
/// are checked when the policy is built: a value containing `;`, `,`, a quote, whitespace or a
/// control character is a [`ConfigError`], since it would end the directive or the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// `'self'`: the document's own origin.
    SelfOrigin,
    /// `'none'`: nothing. Cannot be combined with other sources.
    None,
    /// `'unsafe-inline'`.
    UnsafeInline,
    /// `'unsafe-eval'`.
    UnsafeEval,
    /// `'unsafe-hashes'`.
    UnsafeHashes,
    /// `'wasm-unsafe-eval'`.
    WasmUnsafeEval,
    /// `'strict-dynamic'`.
    StrictDynamic,
    /// `'report-sample'`.
    ReportSample,
    /// `'nonce-…'` with the nonce the layer generates for each request (see
    /// [`CspNonce`](super::CspNonce)).
    Nonce,
    /// `'sha256-…'`, `'sha384-…'` or `'sha512-…'`: the base64 digest of an inline script or style.
    Hash(HashAlgorithm, String),
    /// A scheme source such as `https:` or `data:` (the colon is added when missing).
    Scheme(String),
    /// A host source such as `cdn.example.com`, `*.example.com` or `https://api.example.com:8443/v1/`.
    Host(String),
}

impl Source {
    /// A scheme source: `Source::scheme("https")` renders as `https:`.
    pub fn scheme(scheme: impl Into<String>) -> Self {
        Source::Scheme(scheme.into())
    }

    /// A host source, such as `cdn.example.com` or `https://*.example.com`.
    pub fn host(host: impl Into<String>) -> Self {
        Source::Host(host.into())
    }

    /// A SHA-256 hash source from the base64 digest (`'sha256-<digest>'`).
    pub fn sha256(digest_base64: impl Into<String>) -> Self {
        Source::Hash(HashAlgorithm::Sha256, digest_base64.into())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Source::Hash(_, digest) => {
                let ok = !digest.is_empty()
                    && digest.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_')
                    });
                if ok {
                    Ok(())
                } else {
                    Err(ConfigError::new(
                        SETTING,
                        format!("hash source `{digest}` is not a base64 digest"),
                    ))
                }
            }
            Source::Scheme(s) => {
                let name = s.strip_suffix(':').unwrap_or(s);
                let ok = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
                if ok {
                    Ok(())
                } else {
                    Err(ConfigError::new(
                        SETTING,
                        format!(
                            "scheme source `{s}` is not a URL scheme such as `https:` or `data:`"
                        ),
                    ))
                }
            }
            Source::Host(h) => {
                if h.is_empty() {
                    return Err(ConfigError::new(SETTING, "a host source cannot be empty"));
                }
                check_token(h, "host source")?;
                if h.contains(['\'', '"']) || is_keyword(h) {
                    return Err(ConfigError::new(
                        SETTING,
                        format!(
                            "`{h}` looks like a keyword; use the `Source` variant (e.g. `Source::SelfOrigin`) \
                             so it is quoted correctly"
                        ),
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn render(&self, out: &mut Template) {
        match self {
            Source::SelfOrigin => out.push("'self'"),
            Source::None => out.push("'none'"),
            Source::UnsafeInline => out.push("'unsafe-inline'"),
            Source::UnsafeEval => out.push("'unsafe-eval'"),
            Source::UnsafeHashes => out.push("'unsafe-hashes'"),
            Source::WasmUnsafeEval => out.push("'wasm-unsafe-eval'"),
            Source::StrictDynamic => out.push("'strict-dynamic'"),
            Source::ReportSample => out.push("'report-sample'"),
            Source::Nonce => {
                out.push("'nonce-");
                out.nonce();
                out.push("'");
            }
            Source::Hash(alg, digest) => {
                out.push("'");
                out.push(alg.as_str());
                out.push("-");
                out.push(digest);
                out.push("'");
            }
            Source::Scheme(s) => {
                out.push(&s.to_ascii_lowercase());
                if !s.ends_with(':') {
                    out.push(":");
                }
            }
            Source::Host(h) => out.push(h),
        }
    }
}

/// Unquoted keywords that helmet also refuses: written bare, the browser reads them as host names.
fn is_keyword(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "self"
            | "none"
            | "unsafe-inline"
            | "unsafe-eval"
            | "unsafe-hashes"
            | "wasm-unsafe-eval"
            | "strict-dynamic"
            | "report-sample"
    ) || ["nonce-", "sha256-", "sha384-", "sha512-"]
        .iter()
        .any(|p| lower.starts_with(p))
}

/// Refuses what would end a directive (`;`), a policy (`,`), or the header (controls),
/// and whitespace, which would split one value into two.
fn check_token(value: &str, what: &str) -> Result<(), ConfigError> {
    if let Some(c) = value
        .chars()
        .find(|c| matches!(c, ';' | ',') || c.is_whitespace() || c.is_control() || !c.is_ascii())
    {
        return Err(ConfigError::new(
            SETTING,
            format!(
                "{what} `{}` contains {c:?}, which is not allowed in a CSP value",
                value.escape_debug()
            ),
        ));
    }
    Ok(())
}

/// The digest algorithm of a [`Source::Hash`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// `sha256`.
    Sha256,
    /// `sha384`.
    Sha384,
    /// `sha512`.
    Sha512,
}

impl HashAlgorithm {
    fn as_str(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha384 => "sha384",
            HashAlgorithm::Sha512 => "sha512",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Sources(Vec<Source>),
    Tokens(Vec<String>),
    Flag,
}

/// A validated Content-Security-Policy, ready to be sent.
///
/// Built with [`ContentSecurityPolicy::builder`]. Directives are rendered in the order they
/// were first set, joined by `;` with no space (as helmet renders them).
///
/// ```
/// use tower_fortify::security_headers::{ContentSecurityPolicy, Source};
///
/// let csp = ContentSecurityPolicy::builder()
///     .default_src([Source::SelfOrigin])
///     .script_src([Source::SelfOrigin, Source::Nonce])
///     .img_src([Source::SelfOrigin, Source::scheme("data")])
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
///     .default_src([Source::host("example.com; script-src *")])
///     .build()
///     .unwrap_err();
/// assert_eq!(err.setting(), "content_security_policy");
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

    /// Whether the policy contains [`Source::Nonce`], so the layer must generate a nonce per request.
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

/// The rendered policy, split around the places where the per-request nonce goes.
#[derive(Debug, Default, PartialEq, Eq)]
struct Template {
    parts: Vec<String>,
    static_value: Option<HeaderValue>,
}

impl Template {
    fn push(&mut self, s: &str) {
        if self.parts.is_empty() {
            self.parts.push(String::new());
        }
        if let Some(last) = self.parts.last_mut() {
            last.push_str(s);
        }
    }

    fn nonce(&mut self) {
        if self.parts.is_empty() {
            self.parts.push(String::new());
        }
        self.parts.push(String::new());
    }
}

/// Builder of a [`ContentSecurityPolicy`]; errors are reported by [`CspBuilder::build`].
#[derive(Debug, Clone, Default)]
pub struct CspBuilder {
    directives: Vec<(String, Value)>,
    waive_default_src: bool,
}

macro_rules! fetch_directives {
    ($($(#[$doc:meta])* $fn:ident => $name:literal;)*) => {
        $(
            $(#[$doc])*
            pub fn $fn(self, sources: impl IntoIterator<Item = Source>) -> Self {
                self.directive($name, sources)
            }
        )*
    };
}

impl CspBuilder {
    fetch_directives! {
        /// `default-src`: the fallback for every fetch directive. Required unless
        /// [`waive_default_src`](Self::waive_default_src) is called.
        default_src => "default-src";
        /// `script-src`.
        script_src => "script-src";
        /// `script-src-attr`: inline event handlers (`onclick=`).
        script_src_attr => "script-src-attr";
        /// `script-src-elem`.
        script_src_elem => "script-src-elem";
        /// `style-src`.
        style_src => "style-src";
        /// `style-src-attr`.
        style_src_attr => "style-src-attr";
        /// `style-src-elem`.
        style_src_elem => "style-src-elem";
        /// `img-src`.
        img_src => "img-src";
        /// `font-src`.
        font_src => "font-src";
        /// `connect-src`: fetch, XHR, WebSocket and EventSource targets.
        connect_src => "connect-src";
        /// `media-src`.
        media_src => "media-src";
        /// `object-src`: `<object>` and `<embed>`; `'none'` is recommended.
        object_src => "object-src";
        /// `frame-src`.
        frame_src => "frame-src";
        /// `child-src`.
        child_src => "child-src";
        /// `worker-src`.
        worker_src => "worker-src";
        /// `manifest-src`.
        manifest_src => "manifest-src";
        /// `base-uri`: what `<base href>` may point to.
        base_uri => "base-uri";
        /// `form-action`: where forms may submit.
        form_action => "form-action";
        /// `frame-ancestors`: who may embed this page (the modern `X-Frame-Options`).
        frame_ancestors => "frame-ancestors";
    }

    /// Sets any directive that takes a source list, by name (lowercase letters and `-`).
    /// Setting a directive again replaces its sources and keeps its position.
    pub fn directive(mut self, name: &str, sources: impl IntoIterator<Item = Source>) -> Self {
        self.set(name, Value::Sources(sources.into_iter().collect()));
        self
    }

    /// `upgrade-insecure-requests`: the browser fetches `http:` subresources over `https:`.
    /// Leave it out of policies served on `http://localhost`.
    pub fn upgrade_insecure_requests(mut self) -> Self {
        self.set("upgrade-insecure-requests", Value::Flag);
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
        );
        self
    }

    /// `report-to`: the name of an endpoint declared in `Reporting-Endpoints`
    /// (see [`SecurityHeaders::reporting_endpoint`](super::SecurityHeaders::reporting_endpoint)).
    pub fn report_to(mut self, endpoint: impl Into<String>) -> Self {
        self.set("report-to", Value::Tokens(vec![endpoint.into()]));
        self
    }

    /// `report-uri`: the deprecated reporting URL, still the only one some browsers use.
    pub fn report_uri(mut self, uri: impl Into<String>) -> Self {
        self.set("report-uri", Value::Tokens(vec![uri.into()]));
        self
    }

    /// `require-trusted-types-for 'script'`.
    pub fn require_trusted_types_for_script(mut self) -> Self {
        self.set(
            "require-trusted-types-for",
            Value::Tokens(vec!["'script'".into()]),
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
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    fn set(&mut self, name: &str, value: Value) {
        let name = name.to_ascii_lowercase();
        match self.directives.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.directives.push((name, value)),
        }
    }

    /// Validates and renders the policy.
    pub fn build(self) -> Result<ContentSecurityPolicy, ConfigError> {
        if self.directives.is_empty() {
            return Err(ConfigError::new(SETTING, "the policy has no directives"));
        }
        if !self.waive_default_src && !self.directives.iter().any(|(n, _)| n == "default-src") {
            return Err(ConfigError::new(
                SETTING,
                "the policy has no `default-src`; add one, or call `waive_default_src()` to send it without",
            ));
        }
        let mut t = Template::default();
        for (i, (name, value)) in self.directives.iter().enumerate() {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
                return Err(ConfigError::new(
                    SETTING,
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
                                SETTING,
                                format!("`{name}` has an empty value"),
                            ));
                        }
                        check_token(tok, name)?;
                        t.push(" ");
                        t.push(tok);
                    }
                }
                Value::Sources(sources) => {
                    if sources.is_empty() {
                        return Err(ConfigError::new(
                            SETTING,
                            format!(
                                "`{name}` has no sources; use `Source::None` to block everything"
                            ),
                        ));
                    }
                    if sources.len() > 1 && sources.contains(&Source::None) {
                        return Err(ConfigError::new(
                            SETTING,
                            format!("`{name}` combines 'none' with other sources; browsers ignore the 'none'"),
                        ));
                    }
                    for s in sources {
                        s.validate()?;
                        t.push(" ");
                        s.render(&mut t);
                    }
                }
            }
        }
        if t.parts.len() == 1 {
            let v = HeaderValue::from_str(&t.parts[0])
                .map_err(|_| ConfigError::new(SETTING, "the policy is not a valid header value"))?;
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
            .default_src([Source::SelfOrigin])
            .script_src([
                Source::StrictDynamic,
                Source::sha256("abc+/="),
                Source::UnsafeHashes,
            ])
            .object_src([Source::None])
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
                .default_src([Source::host(bad)])
                .build();
            assert!(r.is_err(), "{bad:?} accepted");
        }
        assert!(ContentSecurityPolicy::builder()
            .default_src([Source::scheme("ht tp")])
            .build()
            .is_err());
        assert!(ContentSecurityPolicy::builder()
            .default_src([Source::sha256("a'b")])
            .build()
            .is_err());
        assert!(ContentSecurityPolicy::builder()
            .default_src([])
            .build()
            .is_err());
        assert!(ContentSecurityPolicy::builder()
            .default_src([Source::None, Source::SelfOrigin])
            .build()
            .is_err());
        assert!(ContentSecurityPolicy::builder()
            .default_src([Source::SelfOrigin])
            .report_to("a;b")
            .build()
            .is_err());
        assert!(ContentSecurityPolicy::builder()
            .directive("Bad_Name!", [Source::SelfOrigin])
            .default_src([Source::SelfOrigin])
            .build()
            .is_err());
    }

    #[test]
    fn default_src_required_unless_waived() {
        let e = ContentSecurityPolicy::builder()
            .script_src([Source::SelfOrigin])
            .build()
            .unwrap_err();
        assert!(e.message().contains("default-src"));
        let csp = ContentSecurityPolicy::builder()
            .script_src([Source::SelfOrigin])
            .waive_default_src()
            .build()
            .unwrap();
        assert_eq!(csp.render_with_nonce("x"), "script-src 'self'");
    }

    #[test]
    fn resetting_a_directive_keeps_its_place() {
        let csp = ContentSecurityPolicy::builder()
            .default_src([Source::SelfOrigin])
            .img_src([Source::SelfOrigin])
            .default_src([Source::None])
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
            .default_src([Source::SelfOrigin])
            .script_src([Source::Nonce])
            .style_src([Source::Nonce, Source::SelfOrigin])
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

//! [`CspSource`]: one source expression of a CSP directive, and the checks that keep a
//! value inside its directive.

use crate::ConfigError;

use super::template::Template;

/// One source expression of a CSP directive.
///
/// Keywords are quoted for you (`CspSource::SelfOrigin` renders as `'self'`); hosts and schemes
/// are checked when the policy is built: a value containing `;`, `,`, a quote, whitespace or a
/// control character is a [`ConfigError`], since it would end the directive or the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CspSource {
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

impl CspSource {
    /// A scheme source: `CspSource::scheme("https")` renders as `https:`.
    pub fn scheme(scheme: impl Into<String>) -> Self {
        CspSource::Scheme(scheme.into())
    }

    /// A host source, such as `cdn.example.com` or `https://*.example.com`.
    pub fn host(host: impl Into<String>) -> Self {
        CspSource::Host(host.into())
    }

    /// A SHA-256 hash source from the base64 digest (`'sha256-<digest>'`).
    pub fn sha256(digest_base64: impl Into<String>) -> Self {
        CspSource::Hash(HashAlgorithm::Sha256, digest_base64.into())
    }

    pub(super) fn validate(&self, setting: &'static str) -> Result<(), ConfigError> {
        match self {
            CspSource::Hash(_, digest) => {
                let ok = !digest.is_empty()
                    && digest.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_')
                    });
                if ok {
                    Ok(())
                } else {
                    Err(ConfigError::new(
                        setting,
                        format!("hash source `{digest}` is not a base64 digest"),
                    ))
                }
            }
            CspSource::Scheme(s) => {
                let name = s.strip_suffix(':').unwrap_or(s);
                let ok = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
                if ok {
                    Ok(())
                } else {
                    Err(ConfigError::new(
                        setting,
                        format!(
                            "scheme source `{s}` is not a URL scheme such as `https:` or `data:`"
                        ),
                    ))
                }
            }
            CspSource::Host(h) => {
                if h.is_empty() {
                    return Err(ConfigError::new(setting, "a host source cannot be empty"));
                }
                check_token(h, "host source", setting)?;
                if h.contains(['\'', '"']) || is_keyword(h) {
                    return Err(ConfigError::new(
                        setting,
                        format!(
                            "`{h}` looks like a keyword; use the `CspSource` variant (e.g. `CspSource::SelfOrigin`) \
                             so it is quoted correctly"
                        ),
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    pub(super) fn render(&self, out: &mut Template) {
        match self {
            CspSource::SelfOrigin => out.push("'self'"),
            CspSource::None => out.push("'none'"),
            CspSource::UnsafeInline => out.push("'unsafe-inline'"),
            CspSource::UnsafeEval => out.push("'unsafe-eval'"),
            CspSource::UnsafeHashes => out.push("'unsafe-hashes'"),
            CspSource::WasmUnsafeEval => out.push("'wasm-unsafe-eval'"),
            CspSource::StrictDynamic => out.push("'strict-dynamic'"),
            CspSource::ReportSample => out.push("'report-sample'"),
            CspSource::Nonce => {
                out.push("'nonce-");
                out.nonce();
                out.push("'");
            }
            CspSource::Hash(alg, digest) => {
                out.push("'");
                out.push(alg.as_str());
                out.push("-");
                out.push(digest);
                out.push("'");
            }
            CspSource::Scheme(s) => {
                out.push(&s.to_ascii_lowercase());
                if !s.ends_with(':') {
                    out.push(":");
                }
            }
            CspSource::Host(h) => out.push(h),
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
pub(super) fn check_token(
    value: &str,
    what: &str,
    setting: &'static str,
) -> Result<(), ConfigError> {
    if let Some(c) = value
        .chars()
        .find(|c| matches!(c, ';' | ',') || c.is_whitespace() || c.is_control() || !c.is_ascii())
    {
        return Err(ConfigError::new(
            setting,
            format!(
                "{what} `{}` contains {c:?}, which is not allowed in a CSP value",
                value.escape_debug()
            ),
        ));
    }
    Ok(())
}

/// The digest algorithm of a [`CspSource::Hash`].
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(s: &CspSource) -> Vec<String> {
        let mut t = Template::default();
        s.render(&mut t);
        t.parts
    }

    #[test]
    fn keywords_are_quoted_schemes_get_a_colon() {
        assert_eq!(rendered(&CspSource::SelfOrigin), ["'self'"]);
        assert_eq!(rendered(&CspSource::scheme("DATA")), ["data:"]);
        assert_eq!(rendered(&CspSource::scheme("https:")), ["https:"]);
        assert_eq!(rendered(&CspSource::sha256("ab+/=")), ["'sha256-ab+/='"]);
        assert_eq!(rendered(&CspSource::Nonce), ["'nonce-", "'"]);
    }

    #[test]
    fn errors_name_the_setting_given() {
        let e = CspSource::host("self")
            .validate("security_headers.csp.img_src")
            .unwrap_err();
        assert_eq!(e.setting(), "security_headers.csp.img_src");
        assert!(CspSource::host("cdn.example.com").validate("x").is_ok());
        assert!(CspSource::host("").validate("x").is_err());
        assert!(CspSource::scheme("1http").validate("x").is_err());
        assert!(CspSource::Hash(HashAlgorithm::Sha512, String::new())
            .validate("x")
            .is_err());
        assert!(check_token("a\tb", "x", "x").is_err());
        assert!(check_token("https://r.example/csp", "x", "x").is_ok());
    }
}

//! The [`Detector`] and its [`DetectorBuilder`]: the request-level verdict without the
//! layer, with the settings the layer shares ([`Profile`], threshold, limits, skipped
//! headers, exclusions).

use std::{borrow::Cow, sync::Arc};

use bytes::Bytes;
use http::{HeaderMap, Request, Uri};

use crate::{event::Category, ConfigError};

use super::{
    decode::Source,
    detect::{Engine, Finding, Part, NOTICE},
    encoding::{codings, decode},
    exclusion::Exclusion,
    headers::{free_text, FreeText},
    walk::Walk,
};

/// The anomaly score at which a request is flagged: one critical finding, or a warning
/// plus a notice.
pub const DEFAULT_THRESHOLD: u16 = 5;
/// Default body inspection limit: 64 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// Default bound on JSON and XML nesting depth.
pub const DEFAULT_MAX_DEPTH: usize = 32;

/// How suspicious a request must look to be flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Profile {
    /// The rules with the fewest false positives, aimed at OWASP CRS paranoia level 1.
    #[default]
    Balanced,
    /// Adds the broader rules of CRS paranoia level 2: more attacks caught, more
    /// legitimate requests that look odd flagged too.
    Strict,
}

impl Profile {
    /// The CRS paranoia level the profile corresponds to.
    pub fn paranoia(self) -> u8 {
        match self {
            Profile::Balanced => 1,
            Profile::Strict => 2,
        }
    }

    /// `balanced` or `strict`.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Balanced => "balanced",
            Profile::Strict => "strict",
        }
    }
}

/// Headers not inspected by default: the hop-by-hop and framing headers, which the
/// server consumes and the application never sees as data (`Cookie` is inspected cookie
/// by cookie instead of as one value; HTTP/2 pseudo-headers are not headers here, the
/// path and authority are inspected from the URI).
///
/// Every other header is inspected. Headers with a fixed grammar (`Accept*`,
/// `Cache-Control`, `Pragma`, `If-None-Match`, `If-Match`, dates, client hints
/// `Sec-CH-UA*`, `Host`) are parsed first and only their free-text parts (quoted strings,
/// parameters, anything off-grammar) are inspected, so `*/*;q=0.8` is not read as SQL
/// and a payload in them is still found.
pub const DEFAULT_SKIPPED_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "cookie",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The outcome of inspecting one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verdict {
    /// Every rule that matched and was not excused by an exclusion.
    pub findings: Vec<Finding>,
    /// The request's anomaly score: the sum of the findings' scores.
    pub score: u16,
    /// Whether the score reached the threshold.
    pub flagged: bool,
}

impl Verdict {
    /// The attack families found, each once, in order of first appearance.
    pub fn categories(&self) -> Vec<Category> {
        let mut out: Vec<Category> = Vec::new();
        for f in &self.findings {
            if !out.contains(&f.category) {
                out.push(f.category);
            }
        }
        out
    }
}

/// The validated detection settings a [`Detector`] runs with.
#[derive(Debug, Clone)]
pub(crate) struct DetectorConfig {
    pub(crate) profile: Profile,
    pub(crate) threshold: u16,
    /// As header names, which compare cheaply (a standard header is a small tag, not a
    /// string).
    pub(crate) skipped_headers: Vec<http::HeaderName>,
    pub(crate) exclusions: Vec<Exclusion>,
    pub(crate) max_depth: usize,
    pub(crate) body_limit: usize,
}

/// The [`ConfigError`] setting names of the detection settings: the same settings are
/// set on [`DetectorBuilder`] (`injection.detector.*`) and on the layer's builder
/// (`injection.*`), and each error names the builder it was set on.
#[derive(Debug)]
pub(crate) struct SettingNames {
    pub(crate) threshold: &'static str,
    pub(crate) body_limit: &'static str,
    pub(crate) max_depth: &'static str,
    pub(crate) skip_header: &'static str,
    pub(crate) inspect_header: &'static str,
    /// The rule set, chosen by the profile (an error here is a bug in the crate's rules).
    pub(crate) profile: &'static str,
}

/// The setting names of [`DetectorBuilder`].
const DETECTOR_SETTINGS: SettingNames = SettingNames {
    threshold: "injection.detector.threshold",
    body_limit: "injection.detector.body_limit",
    max_depth: "injection.detector.max_depth",
    skip_header: "injection.detector.skip_header",
    inspect_header: "injection.detector.inspect_header",
    profile: "injection.detector.profile",
};

/// Configures a standalone [`Detector`]; started by [`Detector::builder`]. Setters never
/// fail; [`build`](DetectorBuilder::build) reports the first invalid setting.
///
/// The layer's builder ([`InjectionLayerBuilder`](super::InjectionLayerBuilder)) has the
/// same detection setters; [`InjectionLayer::detector`](super::InjectionLayer::detector)
/// gives the detector a layer uses.
///
/// ```
/// use tower_fortify::injection::{Detector, Profile};
///
/// let detector = Detector::builder().profile(Profile::Strict).threshold(3).build()?;
/// assert_eq!(detector.profile(), Profile::Strict);
///
/// let err = Detector::builder().threshold(0).build().unwrap_err();
/// assert_eq!(err.setting(), "injection.detector.threshold");
/// # Ok::<(), tower_fortify::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct DetectorBuilder {
    profile: Profile,
    threshold: u16,
    body_limit: usize,
    max_depth: usize,
    skip_extra: Vec<String>,
    inspect_extra: Vec<String>,
    exclusions: Vec<Exclusion>,
}

impl DetectorBuilder {
    pub(crate) fn new() -> Self {
        Self {
            profile: Profile::Balanced,
            threshold: DEFAULT_THRESHOLD,
            body_limit: DEFAULT_BODY_LIMIT,
            max_depth: DEFAULT_MAX_DEPTH,
            skip_extra: Vec::new(),
            inspect_extra: Vec::new(),
            exclusions: Vec::new(),
        }
    }

    /// The rule profile (default [`Profile::Balanced`]).
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// The anomaly score at which a request is flagged (default [`DEFAULT_THRESHOLD`], one
    /// critical finding). Must be at least 1.
    pub fn threshold(mut self, threshold: u16) -> Self {
        self.threshold = threshold;
        self
    }

    /// How many body bytes are inspected (default [`DEFAULT_BODY_LIMIT`]); also the bound
    /// on a compressed body's decoded size. Must be at least 1.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Bound on JSON and XML nesting depth (default [`DEFAULT_MAX_DEPTH`]). Must be at
    /// least 1.
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// Also skips this header (by name, case-insensitive). See
    /// [`DEFAULT_SKIPPED_HEADERS`] for the defaults. Must be a valid header name.
    pub fn skip_header(mut self, name: &str) -> Self {
        self.skip_extra.push(name.to_ascii_lowercase());
        self
    }

    /// Inspects a header the defaults skip (for example `accept`). Must be a valid header
    /// name.
    pub fn inspect_header(mut self, name: &str) -> Self {
        self.inspect_extra.push(name.to_ascii_lowercase());
        self
    }

    /// Adds an exclusion.
    pub fn exclude(mut self, exclusion: Exclusion) -> Self {
        self.exclusions.push(exclusion);
        self
    }

    /// Builds the detector, or names the first invalid setting
    /// (`injection.detector.<setter>`).
    pub fn build(self) -> Result<Detector, ConfigError> {
        self.build_named(&DETECTOR_SETTINGS)
    }

    /// Builds the detector, naming invalid settings with `names`.
    pub(crate) fn build_named(self, names: &SettingNames) -> Result<Detector, ConfigError> {
        if self.threshold == 0 {
            return Err(ConfigError::new(
                names.threshold,
                "must be at least 1, or every request would be flagged",
            ));
        }
        if self.body_limit == 0 {
            return Err(ConfigError::new(
                names.body_limit,
                "must be at least 1 byte; exclude routes whose bodies should not be read",
            ));
        }
        if self.max_depth == 0 {
            return Err(ConfigError::new(names.max_depth, "must be at least 1"));
        }
        for (names, setting) in [
            (&self.skip_extra, names.skip_header),
            (&self.inspect_extra, names.inspect_header),
        ] {
            if let Some(name) = names
                .iter()
                .find(|n| http::HeaderName::from_bytes(n.as_bytes()).is_err())
            {
                return Err(ConfigError::new(
                    setting,
                    format!("{name:?} is not a header name"),
                ));
            }
        }
        let mut skipped_headers: Vec<String> = DEFAULT_SKIPPED_HEADERS
            .iter()
            .map(|h| (*h).to_owned())
            .collect();
        skipped_headers.extend(self.skip_extra);
        skipped_headers.retain(|h| !self.inspect_extra.contains(h));
        let engine = Engine::get().map_err(|e| ConfigError::new(names.profile, e))?;
        Ok(Detector {
            config: Arc::new(DetectorConfig {
                profile: self.profile,
                threshold: self.threshold,
                // Every name was validated above.
                skipped_headers: skipped_headers
                    .iter()
                    .filter_map(|h| http::HeaderName::from_bytes(h.as_bytes()).ok())
                    .collect(),
                exclusions: self.exclusions,
                max_depth: self.max_depth,
                body_limit: self.body_limit,
            }),
            engine,
            #[cfg(test)]
            reference: false,
        })
    }
}

/// Inspects requests without the layer: decomposes a request into located values,
/// normalises them and runs every detector of the profile. Built with
/// [`Detector::builder`].
///
/// ```
/// use bytes::Bytes;
/// use tower_fortify::injection::Detector;
///
/// let detector = Detector::builder().build()?;
/// let req = http::Request::post("/login")
///     .header("content-type", "application/x-www-form-urlencoded")
///     .body(Bytes::from("user=admin'--&pass=x"))?;
/// let verdict = detector.inspect(&req);
/// assert!(verdict.flagged);
/// assert_eq!(&*verdict.findings[0].location, "form:user");
///
/// let ok = http::Request::get("/search?q=blue+shoes").body(Bytes::new())?;
/// assert!(!detector.inspect(&ok).flagged);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Detector {
    pub(crate) config: Arc<DetectorConfig>,
    engine: &'static Engine,
    /// Runs the reference scan instead of the fast path (tests compare the two).
    #[cfg(test)]
    pub(crate) reference: bool,
}

impl Detector {
    /// Starts a configuration with the defaults: [`Profile::Balanced`],
    /// [`DEFAULT_THRESHOLD`], [`DEFAULT_BODY_LIMIT`], [`DEFAULT_MAX_DEPTH`],
    /// [`DEFAULT_SKIPPED_HEADERS`], no exclusions.
    pub fn builder() -> DetectorBuilder {
        DetectorBuilder::new()
    }

    /// The profile in use.
    pub fn profile(&self) -> Profile {
        self.config.profile
    }

    /// Inspects a whole request whose body is already in memory. Bodies longer than the
    /// configured limit are inspected up to the limit.
    pub fn inspect(&self, req: &Request<Bytes>) -> Verdict {
        let skip_body = self.skips_body(req.uri().path());
        let body = (!skip_body).then(|| req.body().clone());
        self.inspect_parts(req.uri(), req.headers(), body.as_ref(), false)
    }

    /// Inspects the request head and the first bytes of its (still encoded) body;
    /// `truncated` says more of the body was not read.
    pub(crate) fn inspect_body_prefix(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Bytes,
        truncated: bool,
    ) -> Verdict {
        self.inspect_request(uri, headers, Some((body, truncated)))
    }

    /// Whether an exclusion skips the whole request on `path`.
    pub(crate) fn skips_request(&self, path: &str) -> bool {
        self.config
            .exclusions
            .iter()
            .any(|e| e.skips_request() && e.matches_route(path))
    }

    /// Whether an exclusion skips the body on `path`.
    pub(crate) fn skips_body(&self, path: &str) -> bool {
        self.config
            .exclusions
            .iter()
            .any(|e| e.skips_body() && e.matches_route(path))
    }

    /// Inspects the request head and, if given, the (still encoded) body, up to the
    /// limit. A gRPC body (`grpc`) is not inspected.
    pub(crate) fn inspect_parts(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        body: Option<&Bytes>,
        grpc: bool,
    ) -> Verdict {
        let limit = self.config.body_limit;
        let body = body.filter(|_| !grpc).map(|b| (b, b.len() > limit));
        self.inspect_request(uri, headers, body)
    }

    fn inspect_request(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        body: Option<(&Bytes, bool)>,
    ) -> Verdict {
        let path = uri.path();
        if self.skips_request(path) {
            return Verdict::default();
        }
        let mut walk = Walk::new(
            self.engine,
            self.config.profile.paranoia(),
            self.config.max_depth,
        );
        #[cfg(test)]
        {
            walk.reference = self.reference;
        }
        walk.path(path);
        if let Some(q) = uri.query() {
            walk.form(q, "query");
        }
        for (header, value) in headers {
            if header == http::header::COOKIE {
                walk.cookies(value.as_bytes());
                continue;
            }
            if self.config.skipped_headers.contains(header) {
                continue;
            }
            let name = header.as_str();
            let text = match std::str::from_utf8(value.as_bytes()) {
                Ok(text) => Cow::Borrowed(text),
                Err(_) => String::from_utf8_lossy(value.as_bytes()),
            };
            // Upload helpers send the file name in a header (`X-File-Name`).
            let part = if name.contains("file")
                && (name.contains("filename") || name.contains("file-name"))
            {
                Part::FileName
            } else {
                Part::Header
            };
            match free_text(name, &text) {
                FreeText::Whole => {
                    walk.value(format_args!("header:{name}"), &text, Source::Raw, part)
                }
                FreeText::Parts(parts) => {
                    for p in parts {
                        walk.value(format_args!("header:{name}"), p, Source::Raw, part);
                    }
                }
            }
        }
        if let Some((body, truncated)) = body.filter(|(b, _)| !b.is_empty()) {
            let limit = self.config.body_limit;
            let body = if body.len() > limit {
                body.slice(..limit)
            } else {
                body.clone()
            };
            // The layer refuses unknown and too many codings before this runs; the
            // standalone detector inspects such a body as it is.
            let codings = codings(headers).unwrap_or_default();
            let decoded = decode(&codings, &body, limit, truncated);
            if !decoded.bytes.is_empty() {
                walk.body(headers, &decoded.bytes);
            }
            if decoded.failed {
                // Not what its header says: inspect the bytes as sent, as an application
                // that ignores the header would read them.
                walk.findings.push(Finding {
                    category: Category::Protocol,
                    rule: "protocol.undecodable_body",
                    location: Arc::from("body"),
                    score: NOTICE,
                    evidence: String::new(),
                });
                walk.body(headers, &body);
            }
        }
        let mut findings = walk.findings;
        findings.retain(|f| {
            !self
                .config
                .exclusions
                .iter()
                .any(|e| e.matches_route(path) && e.excuses(f.category, &f.location))
        });
        let score = findings
            .iter()
            .fold(0u16, |acc, f| acc.saturating_add(f.score));
        Verdict {
            flagged: score >= self.config.threshold,
            findings,
            score,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unterminated_xml_tag_with_multibyte_text_does_not_panic() {
        // Found by the fuzz target: a tag without `>` ending inside a multi-byte character.
        let detector = Detector::builder().build().unwrap();
        for body in ["<2``::/\"`\u{fffd}", "<a b='\u{e9}", "<\u{1F600}", "<"] {
            let req = Request::post("/x")
                .header("content-type", "application/xml")
                .body(Bytes::from(body.to_owned()))
                .unwrap();
            let _ = detector.inspect(&req);
        }
    }

    #[test]
    fn the_builder_merges_skipped_headers_and_names_its_settings() {
        let d = Detector::builder()
            .skip_header("X-Trace")
            .inspect_header("Accept")
            .build()
            .unwrap();
        let skipped = &d.config.skipped_headers;
        assert!(skipped.iter().any(|h| h == "x-trace"));
        assert!(!skipped.iter().any(|h| h == "accept"));
        assert!(skipped.iter().any(|h| h == "cookie"));
        for (builder, setting) in [
            (
                Detector::builder().threshold(0),
                "injection.detector.threshold",
            ),
            (
                Detector::builder().body_limit(0),
                "injection.detector.body_limit",
            ),
            (
                Detector::builder().max_depth(0),
                "injection.detector.max_depth",
            ),
            (
                Detector::builder().inspect_header("a b"),
                "injection.detector.inspect_header",
            ),
        ] {
            assert_eq!(builder.build().unwrap_err().setting(), setting);
        }
    }

    #[test]
    fn bodies_are_inspected_up_to_the_limit() {
        let d = Detector::builder().body_limit(8).build().unwrap();
        let req = |body: &'static str| {
            Request::post("/x")
                .header("content-type", "text/plain")
                .body(Bytes::from_static(body.as_bytes()))
                .unwrap()
        };
        assert!(!d.inspect(&req("12345678<script>alert(1)</script>")).flagged);
        assert!(d.inspect(&req("<script>alert(1)</script>")).flagged);
    }
}

//! The [`Detector`]: splits a request into located values, normalises each and runs the
//! detectors; and the per-value functions ([`detect_sqli`] and friends).

use std::{future::Future, io::Read, sync::Arc};

use bytes::Bytes;
use http::{header, HeaderMap, Request, Uri};

use crate::{event::Category, ConfigError};

use super::{
    config::{Exclusion, Profile, DEFAULT_SKIPPED_HEADERS},
    decode::{normalize, utf8_lossy_with_overlong, Source},
    detect::{Engine, Finding, Part, CRITICAL, NOTICE},
};

/// The anomaly score at which a request is flagged: one critical finding, or a warning
/// plus a notice.
pub const DEFAULT_THRESHOLD: u16 = 5;
/// Default body inspection limit: 64 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// Default bound on JSON and XML nesting depth.
pub const DEFAULT_MAX_DEPTH: usize = 32;
/// At most this many values are inspected per request; the rest are counted as a
/// protocol finding (a flood of parameters is itself suspicious).
const MAX_VALUES: usize = 4096;

/// The outcome of inspecting one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

/// Settings shared by the [`Detector`] and the layer.
#[derive(Debug, Clone)]
pub(crate) struct DetectorConfig {
    pub(crate) profile: Profile,
    pub(crate) threshold: u16,
    pub(crate) skipped_headers: Vec<String>,
    pub(crate) exclusions: Vec<Exclusion>,
    pub(crate) max_depth: usize,
    pub(crate) body_limit: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            profile: Profile::Balanced,
            threshold: DEFAULT_THRESHOLD,
            skipped_headers: DEFAULT_SKIPPED_HEADERS
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
            exclusions: Vec::new(),
            max_depth: DEFAULT_MAX_DEPTH,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }
}

/// Inspects requests without the layer: decomposes a request into located values,
/// normalises them and runs every detector of the profile.
///
/// ```
/// use bytes::Bytes;
/// use tower_fortify::injection::Detector;
///
/// let detector = Detector::new()?;
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
}

impl Detector {
    /// A detector with the `balanced` profile and default settings.
    pub fn new() -> Result<Self, ConfigError> {
        Self::with_config(DetectorConfig::default())
    }

    /// A detector with the settings of an [`InjectionBuilder`](super::InjectionBuilder).
    pub(crate) fn with_config(config: DetectorConfig) -> Result<Self, ConfigError> {
        let engine = Engine::get().map_err(|e| ConfigError::new("injection rules", e))?;
        Ok(Self {
            config: Arc::new(config),
            engine,
        })
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

    /// Inspects the request head and, if given, the (possibly truncated, still encoded)
    /// body.
    pub(crate) fn inspect_parts(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        body: Option<&Bytes>,
        grpc: bool,
    ) -> Verdict {
        let path = uri.path();
        if self.skips_request(path) {
            return Verdict::default();
        }
        let mut walk = Walk {
            engine: self.engine,
            paranoia: self.config.profile.paranoia(),
            findings: Vec::new(),
            values: 0,
            max_depth: self.config.max_depth,
        };
        walk.path(path);
        if let Some(q) = uri.query() {
            walk.form(q, "query");
        }
        for (name, value) in headers {
            let name = name.as_str();
            if name == "cookie" {
                walk.cookies(value.as_bytes());
                continue;
            }
            if self.config.skipped_headers.iter().any(|h| h == name) {
                continue;
            }
            let text = String::from_utf8_lossy(value.as_bytes());
            // Upload helpers send the file name in a header (`X-File-Name`).
            let part = if name.contains("filename") || name.contains("file-name") {
                Part::FileName
            } else {
                Part::Header
            };
            walk.value(&format!("header:{name}"), &text, Source::Raw, part);
        }
        if let Some(body) = body.filter(|b| !b.is_empty() && !grpc) {
            let limit = self.config.body_limit;
            let body = if body.len() > limit {
                body.slice(..limit)
            } else {
                body.clone()
            };
            match decode_content(headers, &body, limit) {
                Ok(decoded) => walk.body(headers, &decoded),
                Err(reason) => walk.findings.push(Finding {
                    category: Category::Protocol,
                    rule: reason,
                    location: Arc::from("body"),
                    score: NOTICE,
                    evidence: String::new(),
                }),
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

/// Undoes `Content-Encoding: gzip`/`deflate`, reading at most `limit` decoded bytes (so
/// a decompression bomb costs at most `limit` bytes of memory). Unknown encodings are
/// decided by the layer before this runs; here they are inspected as they are.
fn decode_content(headers: &HeaderMap, body: &Bytes, limit: usize) -> Result<Bytes, &'static str> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    let mut out = Vec::new();
    let read = match encoding.as_deref() {
        Some("gzip" | "x-gzip") => flate2::read::MultiGzDecoder::new(&body[..])
            .take(limit as u64)
            .read_to_end(&mut out),
        Some("deflate") => {
            // `deflate` is zlib-wrapped by the standard, raw in some clients: try both.
            let zlib = flate2::read::ZlibDecoder::new(&body[..])
                .take(limit as u64)
                .read_to_end(&mut out);
            if zlib.is_err() {
                out.clear();
                flate2::read::DeflateDecoder::new(&body[..])
                    .take(limit as u64)
                    .read_to_end(&mut out)
            } else {
                zlib
            }
        }
        _ => return Ok(body.clone()),
    };
    match read {
        Ok(_) => Ok(Bytes::from(out)),
        // A truncated prefix (an oversized body) still inspects what decoded.
        Err(_) if !out.is_empty() => Ok(Bytes::from(out)),
        Err(_) => Err("protocol.undecodable_body"),
    }
}

/// The decomposition of one request.
struct Walk {
    engine: &'static Engine,
    paranoia: u8,
    findings: Vec<Finding>,
    values: usize,
    max_depth: usize,
}

impl Walk {
    fn value(&mut self, location: &str, raw: &str, source: Source, part: Part) {
        if raw.is_empty() {
            return;
        }
        self.values += 1;
        if self.values == MAX_VALUES {
            self.findings.push(Finding {
                category: Category::Protocol,
                rule: "protocol.too_many_values",
                location: Arc::from("request"),
                score: NOTICE,
                evidence: String::new(),
            });
        }
        if self.values >= MAX_VALUES {
            return;
        }
        let norm = normalize(raw, source);
        let location: Arc<str> = Arc::from(location);
        self.engine.scan(
            &norm.text,
            part,
            self.paranoia,
            &location,
            &mut self.findings,
        );
        if norm.multi_encoded && self.paranoia >= 2 {
            self.findings.push(Finding {
                category: Category::Protocol,
                rule: "protocol.multiple_encoding",
                location,
                score: NOTICE,
                evidence: String::new(),
            });
        }
    }

    fn path(&mut self, path: &str) {
        self.value("path", path, Source::Raw, Part::Path);
        // Each unusual segment is also a value on its own (`/item/1' or '1'='1`).
        if path
            .bytes()
            .any(|c| !c.is_ascii_alphanumeric() && !b"/-_.~".contains(&c))
        {
            for (i, seg) in path.split('/').filter(|s| !s.is_empty()).enumerate() {
                if seg
                    .bytes()
                    .any(|c| !c.is_ascii_alphanumeric() && !b"-_.~".contains(&c))
                {
                    self.value(&format!("path[{i}]"), seg, Source::Raw, Part::Value);
                }
            }
        }
    }

    /// `a=1&b=2` pairs (query strings and form bodies).
    fn form(&mut self, s: &str, kind: &str) {
        for pair in s.split('&') {
            if pair.is_empty() {
                continue;
            }
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded_name = normalize(name, Source::Form).text;
            let label: String = decoded_name.chars().take(64).collect();
            self.value(
                &format!("{kind}-name:{label}"),
                name,
                Source::Form,
                Part::Name,
            );
            self.value(&format!("{kind}:{label}"), value, Source::Form, Part::Value);
            if includes_remote_url(&decoded_name, value) {
                self.findings.push(Finding {
                    category: Category::RemoteFileInclusion,
                    rule: "rfi.url_in_include_parameter",
                    location: Arc::from(format!("{kind}:{label}")),
                    score: CRITICAL,
                    evidence: String::new(),
                });
            }
        }
    }

    fn cookies(&mut self, header: &[u8]) {
        let header = String::from_utf8_lossy(header);
        for pair in header.split(';') {
            let pair = pair.trim();
            if pair.is_empty() {
                continue;
            }
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let label: String = name.chars().take(64).collect();
            self.value(
                &format!("cookie-name:{label}"),
                name,
                Source::Raw,
                Part::Name,
            );
            self.value(&format!("cookie:{label}"), value, Source::Raw, Part::Value);
        }
    }

    fn body(&mut self, headers: &HeaderMap, body: &Bytes) {
        let raw_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let content_type = raw_type.to_ascii_lowercase();
        let essence = content_type.split(';').next().unwrap_or("").trim();
        let text = utf8_lossy_with_overlong(body);
        match essence {
            "application/x-www-form-urlencoded" => self.form(&text, "form"),
            e if e == "application/json" || e.ends_with("+json") => {
                if !self.json(&text) {
                    self.value("body", &text, Source::Decoded, Part::Value);
                }
            }
            "multipart/form-data" => {
                // The boundary is case-sensitive: parse it from the header as sent.
                if !self.multipart(raw_type, body) {
                    self.value("body", &text, Source::Raw, Part::Value);
                }
            }
            e if e.ends_with("/xml") || e.ends_with("+xml") => self.xml(&text),
            _ => {
                // No, plain or unknown type: the application may parse the body anyway.
                self.value("body", &text, Source::Raw, Part::Value);
                let trimmed = text.trim_start();
                if trimmed.starts_with('{') || trimmed.starts_with('[') {
                    self.json(&text);
                } else if trimmed.starts_with('<') {
                    self.xml(&text);
                } else if looks_like_form(&text) {
                    self.form(&text, "form");
                }
            }
        }
    }

    /// Walks every key and string leaf; `false` when the text is not JSON.
    fn json(&mut self, text: &str) -> bool {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
            return false;
        };
        let mut path = String::from("$");
        self.json_value(&value, &mut path, 0);
        true
    }

    fn json_value(&mut self, v: &serde_json::Value, path: &mut String, depth: usize) {
        if depth > self.max_depth {
            if depth == self.max_depth + 1 {
                self.findings.push(Finding {
                    category: Category::Protocol,
                    rule: "protocol.nesting_too_deep",
                    location: Arc::from(format!("json:{path}")),
                    score: NOTICE,
                    evidence: String::new(),
                });
            }
            return;
        }
        let len = path.len();
        match v {
            serde_json::Value::String(s) => {
                self.value(&format!("json:{path}"), s, Source::Decoded, Part::Value)
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push_str(&format!("[{i}]"));
                    self.json_value(item, path, depth + 1);
                    path.truncate(len);
                }
            }
            serde_json::Value::Object(map) => {
                for (k, item) in map {
                    path.push('.');
                    path.extend(k.chars().take(64));
                    self.value(&format!("json-key:{path}"), k, Source::Decoded, Part::Name);
                    self.json_value(item, path, depth + 1);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }

    /// Field names, text values and file names (not file contents) of a multipart body;
    /// `false` when it does not parse.
    fn multipart(&mut self, content_type: &str, body: &Bytes) -> bool {
        let Ok(boundary) = multer::parse_boundary(content_type) else {
            return false;
        };
        let stream = futures_util::stream::iter([Ok::<Bytes, std::io::Error>(body.clone())]);
        let mut mp = multer::Multipart::new(stream, boundary);
        // The whole body is in memory, so every future below is ready at its first poll.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut parsed_any = false;
        loop {
            let next = std::pin::pin!(mp.next_field());
            let field = match next.poll(&mut cx) {
                std::task::Poll::Ready(Ok(Some(field))) => field,
                std::task::Poll::Ready(Ok(None)) => return parsed_any,
                _ => return parsed_any,
            };
            parsed_any = true;
            let name: String = field.name().unwrap_or("").chars().take(64).collect();
            self.value(
                &format!("multipart-name:{name}"),
                &name,
                Source::Decoded,
                Part::Name,
            );
            if let Some(file) = field.file_name().map(str::to_owned) {
                self.value(
                    &format!("multipart-filename:{name}"),
                    &file,
                    Source::Decoded,
                    Part::FileName,
                );
                // File contents are not inspected; drain the field.
                let mut field = field;
                loop {
                    let chunk = std::pin::pin!(field.chunk());
                    match chunk.poll(&mut cx) {
                        std::task::Poll::Ready(Ok(Some(_))) => continue,
                        _ => break,
                    }
                }
                continue;
            }
            let text = std::pin::pin!(field.text());
            match text.poll(&mut cx) {
                std::task::Poll::Ready(Ok(text)) => self.value(
                    &format!("multipart:{name}"),
                    &text,
                    Source::Decoded,
                    Part::Value,
                ),
                _ => return parsed_any,
            }
        }
    }

    /// Text, CDATA and attribute values of an XML document, plus its declarations (where
    /// external entities live). A tolerant scanner rather than a parser: attack payloads
    /// are often not well-formed, and the application's parser may accept what a strict
    /// one refuses.
    fn xml(&mut self, text: &str) {
        let mut rest = text;
        let mut stack: Vec<String> = Vec::new();
        let loc = |stack: &Vec<String>| format!("xml:/{}", stack.join("/"));
        while !rest.is_empty() {
            let Some(lt) = rest.find('<') else {
                self.value(&loc(&stack), rest, Source::Decoded, Part::Value);
                break;
            };
            let before = rest[..lt].trim();
            if !before.is_empty() {
                self.value(&loc(&stack), before, Source::Decoded, Part::Value);
            }
            rest = &rest[lt..];
            if let Some(after) = rest.strip_prefix("<![CDATA[") {
                let end = after.find("]]>").unwrap_or(after.len());
                self.value(&loc(&stack), &after[..end], Source::Decoded, Part::Value);
                rest = after.get(end + 3..).unwrap_or("");
                continue;
            }
            if rest.starts_with("<!--") {
                let end = rest.find("-->").map_or(rest.len(), |e| e + 3);
                rest = &rest[end..];
                continue;
            }
            if rest.starts_with("<!") || rest.starts_with("<?") {
                // Declarations: DOCTYPE (with its entities) and processing instructions.
                let end = declaration_end(rest);
                self.value(
                    "xml:declaration",
                    &rest[..end],
                    Source::Decoded,
                    Part::Value,
                );
                rest = &rest[end..];
                continue;
            }
            // `rest` starts with `<` (one byte); the tag runs to `>` or to the end.
            let (tag, after) = match rest.find('>') {
                Some(gt) => (&rest[1..gt], &rest[gt + 1..]),
                None => (&rest[1..], ""),
            };
            rest = after;
            if let Some(closing) = tag.strip_prefix('/') {
                let name = closing.trim();
                if let Some(pos) = stack.iter().rposition(|n| n == name) {
                    stack.truncate(pos);
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let name_end = tag.find(|c: char| c.is_whitespace()).unwrap_or(tag.len());
            let name: String = tag[..name_end].chars().take(64).collect();
            let element = if stack.len() < self.max_depth {
                stack.push(name);
                true
            } else {
                false
            };
            self.xml_attributes(&tag[name_end..], &loc(&stack));
            if self_closing && element {
                stack.pop();
            }
        }
    }

    fn xml_attributes(&mut self, mut attrs: &str, location: &str) {
        while let Some(eq) = attrs.find('=') {
            let name = attrs[..eq].trim();
            let after = attrs[eq + 1..].trim_start();
            let (value, rest) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let inner = &after[1..];
                    let end = inner.find(q).unwrap_or(inner.len());
                    (&inner[..end], inner.get(end + 1..).unwrap_or(""))
                }
                _ => {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            let name: String = name.chars().take(64).collect();
            self.value(
                &format!("{location}/@{name}"),
                value,
                Source::Decoded,
                Part::Value,
            );
            attrs = rest;
        }
    }
}

/// The end of an XML declaration starting at `s[0] == '<'`, counting nested `<`/`>` (a
/// DOCTYPE's internal subset holds entity declarations).
fn declaration_end(s: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    s.len()
}

/// Whether a parameter named like a file-system location (`mosConfig_absolute_path`,
/// `_CONF[path]`, `include_dir`, `template`) is given a remote URL: the classic remote
/// file inclusion into PHP `include`.
fn includes_remote_url(name: &str, raw_value: &str) -> bool {
    let name = name.trim_end_matches(']');
    let file_like = [
        "path", "dir", "include", "require", "template", "file", "root", "folder",
    ]
    .iter()
    .any(|suffix| name.ends_with(suffix));
    if !file_like {
        return false;
    }
    let value = normalize(raw_value, Source::Form).text;
    let value = value.trim_start();
    ["http://", "https://", "ftp://", "ftps://"]
        .iter()
        .any(|scheme| value.starts_with(scheme))
}

/// Whether a body with no useful content type reads as `a=b&c=d`.
fn looks_like_form(s: &str) -> bool {
    let first = s.split('&').next().unwrap_or("");
    first
        .split_once('=')
        .is_some_and(|(name, _)| !name.is_empty() && !name.contains(char::is_whitespace))
}

/// The findings of every detector for one value, as if it were a query parameter, under
/// the `balanced` profile.
fn scan_value(value: &str) -> Vec<Finding> {
    let Ok(engine) = Engine::get() else {
        return Vec::new();
    };
    let location: Arc<str> = Arc::from("value");
    let mut out = Vec::new();
    let norm = normalize(value, Source::Decoded);
    engine.scan(&norm.text, Part::Value, 1, &location, &mut out);
    out
}

/// The strongest finding of `category` for `value` if the value scores as an attack of
/// that family on its own (at least [`DEFAULT_THRESHOLD`]).
fn detect_category(value: &str, category: Category) -> Option<Finding> {
    let findings: Vec<Finding> = scan_value(value)
        .into_iter()
        .filter(|f| f.category == category)
        .collect();
    let score: u16 = findings.iter().map(|f| f.score).sum();
    if score < DEFAULT_THRESHOLD {
        return None;
    }
    findings.into_iter().max_by_key(|f| f.score)
}

/// Checks one value for SQL injection (balanced profile).
///
/// ```
/// use tower_fortify::injection::detect_sqli;
///
/// assert!(detect_sqli("1' OR '1'='1").is_some());
/// assert!(detect_sqli("O'Brien").is_none());
/// ```
pub fn detect_sqli(value: &str) -> Option<Finding> {
    detect_category(value, Category::Sqli)
}

/// Checks one value for cross-site scripting (balanced profile).
///
/// ```
/// use tower_fortify::injection::detect_xss;
///
/// assert!(detect_xss("<img src=x onerror=alert(1)>").is_some());
/// assert!(detect_xss("fish & chips <3").is_none());
/// ```
pub fn detect_xss(value: &str) -> Option<Finding> {
    detect_category(value, Category::Xss)
}

/// Checks one value for path traversal or local file inclusion (balanced profile).
///
/// ```
/// use tower_fortify::injection::detect_traversal;
///
/// assert!(detect_traversal("..%2f..%2fetc%2fpasswd").is_some());
/// assert!(detect_traversal("docs/report.pdf").is_none());
/// ```
pub fn detect_traversal(value: &str) -> Option<Finding> {
    detect_category(value, Category::PathTraversal)
}

/// Checks one value for OS command injection (balanced profile).
///
/// ```
/// use tower_fortify::injection::detect_command;
///
/// assert!(detect_command("x; cat /etc/passwd").is_some());
/// assert!(detect_command("salt & pepper").is_none());
/// ```
pub fn detect_command(value: &str) -> Option<Finding> {
    detect_category(value, Category::CommandInjection)
}

/// Every finding of every family for one value (balanced profile), for callers that want
/// the whole picture.
///
/// ```
/// use tower_fortify::{event::Category, injection::detect_all};
///
/// let found = detect_all("${jndi:ldap://x.example/a}");
/// assert_eq!(found[0].category, Category::JavaInjection);
/// ```
pub fn detect_all(value: &str) -> Vec<Finding> {
    scan_value(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unterminated_xml_tag_with_multibyte_text_does_not_panic() {
        // Found by the fuzz target: a tag without `>` ending inside a multi-byte character.
        let detector = Detector::new().unwrap();
        for body in ["<2``::/\"`\u{fffd}", "<a b='\u{e9}", "<\u{1F600}", "<"] {
            let req = Request::post("/x")
                .header("content-type", "application/xml")
                .body(Bytes::from(body.to_owned()))
                .unwrap();
            let _ = detector.inspect(&req);
        }
    }
}

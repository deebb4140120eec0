//! [`Walk`]: splits a request into located values (path, query, cookies, headers, and
//! form, JSON, multipart and XML bodies), normalises each and runs the detectors on it.
//!
//! Why this file is a little over 500 lines of non-test code: one decomposition per body
//! format, all sharing the walk's value count, depth bound and findings; split by format,
//! each file would take that state as a parameter and gain nothing else.

use std::{fmt, fmt::Write as _, sync::Arc};

use bytes::Bytes;
use http::{header, HeaderMap};

use crate::event::Category;

use super::{
    decode::{normalize_text, utf8_lossy_with_overlong, Source},
    detect::{Engine, Finding, Location, Part, CRITICAL, NOTICE},
    multipart,
};

/// At most this many values are inspected per request; the rest are counted as a
/// protocol finding (a flood of parameters is itself suspicious).
const MAX_VALUES: usize = 4096;

/// The decomposition of one request: each `value` call inspects one located value and
/// adds its findings.
pub(super) struct Walk {
    engine: &'static Engine,
    paranoia: u8,
    /// Every finding so far, in the order found.
    pub(super) findings: Vec<Finding>,
    values: usize,
    max_depth: usize,
    /// Runs the reference scan instead of the fast path (tests compare the two).
    #[cfg(test)]
    pub(super) reference: bool,
}

/// A name as a location carries it: its first 64 characters.
fn label(name: &str) -> &str {
    name.char_indices()
        .nth(64)
        .map_or(name, |(at, _)| &name[..at])
}

/// The element path of an XML location: the names joined with `/`.
struct XmlPath<'a>(&'a [String]);

impl fmt::Display for XmlPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

impl Walk {
    /// A walk running the rules up to `paranoia`, nesting JSON and XML up to `max_depth`.
    pub(super) fn new(engine: &'static Engine, paranoia: u8, max_depth: usize) -> Self {
        Self {
            engine,
            paranoia,
            findings: Vec::new(),
            values: 0,
            max_depth,
            #[cfg(test)]
            reference: false,
        }
    }

    /// Normalises one value found at `location` and runs the detectors on it.
    pub(super) fn value(
        &mut self,
        location: fmt::Arguments<'_>,
        raw: &str,
        source: Source,
        part: Part,
    ) {
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
        let (text, multi_encoded) = normalize_text(raw, source);
        let mut location = Location::new(location);
        self.scan(&text, part, &mut location);
        if multi_encoded && self.paranoia >= 2 {
            self.findings.push(Finding {
                category: Category::Protocol,
                rule: "protocol.multiple_encoding",
                location: location.get(),
                score: NOTICE,
                evidence: String::new(),
            });
        }
    }

    /// Runs the detectors on one normalised value.
    #[cfg(not(test))]
    fn scan(&mut self, text: &str, part: Part, location: &mut Location<'_>) {
        self.engine
            .scan(text, part, self.paranoia, location, &mut self.findings);
    }

    /// Runs the detectors on one normalised value (or the reference scan).
    #[cfg(test)]
    fn scan(&mut self, text: &str, part: Part, location: &mut Location<'_>) {
        let out = &mut self.findings;
        if self.reference {
            self.engine
                .scan_reference(text, part, self.paranoia, location, out);
        } else {
            self.engine.scan(text, part, self.paranoia, location, out);
        }
    }

    /// The path, and each unusual segment on its own.
    pub(super) fn path(&mut self, path: &str) {
        self.value(format_args!("path"), path, Source::Raw, Part::Path);
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
                    self.value(format_args!("path[{i}]"), seg, Source::Raw, Part::Value);
                }
            }
        }
    }

    /// `a=1&b=2` pairs (query strings and form bodies).
    pub(super) fn form(&mut self, s: &str, kind: &str) {
        for pair in s.split('&') {
            if pair.is_empty() {
                continue;
            }
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (decoded_name, _) = normalize_text(name, Source::Form);
            let label = label(&decoded_name);
            self.value(
                format_args!("{kind}-name:{label}"),
                name,
                Source::Form,
                Part::Name,
            );
            self.value(
                format_args!("{kind}:{label}"),
                value,
                Source::Form,
                Part::Value,
            );
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

    /// Each cookie of a `Cookie` header: its name and its value.
    pub(super) fn cookies(&mut self, header: &[u8]) {
        let header = String::from_utf8_lossy(header);
        for pair in header.split(';') {
            let pair = pair.trim();
            if pair.is_empty() {
                continue;
            }
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let label = label(name);
            self.value(
                format_args!("cookie-name:{label}"),
                name,
                Source::Raw,
                Part::CookieName,
            );
            self.value(
                format_args!("cookie:{label}"),
                value,
                Source::Raw,
                Part::Value,
            );
        }
    }

    /// A (decoded) body, parsed by its content type.
    pub(super) fn body(&mut self, headers: &HeaderMap, body: &Bytes) {
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
                    self.value(format_args!("body"), &text, Source::Decoded, Part::Value);
                }
            }
            "multipart/form-data" => {
                // The boundary is case-sensitive: parse it from the header as sent.
                if !self.multipart(raw_type, body) {
                    self.value(format_args!("body"), &text, Source::Raw, Part::Value);
                }
            }
            e if e.ends_with("/xml") || e.ends_with("+xml") => self.xml(&text),
            _ => {
                // No, plain or unknown type: the application may parse the body anyway.
                self.value(format_args!("body"), &text, Source::Raw, Part::Value);
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
            self.findings.push(Finding {
                category: Category::Protocol,
                rule: "protocol.nesting_too_deep",
                location: Arc::from(format!("json:{path}")),
                score: NOTICE,
                evidence: String::new(),
            });
            self.json_flat(v, path);
            return;
        }
        let len = path.len();
        match v {
            serde_json::Value::String(s) => {
                self.value(format_args!("json:{path}"), s, Source::Decoded, Part::Value)
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let _ = write!(path, "[{i}]");
                    self.json_value(item, path, depth + 1);
                    path.truncate(len);
                }
            }
            serde_json::Value::Object(map) => {
                for (k, item) in map {
                    path.push('.');
                    path.extend(k.chars().take(64));
                    self.value(
                        format_args!("json-key:{path}"),
                        k,
                        Source::Decoded,
                        Part::Name,
                    );
                    self.json_value(item, path, depth + 1);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }

    /// Past the depth bound: every key and string leaf under `v`, each inspected on its
    /// own but located where the bound was reached (never skipped). Iterative, so no
    /// depth costs stack.
    fn json_flat(&mut self, v: &serde_json::Value, path: &str) {
        let mut stack = vec![v];
        while let Some(v) = stack.pop() {
            match v {
                serde_json::Value::String(s) => {
                    self.value(format_args!("json:{path}"), s, Source::Decoded, Part::Value)
                }
                serde_json::Value::Array(items) => stack.extend(items.iter().rev()),
                serde_json::Value::Object(map) => {
                    for (k, item) in map.iter().rev() {
                        self.value(
                            format_args!("json-key:{path}"),
                            k,
                            Source::Decoded,
                            Part::Name,
                        );
                        stack.push(item);
                    }
                }
                _ => {}
            }
        }
    }

    /// Field names, file names and contents of a multipart body, every part's content
    /// read as text unless its bytes are binary (whatever its `filename` or declared
    /// type); `false` when no part was found.
    fn multipart(&mut self, content_type: &str, body: &Bytes) -> bool {
        let Some(boundary) = multipart::boundary(content_type) else {
            return false;
        };
        let parts = multipart::parts(body, boundary);
        for part in &parts {
            let name = label(&part.name);
            self.value(
                format_args!("multipart-name:{name}"),
                name,
                Source::Decoded,
                Part::Name,
            );
            if let Some(file) = &part.filename {
                self.value(
                    format_args!("multipart-filename:{name}"),
                    file,
                    Source::Decoded,
                    Part::FileName,
                );
            }
            if !multipart::is_binary(part.content) {
                let text = utf8_lossy_with_overlong(part.content);
                self.value(
                    format_args!("multipart:{name}"),
                    &text,
                    Source::Decoded,
                    Part::Value,
                );
            }
        }
        !parts.is_empty()
    }

    /// Text, CDATA and attribute values of an XML document, plus its declarations (where
    /// external entities live). A tolerant scanner rather than a parser: attack payloads
    /// are often not well-formed, and the application's parser may accept what a strict
    /// one refuses. An element's text is joined across CDATA sections, comments and
    /// processing instructions before it is inspected, as a parser hands it to the
    /// application (`SEL<!-- -->ECT` is `SELECT`).
    fn xml(&mut self, text: &str) {
        let mut rest = text;
        let mut stack: Vec<String> = Vec::new();
        let mut pending = String::new();
        let flush = |w: &mut Self, pending: &mut String, stack: &Vec<String>| {
            let t = pending.trim();
            if !t.is_empty() {
                w.value(
                    format_args!("xml:/{}", XmlPath(stack)),
                    t,
                    Source::Decoded,
                    Part::Value,
                );
            }
            pending.clear();
        };
        while !rest.is_empty() {
            let Some(lt) = rest.find('<') else {
                pending.push_str(rest);
                break;
            };
            pending.push_str(&rest[..lt]);
            rest = &rest[lt..];
            if let Some(after) = rest.strip_prefix("<![CDATA[") {
                let end = after.find("]]>").unwrap_or(after.len());
                pending.push_str(&after[..end]);
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
                    format_args!("xml:declaration"),
                    &rest[..end],
                    Source::Decoded,
                    Part::Value,
                );
                rest = &rest[end..];
                continue;
            }
            flush(self, &mut pending, &stack);
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
            let name = label(&tag[..name_end]).to_owned();
            let element = if stack.len() < self.max_depth {
                stack.push(name);
                true
            } else {
                false
            };
            self.xml_attributes(&tag[name_end..], &stack);
            if self_closing && element {
                stack.pop();
            }
        }
        flush(self, &mut pending, &stack);
    }

    fn xml_attributes(&mut self, mut attrs: &str, stack: &[String]) {
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
            let name = label(name);
            self.value(
                format_args!("xml:/{}/@{name}", XmlPath(stack)),
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
    let (value, _) = normalize_text(raw_value, Source::Form);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn walk() -> Walk {
        Walk::new(Engine::get().unwrap(), 1, 4)
    }

    fn locations(w: &Walk) -> Vec<&str> {
        w.findings.iter().map(|f| &*f.location).collect()
    }

    #[test]
    fn values_are_located() {
        let mut w = walk();
        w.form("id=1%27%20OR%20%271%27%3D%271&ok=1", "query");
        w.cookies(b"a=1; prefs=../../../../etc/passwd");
        w.path("/item/<script>alert(1)</script>");
        let found = locations(&w);
        assert!(found.contains(&"query:id"), "{found:?}");
        assert!(found.contains(&"cookie:prefs"), "{found:?}");
        assert!(found.iter().any(|l| l.starts_with("path")), "{found:?}");
        assert!(!found.contains(&"query:ok"));
    }

    #[test]
    fn json_depth_is_bounded_and_reported() {
        let mut w = walk();
        assert!(w.json(r#"{"a":{"b":{"c":{"d":{"e":{"f":"x"}}}}}}"#));
        assert!(w
            .findings
            .iter()
            .any(|f| f.rule == "protocol.nesting_too_deep"));
        assert!(!walk().json("not json"));
    }

    #[test]
    fn xml_declarations_and_attributes() {
        assert_eq!(declaration_end("<!DOCTYPE r [<!ENTITY x 'y'>]>rest"), 30);
        assert_eq!(declaration_end("<!unterminated"), 14);
        let mut w = walk();
        w.xml(r#"<a href="javascript:alert(1)">t</a>"#);
        assert!(
            locations(&w).contains(&"xml:/a/@href"),
            "{:?}",
            locations(&w)
        );
    }

    #[test]
    fn helpers() {
        assert!(looks_like_form("a=1&b=2"));
        assert!(!looks_like_form("hello world = 3"));
        assert!(includes_remote_url(
            "include_path",
            "http%3A%2F%2Fevil.example%2Fx"
        ));
        assert!(!includes_remote_url("q", "http://example.com"));
        assert!(!includes_remote_url("template", "main.html"));
    }
}

//! Headers with a fixed grammar: which parts of their value are free text worth
//! inspecting. `Accept*`, `Cache-Control`, `Pragma`, `If-None-Match`/`If-Match`, client
//! hints (`Sec-CH-UA*`), dates and `Host` are parsed; tokens that the grammar allows and
//! that cannot carry a payload (`text/html`, `q=0.8`, `no-cache`, a host name) are
//! dropped, and every other part (quoted strings, parameters, anything off-grammar) is
//! inspected on its own. A value that does not parse is inspected whole.

/// What to inspect of one header value.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum FreeText<'a> {
    /// The whole value (free text, or off-grammar).
    Whole,
    /// These parts only (possibly none).
    Parts(Vec<&'a str>),
}

/// The parts of `value` (of header `name`, lower case) to inspect.
pub(super) fn free_text<'a>(name: &str, value: &'a str) -> FreeText<'a> {
    match name {
        "host" => {
            if is_host(value) {
                FreeText::Parts(Vec::new())
            } else {
                FreeText::Whole
            }
        }
        "if-modified-since" | "if-unmodified-since" | "date" | "last-modified" => {
            if is_http_date(value) {
                FreeText::Parts(Vec::new())
            } else {
                FreeText::Whole
            }
        }
        "if-none-match" | "if-match" => etags(value),
        "accept" | "accept-charset" | "accept-encoding" | "accept-language" | "cache-control"
        | "pragma" | "te" => list(value, false),
        n if n.starts_with("sec-ch-") => list(value, true),
        _ => FreeText::Whole,
    }
}

/// Splits `s` at `sep` outside double-quoted strings (with `\` escapes).
fn split_outside_quotes(s: &str, sep: u8) -> SplitOutsideQuotes<'_> {
    SplitOutsideQuotes {
        s,
        sep,
        start: 0,
        done: false,
    }
}

/// The pieces of [`split_outside_quotes`], found as they are asked for (no list).
struct SplitOutsideQuotes<'a> {
    s: &'a str,
    sep: u8,
    start: usize,
    done: bool,
}

impl<'a> Iterator for SplitOutsideQuotes<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.done {
            return None;
        }
        let bytes = self.s.as_bytes();
        // A piece starts outside quotes: a cut is never made inside them.
        let mut quoted = false;
        let mut escaped = false;
        for (i, &b) in bytes.iter().enumerate().skip(self.start) {
            if escaped {
                escaped = false;
            } else if quoted && b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                quoted = !quoted;
            } else if b == self.sep && !quoted {
                // Cuts are at ASCII bytes, so every slice is on a char boundary.
                let piece = &self.s[self.start..i];
                self.start = i + 1;
                return Some(piece);
            }
        }
        self.done = true;
        Some(&self.s[self.start..])
    }
}

/// The content of a quoted string, or the token as it is.
fn unquote(s: &str) -> &str {
    let s = s.trim();
    match s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => inner,
        None => s,
    }
}

/// A token no payload fits in: letters, digits, `-_*+.:`, at most one `/` not at the
/// start, no `..`.
fn is_inert(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_*+.:/".contains(&b))
        && !s.starts_with('/')
        && s.bytes().filter(|&b| b == b'/').count() <= 1
        && !s.contains("..")
}

/// A `q` weight: `0`, `1`, `0.xxx`, `1.000`.
fn is_qvalue(s: &str) -> bool {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    matches!(int, "0" | "1") && frac.len() <= 3 && frac.bytes().all(|b| b.is_ascii_digit())
}

/// Chrome's GREASE brands (`Not-A.Brand`, `Not;A=Brand`, `Not/A)Brand`, ...).
fn is_grease_brand(s: &str) -> bool {
    s.chars()
        .filter(|c| !" ():-./;=?_".contains(*c))
        .eq("NotABrand".chars())
}

/// `a;p=v, b;q=0.5` lists (`Accept*`, `Cache-Control`, structured-field client hints).
fn list(value: &str, client_hint: bool) -> FreeText<'_> {
    let mut out = Vec::new();
    for element in split_outside_quotes(value, b',') {
        for (i, piece) in split_outside_quotes(element, b';').enumerate() {
            let piece = piece.trim();
            if piece.is_empty() {
                continue;
            }
            // `name=value` only when the name is a token; anything else is one text.
            let (name, val) = match piece.split_once('=') {
                Some((n, v)) if is_inert(n.trim()) => (n.trim(), Some(v.trim())),
                _ => (piece, None),
            };
            if i > 0 && name.eq_ignore_ascii_case("q") && val.is_some_and(is_qvalue) {
                continue;
            }
            for part in [Some(name), val].into_iter().flatten() {
                let text = unquote(part);
                let inert = is_inert(text)
                    || client_hint && (matches!(text, "?0" | "?1") || is_grease_brand(text));
                if !inert && !text.is_empty() {
                    out.push(text);
                }
            }
        }
    }
    FreeText::Parts(out)
}

/// `"a", W/"b"` or `*`: the entity tags' contents.
fn etags(value: &str) -> FreeText<'_> {
    let mut out = Vec::new();
    for tag in split_outside_quotes(value, b',') {
        let tag = tag.trim();
        let inner = tag.strip_prefix("W/").unwrap_or(tag);
        let text = unquote(inner);
        if tag == "*" || text.is_empty() {
            continue;
        }
        // Entity tags are commonly hex, base64 (`+/=`) or versions.
        let tag_like = text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_+=/".contains(&b))
            && !text.starts_with('/');
        if !is_inert(text) && !tag_like {
            out.push(text);
        }
    }
    FreeText::Parts(out)
}

/// `name[:port]`, an IPv4 address or `[ipv6][:port]`.
fn is_host(value: &str) -> bool {
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            return false;
        };
        if !ip
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b":.".contains(&b))
        {
            return false;
        }
        match after.strip_prefix(':') {
            Some(p) => ("x", Some(p)),
            None if after.is_empty() => ("x", None),
            None => return false,
        }
    } else {
        match value.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (value, None),
        }
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        && !host.contains("..");
    port_ok && host_ok
}

/// An HTTP date in any of its three formats: every word a day or month name, `GMT` or
/// digits (with `:` in the time).
fn is_http_date(value: &str) -> bool {
    const WORDS: &[&str] = &[
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "jan",
        "feb",
        "mar",
        "apr",
        "may",
        "jun",
        "jul",
        "aug",
        "sep",
        "oct",
        "nov",
        "dec",
        "gmt",
    ];
    value.len() <= 40
        && value.bytes().any(|b| b.is_ascii_digit())
        && value
            .split([' ', ',', '-', ':'])
            .filter(|w| !w.is_empty())
            .all(|w| {
                w.bytes().all(|b| b.is_ascii_digit())
                    || WORDS.iter().any(|d| d.eq_ignore_ascii_case(w))
            })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts<'a>(name: &str, value: &'a str) -> Vec<&'a str> {
        match free_text(name, value) {
            FreeText::Parts(p) => p,
            FreeText::Whole => vec!["<whole>"],
        }
    }

    #[test]
    fn browser_values_have_no_free_text() {
        assert!(parts(
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )
        .is_empty());
        assert!(parts("accept-language", "de-DE,de;q=0.9,en;q=0.7").is_empty());
        assert!(parts("accept-encoding", "gzip, deflate, br, zstd").is_empty());
        assert!(parts("cache-control", "max-age=0, private=\"set-cookie\"").is_empty());
        assert!(parts("if-none-match", "W/\"5e15153d-120f\", \"xyzzy\", *").is_empty());
        assert!(parts(
            "sec-ch-ua",
            "\"Not;A=Brand\";v=\"99\", \"Chromium\";v=\"124\""
        )
        .is_empty());
        assert!(parts("sec-ch-ua-mobile", "?0").is_empty());
        assert!(parts("if-modified-since", "Wed, 21 Oct 2015 07:28:00 GMT").is_empty());
        assert!(parts("if-modified-since", "Sunday, 06-Nov-94 08:49:37 GMT").is_empty());
        assert!(parts("host", "[::1]:8080").is_empty());
    }

    #[test]
    fn free_text_is_kept_and_q_values_dropped() {
        assert_eq!(
            parts("accept-language", "en;q=0.9, x' or 1=1"),
            ["x' or 1=1"]
        );
        assert_eq!(parts("accept", "a/b;q=\"<x>\""), ["<x>"]);
        assert_eq!(
            parts("if-none-match", "\"a, b\", W/\"../x\""),
            ["a, b", "../x"]
        );
        assert_eq!(
            parts("sec-ch-ua", "\"Google Chrome\";v=\"1\""),
            ["Google Chrome"]
        );
        assert_eq!(parts("pragma", "/etc/passwd"), ["/etc/passwd"]);
        assert_eq!(parts("host", "a b"), ["<whole>"]);
        assert_eq!(parts("if-modified-since", "1 union select"), ["<whole>"]);
        assert_eq!(parts("user-agent", "x"), ["<whole>"]);
    }
}

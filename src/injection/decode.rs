//! Value normalisation: undo the encodings an attacker uses to hide a payload.
//!
//! Every step is a single linear pass over its input, the number of passes is capped and
//! the output never grows past the input (every decoding shortens or keeps the length),
//! so a value of any size normalises in time linear in its length.

use std::borrow::Cow;

/// How many percent-decoding passes are applied at most. More than one pass that changes
/// the value means the value was encoded more than once, which is itself reported.
const MAX_PERCENT_PASSES: usize = 3;

/// How many HTML-entity passes are applied at most (`&amp;lt;` needs two).
const MAX_ENTITY_PASSES: usize = 2;

/// A value after normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Normalized {
    /// The decoded value, lower-cased, with NUL bytes removed and full-width forms folded
    /// to ASCII.
    pub text: String,
    /// Whether the value was percent-encoded more than once (for example `%252e`).
    pub multi_encoded: bool,
}

/// Where a value comes from, which decides the decodings that apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// A query string or form value: `+` means a space, then percent-decoding.
    Form,
    /// Any other still-encoded value (path, header, cookie, raw body): percent-decoding only.
    Raw,
    /// A value that a parser already decoded (JSON string, XML text): no first
    /// percent-decoding is owed, but further encodings are still undone.
    Decoded,
}

/// Normalises one value: percent-decoding (repeated while it changes, capped),
/// `%uXXXX`, overlong UTF-8, HTML entities, JavaScript `\uXXXX`/`\xXX` escapes, NUL
/// removal, full-width forms and case folding.
///
/// ```
/// use tower_fortify::injection::{normalize, Source};
///
/// let n = normalize("%253Cscript%253E", Source::Raw);
/// assert_eq!(n.text, "<script>");
/// assert!(n.multi_encoded);
/// assert_eq!(normalize("jav&#x09;ascript:", Source::Decoded).text, "jav\tascript:");
/// assert_eq!(normalize("\u{ff1c}SCRIPT\u{ff1e}", Source::Decoded).text, "<script>");
/// ```
pub fn normalize(value: &str, source: Source) -> Normalized {
    let (text, multi_encoded) = normalize_text(value, source);
    Normalized {
        text: text.into_owned(),
        multi_encoded,
    }
}

/// [`normalize`] without a copy when nothing changes (the common case: a lower-case
/// ASCII value with no escape in it): the text, and whether it was percent-encoded more
/// than once.
pub(crate) fn normalize_text(value: &str, source: Source) -> (Cow<'_, str>, bool) {
    // One pass for the common case: no escape byte (`%`, `&`, `\`, a form's `+`), no
    // upper-case letter, NUL or non-ASCII character, so every step below is a no-op.
    if value.bytes().all(|b| {
        b.is_ascii()
            && !b.is_ascii_uppercase()
            && !matches!(b, b'%' | b'&' | b'\\' | 0)
            && (b != b'+' || source != Source::Form)
    }) {
        return (Cow::Borrowed(value), false);
    }
    let mut cur: Cow<'_, str> = Cow::Borrowed(value);
    if source == Source::Form && cur.contains('+') {
        cur = Cow::Owned(cur.replace('+', " "));
    }
    let mut changes = 0;
    for _ in 0..MAX_PERCENT_PASSES {
        match percent_decode(&cur) {
            Some(next) => {
                changes += 1;
                cur = Cow::Owned(next);
            }
            None => break,
        }
    }
    // A parser already removed one layer for decoded sources; for the others the first
    // change is the ordinary encoding.
    let multi_encoded = match source {
        Source::Decoded => changes >= 1,
        _ => changes >= 2,
    };
    for _ in 0..MAX_ENTITY_PASSES {
        match html_entity_decode(&cur) {
            Some(next) => cur = Cow::Owned(next),
            None => break,
        }
    }
    if let Some(next) = js_unescape(&cur) {
        cur = Cow::Owned(next);
    }
    let text = match fold(&cur) {
        Some(folded) => Cow::Owned(folded),
        None => cur,
    };
    (text, multi_encoded)
}

/// Decodes the four hex digits at `b[at..at + 4]` (the `XXXX` of `%uXXXX` or `\uXXXX`)
/// into `out` as UTF-8; `false`, writing nothing, when they are not four hex digits.
fn push_hex4(b: &[u8], at: usize, out: &mut Vec<u8>) -> bool {
    let Some(digits) = b.get(at..at + 4) else {
        return false;
    };
    let mut cp = 0u32;
    for d in digits {
        match hex(*d) {
            Some(v) => cp = cp << 4 | u32::from(v),
            None => return false,
        }
    }
    let c = char::from_u32(cp).unwrap_or('\u{fffd}');
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    true
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// One pass of percent-decoding (with `%uXXXX`); `None` when nothing was encoded.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if !b.contains(&b'%') {
        return None;
    }
    let mut out = Vec::with_capacity(b.len());
    let mut changed = false;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) {
                out.push(h << 4 | l);
                i += 3;
                changed = true;
                continue;
            }
            if matches!(b.get(i + 1), Some(b'u' | b'U')) && push_hex4(b, i + 2, &mut out) {
                i += 6;
                changed = true;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    changed.then(|| utf8_lossy_with_overlong(&out))
}

/// Decodes bytes as UTF-8, turning overlong encodings of ASCII (`C0 AF` for `/`,
/// `E0 80 AE` for `.`) into the character they spell, as lenient servers do.
pub(crate) fn utf8_lossy_with_overlong(b: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(b) {
        return s.to_owned();
    }
    let mut fixed = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if (c == 0xC0 || c == 0xC1) && b.get(i + 1).is_some_and(|n| n & 0xC0 == 0x80) {
            fixed.push(((c & 0x1F) << 6) | (b[i + 1] & 0x3F));
            i += 2;
            continue;
        }
        if c == 0xE0
            && b.get(i + 1).is_some_and(|n| *n == 0x80 || *n == 0x81)
            && b.get(i + 2).is_some_and(|n| n & 0xC0 == 0x80)
        {
            fixed.push(((b[i + 1] & 0x3F) << 6) | (b[i + 2] & 0x3F));
            i += 3;
            continue;
        }
        fixed.push(c);
        i += 1;
    }
    String::from_utf8_lossy(&fixed).into_owned()
}

/// One pass of HTML entity decoding: decimal and hex references with or without `;`,
/// and the named entities attackers use. `None` when nothing was decoded.
fn html_entity_decode(s: &str) -> Option<String> {
    if !s.contains('&') {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut changed = false;
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos + 1..];
        if let Some((c, used)) = entity(tail) {
            out.push(c);
            rest = &tail[used..];
            changed = true;
        } else {
            out.push('&');
            rest = tail;
        }
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// Parses one entity after `&`; returns the character and the bytes consumed.
fn entity(tail: &str) -> Option<(char, usize)> {
    let b = tail.as_bytes();
    if b.first() == Some(&b'#') {
        let (radix, start) = if matches!(b.get(1), Some(b'x' | b'X')) {
            (16, 2)
        } else {
            (10, 1)
        };
        let mut end = start;
        // Bounded: seven digits are enough for any code point (leading zeros beyond that
        // are skipped as part of the run but do not change the value).
        let mut value: u32 = 0;
        while end < b.len() && (b[end] as char).is_digit(radix) {
            value = value
                .saturating_mul(radix)
                .saturating_add((b[end] as char).to_digit(radix).unwrap_or(0));
            end += 1;
        }
        if end == start {
            return None;
        }
        if b.get(end) == Some(&b';') {
            end += 1;
        }
        let c = char::from_u32(value.min(0x10FFFF)).unwrap_or('\u{fffd}');
        return Some((c, end));
    }
    const NAMED: &[(&str, char)] = &[
        ("lt", '<'),
        ("gt", '>'),
        ("quot", '"'),
        ("apos", '\''),
        ("amp", '&'),
        ("colon", ':'),
        ("tab", '\t'),
        ("newline", '\n'),
        ("lpar", '('),
        ("rpar", ')'),
        ("sol", '/'),
        ("bsol", '\\'),
        ("semi", ';'),
        ("nbsp", ' '),
        ("grave", '`'),
        ("equals", '='),
    ];
    for (name, c) in NAMED {
        if b.len() >= name.len() && b[..name.len()].eq_ignore_ascii_case(name.as_bytes()) {
            let mut used = name.len();
            if b.get(used) == Some(&b';') {
                used += 1;
            } else if *name == "amp" || *name == "nbsp" {
                // Without `;` these are common in ordinary text (`AT&amp`): decode only
                // with the terminator.
                continue;
            }
            return Some((*c, used));
        }
    }
    None
}

/// JavaScript/JSON escapes `\uXXXX` and `\xXX`. `None` when there were none.
fn js_unescape(s: &str) -> Option<String> {
    if !s.contains('\\') {
        return None;
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut changed = false;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if matches!(b.get(i + 1), Some(b'u')) && push_hex4(b, i + 2, &mut out) {
                i += 6;
                changed = true;
                continue;
            }
            if matches!(b.get(i + 1), Some(b'x')) {
                if let (Some(h), Some(l)) = (
                    b.get(i + 2).copied().and_then(hex),
                    b.get(i + 3).copied().and_then(hex),
                ) {
                    let c = char::from(h << 4 | l);
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    i += 4;
                    changed = true;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    changed.then(|| String::from_utf8_lossy(&out).into_owned())
}

/// NUL removal, full-width ASCII forms and Unicode spaces folded to ASCII, lower-casing;
/// `None` when that changes nothing (ASCII without upper-case letters or NUL).
fn fold(s: &str) -> Option<String> {
    if s.bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase() && b != 0)
    {
        return None;
    }
    if s.is_ascii() {
        // Only lower-casing and NUL removal apply to ASCII.
        let mut out = s.to_ascii_lowercase();
        out.retain(|c| c != '\0');
        return Some(out);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => {}
            '\u{ff01}'..='\u{ff5e}' => {
                let a = char::from_u32(c as u32 - 0xfee0).unwrap_or(c);
                out.push(a.to_ascii_lowercase());
            }
            '\u{a0}' | '\u{2000}'..='\u{200b}' | '\u{3000}' | '\u{feff}' => out.push(' '),
            c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
            c => out.extend(c.to_lowercase()),
        }
    }
    Some(out)
}

/// SQL view of a normalised value: comments become a space (the body of MySQL
/// `/*!50000 ... */` version comments is kept), runs of whitespace collapse to one space.
pub(crate) fn sql_view(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut last_space = false;
    let push_space = |out: &mut String, last_space: &mut bool| {
        if !*last_space {
            out.push(' ');
            *last_space = true;
        }
    };
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            if b.get(i + 2) == Some(&b'!') {
                // Executable comment: skip the marker and the optional version digits.
                i += 3;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                push_space(&mut out, &mut last_space);
                continue;
            }
            match s[i + 2..].find("*/") {
                Some(end) => i += 2 + end + 2,
                None => i = b.len(),
            }
            push_space(&mut out, &mut last_space);
            continue;
        }
        if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
            i += 2;
            push_space(&mut out, &mut last_space);
            continue;
        }
        let c = s[i..].chars().next().unwrap_or(' ');
        if c.is_whitespace() || c == '\u{0b}' {
            push_space(&mut out, &mut last_space);
        } else {
            out.push(c);
            last_space = false;
        }
        i += c.len_utf8();
    }
    out
}

/// Command-line view: drop the characters shells ignore inside words (`\ " ' ^`) and
/// collapse whitespace, so `c'a't` and `c^a^t` read as `cat`.
pub(crate) fn cmd_view(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last_space = false;
    for c in s.chars() {
        match c {
            '\\' | '"' | '\'' | '^' => {}
            c if c.is_whitespace() => {
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
            }
            c => {
                out.push(c);
                last_space = false;
            }
        }
    }
    out
}

/// Path view: backslashes become slashes and runs of slashes collapse.
pub(crate) fn path_view(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = if c == '\\' { '/' } else { c };
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_passes_are_capped_and_flagged() {
        let n = normalize("%25252e%25252e%25252f", Source::Raw);
        assert_eq!(n.text, "../");
        assert!(n.multi_encoded);
        let single = normalize("a%20b", Source::Raw);
        assert_eq!(single.text, "a b");
        assert!(!single.multi_encoded);
        // Four layers: only three are undone.
        assert_eq!(normalize("%2525252e", Source::Raw).text, "%2e");
    }

    #[test]
    fn form_plus_is_space_only_in_forms() {
        assert_eq!(normalize("a+b", Source::Form).text, "a b");
        assert_eq!(normalize("a+b", Source::Raw).text, "a+b");
    }

    #[test]
    fn percent_u_and_overlong_utf8() {
        assert_eq!(normalize("%u003cx%u003e", Source::Raw).text, "<x>");
        assert_eq!(normalize("..%c0%af..%c0%af", Source::Raw).text, "../../");
        assert_eq!(normalize("%e0%80%ae", Source::Raw).text, ".");
    }

    #[test]
    fn entities_with_and_without_semicolon() {
        assert_eq!(normalize("&lt;a&#62;&#x3c", Source::Decoded).text, "<a><");
        assert_eq!(normalize("&amp;lt;", Source::Decoded).text, "<");
        assert_eq!(normalize("AT&T &amp", Source::Decoded).text, "at&t &amp");
    }

    #[test]
    fn js_escapes_and_nul() {
        assert_eq!(normalize("\\u0027or\\x20", Source::Decoded).text, "'or ");
        assert_eq!(normalize("a\0b", Source::Decoded).text, "ab");
    }

    #[test]
    fn sql_view_removes_comments() {
        assert_eq!(sql_view("un/**/ion  select"), "un ion select");
        assert_eq!(sql_view("/*!50000union*/ select"), " union select");
        assert_eq!(sql_view("a\t\n b"), "a b");
    }

    #[test]
    fn cmd_and_path_views() {
        assert_eq!(cmd_view("c\\a\"t  /e't'c/pa^sswd"), "cat /etc/passwd");
        assert_eq!(path_view("..\\..//etc"), "../../etc");
    }

    #[test]
    fn output_never_grows() {
        let input = "%41".repeat(1000) + &"&#x41;".repeat(1000) + &"\\u0041".repeat(1000);
        assert_eq!(normalize(&input, Source::Raw).text, "a".repeat(3000));
    }
}

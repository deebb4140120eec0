//! Cross-site scripting: an HTML tag tokenizer that flags script-capable tags,
//! event-handler attributes and `javascript:`/`vbscript:`/`data:` URLs, run from several
//! start states (text, and inside an unquoted, single-, double- or back-quoted attribute
//! value) so a payload that closes the application's attribute is seen too; plus rules
//! for what sits outside tags (script sinks, CSS expressions, bare schemes).

use std::sync::Arc;

use crate::event::Category;

use super::{Finding, Rule, View, CRITICAL, WARNING};

const fn rule(name: &'static str, paranoia: u8, score: u16, pattern: &'static str) -> Rule {
    Rule {
        name,
        category: Category::Xss,
        paranoia,
        score,
        view: View::Text,
        parts: &[],
        pattern,
    }
}

pub(crate) static RULES: &[Rule] = &[
    rule(
        "xss.ssi_directive",
        1,
        CRITICAL,
        // A server-side include directive (Apache mod_include, nginx ssi): `<!--#exec
        // cmd=...-->`, `<!--#include virtual=...-->`, `<!--#set var=... value=...-->`.
        r"<!--\s*#\s*(?:exec|include|echo|set|config|fsize|flastmod|printenv|if|elif)\s+(?:cmd|cgi|virtual|file|var|value|encoding|expr|errmsg|sizefmt|timefmt)\s*=",
    ),
    rule(
        "xss.script_tag",
        1,
        CRITICAL,
        // `<svg` whose first attribute is its namespace is an SVG document (an uploaded
        // logo, a `data:image/svg+xml` URL): what makes one active, `<script>`, event
        // handlers and `javascript:` URLs, is read by the other rules and the tokenizer.
        // `<?import implementation=...>` loads an HTML component (IE's behaviours, the
        // `<?import namespace=... implementation="#default#time2">` of HTML+TIME).
        r"<\s*/?\s*(?:script|iframe|object|embed|applet|frameset|frame|base|meta|math|isindex|xml|import|vmlframe|xss|template|noscript|portal|set|animate|handler|listener)\b|<\s*\?\s*import\s+(?:namespace|implementation)\s*=|<\s*svg(?:\s*[/>]|\s*$|\s+(?:[^x\s/>]|x(?:[^m]|$)|xm(?:[^l]|$)|xml(?:[^n]|$)|xmln(?:[^s]|$)))",
    ),
    rule(
        "xss.event_handler",
        1,
        CRITICAL,
        r#"(?:<[^>]*|["'`/]\s*|^\s*|\s)on(?:abort|activate|afterprint|animation\w+|auxclick|beforeprint|before\w+|begin|blur|bounce|canplay\w*|change|click|close|contextmenu|copy|cuechange|cut|dblclick|drag\w*|drop|durationchange|end|ended|error|finish|focus\w*|formdata|hashchange|input|invalid|key\w+|load\w*|message|mouse\w+|offline|online|page\w+|paste|pause|play\w*|pointer\w+|popstate|progress|ratechange|readystatechange|repeat|reset|resize|scroll\w*|search|seek\w+|select\w*|show|start|storage|submit|suspend|timeupdate|toggle|touch\w+|transition\w+|unload|volumechange|waiting|wheel)\s*="#,
    ),
    rule(
        "xss.script_url",
        1,
        CRITICAL,
        r"(?:j\s*a\s*v\s*a\s*s\s*c\s*r\s*i\s*p\s*t|v\s*b\s*s\s*c\s*r\s*i\s*p\s*t|l\s*i\s*v\s*e\s*s\s*c\s*r\s*i\s*p\s*t)\s*:|\bdata\s*:\s*(?:text/(?:html|javascript|ecmascript|xml|xsl)|application/(?:x-)?(?:javascript|ecmascript|xhtml\+xml|xml))\b",
    ),
    rule(
        "xss.url_attribute",
        1,
        CRITICAL,
        r#"<[^>]*\b(?:src|href|action|formaction|data|background|dynsrc|lowsrc|poster|xlink:href|srcdoc)\s*=\s*["'`]?\s*(?:javascript|vbscript|data|livescript)\s*:"#,
    ),
    rule(
        "xss.style_expression",
        1,
        CRITICAL,
        r"(?:\bexpression\s*\(|-moz-binding\s*:|\bbehavior\s*:\s*url|@import\b|url\s*\(\s*['\x22]?\s*(?:javascript|vbscript):)",
    ),
    rule(
        "xss.script_sink",
        1,
        CRITICAL,
        r"(?:\b(?:alert|prompt|confirm|eval)\s*(?:\(|`|&#40)|\bdocument\s*\.\s*(?:cookie|write|location|domain|body\.innerhtml)|\bwindow\s*\.\s*(?:location|open)\s*[=(]|\bstring\s*\.\s*fromcharcode\b|\.innerhtml\s*=|\bsettimeout\s*\(\s*['\x22`]|\bnew\s+function\s*\(|\b(?:top|self|parent|frames|globalthis)\s*\[\s*['\x22`]|\bimport\s*\(\s*['\x22`]|\bfetch\s*\(\s*['\x22`]\s*(?:https?:)?//|\batob\s*\()",
    ),
    rule(
        "xss.html_injection",
        2,
        WARNING,
        r"<\s*/?\s*(?:a|img|body|div|input|form|button|style|link|video|audio|source|details|marquee|table|td|image|textarea|select|option|keygen|html|p|span|b|i|u|h\d)\b[^>]*>?",
    ),
    rule(
        "xss.attribute_breakout",
        2,
        WARNING,
        r#"["'`]\s*>\s*<|["'`]\s+[a-z-]+\s*=\s*["'`]|<!--|<!\[cdata\[|\]\]>"#,
    ),
    rule(
        "xss.generic_event_attribute",
        1,
        CRITICAL,
        // Any `on...=` attribute, not only the names listed above: browsers keep adding
        // events, and vendor ones are long (`onwebkitcurrentplaybacktargetiswirelesschanged`
        // is 44 letters after `on`), so the bound is 50, not CRS's 25.
        r#"(?:^|[\s"'`/;0-9=,(])on[a-z]{3,50}\s*=[^=]|\bformaction\s*=|!\s*\[\s*\]|\[\s*\]\s*\)\s*\["#,
    ),
    rule(
        "xss.dom_access",
        1,
        CRITICAL,
        r#"(?:\bwindow\s*\.\s*location\b|\bdocument\s*\.\s*(?:queryselector\w*|getelement\w*|createelement|body|cookie|write\w*|location|domain|documentelement)\b|\(\s*document\s*\)\s*\[|\bset(?:interval|timeout|immediate)\s*\(|\bbtoa\s*\(|\.\s*(?:call|apply)\s*`|\$\{\s*(?:alert|eval|prompt|confirm|navigation\.\w+)\s*\}|\(\s*!\s*\[\s*\]\s*\+\s*\[\s*\]\s*\)|\[\s*['"`]\s*(?:alert|cookie|eval|prompt|confirm)\s*['"`]\s*\]|\.\s*textcontent\s*=|\breflect\s*\.\s*(?:apply|construct)|\.\s*(?:sort|map|filter|find)\s*\.\s*call\b)"#,
    ),
    rule(
        "xss.namespaced_tag",
        1,
        CRITICAL,
        // XML and legacy vectors: a DTD declaring an external entity (`<!ENTITY % x SYSTEM
        // "http://...">`, fetched and inlined by a parser that resolves entities), VML
        // frames, XInclude, schema locations, spaced-out tag names.
        r#"!\s*entity\s+(?:%\s*)?[\w.:-]+\s+(?:system|public)\b|<\s*[a-z0-9]*:?\s*vmlframe|<\s*import|<\s*[a-z]+:include\b|\bxsi\s*:\s*schemalocation\b|\bxmlns:xi\s*=|:\s*url\s*\(\s*javascript|<\s*f\s+o\s+r\s+m|<\s*d\s+i\s+a\s+l\s+o\s+g|<\s*[a-z]+\s+pattern\s*=|\bdata\s*:\s*,\s*<"#,
    ),
    Rule {
        view: View::Sql,
        ..rule(
            "xss.sink_with_comments",
            1,
            CRITICAL,
            r#"\b(?:top|self|parent|frames|globalthis|window|document)\s*\[\s*['"`]\s*(?:alert|eval|prompt|confirm|cookie|location|write|constructor)"#,
        )
    },
];

/// Start states the tokenizer is run from: the value as text, or as the rest of an
/// attribute value the application opened.
const STATES: [&str; 5] = ["", "<x a=", "<x a=\"", "<x a='", "<x a=`"];

/// Tags that run script or load active content.
const SCRIPT_TAGS: &[&str] = &[
    "script", "iframe", "object", "embed", "applet", "frame", "frameset", "base", "meta", "svg",
    "math", "isindex", "xml", "import", "style", "link", "form", "vmlframe", "xss", "template",
    "noscript", "portal",
];

/// Attributes whose value is a URL.
const URL_ATTRS: &[&str] = &[
    "src",
    "href",
    "action",
    "formaction",
    "data",
    "background",
    "dynsrc",
    "lowsrc",
    "poster",
    "xlink:href",
    "srcdoc",
    "codebase",
    "code",
    "archive",
    "from",
    "to",
    "values",
    "by",
    "attributename",
];

/// Runs the tag tokenizer from every start state.
pub(crate) fn tokenize(text: &str, paranoia: u8, location: &Arc<str>) -> Option<Finding> {
    let _ = paranoia;
    let has_lt = text.contains('<');
    let has_quote_or_eq = text
        .bytes()
        .any(|c| matches!(c, b'"' | b'\'' | b'`' | b'='));
    if !has_lt && !has_quote_or_eq {
        return None;
    }
    // A whole SVG document (an upload, the payload of a `data:image/svg+xml` URL) is read
    // as the markup it is, from its start: its prolog's own quotes (`version="1.0"`) are not
    // a break-out of the application's attribute, and everything that makes SVG active
    // (`<script>`, `on*` handlers, `javascript:` URLs, CSS `expression(`) is found in the
    // text state, where every tag's attributes are read.
    let document = svg_document(text);
    for state in STATES {
        if state.is_empty() && !has_lt {
            continue;
        }
        if !state.is_empty() && (!has_quote_or_eq || document) {
            continue;
        }
        let mut buf = String::with_capacity(state.len() + text.len());
        buf.push_str(state);
        buf.push_str(text);
        if let Some(evidence) = scan_tags(&buf) {
            return Some(Finding {
                category: Category::Xss,
                rule: "xss.tokenizer",
                location: location.clone(),
                score: CRITICAL,
                evidence: super::sanitize(&evidence),
            });
        }
    }
    None
}

/// Whether `text` is an SVG document (W3C SVG 1.1 §1.3/§5.1, SVG 2 §5.2): an `<svg>` root
/// element in the SVG namespace (`xmlns=`), preceded only by what XML allows before the
/// root (whitespace, the XML declaration, processing instructions, comments, a DOCTYPE),
/// optionally as the data of a `data:image/svg+xml[;...],` URL (RFC 2397).
fn svg_document(text: &str) -> bool {
    let mut s = text.trim_start();
    if let Some(rest) = s.strip_prefix("data:image/svg+xml") {
        match rest.find(',') {
            // `;base64` data is not markup here (and is decoded elsewhere if at all).
            Some(comma) if !rest[..comma].contains("base64") => s = rest[comma + 1..].trim_start(),
            _ => return false,
        }
    }
    loop {
        s = s.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\u{feff}');
        let end = if s.starts_with("<?") {
            s.find("?>").map(|e| e + 2)
        } else if s.starts_with("<!--") {
            s.find("-->").map(|e| e + 3)
        } else if s.starts_with("<!doctype") {
            // An internal subset (`[...]`) can declare entities: not a plain document.
            if s[..s.find('>').unwrap_or(s.len())].contains('[') {
                return false;
            }
            s.find('>').map(|e| e + 1)
        } else {
            break;
        };
        match end {
            Some(e) => s = &s[e..],
            None => return false,
        }
    }
    s.strip_prefix("<svg").is_some_and(|rest| {
        rest.starts_with(|c: char| c.is_ascii_whitespace())
            && rest.trim_start().starts_with("xmlns")
    })
}

/// Scans the tags in `s` (lower-case) and returns what made one dangerous.
fn scan_tags(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut in_svg_document = false;
    while let Some(off) = b[i..].iter().position(|c| *c == b'<') {
        i += off + 1;
        // Tag name (a closing `/` allowed), separated by whitespace, `/` or control bytes.
        while i < b.len() && (b[i] == b'/' || b[i].is_ascii_whitespace() || b[i] == 0) {
            i += 1;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b':' || b[i] == b'-') {
            i += 1;
        }
        if i == start {
            continue;
        }
        let tag = &s[start..i];
        // An SVG document's root (`<svg xmlns=...`) is read attribute by attribute like
        // any tag, its closing `</svg>` is harmless; a bare `<svg>` or `<svg/onload=...>` is
        // a script tag.
        let closing = s[..start]
            .trim_end_matches(|c: char| c.is_ascii_whitespace() || c == '\0')
            .ends_with('/');
        let svg_document = tag == "svg" && (closing || s[i..].trim_start().starts_with("xmlns"));
        in_svg_document |= svg_document && !closing;
        // Inside an SVG document, `<style>` holds the drawing's CSS; the CSS that runs
        // script (`expression(`, `javascript:` URLs) is read by the other rules.
        let svg_style = in_svg_document && tag == "style";
        if SCRIPT_TAGS.contains(&tag) && !svg_document && !svg_style {
            return Some(format!("<{tag}"));
        }
        // Attributes until `>` or the next `<`.
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/' || b[i] == 0) {
                i += 1;
            }
            if i >= b.len() || b[i] == b'>' || b[i] == b'<' {
                break;
            }
            let name_start = i;
            while i < b.len()
                && !b[i].is_ascii_whitespace()
                && !matches!(b[i], b'=' | b'>' | b'/' | b'<')
            {
                i += 1;
            }
            let name = &s[name_start..i];
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && b[i] == b'=' {
                i += 1;
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                let value;
                if i < b.len() && matches!(b[i], b'"' | b'\'' | b'`') {
                    let q = b[i];
                    let vs = i + 1;
                    let end = b[vs..]
                        .iter()
                        .position(|c| *c == q)
                        .map_or(b.len(), |e| vs + e);
                    value = &s[vs..end];
                    i = (end + 1).min(b.len());
                } else {
                    let vs = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                        i += 1;
                    }
                    value = &s[vs..i];
                }
                if name.len() > 4
                    && name.starts_with("on")
                    && name[2..].bytes().all(|c| c.is_ascii_alphabetic())
                {
                    return Some(format!("{name}="));
                }
                if name == "style"
                    && (value.contains("expression")
                        || value.contains("javascript:")
                        || value.contains("behavior"))
                {
                    return Some("style=".into());
                }
                if URL_ATTRS.contains(&name) {
                    let compact: String = value
                        .chars()
                        .filter(|c| !c.is_whitespace() && !c.is_control())
                        .collect();
                    if ["javascript:", "vbscript:", "livescript:", "data:"]
                        .iter()
                        .any(|p| compact.starts_with(p))
                    {
                        let head: String = compact.chars().take(12).collect();
                        return Some(format!("{name}={head}"));
                    }
                }
            }
            if i == name_start {
                i += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flagged(s: &str) -> bool {
        tokenize(s, 1, &Arc::from("q")).is_some()
    }

    #[test]
    fn tags_handlers_and_urls() {
        assert!(flagged("<script>alert(1)</script>"));
        assert!(flagged("<img src=x onerror=alert(1)>"));
        assert!(flagged("<a href=\"jav\tascript:alert(1)\">x</a>"));
        assert!(flagged("\" onmouseover=\"alert(1)"));
        assert!(flagged("x' onfocus='a()' autofocus='"));
        assert!(flagged("</title><svg/onload=alert(1)>"));
        // A multi-byte character right after the scheme must not split the excerpt.
        assert!(flagged("<a href=\"javascript:\u{e9}\u{e9}\">"));
    }

    /// An SVG document is data unless it has what makes SVG active: generated variants of
    /// one drawing, as a document, after a BOM and a comment, and as a `data:` URL.
    #[test]
    fn svg_documents_are_data_unless_active() {
        let drawing = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"12\"><defs>\
            <style>.t { font: bold 16px 'helvetica neue', arial; }</style></defs>\
            <rect x=\"2\" fill=\"url(#g)\"/><text class=\"t\">shop &amp; co</text></svg>";
        let active = [
            "<script>alert(1)</script>",
            "<rect onclick=\"alert(1)\"/>",
            "<a href=\"javascript:alert(1)\"><text>x</text></a>",
            "<image xlink:href=\"javascript:alert(1)\"/>",
        ];
        for prefix in [
            "",
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n",
            "\u{feff}<!-- logo -->\n",
            "data:image/svg+xml;charset=utf-8,<?xml version=\"1.0\"?>",
        ] {
            let doc = format!("{prefix}{drawing}");
            assert!(svg_document(&doc), "{doc}");
            assert!(!flagged(&doc), "{doc}");
            for a in active {
                let doc = doc.replace("</svg>", &format!("{a}</svg>"));
                assert!(flagged(&doc), "{doc}");
            }
        }
        // Not a document: text before the root, no namespace, an internal DTD subset.
        assert!(!svg_document(&format!("x\" {drawing}")));
        assert!(!svg_document("<svg onload=alert(1)>"));
        assert!(!svg_document(
            "<!doctype svg [<!entity x \"y\">]><svg xmlns=\"a\">"
        ));
        assert!(flagged("\"><svg/onload=alert(1)>"));
    }

    #[test]
    fn ordinary_markup_and_text_pass() {
        assert!(!flagged(
            "i have read and agree to the <a href=\"/privacy\">privacy policy</a>"
        ));
        assert!(!flagged("a < b and c > d"));
        assert!(!flagged("size=10 colour=\"red\""));
        assert!(!flagged("<b>bold</b> and <i>italic</i>"));
    }
}

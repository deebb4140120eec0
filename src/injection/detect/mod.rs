//! The detectors: one module per attack family, each a list of [`Rule`]s over one view of
//! a normalised value, plus the tokenizers for SQL and HTML.
//!
//! The patterns are written for this crate after the *families* the OWASP Core Rule Set
//! documents (930 traversal, 931 RFI, 932 command, 933 PHP, 934 generic, 941 XSS,
//! 942 SQLi, 943 session fixation, 944 Java); no CRS expression is copied. They run in
//! the `regex` crate, whose automata match in time linear in the input: there is no
//! backtracking to exploit.

use std::sync::Arc;

use crate::event::Category;

mod alphabet;
mod engine;
#[macro_use]
mod vocab;
pub(crate) mod command;
pub(crate) mod java;
pub(crate) mod other;
pub(crate) mod php;
pub(crate) mod sqli;
pub(crate) mod traversal;
pub(crate) mod xss;

pub(crate) use engine::{Engine, Location};

/// Score of a rule that blocks on its own (CRS "critical").
pub(crate) const CRITICAL: u16 = 5;
/// Score of a rule that needs a second opinion (CRS "warning").
pub(crate) const WARNING: u16 = 3;
/// Score of a weak signal (CRS "notice").
pub(crate) const NOTICE: u16 = 2;

/// Which rendering of the value a rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    /// The normalised value (decoded, lower-cased).
    Text,
    /// SQL comments removed, whitespace collapsed.
    Sql,
    /// Shell quoting characters removed, whitespace collapsed.
    Cmd,
    /// Backslashes as slashes, repeated slashes collapsed.
    Path,
}

/// Which part of the request a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// The name of a query, form, JSON or multipart parameter.
    Name,
    /// A parameter value or body text.
    Value,
    /// The request path.
    Path,
    /// A header value (not a cookie).
    Header,
    /// A multipart file name.
    FileName,
    /// The name of a cookie. Rules that read [`Part::Name`] read it too, except session
    /// fixation: a session cookie named like one is what a session cookie is for, so a
    /// cookie's name is never evidence of fixation.
    CookieName,
}

impl Rule {
    /// Whether the rule reads values of `part`.
    fn reads(&self, part: Part) -> bool {
        self.parts.is_empty()
            || self.parts.contains(&part)
            || (part == Part::CookieName
                && self.parts.contains(&Part::Name)
                && self.category != Category::SessionFixation)
    }
}

/// One detection rule.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) name: &'static str,
    pub(crate) category: Category,
    /// The lowest paranoia level at which the rule runs (1 = balanced, 2 = strict).
    pub(crate) paranoia: u8,
    pub(crate) score: u16,
    pub(crate) view: View,
    /// Which parts the rule reads; empty means all.
    pub(crate) parts: &'static [Part],
    pub(crate) pattern: &'static str,
}

/// A rule that matched one value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// The attack family.
    pub category: Category,
    /// The rule that matched, e.g. `sqli.union_select`.
    pub rule: &'static str,
    /// Where the value was, e.g. `query:id` or `json:$.items[0].note`.
    pub location: Arc<str>,
    /// The rule's anomaly score (5 blocks on its own under the default threshold).
    pub score: u16,
    /// A short excerpt of what matched, with everything but letters, digits and a few
    /// punctuation characters replaced by `_`, safe to log.
    pub evidence: String,
}

/// Longest evidence excerpt, in characters.
const EVIDENCE_MAX: usize = 40;

/// Keeps letters, digits and harmless punctuation; everything else (quotes, angle
/// brackets, control characters) becomes `_`, so the excerpt is safe in logs, JSON and
/// HTML dashboards.
pub(crate) fn sanitize(s: &str) -> String {
    s.chars()
        .take(EVIDENCE_MAX)
        .map(|c| {
            if c.is_ascii_alphanumeric() || " .,:/-_=()@$".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_is_sanitised() {
        assert_eq!(sanitize("<script>\"x'\n"), "_script__x__");
        assert_eq!(sanitize(&"a".repeat(100)).len(), EVIDENCE_MAX);
    }
}

//! The detectors: one module per attack family, each a list of [`Rule`]s over one view of
//! a normalised value, plus the tokenizers for SQL and HTML.
//!
//! The patterns are written for this crate after the *families* the OWASP Core Rule Set
//! documents (930 traversal, 931 RFI, 932 command, 933 PHP, 934 generic, 941 XSS,
//! 942 SQLi, 943 session fixation, 944 Java); no CRS expression is copied. They run in
//! the `regex` crate, whose automata match in time linear in the input: there is no
//! backtracking to exploit.

use std::sync::{Arc, LazyLock};

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use crate::event::Category;

use super::decode::{cmd_view, path_view, sql_view};

#[macro_use]
mod vocab;
pub(crate) mod command;
pub(crate) mod java;
pub(crate) mod other;
pub(crate) mod php;
pub(crate) mod sqli;
pub(crate) mod traversal;
pub(crate) mod xss;

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

/// All rules of every family, compiled.
pub(crate) struct Engine {
    rules: Vec<&'static Rule>,
    /// The rules of each view, compiled into sets of at most [`SET_SIZE`].
    sets: Vec<(View, RegexSet, Vec<usize>)>,
    /// The rules that can match a value of letters and digits only ([`PLAIN_RULES`]).
    plain: (RegexSet, Vec<usize>),
    singles: Vec<Regex>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("rules", &self.rules.len())
            .finish()
    }
}

fn all_rules() -> impl Iterator<Item = &'static Rule> {
    sqli::RULES
        .iter()
        .chain(xss::RULES)
        .chain(traversal::RULES)
        .chain(command::RULES)
        .chain(php::RULES)
        .chain(java::RULES)
        .chain(other::RULES)
}

impl Engine {
    fn compile() -> Result<Self, String> {
        let rules: Vec<&'static Rule> = all_rules().collect();
        let views = [View::Text, View::Sql, View::Cmd, View::Path];
        let mut sets = Vec::new();
        for view in views {
            let idx: Vec<usize> = (0..rules.len())
                .filter(|i| rules[*i].view == view)
                .collect();
            for group in idx.chunks(SET_SIZE) {
                // ASCII classes (`\w`, `\b`, `\s`) keep every rule inside the lazy DFA,
                // which Unicode word boundaries would make fall back to a slower engine.
                let set = RegexSetBuilder::new(group.iter().map(|i| rules[*i].pattern))
                    .unicode(false)
                    .size_limit(64 << 20)
                    .dfa_size_limit(16 << 20)
                    .build()
                    .map_err(|e| format!("{view:?} rules: {e}"))?;
                sets.push((view, set, group.to_vec()));
            }
        }
        let plain_idx: Vec<usize> = (0..rules.len())
            .filter(|i| PLAIN_RULES.contains(&rules[*i].name))
            .collect();
        let plain_set = RegexSetBuilder::new(plain_idx.iter().map(|i| rules[*i].pattern))
            .unicode(false)
            .build()
            .map_err(|e| format!("plain rules: {e}"))?;
        let singles = rules
            .iter()
            .map(|r| {
                RegexBuilder::new(r.pattern)
                    .unicode(false)
                    .build()
                    .map_err(|e| format!("rule {}: {e}", r.name))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            rules,
            sets,
            plain: (plain_set, plain_idx),
            singles,
        })
    }

    /// The compiled engine, built once per process.
    pub(crate) fn get() -> Result<&'static Engine, &'static str> {
        static ENGINE: LazyLock<Result<Engine, String>> = LazyLock::new(Engine::compile);
        ENGINE.as_ref().map_err(String::as_str)
    }

    /// Runs every rule at or below `paranoia` over `text` (already normalised).
    pub(crate) fn scan(
        &self,
        text: &str,
        part: Part,
        paranoia: u8,
        location: &Arc<str>,
        out: &mut Vec<Finding>,
    ) {
        if text.is_empty() {
            return;
        }
        if is_plain(text) {
            // Letters and digits only: every view equals the text, the tokenizers find
            // nothing, and only a few rules can match at all.
            let (set, idx) = &self.plain;
            self.collect(set, idx, text, part, paranoia, location, out);
            return;
        }
        let sql = sql_view(text);
        let cmd = cmd_view(text);
        let path = path_view(text);
        for (view, set, idx) in &self.sets {
            let subject: &str = match view {
                View::Text => text,
                View::Sql => &sql,
                View::Cmd => &cmd,
                View::Path => &path,
            };
            self.collect(set, idx, subject, part, paranoia, location, out);
        }
        if let Some(f) = sqli::fingerprint(&sql, part, paranoia, location) {
            push_unique(out, f);
        }
        if let Some(f) = xss::tokenize(text, paranoia, location) {
            push_unique(out, f);
        }
    }

    /// Turns the matches of `set` over `subject` into findings.
    #[allow(clippy::too_many_arguments)]
    fn collect(
        &self,
        set: &RegexSet,
        idx: &[usize],
        subject: &str,
        part: Part,
        paranoia: u8,
        location: &Arc<str>,
        out: &mut Vec<Finding>,
    ) {
        // Most values match nothing: `is_match` answers that without allocating.
        if !set.is_match(subject.as_bytes()) {
            return;
        }
        for m in set.matches(subject.as_bytes()).iter() {
            let i = idx[m];
            let rule = self.rules[i];
            if rule.paranoia > paranoia || !rule.reads(part) {
                continue;
            }
            let evidence = self.singles[i]
                .find(subject.as_bytes())
                .map(|m| sanitize(&String::from_utf8_lossy(m.as_bytes())))
                .unwrap_or_default();
            push_unique(
                out,
                Finding {
                    category: rule.category,
                    rule: rule.name,
                    location: location.clone(),
                    score: rule.score,
                    evidence,
                },
            );
        }
    }
}

/// The rules that can match a value made of letters and digits only (no space, no
/// punctuation): names of databases, gadget classes, session parameters and files,
/// serialised-object magic numbers, numeric metadata addresses, hex literals.
const PLAIN_RULES: &[&str] = &[
    "sqli.database_names",
    "sqli.statement_start",
    "sqli.magic_number",
    "sqli.hex_or_char_literal",
    "sqli.function_abuse",
    "java.gadget_class",
    "java.serialized_object",
    "fixation.session_parameter",
    "traversal.restricted_file",
    "generic.ssrf_metadata",
    "php.alternative_tag",
];

/// Whether `text` has only ASCII letters and digits and non-ASCII characters.
fn is_plain(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_alphanumeric() || b >= 0x80)
}

/// Appends `f` unless the same rule already matched at the same location.
fn push_unique(out: &mut Vec<Finding>, f: Finding) {
    if !out
        .iter()
        .any(|o| o.rule == f.rule && o.location == f.location)
    {
        out.push(f);
    }
}

/// Longest evidence excerpt, in characters.
const EVIDENCE_MAX: usize = 40;

/// Rules per compiled set (measured: one set per view is fastest).
const SET_SIZE: usize = 64;

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
    fn every_rule_compiles_and_names_are_unique() {
        let engine = Engine::get().expect("rules compile");
        let mut names: Vec<_> = engine.rules.iter().map(|r| r.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate rule names");
        for r in &engine.rules {
            assert!((1..=2).contains(&r.paranoia), "{}", r.name);
            let prefix = r.name.split('.').next().unwrap_or_default();
            assert!(
                !prefix.is_empty() && r.name.len() > prefix.len() + 1,
                "{}",
                r.name
            );
        }
    }

    #[test]
    fn the_plain_fast_path_finds_what_the_full_scan_finds() {
        let engine = Engine::get().unwrap();
        let loc: Arc<str> = Arc::from("v");
        let words = [
            "tempdb",
            "northwind",
            "processbuilder",
            "clonetransformer",
            "phpsessid",
            "jsessionid",
            "dockerfile",
            "aced0005",
            "ro0abxnyaa",
            "2852039166",
            "0x41414141",
            "blue",
            "shoes",
            "2024",
            "abc123",
            "müller",
            "東京",
        ];
        for w in words {
            for part in [Part::Name, Part::Value, Part::Path] {
                for paranoia in [1, 2] {
                    let mut fast = Vec::new();
                    engine.scan(w, part, paranoia, &loc, &mut fast);
                    let mut full = Vec::new();
                    for (view, set, idx) in &engine.sets {
                        let _ = view;
                        engine.collect(set, idx, w, part, paranoia, &loc, &mut full);
                    }
                    let names = |v: &[Finding]| {
                        let mut n: Vec<_> = v.iter().map(|f| f.rule).collect();
                        n.sort_unstable();
                        n
                    };
                    assert_eq!(names(&fast), names(&full), "{w} {part:?} {paranoia}");
                }
            }
        }
        assert!(PLAIN_RULES
            .iter()
            .all(|n| engine.rules.iter().any(|r| r.name == *n)));
    }

    #[test]
    fn evidence_is_sanitised() {
        assert_eq!(sanitize("<script>\"x'\n"), "_script__x__");
        assert_eq!(sanitize(&"a".repeat(100)).len(), EVIDENCE_MAX);
    }
}

//! The [`Engine`]: every rule compiled once per process, and the scan of one normalised
//! value: the fast path (only the rules a value's bytes allow, in one set when no view
//! changes the value; see [`alphabet`](super::alphabet)) and, for the tests, the
//! reference scan it must agree with.

use std::{
    fmt,
    sync::{Arc, LazyLock, OnceLock},
};

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::super::decode::{cmd_view, path_view, sql_view};
use super::{alphabet, command, java, other, php, sanitize, sqli, traversal, xss};
use super::{Finding, Part, Rule, View};

/// A finding's location, built (and allocated) only when a rule matches: most values
/// match nothing, and their location is never needed.
pub(crate) struct Location<'a> {
    spec: fmt::Arguments<'a>,
    built: Option<Arc<str>>,
}

impl<'a> Location<'a> {
    /// The location `spec` spells (`format_args!("query:{name}")`).
    pub(crate) fn new(spec: fmt::Arguments<'a>) -> Self {
        Self { spec, built: None }
    }

    /// The location as findings carry it.
    pub(crate) fn get(&mut self) -> Arc<str> {
        let spec = self.spec;
        self.built
            .get_or_insert_with(|| match spec.as_str() {
                Some(s) => Arc::from(s),
                None => Arc::from(spec.to_string()),
            })
            .clone()
    }
}

/// Compiled rule sets, each of at most [`SET_SIZE`] rules: the set's pattern `k` is
/// rule `idx[k]`.
type Sets = Vec<(RegexSet, Vec<usize>)>;

/// Which rules a tiered set holds: those of one view, or of every view at once
/// ([`Slot::Merged`], for values that every view leaves unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Merged,
    View(View),
}

/// The views in the order the reference scan runs them (findings keep that order).
const VIEWS: [View; 4] = [View::Text, View::Sql, View::Cmd, View::Path];

fn view_rank(view: View) -> usize {
    VIEWS.iter().position(|v| *v == view).unwrap_or(VIEWS.len())
}

/// Slots per (paranoia level, tier): merged, then one per view.
const SLOTS: usize = 1 + VIEWS.len();

/// Paranoia levels the tiered sets are built for (rules run at or below the level).
const LEVELS: u8 = 2;

/// All rules of every family, compiled.
pub(crate) struct Engine {
    rules: Vec<&'static Rule>,
    /// Every rule of each view (the reference scan, and the fallback should a tiered
    /// set fail to compile).
    sets: Vec<(View, RegexSet, Vec<usize>)>,
    /// The rules of [`PLAIN_RULES`], for values of letters and digits only.
    plain: (RegexSet, Vec<usize>),
    singles: Vec<Regex>,
    /// Per rule: the first tier whose values it can match ([`alphabet`]); every later
    /// tier holds more bytes, so it can match those too.
    from_tier: Vec<usize>,
    /// The fast path's sets by (level, tier, slot), compiled on first use.
    tiered: Vec<OnceLock<Option<Sets>>>,
    /// The location handed to the tokenizers, replaced in what they find: creating the
    /// real one costs an allocation that clean values never need.
    placeholder: Arc<str>,
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

/// Compiles the rules `idx` into sets of at most [`SET_SIZE`].
fn compile_sets(rules: &[&'static Rule], idx: &[usize]) -> Result<Sets, String> {
    idx.chunks(SET_SIZE)
        .map(|group| {
            // ASCII classes (`\w`, `\b`, `\s`) keep every rule inside the lazy DFA,
            // which Unicode word boundaries would make fall back to a slower engine.
            RegexSetBuilder::new(group.iter().map(|i| rules[*i].pattern))
                .unicode(false)
                .size_limit(64 << 20)
                .dfa_size_limit(16 << 20)
                .build()
                .map(|set| (set, group.to_vec()))
                .map_err(|e| e.to_string())
        })
        .collect()
}

impl Engine {
    fn compile() -> Result<Self, String> {
        let rules: Vec<&'static Rule> = all_rules().collect();
        let mut sets = Vec::new();
        for view in VIEWS {
            let idx: Vec<usize> = (0..rules.len())
                .filter(|i| rules[*i].view == view)
                .collect();
            let compiled =
                compile_sets(&rules, &idx).map_err(|e| format!("{view:?} rules: {e}"))?;
            sets.extend(compiled.into_iter().map(|(set, idx)| (view, set, idx)));
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
        let from_tier = rules
            .iter()
            .map(|r| {
                let hir =
                    alphabet::parse(r.pattern).map_err(|e| format!("rule {}: {e}", r.name))?;
                Ok((0..alphabet::TIERS)
                    .find(|t| alphabet::can_match_within(&hir, *t))
                    .unwrap_or(alphabet::TIERS))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self {
            rules,
            sets,
            plain: (plain_set, plain_idx),
            singles,
            from_tier,
            tiered: (0..usize::from(LEVELS) * alphabet::TIERS * SLOTS)
                .map(|_| OnceLock::new())
                .collect(),
            placeholder: Arc::from(""),
        })
    }

    /// The compiled engine, built once per process.
    pub(crate) fn get() -> Result<&'static Engine, &'static str> {
        static ENGINE: LazyLock<Result<Engine, String>> = LazyLock::new(Engine::compile);
        ENGINE.as_ref().map_err(String::as_str)
    }

    /// The rules of `slot` that run at paranoia `level` and can match a value of
    /// `tier`, in rule order.
    fn tier_rules(&self, level: u8, tier: usize, slot: Slot) -> Vec<usize> {
        (0..self.rules.len())
            .filter(|i| {
                let r = self.rules[*i];
                r.paranoia <= level
                    && self.from_tier[*i] <= tier
                    && match slot {
                        Slot::Merged => true,
                        Slot::View(v) => r.view == v,
                    }
            })
            .collect()
    }

    /// The tiered sets of (`level`, `tier`, `slot`), compiled on first use; `None` if
    /// they do not compile (the caller then runs the reference sets).
    fn tiered_sets(&self, level: u8, tier: usize, slot: Slot) -> Option<&Sets> {
        let slot_index = match slot {
            Slot::Merged => 0,
            Slot::View(v) => 1 + view_rank(v),
        };
        let at = ((usize::from(level) - 1) * alphabet::TIERS + tier) * SLOTS + slot_index;
        self.tiered[at]
            .get_or_init(|| compile_sets(&self.rules, &self.tier_rules(level, tier, slot)).ok())
            .as_ref()
    }

    /// Runs every rule at or below `paranoia` over `text` (already normalised).
    ///
    /// The fast path: one pass finds the value's tier and whether any view can differ
    /// from it ([`alphabet::Scan`]); only the rules that can match a value of that tier
    /// run, in one set when every view equals the text. The findings are those of the
    /// reference scan (every rule over every view), in the same order.
    pub(crate) fn scan(
        &self,
        text: &str,
        part: Part,
        paranoia: u8,
        location: &mut Location<'_>,
        out: &mut Vec<Finding>,
    ) {
        if text.is_empty() {
            return;
        }
        if is_plain(text) {
            self.scan_plain(text, part, paranoia, location, out);
            return;
        }
        let level = paranoia.clamp(1, LEVELS);
        let scan = alphabet::Scan::of(text);
        let changed =
            |may: bool, view: fn(&str) -> String| may.then(|| view(text)).filter(|v| v != text);
        let views = [
            None,
            changed(scan.sql_may_change(), sql_view),
            changed(scan.cmd_may_change(), cmd_view),
            changed(scan.path_may_change(), path_view),
        ];
        let subject = |view: View| views[view_rank(view)].as_deref().unwrap_or(text);
        let mut matched: Vec<usize> = Vec::new();
        let merged = views
            .iter()
            .all(Option::is_none)
            .then(|| self.tiered_sets(level, scan.tier, Slot::Merged))
            .flatten();
        if let Some(sets) = merged {
            run_sets(sets.iter().map(|(s, i)| (s, &i[..])), text, &mut matched);
        } else {
            for view in VIEWS {
                let (s, tier) = match &views[view_rank(view)] {
                    None => (text, scan.tier),
                    Some(v) => (v.as_str(), alphabet::Scan::of(v).tier),
                };
                match self.tiered_sets(level, tier, Slot::View(view)) {
                    Some(sets) => run_sets(sets.iter().map(|(s, i)| (s, &i[..])), s, &mut matched),
                    None => run_sets(
                        self.sets
                            .iter()
                            .filter(|(v, ..)| *v == view)
                            .map(|(_, s, i)| (s, &i[..])),
                        s,
                        &mut matched,
                    ),
                }
            }
        }
        // The reference order: by view, then by rule.
        matched.sort_unstable_by_key(|i| (view_rank(self.rules[*i].view), *i));
        for i in matched {
            let s = subject(self.rules[i].view);
            self.push_match(i, s, part, paranoia, location, out);
        }
        self.tokenizers(subject(View::Sql), text, part, paranoia, location, out);
    }

    /// The scan without the fast path: every rule of every view over every view (and
    /// [`PLAIN_RULES`] for letters and digits), as the engine ran before the fast path
    /// existed. The tests hold the fast path to it.
    #[cfg(test)]
    pub(crate) fn scan_reference(
        &self,
        text: &str,
        part: Part,
        paranoia: u8,
        location: &mut Location<'_>,
        out: &mut Vec<Finding>,
    ) {
        if text.is_empty() {
            return;
        }
        if is_plain(text) {
            self.scan_plain(text, part, paranoia, location, out);
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
            if !set.is_match(subject.as_bytes()) {
                continue;
            }
            for m in set.matches(subject.as_bytes()).iter() {
                self.push_match(idx[m], subject, part, paranoia, location, out);
            }
        }
        self.tokenizers(&sql, text, part, paranoia, location, out);
    }

    /// Values of letters and digits only: [`PLAIN_RULES`] over the text, as the engine
    /// has always read them (both scans share this).
    fn scan_plain(
        &self,
        text: &str,
        part: Part,
        paranoia: u8,
        location: &mut Location<'_>,
        out: &mut Vec<Finding>,
    ) {
        let (set, idx) = &self.plain;
        if !set.is_match(text.as_bytes()) {
            return;
        }
        for m in set.matches(text.as_bytes()).iter() {
            self.push_match(idx[m], text, part, paranoia, location, out);
        }
    }

    /// The SQL fingerprint and the HTML tag tokenizer.
    fn tokenizers(
        &self,
        sql: &str,
        text: &str,
        part: Part,
        paranoia: u8,
        location: &mut Location<'_>,
        out: &mut Vec<Finding>,
    ) {
        if let Some(mut f) = sqli::fingerprint(sql, part, paranoia, &self.placeholder) {
            f.location = location.get();
            push_unique(out, f);
        }
        if let Some(mut f) = xss::tokenize(text, paranoia, &self.placeholder) {
            f.location = location.get();
            push_unique(out, f);
        }
    }

    /// Turns a match of rule `i` over `subject` into a finding, if the rule runs at
    /// `paranoia` and reads `part`.
    fn push_match(
        &self,
        i: usize,
        subject: &str,
        part: Part,
        paranoia: u8,
        location: &mut Location<'_>,
        out: &mut Vec<Finding>,
    ) {
        let rule = self.rules[i];
        if rule.paranoia > paranoia || !rule.reads(part) {
            return;
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
                location: location.get(),
                score: rule.score,
                evidence,
            },
        );
    }
}

/// The rules run on a value made of letters and digits only (no space, no punctuation):
/// names of databases, gadget classes, session parameters and files, serialised-object
/// magic numbers, numeric metadata addresses, hex literals.
///
/// Kept as it was before the fast path, which changed no verdict. The pattern analysis
/// ([`alphabet`]) shows that more rules can match such a value (`command.leading_command`
/// on `whoami`, `traversal.restricted_upload_name` on `credentials`,
/// `generic.ssrf_local_host` on `localhost`, ...): running them too is a detection
/// change to measure on its own, not a speed-up.
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

/// Adds to `matched` the rules of `sets` that match `subject`.
fn run_sets<'s>(
    sets: impl Iterator<Item = (&'s RegexSet, &'s [usize])>,
    subject: &str,
    matched: &mut Vec<usize>,
) {
    for (set, idx) in sets {
        // Most values match nothing: `is_match` answers that without allocating.
        if set.is_match(subject.as_bytes()) {
            matched.extend(set.matches(subject.as_bytes()).iter().map(|m| idx[m]));
        }
    }
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

/// Rules per compiled set (measured: one set per view is fastest).
const SET_SIZE: usize = 64;

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

    /// Every part a value can be read as.
    const PARTS: [Part; 6] = [
        Part::Name,
        Part::Value,
        Part::Path,
        Part::Header,
        Part::FileName,
        Part::CookieName,
    ];

    /// The findings of the fast path and of the reference scan for `text`.
    fn both(text: &str, part: Part, paranoia: u8) -> (Vec<Finding>, Vec<Finding>) {
        let engine = Engine::get().unwrap();
        let mut fast = Vec::new();
        engine.scan(
            text,
            part,
            paranoia,
            &mut Location::new(format_args!("v")),
            &mut fast,
        );
        let mut reference = Vec::new();
        engine.scan_reference(
            text,
            part,
            paranoia,
            &mut Location::new(format_args!("v")),
            &mut reference,
        );
        (fast, reference)
    }

    fn assert_same(text: &str) {
        for part in PARTS {
            for paranoia in [1, 2] {
                let (fast, reference) = both(text, part, paranoia);
                assert_eq!(fast, reference, "{text:?} {part:?} {paranoia}");
            }
        }
    }

    #[test]
    fn the_fast_path_finds_what_the_reference_scan_finds() {
        let values = [
            // Letters and digits only: database names, gadget classes, session names,
            // magic numbers, hex literals.
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
            "2024",
            "müller",
            "東京",
            // SQL in numeric context is letters, digits and spaces.
            "1 and 5 between 5 and 5",
            "1 union select 1,2",
            "1 or 1=1",
            "sleep(5)",
            // Views that differ from the text.
            "union\u{2028}select password from users",
            "union\u{85}select 1",
            "un/**/ion sel/**/ect 1",
            "1  and  1=1",
            "1\tunion\tselect\t1",
            "c'a't /e't'c/pa's'swd",
            "..\\..\\windows\\win.ini",
            "..//..//etc//passwd",
            "x;\u{a0}cat /etc/passwd",
            // Each tier's alphabet.
            "information_schema.tables",
            "2024-01-01",
            "blue running shoes, please!",
            "mozilla/5.0 (windows nt 10.0; win64; x64) applewebkit/537.36",
            "https://shop.example.com/products/123",
            "user@example.com",
            "<script>alert(1)</script>",
            "\" onmouseover=\"alert(1)",
            "${jndi:ldap://x.example/a}",
            "$(whoami)",
            "{{7*7}}",
            "<?php system($_get['c']); ?>",
            "ABC union SELECT",
        ];
        for v in values {
            assert_same(v);
        }
    }

    /// Words the rules look for, and the punctuation around them.
    const VOCABULARY: &[&str] = &[
        "union",
        "select",
        "from",
        "where",
        "and",
        "or",
        "between",
        "like",
        "in",
        "is",
        "null",
        "sleep",
        "benchmark",
        "order",
        "by",
        "drop",
        "table",
        "exec",
        "xp_cmdshell",
        "information_schema",
        "char",
        "concat",
        "0x41",
        "1",
        "5",
        "'",
        "\"",
        "`",
        "=",
        "<",
        ">",
        "(",
        ")",
        ";",
        "--",
        "#",
        "/*",
        "*/",
        "|",
        "&",
        "&&",
        "||",
        "$",
        "${",
        "}",
        "$(",
        "{",
        "[",
        "]",
        "<script",
        "<img",
        "src",
        "onerror",
        "javascript:",
        "alert",
        "document.cookie",
        "../",
        "..\\",
        "/etc/passwd",
        "/bin/sh",
        "cat",
        "id",
        "ls",
        "whoami",
        "wget",
        "curl",
        "nc",
        "bash",
        "cmd.exe",
        "powershell",
        "<?php",
        "eval",
        "system",
        "$_get",
        "php://",
        "jndi:ldap",
        "java.lang",
        "runtime",
        "__proto__",
        "constructor",
        "{{",
        "}}",
        "%",
        "+",
        "-",
        "*",
        "/",
        "\\",
        "~",
        "^",
        "!",
        "?",
        ":",
        ",",
        ".",
        "@",
        "phpsessid",
        "169.254.169.254",
        "localhost",
        "http://",
        "file://",
        "\u{a0}",
        "\u{2028}",
        "é",
        "\t",
        "\n",
        "A",
        "Z",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(400))]

        #[test]
        fn the_fast_path_agrees_on_random_bytes(text in "[ -~\\t\\n\u{a0}\u{2028}é東]{0,48}") {
            let lower = text.to_lowercase();
            for part in PARTS {
                for paranoia in [1, 2] {
                    let (fast, reference) = both(&lower, part, paranoia);
                    proptest::prop_assert_eq!(fast, reference);
                }
            }
        }

        #[test]
        fn the_fast_path_agrees_on_random_payloads(
            words in proptest::collection::vec(
                (proptest::sample::select(VOCABULARY), proptest::sample::select(&["", " ", "  ", "/**/", "\t"][..])),
                0..12,
            )
        ) {
            let text: String = words.iter().flat_map(|(w, sep)| [*w, *sep]).collect();
            for part in PARTS {
                for paranoia in [1, 2] {
                    let (fast, reference) = both(&text, part, paranoia);
                    proptest::prop_assert_eq!(fast, reference);
                }
            }
        }
    }

    #[test]
    fn tiers_leave_out_rules() {
        // Not a proof (the analysis is): a check that the tiers do prune, so the fast
        // path is not the reference scan under another name.
        let engine = Engine::get().unwrap();
        let counts: Vec<usize> = (0..alphabet::TIERS)
            .map(|t| engine.tier_rules(1, t, Slot::Merged).len())
            .collect();
        assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
        assert!(counts[0] * 4 < counts[alphabet::ALL], "{counts:?}");
        assert_eq!(
            counts[alphabet::ALL],
            engine.rules.iter().filter(|r| r.paranoia == 1).count()
        );
    }
}

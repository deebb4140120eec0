//! The fast path's soundness argument, in code: which rules can match a value at all,
//! decided from the bytes the value is made of.
//!
//! A value's *tier* is the smallest of a few nested alphabets ([`TIERS`]) that holds
//! every byte of it, found in one pass with a 256-entry table. For each tier, the rules
//! that can match some string over that alphabet are found once, from each rule's parsed
//! pattern ([`can_match_within`]): a rule none of whose matches fits in the alphabet
//! (it needs a `<`, a quote, a `$`, ...) cannot match a value of that tier, whatever
//! the value says, so the tier's compiled sets leave it out. The analysis treats every
//! look-around (`^`, `$`, `\b`) as satisfiable, so it can only keep a rule too many,
//! never drop one that could match.
//!
//! The same pass notes whether the SQL, command-line and path views can differ from
//! the value ([`Scan::sql_may_change`] and friends); when none can, every rule reads
//! the same bytes and one set per tier does the work of four.

use regex_syntax::hir::{Class, Hir, HirKind};

/// The punctuation each tier adds to the previous one; every tier also holds ASCII
/// lower-case letters, digits and every byte from 0x80 up (the normalised text is
/// lower-cased; other bytes, such as upper-case letters that only an unusual fold
/// leaves, fall into the last tier, which holds everything).
///
/// Chosen for what ordinary values are made of: identifiers, hex and base64url tokens,
/// dates and versions (tier 1); words and sentences (tier 2); user agents, URLs
/// without a query, e-mail addresses, notes with a time or a list (tier 3).
const TIER_PUNCTUATION: [&[u8]; 3] = [b"-_.", b" ,!?", b":;/()@+"];

/// How many tiers there are, the last one holding every byte.
pub(crate) const TIERS: usize = TIER_PUNCTUATION.len() + 2;

/// The tier that holds every byte.
pub(crate) const ALL: usize = TIERS - 1;

/// Per byte: bit `t` for the first tier `t` that holds it (the low byte), and the view
/// flags it raises (the high byte), so that one OR per byte sums up a value.
const TABLE: [u16; 256] = table();

/// View flag: ASCII whitespace other than the space (`\t \n \x0b \x0c \r`).
const WS_OTHER: u16 = 1 << 8;
/// View flag: a byte that starts the UTF-8 form of a Unicode whitespace character
/// (U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000,
/// whose first bytes are `C2`, `E1`, `E2` and `E3`).
const UNICODE_WS: u16 = 1 << 9;
/// View flag: a character the command-line view drops (`\ " ' ^`).
const SHELL_QUOTE: u16 = 1 << 10;
/// View flag: `/`.
const SLASH: u16 = 1 << 11;
/// View flag: `*`.
const STAR: u16 = 1 << 12;
/// View flag: `\`.
const BACKSLASH: u16 = 1 << 13;
/// View flag: the space.
const SPACE: u16 = 1 << 14;

/// The first tier that holds `byte`.
const fn first_tier(byte: u8) -> usize {
    if byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte >= 0x80 {
        return 0;
    }
    let mut k = 0;
    while k < TIER_PUNCTUATION.len() {
        let set = TIER_PUNCTUATION[k];
        let mut j = 0;
        while j < set.len() {
            if set[j] == byte {
                return k + 1;
            }
            j += 1;
        }
        k += 1;
    }
    ALL
}

const fn table() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut b = 0usize;
    while b < 256 {
        let byte = b as u8;
        let mut entry = 1u16 << first_tier(byte);
        if matches!(byte, b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
            entry |= WS_OTHER;
        }
        if matches!(byte, 0xc2 | 0xe1 | 0xe2 | 0xe3) {
            entry |= UNICODE_WS;
        }
        if matches!(byte, b'\\' | b'"' | b'\'' | b'^') {
            entry |= SHELL_QUOTE;
        }
        if byte == b'/' {
            entry |= SLASH;
        }
        if byte == b'*' {
            entry |= STAR;
        }
        if byte == b'\\' {
            entry |= BACKSLASH;
        }
        if byte == b' ' {
            entry |= SPACE;
        }
        t[b] = entry;
        b += 1;
    }
    t
}

/// Whether tier `tier` holds `byte`.
fn tier_holds(tier: usize, byte: u8) -> bool {
    first_tier(byte) <= tier
}

/// What one pass over a value found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scan {
    /// The smallest tier holding every byte.
    pub(crate) tier: usize,
    flags: u16,
    double_space: bool,
    double_slash: bool,
}

impl Scan {
    /// Scans `text` once (and again for `"  "` or `"//"` only when it has a space or a
    /// slash).
    pub(crate) fn of(text: &str) -> Self {
        let acc = text
            .as_bytes()
            .iter()
            .fold(0u16, |acc, b| acc | TABLE[usize::from(*b)]);
        let tiers = acc & 0xff;
        Self {
            // The highest tier bit set; 0 for the empty text.
            tier: (u16::BITS - 1).saturating_sub(tiers.leading_zeros()) as usize,
            flags: acc,
            double_space: acc & SPACE != 0 && text.contains("  "),
            double_slash: acc & SLASH != 0 && text.contains("//"),
        }
    }

    /// Whether the SQL view may differ from the text: it collapses whitespace (ASCII
    /// and Unicode) and removes `/* */` comments.
    pub(crate) fn sql_may_change(&self) -> bool {
        self.flags & (WS_OTHER | UNICODE_WS) != 0
            || self.double_space
            || self.flags & (SLASH | STAR) == SLASH | STAR
    }

    /// Whether the command-line view may differ: it drops `\ " ' ^` and collapses
    /// whitespace.
    pub(crate) fn cmd_may_change(&self) -> bool {
        self.flags & (WS_OTHER | UNICODE_WS | SHELL_QUOTE) != 0 || self.double_space
    }

    /// Whether the path view may differ: it turns `\` into `/` and collapses `//`.
    pub(crate) fn path_may_change(&self) -> bool {
        self.flags & BACKSLASH != 0 || self.double_slash
    }
}

/// Whether some string made only of bytes of tier `tier` can match `hir`. Look-arounds
/// count as satisfied, so `true` may be too generous but `false` is a proof.
pub(crate) fn can_match_within(hir: &Hir, tier: usize) -> bool {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => true,
        HirKind::Literal(lit) => lit.0.iter().all(|b| tier_holds(tier, *b)),
        HirKind::Class(Class::Bytes(c)) => c
            .ranges()
            .iter()
            .any(|r| (r.start()..=r.end()).any(|b| tier_holds(tier, b))),
        HirKind::Class(Class::Unicode(c)) => c.ranges().iter().any(|r| {
            let (start, end) = (u32::from(r.start()), u32::from(r.end()));
            // A non-ASCII character is encoded with bytes from 0x80 up, which every
            // tier holds.
            end >= 0x80
                || (start..=end).any(|cp| u8::try_from(cp).is_ok_and(|b| tier_holds(tier, b)))
        }),
        HirKind::Repetition(rep) => rep.min == 0 || can_match_within(&rep.sub, tier),
        HirKind::Capture(cap) => can_match_within(&cap.sub, tier),
        HirKind::Concat(subs) => subs.iter().all(|h| can_match_within(h, tier)),
        HirKind::Alternation(subs) => subs.iter().any(|h| can_match_within(h, tier)),
    }
}

/// Parses `pattern` as the engine compiles it (bytes, no Unicode classes).
pub(crate) fn parse(pattern: &str) -> Result<Hir, String> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_are_nested_and_the_last_holds_everything() {
        for b in 0..=255u8 {
            let first = (0..TIERS).find(|t| tier_holds(*t, b)).unwrap();
            assert!((first..TIERS).all(|t| tier_holds(t, b)), "{b}");
        }
        assert_eq!(Scan::of("").tier, 0);
        assert_eq!(Scan::of("abc123").tier, 0);
        assert_eq!(Scan::of("müller").tier, 0);
        assert_eq!(Scan::of("2024-01-01").tier, 1);
        assert_eq!(Scan::of("blue shoes, please!").tier, 2);
        assert_eq!(Scan::of("mozilla/5.0 (x11; linux x86_64)").tier, 3);
        assert_eq!(Scan::of("x' or 1=1").tier, ALL);
        assert_eq!(Scan::of("ABC").tier, ALL);
    }

    #[test]
    fn view_flags() {
        assert!(!Scan::of("a b/c").sql_may_change());
        assert!(Scan::of("a  b").sql_may_change());
        assert!(Scan::of("a\tb").sql_may_change());
        assert!(Scan::of("un/**/ion").sql_may_change());
        assert!(Scan::of("a\u{2028}b").sql_may_change());
        assert!(Scan::of("a\u{85}b").cmd_may_change());
        assert!(Scan::of("a\u{3000}b").cmd_may_change());
        assert!(!Scan::of("zürich café 東京").sql_may_change());
        assert!(!Scan::of("cat /etc").cmd_may_change());
        assert!(Scan::of("c'a't").cmd_may_change());
        assert!(!Scan::of("/a/b").path_may_change());
        assert!(Scan::of("a//b").path_may_change());
        assert!(Scan::of("a\\b").path_may_change());
    }

    #[test]
    fn every_unicode_space_is_flagged() {
        let spaces = (0x80..=0x10ffff)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace());
        for c in spaces {
            let scan = Scan::of(c.encode_utf8(&mut [0; 4]));
            assert!(scan.sql_may_change() && scan.cmd_may_change(), "{c:?}");
        }
    }

    #[test]
    fn the_analysis_drops_only_what_cannot_match() {
        let can = |p: &str, t: usize| can_match_within(&parse(p).unwrap(), t);
        assert!(!can("<script", ALL - 1));
        assert!(can("<script", ALL));
        assert!(can(r"\bunion\s+select\b", 2));
        assert!(!can(r"\bunion\s+select\b", 1), "needs whitespace");
        assert!(can(r"(?:^|;)\s*id", 0), "the alternative `^` needs no byte");
        assert!(can(r"x[<']?y", 0));
        assert!(!can(r"x[<']+y", 3));
        assert!(can(r"a{0}<", ALL));
    }
}

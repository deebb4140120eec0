//! Drives `examples/notify.rs` over real sockets: a guard-layer event and an application
//! event reach the WebSocket client and the signed webhook receiver.
#![cfg(all(feature = "notify", feature = "webhook", feature = "axum"))]

#[allow(dead_code)]
#[path = "../../examples/notify.rs"]
mod example;

use std::{net::SocketAddr, time::Duration};

use futures_util::StreamExt;
use tower_fortify::notify::{ChannelSink, Notifier, WebhookSecret, WebhookSink};

#[tokio::test]
async fn events_reach_the_websocket_client_and_the_signed_webhook() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let secret = WebhookSecret::generate();
    let webhook = WebhookSink::builder(format!("http://{addr}/webhook"))
        .secret(secret.clone())
        .allow_private_networks(true)
        .build()
        .unwrap();
    let fan_out = ChannelSink::broadcast(64).unwrap();
    let notifier = Notifier::builder()
        .max_latency(Duration::from_millis(200))
        .sink("webhook", webhook)
        .sink("websocket", fan_out.clone())
        .build()
        .unwrap();
    let app = example::app(notifier.clone(), fan_out, secret);
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    // The subscription exists once the upgrade is answered; now raise the events.
    let http = raw_request(addr, "GET", "/limited").await;
    assert!(http.starts_with("HTTP/1.1 429"), "{http}");
    let http = raw_request(addr, "POST", "/orders/42").await;
    assert!(http.starts_with("HTTP/1.1 200"), "{http}");

    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a batch within 10 s")
            .unwrap()
            .unwrap();
        let batch: serde_json::Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
        for n in batch["notifications"].as_array().unwrap() {
            kinds.push(n["kind"].as_str().unwrap().to_owned());
        }
    }
    kinds.sort();
    assert_eq!(kinds, ["order_filled", "rate_limited"]);

    let report = notifier.shutdown(Duration::from_secs(10)).await;
    let webhook = report.stats.sink("webhook").unwrap();
    // The demo receiver answers 401 to a bad signature, which would dead-letter.
    assert_eq!((webhook.delivered, webhook.dead_lettered), (2, 0));
}

/// A minimal HTTP/1.1 request over a raw socket; returns the response head.
async fn raw_request(addr: SocketAddr, method: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

//! Notification batching: guard-layer events and an application event reach a signed
//! webhook and WebSocket clients, batched.
//!
//! Run with
//!
//! ```sh
//! cargo run --example notify --features notify,webhook,axum
//! ```
//!
//! then, in another terminal:
//!
//! ```sh
//! websocat ws://127.0.0.1:3000/ws             # watch batches arrive (any WebSocket client)
//! curl -i 127.0.0.1:3000/limited               # a 429 with a rate-limit event (try it 20 times)
//! curl -i 127.0.0.1:3000/broken                # a 502: a server_error notification
//! curl -i -X POST 127.0.0.1:3000/orders/42     # the application's own `order_filled` event
//! ```
//!
//! The server prints every webhook delivery it receives on `/webhook` (a stand-in for
//! Slack or your incident tool) after checking its Standard Webhooks signature. Set
//! `WEBHOOK_URL` to deliver elsewhere, `WEBHOOK_SECRET` (`whsec_...`) to sign with your own
//! secret (else one is generated and printed), `ADDR` to listen elsewhere. Ctrl-C flushes the queue
//! (`Notifier::shutdown`), prints the report, then stops the server.

use std::{future::IntoFuture, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    body::Bytes,
    extract::{
        ws::{Message, WebSocket, WebSocketUpgrade},
        Path, State,
    },
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tower_fortify::{
    event::{SecurityEvent, SecurityEvents},
    notify::{
        ChannelSink, Kind, Notification, Notifier, NotifyLayer, Priority, WebhookSecret,
        WebhookSink,
    },
};

#[derive(Clone)]
struct AppState {
    notifier: Notifier,
    fan_out: ChannelSink,
    secret: Arc<WebhookSecret>,
}

/// The application: its routes, a WebSocket feed and the `NotifyLayer`.
pub(crate) fn app(notifier: Notifier, fan_out: ChannelSink, secret: WebhookSecret) -> Router {
    let layer = NotifyLayer::builder(&notifier)
        .aggregation_window(Duration::from_secs(10))
        .source("notify-example")
        .build()
        .expect("a window and a source are always valid");
    Router::new()
        .route("/limited", get(limited))
        .route("/broken", get(|| async { StatusCode::BAD_GATEWAY }))
        .route("/orders/{id}", post(order_filled))
        .route("/ws", get(websocket))
        .route("/webhook", post(webhook_receiver))
        .layer(layer)
        .with_state(AppState {
            notifier,
            fan_out,
            secret: Arc::new(secret),
        })
}

/// Stands in for `RateLimitLayer`: answers 429 and leaves the event a guard layer leaves.
async fn limited() -> Response {
    let mut res = (StatusCode::TOO_MANY_REQUESTS, "slow down\n").into_response();
    SecurityEvents::push_to(
        res.extensions_mut(),
        SecurityEvent::RateLimited {
            policy: Arc::from("per-ip"),
            key: Arc::from("127.0.0.1"),
            retry_after: Duration::from_secs(1),
            shadow: false,
        },
    );
    res
}

/// The application's own event.
async fn order_filled(State(state): State<AppState>, Path(id): Path<u64>) -> &'static str {
    state.notifier.notify(
        Notification::new(Kind::custom("order_filled"), Priority::High, "Order filled")
            .message(format!("order {id} was filled"))
            .field("order_id", id),
    );
    "filled\n"
}

/// Forwards every batch to the WebSocket client as JSON.
async fn websocket(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    let Some(mut batches) = state.fan_out.subscribe() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    upgrade.on_upgrade(move |mut socket: WebSocket| async move {
        while let Some(batch) = batches.recv().await {
            let json = serde_json::json!({
                "batch_id": batch.id(),
                "notifications": batch.notifications(),
            });
            if socket
                .send(Message::Text(json.to_string().into()))
                .await
                .is_err()
            {
                break;
            }
        }
    })
}

/// A demo receiver: checks the signature as a receiver would, and prints the batch.
async fn webhook_receiver(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let (id, timestamp) = (header("webhook-id"), header("webhook-timestamp"));
    let whsec = state.secret.to_whsec();
    let Ok(key) = BASE64.decode(whsec.trim_start_matches("whsec_")) else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&key) else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&body);
    let expected = format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()));
    // A real receiver compares in constant time and checks the timestamp's age.
    let valid = header("webhook-signature")
        .split(' ')
        .any(|s| s == expected);
    let count = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["data"]["notifications"].as_array().map(Vec::len))
        .unwrap_or(0);
    println!("webhook: {id} with {count} notification(s), signature valid: {valid}");
    if valid {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::UNAUTHORIZED
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::var("ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".to_owned())
        .parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;

    // The signing secret comes from the environment, else it is generated and printed.
    let secret = match std::env::var("WEBHOOK_SECRET") {
        Ok(whsec) => WebhookSecret::parse(&whsec)?,
        Err(_) => WebhookSecret::generate(),
    };
    let webhook_url =
        std::env::var("WEBHOOK_URL").unwrap_or_else(|_| format!("http://{addr}/webhook"));
    let webhook = WebhookSink::builder(&webhook_url)
        .secret(secret.clone())
        // The demo receiver is this very server, on loopback.
        .allow_private_networks(true)
        .build()?;
    let fan_out = ChannelSink::broadcast(64)?;
    let notifier = Notifier::builder()
        .max_items(10)
        .max_latency(Duration::from_millis(500))
        .sink("webhook", webhook)
        .sink("websocket", fan_out.clone())
        .build()?;

    println!("listening on http://{addr}");
    println!(
        "webhook deliveries go to {webhook_url}, signed with {}",
        secret.to_whsec()
    );
    println!(
        "try: websocat ws://{addr}/ws   curl -i {addr}/limited   curl -i -X POST {addr}/orders/42"
    );

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        axum::serve(
            listener,
            app(notifier.clone(), fan_out, secret)
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        })
        .into_future(),
    );

    tokio::signal::ctrl_c().await?;
    // Flush first: the demo webhook receiver is this very server, so it must keep serving
    // until the queue is delivered. Call `shutdown` on exit: a runtime that stops cancels
    // the worker.
    let report = notifier.shutdown(Duration::from_secs(5)).await;
    println!("{}", serde_json::to_string_pretty(&report)?);
    let _ = stop.send(());
    server.await??;
    Ok(())
}

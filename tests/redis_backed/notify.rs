//! The Redis stream sink against a real `redis-server`, read back with `XRANGE`.
#![cfg(all(feature = "notify", feature = "redis"))]

use crate::support::redis::TestRedis;

use std::{collections::HashMap, time::Duration};

use redis::AsyncCommands;
use tower_fortify::{
    event::EventKind,
    notify::{Kind, Notification, Notifier, Priority, RedisStreamSink, RetryPolicy},
};

fn unique_stream(name: &str) -> String {
    format!("test:{name}:{:016x}", rand::random::<u64>())
}

async fn connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

type Entries = Vec<(String, HashMap<String, String>)>;

async fn xrange(conn: &mut redis::aio::MultiplexedConnection, stream: &str) -> Entries {
    redis::cmd("XRANGE")
        .arg(stream)
        .arg("-")
        .arg("+")
        .query_async(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn notifications_are_appended_to_the_stream_and_read_back_with_xrange() {
    let Some(server) = TestRedis::start("redis stream xrange") else {
        return;
    };
    let stream = unique_stream("xrange");
    let sink = RedisStreamSink::builder(server.url())
        .stream(stream.clone())
        .build()
        .unwrap();
    let notifier = Notifier::builder()
        .max_items(3)
        .sink("redis", sink)
        .build()
        .unwrap();
    let sent = [
        Notification::new(Kind::custom("order_filled"), Priority::Low, "low").field("order", 7),
        Notification::new(Kind::from(EventKind::RateLimited), Priority::High, "high"),
        Notification::new(Kind::custom("order_filled"), Priority::Normal, "normal"),
    ];
    for n in &sent {
        notifier.notify(n.clone());
    }
    let report = notifier.shutdown(Duration::from_secs(10)).await;
    assert_eq!(report.stats.sink("redis").unwrap().delivered, 3);

    let mut conn = connection(server.url()).await;
    let entries = xrange(&mut conn, &stream).await;
    assert_eq!(entries.len(), 3);
    let titles: Vec<&str> = entries.iter().map(|(_, f)| f["title"].as_str()).collect();
    assert_eq!(
        titles,
        ["high", "normal", "low"],
        "one batch, highest priority first"
    );
    let low = &entries[2].1;
    assert_eq!(low["id"], sent[0].id().to_string());
    assert_eq!(low["kind"], "order_filled");
    assert_eq!(low["priority"], "low");
    assert_eq!(low["count"], "1");
    let json: serde_json::Value = serde_json::from_str(&low["json"]).unwrap();
    assert_eq!(json["fields"]["order"], 7);
    assert_eq!(json["id"], low["id"].as_str());
}

#[tokio::test]
async fn the_stream_is_trimmed_approximately_to_max_len() {
    let Some(server) = TestRedis::start("redis stream maxlen") else {
        return;
    };
    let stream = unique_stream("maxlen");
    let sink = RedisStreamSink::builder(server.url())
        .stream(stream.clone())
        .max_len(10)
        .build()
        .unwrap();
    let notifier = Notifier::builder()
        .max_items(50)
        .sink("redis", sink)
        .build()
        .unwrap();
    for i in 0..1_000 {
        notifier.notify(Notification::new(
            Kind::custom("tick"),
            Priority::Normal,
            format!("n{i}"),
        ));
    }
    let report = notifier.shutdown(Duration::from_secs(20)).await;
    assert_eq!(report.stats.sink("redis").unwrap().delivered, 1_000);
    let mut conn = connection(server.url()).await;
    let len: usize = conn.xlen(&stream).await.unwrap();
    // `MAXLEN ~` trims whole internal nodes (100 entries by default).
    assert!((10..=200).contains(&len), "XLEN {len}");
}

#[tokio::test]
async fn a_key_of_the_wrong_type_dead_letters_without_retrying() {
    let Some(server) = TestRedis::start("redis stream wrongtype") else {
        return;
    };
    let stream = unique_stream("wrongtype");
    let mut conn = connection(server.url()).await;
    let _: () = conn.set(&stream, "not a stream").await.unwrap();
    let sink = RedisStreamSink::builder(server.url())
        .stream(stream.clone())
        .build()
        .unwrap();
    let notifier = Notifier::builder()
        .retry(RetryPolicy::default().initial_backoff(Duration::from_millis(10)))
        .sink("redis", sink)
        .build()
        .unwrap();
    notifier.notify(Notification::new(
        Kind::custom("x"),
        Priority::Critical,
        "x",
    ));
    let report = notifier.shutdown(Duration::from_secs(10)).await;
    let s = report.stats.sink("redis").unwrap();
    assert_eq!((s.delivered, s.retried, s.dead_lettered), (0, 0, 1));
    let dead = notifier.dead_letters();
    assert!(dead[0].reason.contains("WRONGTYPE"), "{}", dead[0].reason);
}

#[tokio::test]
async fn an_unreachable_server_is_retried_then_dead_lettered() {
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sink = RedisStreamSink::builder(format!("redis://127.0.0.1:{port}/"))
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let notifier = Notifier::builder()
        .retry(
            RetryPolicy::default()
                .max_attempts(3)
                .initial_backoff(Duration::from_millis(10))
                .max_backoff(Duration::from_millis(50)),
        )
        .sink("redis", sink)
        .build()
        .unwrap();
    notifier.notify(Notification::new(
        Kind::custom("x"),
        Priority::Critical,
        "x",
    ));
    let report = notifier.shutdown(Duration::from_secs(20)).await;
    let s = report.stats.sink("redis").unwrap();
    assert_eq!((s.delivered, s.retried, s.dead_lettered), (0, 2, 1));
}

#[test]
fn building_outside_a_runtime_is_a_config_error() {
    let err = RedisStreamSink::builder("redis://127.0.0.1/")
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), "notify.redis_stream_sink.runtime");
}

#[tokio::test]
async fn bad_settings_are_config_errors() {
    let err = RedisStreamSink::builder("not a url").build().unwrap_err();
    assert_eq!(err.setting(), "notify.redis_stream_sink.url");
    let err = RedisStreamSink::builder("redis://127.0.0.1/")
        .max_len(0)
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), "notify.redis_stream_sink.max_len");
}

/// Issue #13 item 9: a write that times out on the client may still run on the server; the
/// retry must not add the batch a second time. `CLIENT PAUSE` holds every command for a
/// second, so the first attempts time out (200 ms) while their writes wait on the server,
/// and all of them run when the pause ends. Real time: the property is about timeouts.
#[tokio::test]
async fn a_write_retried_after_a_timeout_is_not_added_twice() {
    let Some(server) = TestRedis::start("redis stream retried write") else {
        return;
    };
    let stream = unique_stream("retried");
    let sink = RedisStreamSink::builder(server.url())
        .stream(stream.clone())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let notifier = Notifier::builder()
        .max_items(2)
        .retry(
            RetryPolicy::default()
                .max_attempts(20)
                .initial_backoff(Duration::from_millis(50))
                .max_backoff(Duration::from_millis(100))
                .max_elapsed(Duration::from_secs(60)),
        )
        .sink("redis", sink)
        .build()
        .unwrap();
    // Connect first, so the pause holds the write and not the handshake.
    notifier.notify(Notification::new(
        Kind::custom("warm"),
        Priority::Critical,
        "warm",
    ));
    let mut conn = connection(server.url()).await;
    tokio::time::timeout(Duration::from_secs(30), async {
        while conn.xlen::<_, usize>(&stream).await.unwrap() < 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the warm-up entry arrives");

    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1_000)
        .arg("ALL")
        .query_async(&mut conn)
        .await
        .unwrap();
    notifier.notify(Notification::new(Kind::custom("x"), Priority::Normal, "a"));
    notifier.notify(Notification::new(Kind::custom("x"), Priority::Normal, "b"));
    let report = notifier.shutdown(Duration::from_secs(30)).await;
    let s = report.stats.sink("redis").unwrap();
    assert_eq!(s.delivered, 3, "{report:?}");
    assert!(
        s.retried >= 2,
        "the paused write timed out and was retried: {s:?}"
    );
    // Let every write still held by the pause run before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let entries = xrange(&mut conn, &stream).await;
    let titles: Vec<&str> = entries.iter().map(|(_, f)| f["title"].as_str()).collect();
    assert_eq!(titles, ["warm", "a", "b"], "each notification once");
}

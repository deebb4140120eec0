//! The notifier's guarantees: flush bounds on paused time, priorities, retries, the
//! dead-letter queue, overflow and shutdown accounting.
#![cfg(feature = "notify")]

use std::{sync::atomic::Ordering, time::Duration};

use tokio::time::Instant;
use tower_fortify::{
    event::EventKind,
    notify::{
        ChannelSink, Kind, Notification, Notifier, NotifyOutcome, NotifyStats, Priority,
        RetryPolicy,
    },
};

use crate::support::sinks::{Hangs, IdLog, Panicking, ScriptedSink, SlowSwitch, Switch};

fn note(priority: Priority, title: &str) -> Notification {
    Notification::new(Kind::custom("test"), priority, title.to_owned())
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(5)
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(100))
}

/// Every sink's outcomes add up to what was submitted.
fn assert_adds_up(stats: &NotifyStats) {
    for s in &stats.sinks {
        assert_eq!(
            stats.submitted,
            stats.queued + s.in_flight + s.delivered + s.dead_lettered + s.dropped + s.abandoned,
            "counts of sink {} do not add up: {stats:?}",
            s.name
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_full_batch_is_sent_without_waiting_for_the_latency_bound() {
    let (sink, mut rx) = ChannelSink::bounded(8).unwrap();
    let notifier = Notifier::builder()
        .max_items(3)
        .max_latency(Duration::from_secs(1))
        .sink("ch", sink)
        .build()
        .unwrap();
    let start = Instant::now();
    for i in 0..3 {
        notifier.notify(note(Priority::Normal, &format!("n{i}")));
    }
    let batch = rx.recv().await.unwrap();
    assert_eq!(batch.len(), 3);
    // Paused time auto-advances when idle: had the batch waited for the latency bound,
    // one second would have passed.
    assert!(
        start.elapsed() < Duration::from_millis(1),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn the_oldest_item_waits_at_most_max_latency() {
    let (sink, mut rx) = ChannelSink::bounded(8).unwrap();
    let notifier = Notifier::builder()
        .max_items(10)
        .max_latency(Duration::from_millis(100))
        .sink("ch", sink)
        .build()
        .unwrap();
    let start = Instant::now();
    notifier.notify(note(Priority::Normal, "first"));
    tokio::time::sleep(Duration::from_millis(60)).await;
    notifier.notify(note(Priority::Normal, "second"));
    let batch = rx.recv().await.unwrap();
    let waited = start.elapsed();
    assert_eq!(batch.len(), 2, "the second item rides with the first");
    assert!(waited >= Duration::from_millis(100), "{waited:?}");
    assert!(
        waited <= Duration::from_millis(101),
        "max_latency plus one tick, got {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_critical_item_is_sent_at_once() {
    let (sink, mut rx) = ChannelSink::bounded(8).unwrap();
    let notifier = Notifier::builder()
        .max_latency(Duration::from_secs(10))
        .sink("ch", sink)
        .build()
        .unwrap();
    notifier.notify(note(Priority::Low, "low"));
    let start = Instant::now();
    notifier.notify(note(Priority::Critical, "fire"));
    let batch = rx.recv().await.unwrap();
    assert!(start.elapsed() < Duration::from_millis(1));
    assert_eq!(batch.notifications()[0].title(), "fire");
}

#[tokio::test(start_paused = true)]
async fn higher_priorities_come_first_within_a_batch() {
    let (sink, mut rx) = ChannelSink::bounded(8).unwrap();
    let notifier = Notifier::builder()
        .max_items(4)
        .sink("ch", sink)
        .build()
        .unwrap();
    notifier.notify(note(Priority::Low, "low"));
    notifier.notify(note(Priority::Normal, "normal-1"));
    notifier.notify(note(Priority::High, "high"));
    notifier.notify(note(Priority::Normal, "normal-2"));
    let batch = rx.recv().await.unwrap();
    let titles: Vec<_> = batch.notifications().iter().map(|n| n.title()).collect();
    assert_eq!(titles, ["high", "normal-1", "normal-2", "low"]);
}

#[tokio::test(start_paused = true)]
async fn a_sink_failing_n_times_delivers_once_after_n_retries() {
    let sink = ScriptedSink::failing(3);
    let notifier = Notifier::builder()
        .retry(fast_retries())
        .sink("flaky", sink.clone())
        .build()
        .unwrap();
    notifier.notify(note(Priority::Normal, "hello"));
    let report = notifier.shutdown(Duration::from_secs(30)).await;
    let s = report.stats.sink("flaky").unwrap();
    assert_eq!(s.delivered, 1);
    assert_eq!(s.retried, 3);
    assert_eq!(s.dead_lettered, 0);
    assert_eq!(sink.attempts.load(Ordering::SeqCst), 4);
    assert_eq!(sink.delivered_titles(), ["hello"]);
    assert!(report.completed_before_deadline);
    assert_adds_up(&report.stats);
}

#[tokio::test(start_paused = true)]
async fn a_sink_that_always_fails_dead_letters_everything_and_loses_nothing() {
    let sink = ScriptedSink::failing(u32::MAX);
    let notifier = Notifier::builder()
        .max_items(10)
        .retry(fast_retries().max_attempts(3))
        .sink("down", sink.clone())
        .build()
        .unwrap();
    for i in 0..25 {
        notifier.notify(note(Priority::Normal, &format!("n{i}")));
    }
    let report = notifier.shutdown(Duration::from_secs(60)).await;
    let s = report.stats.sink("down").unwrap();
    assert_eq!(report.stats.submitted, 25);
    assert_eq!(s.delivered, 0);
    assert_eq!(s.dead_lettered, 25);
    assert_eq!(s.retried, 25 * 2, "two retries per notification");
    assert_eq!(s.dropped, 0);
    let dead = notifier.dead_letters();
    assert_eq!(dead.len(), 25);
    assert!(dead.iter().all(|d| &*d.sink == "down" && d.attempts == 3));
    assert!(
        dead[0].reason.contains("gave up after 3 attempt(s)"),
        "{}",
        dead[0].reason
    );
    let mut ids: Vec<_> = dead.iter().map(|d| d.notification.id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 25, "every notification is there once");
    assert_adds_up(&report.stats);
}

#[tokio::test(start_paused = true)]
async fn a_batch_refused_by_one_of_two_sinks_is_delivered_there_and_dead_lettered_here() {
    let good = ScriptedSink::default();
    let bad = ScriptedSink::refusing();
    let notifier = Notifier::builder()
        .retry(fast_retries())
        .sink("good", good.clone())
        .sink("bad", bad.clone())
        .build()
        .unwrap();
    notifier.notify(note(Priority::High, "alert"));
    let report = notifier.shutdown(Duration::from_secs(10)).await;
    assert_eq!(report.stats.sink("good").unwrap().delivered, 1);
    let bad_stats = report.stats.sink("bad").unwrap();
    assert_eq!(bad_stats.dead_lettered, 1);
    assert_eq!(bad_stats.retried, 0, "a permanent refusal is not retried");
    let dead = notifier.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(&*dead[0].sink, "bad");
    assert!(dead[0].reason.contains("410 gone"));
    assert_adds_up(&report.stats);
}

#[tokio::test(start_paused = true)]
async fn a_batch_failing_on_one_sink_is_retried_only_there() {
    let steady = ScriptedSink::default();
    let flaky = ScriptedSink::failing(2);
    let notifier = Notifier::builder()
        .retry(fast_retries())
        .sink("steady", steady.clone())
        .sink("flaky", flaky.clone())
        .build()
        .unwrap();
    notifier.notify(note(Priority::Normal, "once"));
    let report = notifier.shutdown(Duration::from_secs(10)).await;
    assert_eq!(steady.attempts.load(Ordering::SeqCst), 1);
    assert_eq!(flaky.attempts.load(Ordering::SeqCst), 3);
    assert_eq!(steady.delivered_titles(), ["once"]);
    assert_eq!(flaky.delivered_titles(), ["once"]);
    assert_eq!(report.stats.sink("steady").unwrap().retried, 0);
    assert_eq!(report.stats.sink("flaky").unwrap().retried, 2);
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_drops_the_lowest_priority_and_counts_it() {
    let sink = ScriptedSink::default();
    let (notifier, worker) = Notifier::builder()
        .queue_capacity(3)
        .sink("a", sink.clone())
        .sink("b", ScriptedSink::default())
        .pair()
        .unwrap();
    // The worker is not running yet, so everything stays queued.
    assert_eq!(
        notifier.notify(note(Priority::Low, "low")),
        NotifyOutcome::Queued
    );
    assert_eq!(
        notifier.notify(note(Priority::Normal, "normal")),
        NotifyOutcome::Queued
    );
    assert_eq!(
        notifier.notify(note(Priority::High, "high")),
        NotifyOutcome::Queued
    );
    assert_eq!(
        notifier.notify(note(Priority::Critical, "critical")),
        NotifyOutcome::QueuedAfterDrop,
        "the low item makes room"
    );
    assert_eq!(
        notifier.notify(note(Priority::Low, "late-low")),
        NotifyOutcome::Dropped,
        "the incoming item is the least important"
    );
    let stats = notifier.stats();
    assert_eq!(stats.queued, 3);
    assert!(stats.sinks.iter().all(|s| s.dropped == 2), "{stats:?}");
    assert_adds_up(&stats);

    let worker = tokio::spawn(worker.run());
    let report = notifier.shutdown(Duration::from_secs(5)).await;
    worker.await.unwrap();
    let mut titles = sink.delivered_titles();
    titles.sort();
    assert_eq!(titles, ["critical", "high", "normal"]);
    assert_eq!(report.stats.sink("a").unwrap().delivered, 3);
    assert_adds_up(&report.stats);
}

#[tokio::test(start_paused = true)]
async fn a_critical_item_is_dropped_only_when_the_queue_holds_nothing_else() {
    let (notifier, _worker) = Notifier::builder()
        .queue_capacity(2)
        .sink("a", ScriptedSink::default())
        .pair()
        .unwrap();
    notifier.notify(note(Priority::Critical, "c1"));
    notifier.notify(note(Priority::Low, "low"));
    assert_eq!(
        notifier.notify(note(Priority::Critical, "c2")),
        NotifyOutcome::QueuedAfterDrop
    );
    assert_eq!(
        notifier.notify(note(Priority::High, "high")),
        NotifyOutcome::Dropped,
        "only critical items are queued: a high one does not displace them"
    );
    assert_eq!(
        notifier.notify(note(Priority::Critical, "c3")),
        NotifyOutcome::QueuedAfterDrop,
        "the oldest critical makes room for the newest"
    );
    let stats = notifier.stats();
    assert_eq!(stats.sinks[0].dropped, 3);
    assert_eq!(stats.queued, 2);
    assert_adds_up(&stats);
}

#[tokio::test(start_paused = true)]
async fn shutdown_with_a_healthy_sink_delivers_everything() {
    let sink = ScriptedSink::default();
    let notifier = Notifier::builder()
        .max_items(10)
        .max_latency(Duration::from_secs(60))
        .sink("ok", sink.clone())
        .build()
        .unwrap();
    for i in 0..25 {
        notifier.notify(note(Priority::Normal, &format!("n{i}")));
    }
    let report = notifier.shutdown(Duration::from_secs(5)).await;
    assert!(report.completed_before_deadline);
    assert_eq!(report.stats.sink("ok").unwrap().delivered, 25);
    assert_eq!(report.dead_lettered_at_deadline, 0);
    assert_eq!(sink.delivered_titles().len(), 25);
    assert_eq!(
        notifier.notify(note(Priority::Critical, "too late")),
        NotifyOutcome::Closed
    );
    let stats = notifier.stats();
    assert_eq!(
        stats.sinks[0].dropped, 1,
        "a refusal after shutdown is counted"
    );
    assert_adds_up(&stats);
}

#[tokio::test(start_paused = true)]
async fn shutdown_with_a_dead_sink_dead_letters_the_rest_at_the_deadline() {
    let healthy = ScriptedSink::default();
    let dead = ScriptedSink::failing(u32::MAX);
    let notifier = Notifier::builder()
        .max_items(5)
        .max_in_flight_batches(2)
        .retry(
            RetryPolicy::default()
                .max_attempts(100)
                .initial_backoff(Duration::from_millis(500))
                .max_backoff(Duration::from_secs(5))
                .max_elapsed(Duration::from_secs(600)),
        )
        .sink("healthy", healthy.clone())
        .sink("dead", dead.clone())
        .build()
        .unwrap();
    for i in 0..40 {
        notifier.notify(note(Priority::Normal, &format!("n{i}")));
    }
    let started = Instant::now();
    let report = notifier.shutdown(Duration::from_secs(3)).await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "shutdown respects its deadline (generous bound): {:?}",
        started.elapsed()
    );
    let d = report.stats.sink("dead").unwrap();
    let h = report.stats.sink("healthy").unwrap();
    assert_eq!(d.delivered, 0);
    assert_eq!(d.in_flight, 0);
    assert_eq!(d.dead_lettered, 40);
    assert_eq!(h.in_flight, 0);
    assert_eq!(h.delivered + h.dead_lettered, 40);
    assert_eq!(report.stats.queued, 0);
    assert_adds_up(&report.stats);
    assert_eq!(
        notifier.dead_letters().len() as u64,
        d.dead_lettered + h.dead_lettered
    );
}

#[tokio::test(start_paused = true)]
async fn what_is_still_queued_at_the_deadline_is_dead_lettered_for_every_sink() {
    // No worker runs: nothing can leave the queue before the deadline.
    let (notifier, _worker) = Notifier::builder()
        .sink("a", ScriptedSink::default())
        .sink("b", ScriptedSink::default())
        .pair()
        .unwrap();
    for i in 0..3 {
        notifier.notify(note(Priority::High, &format!("n{i}")));
    }
    let report = notifier.shutdown(Duration::from_secs(2)).await;
    assert!(!report.completed_before_deadline);
    assert_eq!(
        report.dead_lettered_at_deadline, 6,
        "3 notifications x 2 sinks"
    );
    assert_eq!(report.stats.queued, 0);
    let dead = notifier.dead_letters();
    assert_eq!(dead.len(), 6);
    assert!(dead
        .iter()
        .all(|d| d.reason == "shutdown deadline passed before delivery" && d.attempts == 0));
    assert_adds_up(&report.stats);
}

#[tokio::test(start_paused = true)]
async fn a_full_dead_letter_queue_evicts_its_oldest_entry_as_dropped() {
    let notifier = Notifier::builder()
        .max_items(1)
        .dead_letter_capacity(5)
        .sink("bad", ScriptedSink::refusing())
        .build()
        .unwrap();
    for i in 0..8 {
        notifier.notify(note(Priority::Normal, &format!("n{i}")));
    }
    let report = notifier.shutdown(Duration::from_secs(5)).await;
    let s = report.stats.sink("bad").unwrap();
    assert_eq!(s.dead_lettered, 5);
    assert_eq!(s.dropped, 3);
    assert_eq!(report.stats.dead_letter_queue_len, 5);
    assert_adds_up(&report.stats);
}

#[tokio::test(start_paused = true)]
async fn dead_letters_can_be_replayed_to_the_sink_that_refused_them() {
    let first = ScriptedSink::default();
    let switch = Switch::default();
    let notifier = Notifier::builder()
        .max_latency(Duration::from_millis(10))
        .sink("first", first.clone())
        .sink("switch", switch.clone())
        .build()
        .unwrap();
    for i in 0..3 {
        notifier.notify(note(Priority::Normal, &format!("n{i}")));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(notifier.dead_letters().len(), 3);

    switch.on.store(true, Ordering::SeqCst);
    let replay = notifier.replay_dead_letters().await;
    assert_eq!(
        (replay.replayed, replay.delivered, replay.dead_lettered),
        (3, 3, 0)
    );
    assert_eq!(switch.got.lock().unwrap().len(), 3);
    assert_eq!(
        first.delivered_titles().len(),
        3,
        "the other sink is not sent twice"
    );
    let stats = notifier.stats();
    assert_eq!(stats.sink("switch").unwrap().delivered, 3);
    assert_eq!(stats.sink("switch").unwrap().dead_lettered, 0);
    assert!(notifier.dead_letters().is_empty());
    assert_adds_up(&stats);
}

#[tokio::test(start_paused = true)]
async fn a_replay_whose_caller_gives_up_still_delivers_everything() {
    let slow = SlowSwitch::default();
    let notifier = Notifier::builder()
        .max_latency(Duration::from_millis(10))
        .sink("slow", slow.clone())
        .build()
        .unwrap();
    for i in 0..3 {
        notifier.notify(note(Priority::Normal, &format!("n{i}")));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(notifier.dead_letters().len(), 3);

    slow.0.on.store(true, Ordering::SeqCst);
    // The caller gives up long before the sink answers: the replay future is dropped.
    let gave_up =
        tokio::time::timeout(Duration::from_millis(10), notifier.replay_dead_letters()).await;
    assert!(gave_up.is_err());
    tokio::time::sleep(Duration::from_secs(5)).await;

    assert_eq!(
        slow.0.got.lock().unwrap().len(),
        3,
        "nothing taken out of the queue was lost"
    );
    let stats = notifier.stats();
    assert_eq!(stats.sink("slow").unwrap().delivered, 3);
    assert_eq!(stats.sink("slow").unwrap().in_flight, 0);
    assert!(notifier.dead_letters().is_empty());
    assert_adds_up(&stats);
}

#[tokio::test(start_paused = true)]
async fn drained_dead_letters_leave_the_queue_but_stay_counted() {
    let notifier = Notifier::builder()
        .max_latency(Duration::from_millis(10))
        .sink("bad", ScriptedSink::refusing())
        .build()
        .unwrap();
    notifier.notify(note(Priority::Normal, "a"));
    notifier.notify(note(Priority::Normal, "b"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let drained = notifier.drain_dead_letters();
    assert_eq!(drained.len(), 2);
    assert!(notifier.dead_letters().is_empty());
    let stats = notifier.stats();
    assert_eq!(stats.sinks[0].dead_lettered, 2);
    assert_adds_up(&stats);
    let json = serde_json::to_value(&drained[0]).unwrap();
    assert_eq!(json["sink"], "bad");
    assert_eq!(json["notification"]["title"], "a");
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_flushes_the_queue() {
    let sink = ScriptedSink::default();
    let (notifier, worker) = Notifier::builder()
        .max_latency(Duration::from_secs(60))
        .sink("ok", sink.clone())
        .pair()
        .unwrap();
    let worker = tokio::spawn(worker.run());
    let clone = notifier.clone();
    for i in 0..5 {
        clone.notify(note(Priority::Low, &format!("n{i}")));
    }
    drop(clone);
    drop(notifier);
    tokio::time::timeout(Duration::from_secs(1), worker)
        .await
        .expect("the worker exits once the queue is flushed")
        .unwrap();
    // Delivery tasks finish on the runtime after the worker returns.
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(sink.delivered_titles().len(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_sink_dead_letters_its_batch_instead_of_losing_it() {
    let notifier = Notifier::builder()
        .sink("panics", Panicking)
        .build()
        .unwrap();
    notifier.notify(note(Priority::Critical, "x"));
    let report = notifier.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.stats.sinks[0].dead_lettered, 1);
    assert_eq!(
        notifier.dead_letters()[0].reason,
        "refused: the sink panicked"
    );
    assert_adds_up(&report.stats);
}

#[tokio::test(start_paused = true)]
async fn a_hung_attempt_times_out_and_counts_as_a_retryable_failure() {
    let notifier = Notifier::builder()
        .retry(
            RetryPolicy::default()
                .max_attempts(2)
                .attempt_timeout(Duration::from_secs(1)),
        )
        .sink("hangs", Hangs)
        .build()
        .unwrap();
    notifier.notify(note(Priority::Critical, "x"));
    let report = notifier.shutdown(Duration::from_secs(30)).await;
    let s = &report.stats.sinks[0];
    assert_eq!((s.retried, s.dead_lettered), (1, 1));
    assert!(notifier.dead_letters()[0].reason.contains("timed out"));
}

#[tokio::test(start_paused = true)]
async fn a_flood_on_one_key_becomes_one_notification_then_one_summary_with_the_count() {
    let sink = ScriptedSink::default();
    let notifier = Notifier::builder()
        .max_latency(Duration::from_millis(10))
        .sink("ok", sink.clone())
        .build()
        .unwrap();
    let window = Duration::from_secs(60);
    let mut outcomes = Vec::new();
    for _ in 0..50_000 {
        outcomes.push(notifier.notify_coalesced(
            "rate_limited|per-ip|203.0.113.7",
            window,
            note(Priority::Normal, "throttled"),
        ));
    }
    assert_eq!(outcomes[0], NotifyOutcome::Queued);
    assert!(outcomes[1..].iter().all(|o| *o == NotifyOutcome::Coalesced));
    tokio::time::sleep(Duration::from_secs(61)).await;
    let delivered: Vec<Notification> = sink
        .delivered
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(_, b)| b.clone())
        .collect();
    assert_eq!(delivered.len(), 2);
    assert_eq!(delivered[0].occurrences(), 1);
    assert_eq!(delivered[1].occurrences(), 49_999);
    assert_eq!(delivered[1].fields()["aggregated"], true);
    notifier.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn durations_meaning_never_do_not_overflow() {
    let sink = ScriptedSink::default();
    let notifier = Notifier::builder()
        .max_latency(Duration::MAX)
        .retry(RetryPolicy::default().attempt_timeout(Duration::MAX))
        .sink("ok", sink.clone())
        .build()
        .unwrap();
    notifier.notify_coalesced("k", Duration::MAX, note(Priority::Normal, "a"));
    notifier.notify_coalesced("k", Duration::MAX, note(Priority::Normal, "b"));
    let report = notifier.shutdown(Duration::MAX).await;
    assert!(report.completed_before_deadline);
    assert_eq!(
        report.stats.sinks[0].delivered, 2,
        "the first and the summary"
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_summarises_open_aggregation_windows_instead_of_losing_their_counts() {
    let sink = ScriptedSink::default();
    let notifier = Notifier::builder()
        .sink("ok", sink.clone())
        .build()
        .unwrap();
    for _ in 0..20 {
        notifier.notify_coalesced("k", Duration::from_secs(600), note(Priority::Normal, "t"));
    }
    let report = notifier.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.stats.submitted, 2);
    let counts: Vec<u64> = sink
        .delivered
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(_, b)| b.iter().map(|n| n.occurrences()))
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), 20, "{counts:?}");
}

#[test]
fn bad_settings_are_config_errors() {
    let err = Notifier::builder().pair().unwrap_err();
    assert_eq!(err.setting(), "notify.sink");
    let err = Notifier::builder()
        .max_items(0)
        .sink("a", ScriptedSink::default())
        .pair()
        .unwrap_err();
    assert_eq!(err.setting(), "notify.max_items");
    let err = Notifier::builder()
        .sink("a", ScriptedSink::default())
        .sink("a", ScriptedSink::default())
        .pair()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid notify.sink: the sink name `a` is used twice"
    );
    let err = Notifier::builder()
        .retry(RetryPolicy::default().max_attempts(0))
        .sink("a", ScriptedSink::default())
        .pair()
        .unwrap_err();
    assert_eq!(err.setting(), "notify.retry_policy.max_attempts");
    let err = Notifier::builder()
        .max_in_flight_batches(usize::MAX)
        .sink("a", ScriptedSink::default())
        .pair()
        .unwrap_err();
    assert_eq!(err.setting(), "notify.max_in_flight_batches");
    assert_eq!(
        ChannelSink::broadcast(usize::MAX).unwrap_err().setting(),
        "notify.channel_sink.capacity"
    );
    assert!(ChannelSink::bounded(0).is_err());
    let err = Notifier::builder()
        .sink("a", ScriptedSink::default())
        .build()
        .unwrap_err();
    assert_eq!(
        err.setting(),
        "notify.runtime",
        "build outside a runtime is an error, not a panic"
    );
}

#[test]
fn a_notification_serialises_to_the_documented_shape() {
    let n = Notification::new(
        Kind::from(EventKind::RateLimited),
        Priority::High,
        "Rate limit exceeded",
    )
    .message("policy per-ip refused 203.0.113.7")
    .field("policy", "per-ip")
    .field("retry_after_ms", 1500)
    .source("billing-api");
    let json: serde_json::Value = serde_json::from_str(&n.to_json()).unwrap();
    assert_eq!(json["id"], n.id().to_string());
    assert!(json["id"].as_str().unwrap().starts_with("ntf_"));
    assert_eq!(json["id"].as_str().unwrap().len(), 36);
    assert_eq!(json["kind"], "rate_limited");
    assert_eq!(json["priority"], "high");
    assert_eq!(json["title"], "Rate limit exceeded");
    assert_eq!(json["fields"]["retry_after_ms"], 1500);
    assert_eq!(json["count"], 1);
    assert_eq!(json["source"], "billing-api");
    let ts = json["timestamp"].as_str().unwrap();
    assert_eq!(ts.len(), "2026-11-25T10:00:00.123Z".len(), "{ts}");
    assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");
    assert_ne!(
        Notification::new(Kind::custom("x"), Priority::Low, "t").id(),
        Notification::new(Kind::custom("x"), Priority::Low, "t").id()
    );
}

/// Issue #13 item 9: receivers de-duplicate on `webhook-id` (the batch id), so a replay must
/// send a dead-lettered batch under the id it was first sent with.
#[tokio::test(start_paused = true)]
async fn a_replayed_dead_letter_is_sent_under_its_original_batch_id() {
    let sink = IdLog::default();
    let notifier = Notifier::builder()
        .max_items(3)
        .max_latency(Duration::from_millis(10))
        .sink("ids", sink.clone())
        .build()
        .unwrap();
    for i in 0..5 {
        notifier.notify(note(Priority::Normal, &format!("n{i}")));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(notifier.dead_letters().len(), 5);
    let first: Vec<(String, Vec<String>)> = sink
        .attempts
        .lock()
        .unwrap()
        .iter()
        .map(|(id, titles, _)| (id.clone(), titles.clone()))
        .collect();
    assert_eq!(first.len(), 2, "two batches (3 + 2): {first:?}");
    assert_ne!(first[0].0, first[1].0);

    sink.on.store(true, Ordering::SeqCst);
    let replay = notifier.replay_dead_letters().await;
    assert_eq!((replay.replayed, replay.delivered), (5, 5));
    let mut replayed: Vec<(String, Vec<String>)> = sink.attempts.lock().unwrap()[2..]
        .iter()
        .map(|(id, titles, accepted)| {
            assert!(accepted);
            (id.clone(), titles.clone())
        })
        .collect();
    replayed.sort();
    let mut expected = first.clone();
    expected.sort();
    assert_eq!(
        replayed, expected,
        "each batch is replayed whole, under the webhook-id it was first sent with"
    );
    notifier.shutdown(Duration::from_secs(1)).await;
}

/// Issue #13 item 9: an attempt that is running when shutdown starts ends at the shutdown
/// deadline and is dead-lettered (so the report hands it to the caller); it is never left
/// counted as in flight after `shutdown` returned.
#[tokio::test(start_paused = true)]
async fn an_attempt_hung_at_shutdown_ends_at_the_deadline_and_is_not_left_in_flight() {
    let notifier = Notifier::builder()
        .retry(
            RetryPolicy::default()
                .max_attempts(3)
                .attempt_timeout(Duration::from_secs(60)),
        )
        .sink("hangs", Hangs)
        .build()
        .unwrap();
    notifier.notify(note(Priority::Critical, "stuck"));
    // The attempt starts (with a 60 s timeout) before shutdown is asked for.
    tokio::time::sleep(Duration::from_millis(10)).await;
    let started = Instant::now();
    let report = notifier.shutdown(Duration::from_secs(2)).await;
    assert!(
        started.elapsed() <= Duration::from_secs(3),
        "paused time: the attempt is cut at the deadline, not at its 60 s timeout: {:?}",
        started.elapsed()
    );
    let s = report.stats.sink("hangs").unwrap();
    assert_eq!(
        (s.in_flight, s.delivered, s.dead_lettered),
        (0, 0, 1),
        "{report:?}"
    );
    let dead = notifier.dead_letters();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].reason.contains("shutdown deadline"),
        "{}",
        dead[0].reason
    );
    assert_adds_up(&report.stats);
}
/// Issue #13 item 9: the report carries the entries still dead-lettered, so a caller can
/// persist them before the process exits.
#[tokio::test(start_paused = true)]
async fn the_shutdown_report_returns_the_entries_still_dead_lettered() {
    let notifier = Notifier::builder()
        .max_items(2)
        .max_latency(Duration::from_millis(10))
        .sink("bad", ScriptedSink::refusing())
        .sink("good", ScriptedSink::default())
        .build()
        .unwrap();
    for i in 0..3 {
        notifier.notify(note(Priority::Normal, &format!("n{i}")));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    // One entry is drained by the application first: it is no longer "still dead-lettered".
    let drained = notifier.drain_dead_letters_where(|d| d.notification.title() == "n0");
    assert_eq!(drained.len(), 1);
    let report = notifier.shutdown(Duration::from_secs(1)).await;
    let mut titles: Vec<(String, String)> = report
        .dead_letters
        .iter()
        .map(|d| (d.sink.to_string(), d.notification.title().to_owned()))
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        [
            ("bad".to_owned(), "n1".to_owned()),
            ("bad".to_owned(), "n2".to_owned())
        ]
    );
    assert_eq!(report.stats.dead_letter_queue_len, 2);
    assert!(report.dead_letters.iter().all(|d| d.batch_id.is_some()));
}

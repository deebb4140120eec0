//! The clock of the percentile windows and the dashboard cache.
//!
//! It is tokio's ([`tokio::time::Instant`]): in production that is the system's monotonic
//! clock, and a test that pauses time (`#[tokio::test(start_paused = true)]`,
//! `tokio::time::advance`) decides when a window slot or the dashboard cache interval
//! ends, instead of the wall clock and the machine's load. Outside a runtime it is the
//! system clock. Request durations are still measured with `std::time::Instant`: they are
//! about time itself.

use std::time::Instant;

/// Now, on tokio's clock (paused in tests that pause it).
#[inline]
pub(super) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn paused_time_moves_only_when_advanced() {
        let a = super::now();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(super::now(), a);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(super::now() - a, Duration::from_secs(5));
    }
}

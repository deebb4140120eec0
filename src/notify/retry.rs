//! [`RetryPolicy`]: how long and how often a sink's deliveries are retried.

use std::time::Duration;

use rand::Rng;

use crate::ConfigError;

/// The backoff policy each sink's deliveries follow: exponential backoff with full
/// jitter (`sleep = random(0, min(max_backoff, initial_backoff * 2^attempt))`), at least the
/// sink's `Retry-After`, bounded in attempts and in total time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub(crate) max_attempts: u32,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) max_elapsed: Duration,
    pub(crate) attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, backoff from 100 ms up to 10 s, 60 s in total, 30 s per attempt.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// How many attempts in all (the first one included); at least 1.
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }
    /// The backoff cap before jitter for the first retry.
    #[must_use]
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }
    /// The largest backoff before jitter.
    #[must_use]
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }
    /// The total time a batch may spend retrying on one sink before it is dead-lettered.
    #[must_use]
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = elapsed;
        self
    }
    /// How long one attempt may take before it counts as a (retryable) failure.
    #[must_use]
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Checks the policy; [`NotifierBuilder::build`](super::NotifierBuilder::build) reports
    /// what is wrong as `notify.retry_policy.<setter>`.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_attempts == 0 {
            return Err(ConfigError::new(
                "notify.retry_policy.max_attempts",
                "at least one attempt is needed",
            ));
        }
        if self.initial_backoff > self.max_backoff {
            return Err(ConfigError::new(
                "notify.retry_policy.initial_backoff",
                "the initial backoff must not exceed max_backoff",
            ));
        }
        if self.attempt_timeout.is_zero() {
            return Err(ConfigError::new(
                "notify.retry_policy.attempt_timeout",
                "the per-attempt timeout must be greater than zero",
            ));
        }
        Ok(())
    }

    /// The cap before jitter of the backoff after failed attempt number `attempt` (1 for
    /// the first): `min(max_backoff, initial_backoff * 2^(attempt - 1))`, saturating.
    pub(crate) fn backoff_cap(&self, attempt: u32) -> Duration {
        self.initial_backoff
            .saturating_mul(
                1u32.checked_shl(attempt.saturating_sub(1))
                    .unwrap_or(u32::MAX),
            )
            .min(self.max_backoff)
    }

    /// The sleep before the next attempt: full jitter over [`backoff_cap`](Self::backoff_cap),
    /// but at least the receiver's `Retry-After`.
    pub(crate) fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let cap = self.backoff_cap(attempt);
        let jitter = rand::rng().random_range(0..=cap.as_nanos().min(u64::MAX as u128) as u64);
        let backoff = Duration::from_nanos(jitter);
        retry_after.map_or(backoff, |after| backoff.max(after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_cap_doubles_up_to_the_maximum_and_never_overflows() {
        let p = RetryPolicy::default()
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_secs(1));
        let caps: Vec<u128> = (1..=6).map(|a| p.backoff_cap(a).as_millis()).collect();
        assert_eq!(caps, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.backoff_cap(u32::MAX), Duration::from_secs(1));
        let huge = RetryPolicy::default()
            .initial_backoff(Duration::MAX)
            .max_backoff(Duration::MAX);
        assert_eq!(huge.backoff_cap(40), Duration::MAX);
    }

    #[test]
    fn the_backoff_is_jittered_below_the_cap_and_honours_retry_after() {
        let p = RetryPolicy::default()
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_millis(100));
        for _ in 0..100 {
            assert!(p.backoff(3, None) <= Duration::from_millis(100));
            assert!(p.backoff(3, Some(Duration::from_secs(2))) == Duration::from_secs(2));
        }
    }

    #[test]
    fn bad_policies_name_their_setting() {
        let setting = |p: RetryPolicy| p.validate().unwrap_err().setting();
        assert_eq!(
            setting(RetryPolicy::default().max_attempts(0)),
            "notify.retry_policy.max_attempts"
        );
        assert_eq!(
            setting(RetryPolicy::default().initial_backoff(Duration::from_secs(60))),
            "notify.retry_policy.initial_backoff"
        );
        assert_eq!(
            setting(RetryPolicy::default().attempt_timeout(Duration::ZERO)),
            "notify.retry_policy.attempt_timeout"
        );
        assert!(RetryPolicy::default().validate().is_ok());
    }
}

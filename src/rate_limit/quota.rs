//! Quotas and the GCRA arithmetic.

use std::{fmt, time::Duration};

use crate::ConfigError;

/// How many requests a key may make per period, and how many at once.
///
/// Written so it cannot be misread: `Quota::per_second(10).burst(20)` allows a sustained
/// 10 requests per second and bursts of up to 20; `Quota::per_minute(600)` allows 600 per
/// minute with a burst of 600 (the burst defaults to the count). Nothing is checked here;
/// [`Policy::new`](super::Policy::new) validates and returns a [`ConfigError`] for a zero
/// or overflowing quota.
///
/// ```
/// use std::time::Duration;
/// use tower_fortify::rate_limit::Quota;
///
/// let gcra = Quota::per_second(10).burst(20).validate().unwrap();
/// assert_eq!(gcra.emission_interval(), Duration::from_millis(100));
/// assert_eq!(gcra.burst(), 20);
/// assert!(Quota::per_second(0).validate().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    count: u32,
    period: Duration,
    burst: Option<u32>,
}

impl Quota {
    /// `count` requests per `period`, burst `count`.
    pub const fn new(count: u32, period: Duration) -> Self {
        Self {
            count,
            period,
            burst: None,
        }
    }

    /// `count` requests per second.
    pub const fn per_second(count: u32) -> Self {
        Self::new(count, Duration::from_secs(1))
    }

    /// `count` requests per minute.
    pub const fn per_minute(count: u32) -> Self {
        Self::new(count, Duration::from_secs(60))
    }

    /// `count` requests per hour.
    pub const fn per_hour(count: u32) -> Self {
        Self::new(count, Duration::from_secs(3600))
    }

    /// `count` requests per day.
    pub const fn per_day(count: u32) -> Self {
        Self::new(count, Duration::from_secs(86_400))
    }

    /// Sets how many requests may arrive at once (default: the count).
    pub const fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// The count per period.
    pub const fn count(&self) -> u32 {
        self.count
    }

    /// The period.
    pub const fn period(&self) -> Duration {
        self.period
    }

    /// Checks the quota and computes its GCRA parameters.
    pub fn validate(&self) -> Result<Gcra, ConfigError> {
        if self.count == 0 {
            return Err(ConfigError::new(
                "rate_limit.quota.count",
                format!("{self:?}: the count must be at least 1"),
            ));
        }
        let period = match u64::try_from(self.period.as_nanos()) {
            Ok(0) => {
                return Err(ConfigError::new(
                    "rate_limit.quota.period",
                    format!("{self:?}: the period must be longer than zero"),
                ))
            }
            Ok(p) => p,
            Err(_) => {
                return Err(ConfigError::new(
                    "rate_limit.quota.period",
                    format!("{self:?}: the period is longer than 584 years"),
                ))
            }
        };
        let burst = self.burst.unwrap_or(self.count);
        if burst == 0 {
            return Err(ConfigError::new(
                "rate_limit.quota.burst",
                format!("{self:?}: the burst must be at least 1"),
            ));
        }
        let interval = period / u64::from(self.count);
        if interval == 0 {
            return Err(ConfigError::new(
                "rate_limit.quota.count",
                format!("{self:?}: more than one request per nanosecond cannot be measured"),
            ));
        }
        // Keep headroom so `now + tau` cannot overflow for centuries of uptime.
        let Some(tau) = interval
            .checked_mul(u64::from(burst))
            .filter(|t| *t <= u64::MAX / 4)
        else {
            return Err(ConfigError::new(
                "rate_limit.quota.burst",
                format!("{self:?}: burst times interval overflows"),
            ));
        };
        Ok(Gcra {
            interval,
            burst,
            tau,
        })
    }
}

impl fmt::Debug for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Quota({} per {:?}", self.count, self.period)?;
        if let Some(b) = self.burst {
            write!(f, ", burst {b}")?;
        }
        f.write_str(")")
    }
}

/// The validated parameters of a [`Quota`], and the GCRA decision itself.
///
/// Times are nanoseconds on the store's clock. Per key the store keeps one number, the
/// *theoretical arrival time* (TAT). With emission interval `T` and burst `B`, a request
/// of cost `n` arriving at `now` is allowed when `max(TAT, now) + n*T - now <= B*T`, and
/// then stores that new TAT; a refusal stores nothing. This is the arithmetic of the
/// `governor` crate, exact to the nanosecond, with no drift and no sleeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gcra {
    interval: u64,
    burst: u32,
    tau: u64,
}

/// The outcome of one GCRA step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Step {
    /// Whether the request is allowed.
    pub allowed: bool,
    /// The TAT to store when allowed (unchanged TAT otherwise).
    pub new_tat: u64,
    /// Cells still available after this step.
    pub remaining: u64,
    /// Nanoseconds until the bucket is full again (after this step).
    pub reset: u64,
    /// Nanoseconds until this request would be allowed (0 when allowed).
    pub retry_after: u64,
    /// The cost is larger than the burst: the request can never be allowed.
    pub exceeds_burst: bool,
}

impl Gcra {
    /// Builds parameters from an emission interval (nanoseconds) and a burst, as the Redis
    /// store and tests do. Prefer [`Quota::validate`].
    pub fn from_parts(interval_ns: u64, burst: u32) -> Result<Self, ConfigError> {
        if interval_ns == 0 {
            return Err(ConfigError::new(
                "rate_limit.gcra.interval_ns",
                "the interval must be non-zero",
            ));
        }
        if burst == 0 {
            return Err(ConfigError::new(
                "rate_limit.gcra.burst",
                "the burst must be non-zero",
            ));
        }
        let tau = interval_ns
            .checked_mul(u64::from(burst))
            .filter(|t| *t <= u64::MAX / 4)
            .ok_or_else(|| {
                ConfigError::new("rate_limit.gcra.burst", "burst times interval overflows")
            })?;
        Ok(Self {
            interval: interval_ns,
            burst,
            tau,
        })
    }

    /// The time between two requests at the sustained rate.
    pub fn emission_interval(&self) -> Duration {
        Duration::from_nanos(self.interval)
    }

    /// The emission interval in nanoseconds.
    pub fn interval_ns(&self) -> u64 {
        self.interval
    }

    /// The burst: how many requests may arrive at once.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// The time for an empty bucket to refill completely (`burst * interval`).
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.tau)
    }

    /// One GCRA step: `tat` is the stored TAT (`None` for a key never seen or evicted).
    #[inline]
    pub fn step(&self, tat: Option<u64>, now: u64, cost: u32) -> Step {
        let base = tat.map_or(now, |t| t.max(now));
        let weight = self.interval.saturating_mul(u64::from(cost));
        let limit = now.saturating_add(self.tau);
        let remaining_before = limit.saturating_sub(base) / self.interval;
        if weight > self.tau {
            return Step {
                allowed: false,
                new_tat: base,
                remaining: remaining_before,
                reset: base - now,
                retry_after: self.tau,
                exceeds_burst: true,
            };
        }
        let new_tat = base + weight;
        if new_tat <= limit {
            Step {
                allowed: true,
                new_tat,
                remaining: (limit - new_tat) / self.interval,
                reset: new_tat - now,
                retry_after: 0,
                exceeds_burst: false,
            }
        } else {
            Step {
                allowed: false,
                new_tat: base,
                remaining: remaining_before,
                reset: base - now,
                retry_after: new_tat - limit,
                exceeds_burst: false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn rejects_zero_and_overflow() {
        assert!(Quota::per_second(0).validate().is_err());
        assert!(Quota::per_second(1).burst(0).validate().is_err());
        assert!(Quota::new(1, Duration::ZERO).validate().is_err());
        assert!(Quota::new(1, Duration::from_secs(u64::MAX))
            .validate()
            .is_err());
        assert!(Quota::new(u32::MAX, Duration::from_nanos(5))
            .validate()
            .is_err());
        assert!(Quota::per_day(1).burst(u32::MAX).validate().is_err());
        let e = Quota::per_second(0).validate().unwrap_err();
        assert_eq!(e.setting(), "rate_limit.quota.count");
        assert!(e.to_string().contains("at least 1"), "{e}");
        let e = Quota::per_second(1).burst(0).validate().unwrap_err();
        assert_eq!(e.setting(), "rate_limit.quota.burst");
        let e = Quota::new(1, Duration::ZERO).validate().unwrap_err();
        assert_eq!(e.setting(), "rate_limit.quota.period");
    }

    #[test]
    fn burst_then_steady_rate() {
        let g = Quota::per_second(10).burst(3).validate().unwrap();
        let mut tat = None;
        let now = 5 * S;
        for i in 0..3 {
            let s = g.step(tat, now, 1);
            assert!(s.allowed, "request {i}");
            assert_eq!(s.remaining, 2 - i);
            tat = Some(s.new_tat);
        }
        let s = g.step(tat, now, 1);
        assert!(!s.allowed);
        assert_eq!(s.retry_after, S / 10);
        assert_eq!(s.new_tat, tat.unwrap(), "a refusal stores nothing");
        // Exactly one interval later one more cell is free, not a nanosecond earlier.
        assert!(!g.step(tat, now + S / 10 - 1, 1).allowed);
        assert!(g.step(tat, now + S / 10, 1).allowed);
    }

    #[test]
    fn cost_and_capacity() {
        let g = Quota::per_second(10).validate().unwrap();
        let s = g.step(None, 0, 10);
        assert!(s.allowed);
        assert_eq!(s.remaining, 0);
        assert_eq!(s.reset, S);
        let s = g.step(None, 0, 11);
        assert!(!s.allowed && s.exceeds_burst);
    }

    #[test]
    fn no_drift_over_many_steps() {
        let g = Quota::per_second(3).validate().unwrap();
        let mut tat = None;
        let mut allowed = 0u64;
        // One request every nanosecond-exact interval for a simulated hour: all pass.
        let interval = g.interval_ns();
        for i in 0..10_800u64 {
            let s = g.step(tat, 1 + i * interval, 1);
            assert!(s.allowed, "step {i}");
            tat = Some(s.new_tat);
            allowed += 1;
        }
        assert_eq!(allowed, 10_800);
    }
}

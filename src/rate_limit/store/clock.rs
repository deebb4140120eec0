//! The clocks a store reads "now" from.

use std::{
    any::Any,
    fmt,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

/// A source of "now", in nanoseconds since an arbitrary origin, never going backwards.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Nanoseconds since this clock's origin.
    fn now(&self) -> u64;
}

/// The default clock: the CPU's time-stamp counter read through `quanta`, clamped so that
/// it never goes backwards.
///
/// - **Why the TSC**: reading it and scaling it to nanoseconds costs a few nanoseconds;
///   `std::time::Instant` (a vDSO `clock_gettime`) costs about 25 ns more, which was the
///   largest single cost of an allowed request (the README's performance section). Where
///   `quanta` finds no invariant TSC (or on other architectures) it reads the OS monotonic
///   clock instead.
/// - **Why the clamp**: a thread reads the counter of the core it runs on, and on some
///   machines the cores' counters are not synchronised, so a thread moved to another core
///   can see time step backwards (governor #299, quanta #111; governor then refused
///   requests that were within their burst). This clock remembers the latest time it
///   returned and never returns less: on a lagging core time stands still until that core's
///   counter catches up. A core whose counter runs *ahead* moves this clock forward once
///   by its lead (the quota refills that much early, once), never backwards again.
/// - The store's GCRA arithmetic saturates, so even a clock that did step back would only
///   make a decision stricter, never panic.
///
/// Each clone clamps on its own, starting from the time the original had reached.
#[derive(Debug)]
pub struct MonotonicClock {
    clock: quanta::Clock,
    origin: u64,
    /// The latest time returned, nanoseconds since `origin`.
    last: AtomicU64,
}

impl MonotonicClock {
    fn from_quanta(clock: quanta::Clock) -> Self {
        let origin = clock.raw();
        Self {
            clock,
            origin,
            last: AtomicU64::new(0),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::from_quanta(quanta::Clock::new())
    }
}

impl Clone for MonotonicClock {
    fn clone(&self) -> Self {
        Self {
            clock: self.clock.clone(),
            origin: self.origin,
            last: AtomicU64::new(self.last.load(Ordering::Relaxed)),
        }
    }
}

impl Clock for MonotonicClock {
    #[inline]
    fn now(&self) -> u64 {
        // Zero if the counter reads below the origin (a lagging core right after creation).
        let t = self.clock.delta_as_nanos(self.origin, self.clock.raw());
        let last = self.last.load(Ordering::Relaxed);
        if t <= last {
            return last;
        }
        // Another thread may have moved `last` past `t` meanwhile: return the larger.
        t.max(self.last.fetch_max(t, Ordering::Relaxed))
    }
}

/// A clock that follows tokio's time, so `tokio::time::pause()` and `advance()` drive it.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl Default for TokioClock {
    fn default() -> Self {
        Self {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }
}

/// A clock that moves only when told to: for tests and simulations.
///
/// Clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use tower_fortify::rate_limit::store::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let c2 = clock.clone();
/// clock.advance(Duration::from_millis(5));
/// assert_eq!(c2.now(), 5_000_000);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_nanos() as u64, Ordering::SeqCst);
    }

    /// Sets the clock to `nanos` (ignored if that would move it backwards).
    pub fn set(&self, nanos: u64) {
        self.0.fetch_max(nanos, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A store's clock: the default [`MonotonicClock`] held inline (read without an indirect
/// call, inlined into the store), any other clock behind a trait object.
#[derive(Debug, Clone)]
pub(crate) enum StoreClock {
    Monotonic(MonotonicClock),
    Dyn(Arc<dyn Clock>),
}

impl StoreClock {
    /// `clock`, inline if it is a [`MonotonicClock`].
    pub(crate) fn new<C: Clock>(clock: C) -> Self {
        let mut slot = Some(clock);
        if let Some(m) = (&mut slot as &mut dyn Any)
            .downcast_mut::<Option<MonotonicClock>>()
            .and_then(Option::take)
        {
            return Self::Monotonic(m);
        }
        match slot {
            Some(c) => Self::Dyn(Arc::new(c)),
            None => Self::default(),
        }
    }

    #[inline]
    pub(crate) fn now(&self) -> u64 {
        match self {
            Self::Monotonic(c) => c.now(),
            Self::Dyn(c) => c.now(),
        }
    }
}

impl Default for StoreClock {
    fn default() -> Self {
        Self::Monotonic(MonotonicClock::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `MonotonicClock` over a counter the test moves, starting at 1 s.
    fn mocked() -> (MonotonicClock, Arc<quanta::Mock>) {
        let (clock, mock) = quanta::Clock::mock();
        mock.increment(1_000_000_000u64);
        (MonotonicClock::from_quanta(clock), mock)
    }

    #[test]
    fn the_monotonic_clock_is_held_inline_and_others_behind_a_pointer() {
        assert!(matches!(
            StoreClock::new(MonotonicClock::default()),
            StoreClock::Monotonic(_)
        ));
        let manual = ManualClock::new();
        let clock = StoreClock::new(manual.clone());
        assert!(matches!(clock, StoreClock::Dyn(_)));
        manual.advance(Duration::from_nanos(42));
        assert_eq!(clock.now(), 42);
    }

    #[test]
    fn follows_the_counter() {
        let (clock, mock) = mocked();
        assert_eq!(clock.now(), 0);
        mock.increment(1_500u64);
        assert_eq!(clock.now(), 1_500);
        mock.increment(Duration::from_millis(2));
        assert_eq!(clock.now(), 2_001_500);
    }

    #[test]
    fn a_counter_stepping_back_stands_still_until_it_catches_up() {
        let (clock, mock) = mocked();
        mock.increment(10_000u64);
        assert_eq!(clock.now(), 10_000);
        // A thread moved to a core whose counter lags by 4 us.
        mock.decrement(4_000u64);
        assert_eq!(clock.now(), 10_000);
        mock.increment(3_000u64);
        assert_eq!(clock.now(), 10_000);
        mock.increment(1_001u64);
        assert_eq!(clock.now(), 10_001);
    }

    #[test]
    fn a_counter_below_the_origin_reads_zero_or_the_latest_time() {
        let (clock, mock) = mocked();
        mock.decrement(500u64);
        assert_eq!(clock.now(), 0);
        mock.increment(2_000u64);
        assert_eq!(clock.now(), 1_500);
        mock.decrement(2_000u64);
        assert_eq!(clock.now(), 1_500);
    }

    #[test]
    fn a_clone_starts_where_the_original_is_and_clamps_on_its_own() {
        let (clock, mock) = mocked();
        mock.increment(7_000u64);
        assert_eq!(clock.now(), 7_000);
        let copy = clock.clone();
        mock.decrement(5_000u64);
        assert_eq!(copy.now(), 7_000);
        mock.increment(9_000u64);
        assert_eq!(copy.now(), 11_000);
        assert_eq!(clock.now(), 11_000);
    }

    #[test]
    fn the_real_clock_never_goes_backwards_in_any_thread() {
        let clock = Arc::new(MonotonicClock::default());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let clock = clock.clone();
                std::thread::spawn(move || {
                    let mut prev = 0;
                    for _ in 0..100_000 {
                        let t = clock.now();
                        assert!(t >= prev, "{t} < {prev}");
                        prev = t;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
}

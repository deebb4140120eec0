//! Where GCRA state lives: the [`RateLimitStore`] trait, the in-memory [`MemoryStore`],
//! the shared `RedisStore` (feature `redis`), and the clocks that
//! drive them.
//!
//! ```
//! use std::time::Duration;
//! use tower_fortify::rate_limit::{
//!     store::{Cell, RateLimitStore},
//!     Key, ManualClock, MemoryStore, Quota,
//! };
//!
//! let store = MemoryStore::new().clock(ManualClock::new());
//! let cells = |cost| {
//!     [
//!         Cell {
//!             policy: 0,
//!             policy_name: "ip",
//!             key: Key::ip("192.0.2.1".parse().unwrap(), 64),
//!             gcra: Quota::per_second(10).validate().unwrap(),
//!             cost,
//!         },
//!         Cell {
//!             policy: 1,
//!             policy_name: "global",
//!             key: Key::Global,
//!             gcra: Quota::per_second(1).burst(3).validate().unwrap(),
//!             cost,
//!         },
//!     ]
//! };
//! // Both policies allow a request of cost 3; the next one is refused by "global" alone...
//! assert!(store.decide(&cells(3)).try_take().unwrap().unwrap().allowed());
//! let refused = store.decide(&cells(1)).try_take().unwrap().unwrap();
//! assert!(!refused.allowed() && refused.cells[0].allowed && !refused.cells[1].allowed);
//! assert_eq!(refused.cells[1].retry_after, Duration::from_secs(1));
//! // ...and took nothing from "ip": 7 of its 10 cells are left.
//! let peek = store.peek(&cells(1)).try_take().unwrap().unwrap();
//! assert_eq!(peek.cells[0].remaining, 7);
//! ```
//!
//! A store decides **all the policies of one request at once, all or nothing**: if any
//! policy refuses, no policy's quota is consumed. That is why this crate has its own store
//! rather than the `governor` crate's: governor's limiter holds one quota, decides one key
//! at a time, has no check without consuming, no cap on tracked keys, and a synchronous
//! state trait that cannot await Redis. The arithmetic is governor's ([`Gcra`]).

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use smallvec::SmallVec;

use super::{key::Key, quota::Gcra};

mod memory;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;

pub(crate) use memory::MAX_POLICIES;
pub use memory::{AtCapacity, MemoryStore, MemoryStoreStats};
#[cfg(feature = "redis")]
pub use redis::{RedisStore, RedisStoreBuilder};

/// A source of "now", in nanoseconds since an arbitrary origin, never going backwards.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Nanoseconds since this clock's origin.
    fn now(&self) -> u64;
}

/// The default clock: [`std::time::Instant`], which the standard library keeps monotonic.
///
/// (governor's default clock, `quanta`, has been seen going backwards across cores;
/// governor #299.)
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Clock for MonotonicClock {
    #[inline]
    fn now(&self) -> u64 {
        // u64 nanoseconds last 584 years.
        self.origin.elapsed().as_nanos() as u64
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
/// use tower_fortify::rate_limit::{Clock, ManualClock};
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

/// One policy's part of a request, as handed to a store.
#[derive(Debug)]
pub struct Cell<'a> {
    /// The index of the policy in its layer (stable for the layer's lifetime).
    pub policy: usize,
    /// The policy's name.
    pub policy_name: &'a str,
    /// The key the request counts against.
    pub key: Key<'a>,
    /// The quota that applies to this request (after tier resolution).
    pub gcra: Gcra,
    /// The number of cells this request costs.
    pub cost: u32,
}

/// One policy's verdict on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellOutcome {
    /// Whether this policy alone would allow the request.
    pub allowed: bool,
    /// Requests (of cost 1) still available under this policy after this decision.
    pub remaining: u64,
    /// Time until this policy's quota is fully available again.
    pub reset: Duration,
    /// Time until the request would be allowed by this policy (zero when allowed).
    pub retry_after: Duration,
    /// The request's cost exceeds the policy's burst: it can never be allowed.
    pub exceeds_burst: bool,
}

/// A store's verdict on a whole request: allowed only if every cell is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// One outcome per cell, in the order the cells were given.
    pub cells: SmallVec<[CellOutcome; 4]>,
    /// Set when the store decided in a degraded way (for example a Redis store deciding
    /// with its local fallback): the layer appends a
    /// [`SecurityEvent::BackendError`](crate::event::SecurityEvent::BackendError).
    pub degraded: Option<StoreError>,
}

impl Decision {
    /// Whether every policy allowed the request.
    #[inline]
    pub fn allowed(&self) -> bool {
        self.cells.iter().all(|c| c.allowed)
    }
}

/// A store could not decide (Redis down, timed out, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    component: &'static str,
    message: String,
}

impl StoreError {
    /// An error in `component` (e.g. `rate_limit.redis`).
    pub fn new(component: &'static str, message: impl Into<String>) -> Self {
        Self {
            component,
            message: message.into(),
        }
    }

    /// The failing component.
    pub fn component(&self) -> &'static str {
        self.component
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.component, self.message)
    }
}

impl std::error::Error for StoreError {}

/// What a store's decision resolves to.
pub type DecideResult = Result<Decision, StoreError>;

/// The future of a store decision: ready at once for in-memory stores (no allocation on
/// the hot path), boxed for stores that do I/O.
#[must_use = "futures do nothing unless polled"]
// The ready variant is large on purpose: boxing it would allocate on every request.
#[allow(clippy::large_enum_variant)]
pub enum DecideFuture {
    /// Decided synchronously.
    Ready(Option<DecideResult>),
    /// Decided asynchronously.
    Pending(Pin<Box<dyn Future<Output = DecideResult> + Send + 'static>>),
}

impl DecideFuture {
    /// A decision that is already made.
    pub fn ready(result: DecideResult) -> Self {
        Self::Ready(Some(result))
    }

    /// A decision still to be made by `fut`.
    pub fn pending<F>(fut: F) -> Self
    where
        F: Future<Output = DecideResult> + Send + 'static,
    {
        Self::Pending(Box::pin(fut))
    }

    /// The result, if decided synchronously.
    #[inline]
    pub fn try_take(&mut self) -> Option<DecideResult> {
        match self {
            Self::Ready(r) => r.take(),
            Self::Pending(_) => None,
        }
    }
}

impl fmt::Debug for DecideFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ready(_) => f.write_str("DecideFuture::Ready"),
            Self::Pending(_) => f.write_str("DecideFuture::Pending"),
        }
    }
}

impl Future for DecideFuture {
    type Output = DecideResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Self::Ready(r) => Poll::Ready(
                r.take()
                    .unwrap_or_else(|| Err(StoreError::new("rate_limit", "decision polled twice"))),
            ),
            Self::Pending(f) => f.as_mut().poll(cx),
        }
    }
}

/// GCRA state for the policies of one layer.
///
/// `decide` must be all-or-nothing: when any cell is refused, no cell's state changes.
/// A store belongs to one layer (cells carry the layer's policy index).
pub trait RateLimitStore: Send + Sync + fmt::Debug + 'static {
    /// Decides every cell of one request.
    fn decide(&self, cells: &[Cell<'_>]) -> DecideFuture;

    /// Reports the state of `cells` without consuming anything (for dashboards and
    /// "how much do I have left" endpoints). Cells are reported as if allowed.
    fn peek(&self, cells: &[Cell<'_>]) -> DecideFuture;
}

impl<T: RateLimitStore + ?Sized> RateLimitStore for Arc<T> {
    fn decide(&self, cells: &[Cell<'_>]) -> DecideFuture {
        (**self).decide(cells)
    }

    fn peek(&self, cells: &[Cell<'_>]) -> DecideFuture {
        (**self).peek(cells)
    }
}

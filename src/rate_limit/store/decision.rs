//! The contract between the layer and a store: the [`RateLimitStore`] trait, the
//! [`Cell`]s it decides and the [`Decision`] it returns.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use smallvec::SmallVec;

use crate::rate_limit::{
    key::Key,
    quota::{Gcra, Step},
};

/// The most policies one layer (and so one store) may hold.
pub(crate) const MAX_POLICIES: usize = 16;

/// One policy's part of a request, as handed to a store.
#[derive(Debug, Clone)]
#[non_exhaustive]
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

impl<'a> Cell<'a> {
    /// A request's cell of policy number `policy` (its index in the layer), named
    /// `policy_name`, counting `cost` against `key` under `gcra`.
    pub fn new(policy: usize, policy_name: &'a str, key: Key<'a>, gcra: Gcra, cost: u32) -> Self {
        Self {
            policy,
            policy_name,
            key,
            gcra,
            cost,
        }
    }
}

/// One policy's verdict on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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

impl From<&Step> for CellOutcome {
    /// The outcome of one [`Gcra::step`].
    #[inline]
    fn from(step: &Step) -> Self {
        Self {
            allowed: step.allowed,
            remaining: step.remaining,
            reset: Duration::from_nanos(step.reset),
            retry_after: Duration::from_nanos(step.retry_after),
            exceeds_burst: step.exceeds_burst,
        }
    }
}

impl CellOutcome {
    /// The same outcome, marked allowed (for a cell reported but not decided).
    pub fn mark_allowed(self) -> Self {
        Self {
            allowed: true,
            ..self
        }
    }
}

/// A store's verdict on a whole request: allowed only if every cell is.
///
/// ```
/// use tower_fortify::rate_limit::{store::{CellOutcome, Decision, StoreError}, Quota};
///
/// let gcra = Quota::per_second(1).validate().unwrap();
/// let first = CellOutcome::from(&gcra.step(None, 0, 1));
/// let second = CellOutcome::from(&gcra.step(Some(first.reset.as_nanos() as u64), 0, 1));
/// let decision: Decision = [first, second].into_iter().collect();
/// assert!(!decision.allowed() && decision.cells()[0].allowed);
/// let decision = decision.degraded_by(StoreError::new("my_store", "decided locally"));
/// assert_eq!(decision.degraded().unwrap().component(), "my_store");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    cells: SmallVec<[CellOutcome; 4]>,
    degraded: Option<StoreError>,
}

impl Decision {
    /// An empty decision; add one outcome per cell with [`push`](Self::push).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the outcome of the next cell.
    #[inline]
    pub fn push(&mut self, outcome: CellOutcome) {
        self.cells.push(outcome);
    }

    /// Marks the decision as made in a degraded way (for example a Redis store deciding
    /// with its local fallback): the layer appends a
    /// [`SecurityEvent::BackendError`](crate::event::SecurityEvent::BackendError).
    pub fn degraded_by(mut self, error: StoreError) -> Self {
        self.degraded = Some(error);
        self
    }

    /// One outcome per cell, in the order the cells were given.
    #[inline]
    pub fn cells(&self) -> &[CellOutcome] {
        &self.cells
    }

    /// Mutable outcomes, in the order the cells were given.
    #[inline]
    pub fn cells_mut(&mut self) -> &mut [CellOutcome] {
        &mut self.cells
    }

    /// Why the decision was degraded, if it was.
    #[inline]
    pub fn degraded(&self) -> Option<&StoreError> {
        self.degraded.as_ref()
    }

    /// Whether every policy allowed the request.
    #[inline]
    pub fn allowed(&self) -> bool {
        self.cells.iter().all(|c| c.allowed)
    }
}

impl FromIterator<CellOutcome> for Decision {
    fn from_iter<I: IntoIterator<Item = CellOutcome>>(iter: I) -> Self {
        Self {
            cells: iter.into_iter().collect(),
            degraded: None,
        }
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

    /// Decides one cell at once, when the store can without waiting; `None` (the
    /// default) when it cannot, and then the layer calls [`decide`](Self::decide).
    ///
    /// The layer's fast path for single-policy layers: it spares building a
    /// [`Decision`]. `Some` must mean exactly what `decide` with that one cell would
    /// have decided (and consumed), with no degraded marker.
    #[inline]
    fn decide_one(&self, cell: &Cell<'_>) -> Option<Result<CellOutcome, StoreError>> {
        let _ = cell;
        None
    }

    /// The longest quota window (burst x interval) this store can hold, if it has a limit
    /// (`None`, the default, for none). The layer's `build()` refuses a policy with a
    /// longer window, so the limit is a configuration error, not a failure of every request.
    fn max_window(&self) -> Option<Duration> {
        None
    }
}

impl<T: RateLimitStore + ?Sized> RateLimitStore for Arc<T> {
    fn decide(&self, cells: &[Cell<'_>]) -> DecideFuture {
        (**self).decide(cells)
    }

    fn peek(&self, cells: &[Cell<'_>]) -> DecideFuture {
        (**self).peek(cells)
    }

    #[inline]
    fn decide_one(&self, cell: &Cell<'_>) -> Option<Result<CellOutcome, StoreError>> {
        (**self).decide_one(cell)
    }

    fn max_window(&self) -> Option<Duration> {
        (**self).max_window()
    }
}

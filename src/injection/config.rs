//! The layer's policies ([`Mode`], [`OversizedBody`], [`UnknownEncoding`]), the limits
//! that bound buffering as a whole ([`DEFAULT_TOTAL_BUFFER_LIMIT`], [`DEFAULT_BODY_TIMEOUT`])
//! and the state every clone of the layer, its services and their futures share.
//!
//! The builder lives in `layer.rs`; this file is the bottom of the module's imports
//! (`layer -> service -> future -> config`), so the futures can read the settings without
//! importing the layer.

use std::{
    fmt,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use crate::rejection::Responder;

use super::{inspect::Detector, rejection::InjectionRejection};

/// What the layer does with a flagged request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// Answer 403 (gRPC: `grpc-status: 7`) without calling the inner service.
    #[default]
    Block,
    /// Call the inner service anyway and only report the findings as events.
    Monitor,
}

/// What the layer does with a body larger than the configured limit, and with a body
/// that does not fit in what is left of the layer's
/// [total buffer limit](super::InjectionLayerBuilder::total_buffer_limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OversizedBody {
    /// Inspect what was read (the first `limit` bytes; under memory pressure, what fit),
    /// then pass the whole body on unchanged, with a
    /// [`Category::Protocol`](crate::event::Category::Protocol) event when the total
    /// limit cut the read short.
    #[default]
    InspectPrefix,
    /// Answer 413 Content Too Large (over the body limit) or 503 Service Unavailable
    /// (over the total buffer limit).
    Reject,
}

/// What the layer does with a `Content-Encoding` it cannot decode (anything but `gzip`,
/// `x-gzip`, `deflate`, `br` and `identity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UnknownEncoding {
    /// Answer 415 Unsupported Media Type (the default: a body the layer cannot read is
    /// a body it cannot guard).
    #[default]
    Reject,
    /// Pass the body on uninspected and report a
    /// [`Category::Protocol`](crate::event::Category::Protocol) event. Choose this only
    /// where the application cannot decode the encoding either.
    PassUninspected,
}

/// Default bound on the bytes held by all the body reads of one layer (and its clones)
/// at once: 64 MiB, a thousand bodies at the default body limit.
pub const DEFAULT_TOTAL_BUFFER_LIMIT: usize = 64 << 20;

/// Default bound on the time to read a body up to the inspection limit: 30 seconds.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The bytes left to buffer across every in-flight inspection of a layer.
#[derive(Debug)]
pub(crate) struct BufferBudget {
    available: AtomicUsize,
}

impl BufferBudget {
    pub(crate) fn new(total: usize) -> Arc<Self> {
        Arc::new(Self {
            available: AtomicUsize::new(total),
        })
    }

    /// The bytes not held by any inspection right now.
    #[cfg(test)]
    pub(crate) fn available(&self) -> usize {
        self.available.load(Ordering::Acquire)
    }
}

/// Bytes held from a [`BufferBudget`], given back when dropped.
#[derive(Debug)]
pub(crate) struct Reservation {
    budget: Arc<BufferBudget>,
    held: usize,
}

impl Reservation {
    pub(crate) fn new(budget: Arc<BufferBudget>) -> Self {
        Self { budget, held: 0 }
    }

    /// Holds `n` more bytes, or returns `false` (holding nothing more) when the budget
    /// has fewer left.
    pub(crate) fn grow(&mut self, n: usize) -> bool {
        let taken = self
            .budget
            .available
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |a| a.checked_sub(n));
        if taken.is_ok() {
            self.held += n;
        }
        taken.is_ok()
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.available.fetch_add(self.held, Ordering::AcqRel);
    }
}

/// The state every clone of the layer and its services shares.
pub(crate) struct Shared {
    pub(crate) detector: Detector,
    pub(crate) mode: Mode,
    pub(crate) oversized: OversizedBody,
    pub(crate) unknown_encoding: UnknownEncoding,
    /// Path prefixes whose gRPC calls are not buffered (protobuf bodies).
    pub(crate) grpc_routes: Vec<String>,
    pub(crate) budget: Arc<BufferBudget>,
    pub(crate) body_timeout: Duration,
    pub(crate) responder: Arc<dyn Responder<InjectionRejection>>,
}

impl Shared {
    /// Whether `path` is a route the user declared gRPC.
    pub(crate) fn is_grpc_route(&self, path: &str) -> bool {
        self.grpc_routes
            .iter()
            .any(|p| path.starts_with(p.as_str()))
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("detector", &self.detector)
            .field("mode", &self.mode)
            .field("oversized", &self.oversized)
            .field("unknown_encoding", &self.unknown_encoding)
            .field("grpc_routes", &self.grpc_routes)
            .field("budget", &self.budget)
            .field("body_timeout", &self.body_timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_hold_and_give_back() {
        let budget = BufferBudget::new(10);
        let mut a = Reservation::new(budget.clone());
        assert!(a.grow(6));
        let mut b = Reservation::new(budget.clone());
        assert!(!b.grow(5));
        assert!(b.grow(4));
        assert_eq!(budget.available(), 0);
        drop(a);
        assert_eq!(budget.available(), 6);
        drop(b);
        assert_eq!(budget.available(), 10);
    }
}

//! Where GCRA state lives: the [`RateLimitStore`] trait, the in-memory [`MemoryStore`],
//! the shared `RedisStore` (feature `redis`), and the clocks that drive them.
//!
//! ```
//! use std::time::Duration;
//! use tower_fortify::rate_limit::{
//!     store::{Cell, ManualClock, MemoryStore, RateLimitStore},
//!     Key, Quota,
//! };
//!
//! let store = MemoryStore::new().clock(ManualClock::new());
//! let cells = |cost| {
//!     [
//!         Cell::new(0, "ip", Key::ip("192.0.2.1".parse().unwrap(), 64), Quota::per_second(10).validate().unwrap(), cost),
//!         Cell::new(1, "global", Key::Global, Quota::per_second(1).burst(3).validate().unwrap(), cost),
//!     ]
//! };
//! // Both policies allow a request of cost 3; the next one is refused by "global" alone...
//! assert!(store.decide(&cells(3)).try_take().unwrap().unwrap().allowed());
//! let refused = store.decide(&cells(1)).try_take().unwrap().unwrap();
//! assert!(!refused.allowed() && refused.cells()[0].allowed && !refused.cells()[1].allowed);
//! assert_eq!(refused.cells()[1].retry_after, Duration::from_secs(1));
//! // ...and took nothing from "ip": 7 of its 10 cells are left.
//! let peek = store.peek(&cells(1)).try_take().unwrap().unwrap();
//! assert_eq!(peek.cells()[0].remaining, 7);
//! ```
//!
//! A store decides **all the policies of one request at once, all or nothing**: if any
//! policy refuses, no policy's quota is consumed. That is why this crate has its own store
//! rather than the `governor` crate's: governor's limiter holds one quota, decides one key
//! at a time, has no check without consuming, no cap on tracked keys, and a synchronous
//! state trait that cannot await Redis. The arithmetic is governor's ([`Gcra`]).
//!
//! [`Gcra`]: super::Gcra

mod clock;
mod decision;
mod layer_store;
mod memory;
#[cfg(feature = "redis")]
mod redis;

pub use clock::{Clock, ManualClock, MonotonicClock, TokioClock};
pub(crate) use decision::MAX_POLICIES;
pub use decision::{
    Cell, CellOutcome, DecideFuture, DecideResult, Decision, RateLimitStore, StoreError,
};
pub(crate) use layer_store::LayerStore;
pub use memory::{AtCapacity, MemoryStore, MemoryStoreStats};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::{RedisStore, RedisStoreBuilder, RedisStoreStats};

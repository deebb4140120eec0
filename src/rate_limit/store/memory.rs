//! The in-memory GCRA store.
//!
//! Why this file is long (about 600 lines of non-test code): the sharded table, its lossless
//! sweep of idle keys and the bounded eviction at the key cap share one slot layout and one
//! shard lock discipline; splitting them would spread those invariants over files that must
//! change together.

use std::{
    fmt,
    hash::BuildHasher,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, OnceLock, RwLock,
    },
    time::Duration,
};

use foldhash::fast::RandomState;
use hashbrown::{hash_table::Entry, HashTable};
use smallvec::SmallVec;

use super::{
    clock::{Clock, StoreClock},
    decision::{
        Cell, CellOutcome, DecideFuture, Decision, RateLimitStore, StoreError, MAX_POLICIES,
    },
};
use crate::{
    rate_limit::quota::{Gcra, Step},
    ConfigError,
};
const SHARDS: usize = 64;
/// The identity of the shared bucket used for new keys once the store is full.
const OVERFLOW_ID: (u64, u64) = (u64::MAX, u64::MAX - 1);

/// A cell consumed during a decision: (cell index, identity written, weight), for rollback.
type Taken = (usize, (u64, u64), u64);

/// One tracked key: its identity and its theoretical arrival time.
struct Slot {
    id: (u64, u64),
    tat: AtomicU64,
}

/// A shard: a hash table addressed by a hash computed once per lookup.
type Map = HashTable<Slot>;

/// Buckets of one shard examined to make room for a new key at the cap.
const EVICT_SCAN: usize = 32;
/// Shards examined at most (the new key's own, then others) to make room for a new key.
const EVICT_SHARDS: usize = 4;

/// What the store does with a request whose key is new when it already tracks
/// [`max_keys`](MemoryStore::max_keys) keys.
///
/// Every mode first forgets the keys whose quota has fully returned among a bounded sample
/// (see [`MemoryStore`], "Cap"): forgetting them loses nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AtCapacity {
    /// Make room for the new key: among the sampled keys, forget one whose quota has fully
    /// returned or else the one with the least remaining penalty (the earliest theoretical
    /// arrival time). A throttled key is forgotten only when every sampled key is at least
    /// as throttled, so rotating through fresh keys cannot reset it. Each such forced
    /// eviction is counted in [`MemoryStoreStats::evicted_early`]. When the sample holds no
    /// key at all, the request is counted as with [`SharedOverflow`](Self::SharedOverflow).
    /// The default.
    #[default]
    Evict,
    /// Count every new key against one shared bucket per policy with that policy's quota,
    /// until idle keys make room: memory stays bounded and newcomers are still limited
    /// (together), but whoever fills the table makes every newcomer share one quota.
    SharedOverflow,
    /// Allow requests with new keys without tracking them (fail open).
    Allow,
    /// Refuse requests with new keys (fail closed): they get 429 with `Retry-After` of one
    /// emission interval.
    Reject,
}

/// Counters describing a [`MemoryStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MemoryStoreStats {
    /// Keys currently tracked, over all policies.
    pub keys: usize,
    /// Keys evicted because they were idle (their quota had fully returned).
    pub evicted: u64,
    /// Keys evicted at the cap before their quota had fully returned, to make room for a
    /// new key ([`AtCapacity::Evict`]). A rising count means the cap is too small for the
    /// traffic, or someone is rotating keys; export it next to your metrics.
    pub evicted_early: u64,
    /// Requests whose new key met a full store.
    pub at_capacity: u64,
}

/// GCRA state in memory: one `AtomicU64` theoretical arrival time per key, updated by
/// compare-and-swap, in a sharded hash map per policy.
///
/// - **Memory**: one tracked key costs a 24-byte map slot (16-byte key identity, 8-byte
///   TAT) plus hash-table overhead, whatever the key's text length: text keys are stored
///   as a keyed 128-bit hash. The `rate_limit_memory` bench measures 52 bytes per key
///   over a million keys (governor's keyed state: 69), see the README's performance table.
/// - **Eviction**: a key whose quota has fully returned (TAT in the past) is equivalent to
///   an absent key, so removing it loses nothing. The store sweeps one of its 64 shards per
///   policy at a time, on the request path, so a full pass takes
///   [`sweep_interval`](MemoryStore::sweep_interval) (default 10 s) and no pause is longer
///   than one shard's sweep. No background task, nothing for the user to call.
/// - **Cap**: at most [`max_keys`](MemoryStore::max_keys) keys (default 1,000,000, about
///   52 MB). A new key meeting the cap does **bounded work**: it samples 32 buckets of
///   its own shard (from a position derived from its keyed hash, so an attacker cannot
///   aim) and 32 of each of at most 3 other shards whose lock is free at once (it never
///   waits on a second lock), and forgets the idle keys of the first sample that has any.
///   If none is idle it follows [`AtCapacity`]: by default a second pass over the same
///   samples evicts the key with the least remaining penalty. At most 256 buckets are
///   examined per new key; no request sweeps a whole shard at the cap.
/// - **All or nothing**: a request's cells are consumed in order; if one refuses, the ones
///   already consumed are given back before the decision returns. A concurrent request may
///   briefly see that reservation, which can only make it stricter, never looser.
///
/// Clones share state.
///
/// ```
/// use std::time::Duration;
/// use tower_fortify::rate_limit::store::{ManualClock, MemoryStore};
///
/// let store = MemoryStore::new()
///     .clock(ManualClock::new())
///     .max_keys(10_000)
///     .unwrap();
/// assert_eq!(store.stats().keys, 0);
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    clock: StoreClock,
    policies: [OnceLock<Box<[RwLock<Map>]>>; MAX_POLICIES],
    hasher: RandomState,
    max_keys: usize,
    at_capacity: AtCapacity,
    sweep_interval: Duration,
    keys: AtomicUsize,
    evicted: AtomicU64,
    evicted_early: AtomicU64,
    capacity_hits: AtomicU64,
    next_sweep: AtomicU64,
    sweep_cursor: AtomicUsize,
    warned: AtomicBool,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("clock", &self.inner.clock)
            .field("max_keys", &self.inner.max_keys)
            .field("at_capacity", &self.inner.at_capacity)
            .field("sweep_interval", &self.inner.sweep_interval)
            .field("stats", &self.stats())
            .finish()
    }
}

impl MemoryStore {
    /// A store with the monotonic clock, a cap of 1,000,000 keys and a 10 s sweep.
    pub fn new() -> Self {
        Self::from_inner(Inner::fresh(
            StoreClock::default(),
            1_000_000,
            AtCapacity::default(),
            Duration::from_secs(10),
        ))
    }

    fn from_inner(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    fn rebuild(self, f: impl FnOnce(&mut Inner)) -> Self {
        // Configuration happens before use; a store already shared is copied, not mutated.
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| {
            Inner::fresh(
                shared.clock.clone(),
                shared.max_keys,
                shared.at_capacity,
                shared.sweep_interval,
            )
        });
        f(&mut inner);
        Self::from_inner(inner)
    }

    /// Uses `clock` for "now" (a [`ManualClock`](super::ManualClock) in tests, a
    /// [`TokioClock`](super::TokioClock) under tokio's paused time).
    pub fn clock(self, clock: impl Clock) -> Self {
        self.rebuild(|i| i.clock = StoreClock::new(clock))
    }

    /// Caps the number of tracked keys over all policies (default 1,000,000).
    pub fn max_keys(self, max_keys: usize) -> Result<Self, ConfigError> {
        if max_keys == 0 {
            return Err(ConfigError::new(
                "rate_limit.memory_store.max_keys",
                "the key cap must be at least 1",
            ));
        }
        Ok(self.rebuild(|i| i.max_keys = max_keys))
    }

    /// What happens to new keys at the cap (default [`AtCapacity::SharedOverflow`]).
    pub fn at_capacity(self, at_capacity: AtCapacity) -> Self {
        self.rebuild(|i| i.at_capacity = at_capacity)
    }

    /// How long a full eviction pass over every shard takes (default 10 s).
    pub fn sweep_interval(self, interval: Duration) -> Result<Self, ConfigError> {
        if interval.is_zero() {
            return Err(ConfigError::new(
                "rate_limit.memory_store.sweep_interval",
                "must be longer than zero",
            ));
        }
        Ok(self.rebuild(|i| i.sweep_interval = interval))
    }

    /// Counters: tracked keys, evictions (idle and early), capacity hits.
    pub fn stats(&self) -> MemoryStoreStats {
        MemoryStoreStats {
            keys: self.inner.keys.load(Ordering::Relaxed),
            evicted: self.inner.evicted.load(Ordering::Relaxed),
            evicted_early: self.inner.evicted_early.load(Ordering::Relaxed),
            at_capacity: self.inner.capacity_hits.load(Ordering::Relaxed),
        }
    }

    /// Evicts every idle key now (the store also does this by itself, one shard at a time).
    /// Returns how many keys were removed.
    pub fn sweep_all(&self) -> usize {
        let now = self.inner.clock.now();
        let mut removed = 0;
        for shards in self.inner.policies.iter().filter_map(OnceLock::get) {
            for shard in shards.iter() {
                removed += self.inner.sweep_shard(shard, now);
            }
        }
        removed
    }
}

impl Inner {
    /// Empty state with the given settings.
    fn fresh(
        clock: StoreClock,
        max_keys: usize,
        at_capacity: AtCapacity,
        sweep_interval: Duration,
    ) -> Self {
        Inner {
            clock,
            policies: Default::default(),
            hasher: RandomState::default(),
            max_keys,
            at_capacity,
            sweep_interval,
            keys: AtomicUsize::new(0),
            evicted: AtomicU64::new(0),
            evicted_early: AtomicU64::new(0),
            capacity_hits: AtomicU64::new(0),
            next_sweep: AtomicU64::new(0),
            sweep_cursor: AtomicUsize::new(0),
            warned: AtomicBool::new(false),
        }
    }

    fn shards(&self, policy: usize) -> Result<&[RwLock<Map>], StoreError> {
        let slot = self.policies.get(policy).ok_or_else(|| {
            StoreError::new(
                "rate_limit.memory",
                format!("policy index {policy} is past the limit of {MAX_POLICIES}"),
            )
        })?;
        Ok(slot.get_or_init(|| (0..SHARDS).map(|_| RwLock::new(Map::new())).collect()))
    }

    /// The key's hash (computed once) and its shard.
    fn shard<'s>(&self, shards: &'s [RwLock<Map>], id: (u64, u64)) -> (u64, &'s RwLock<Map>) {
        let h = self.hasher.hash_one(id);
        (h, &shards[(h >> 58) as usize % SHARDS])
    }

    fn sweep_shard(&self, shard: &RwLock<Map>, now: u64) -> usize {
        let mut map = shard.write().unwrap_or_else(|p| p.into_inner());
        sweep_locked(self, &mut map, now)
    }

    fn maybe_sweep(&self, now: u64) {
        let next = self.next_sweep.load(Ordering::Relaxed);
        if now < next {
            return;
        }
        let active: SmallVec<[&[RwLock<Map>]; MAX_POLICIES]> = self
            .policies
            .iter()
            .filter_map(|p| p.get().map(|b| &**b))
            .collect();
        let total = active.len() * SHARDS;
        if total == 0 {
            return;
        }
        let step = (self.sweep_interval.as_nanos() as u64 / total as u64).max(1);
        if self
            .next_sweep
            .compare_exchange(
                next,
                now.saturating_add(step),
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return; // another request is sweeping
        }
        let i = self.sweep_cursor.fetch_add(1, Ordering::Relaxed) % total;
        self.sweep_shard(&active[i / SHARDS][i % SHARDS], now);
    }

    /// Consumes `cost` cells of `id` if allowed. Returns the step and the identity whose
    /// state was written (the overflow bucket's at the cap), if any.
    fn consume(
        &self,
        shards: &[RwLock<Map>],
        id: (u64, u64),
        g: &Gcra,
        cost: u32,
        now: u64,
    ) -> (Step, Option<(u64, u64)>) {
        let (hash, shard) = self.shard(shards, id);
        {
            let map = shard.read().unwrap_or_else(|p| p.into_inner());
            if let Some(slot) = map.find(hash, |s| s.id == id) {
                return with_id(cas(&slot.tat, g, cost, now), id);
            }
        }
        let step = g.step(None, now, cost);
        if !step.allowed {
            return (step, None);
        }
        let mut map = shard.write().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = map.find(hash, |s| s.id == id) {
            return with_id(cas(&slot.tat, g, cost, now), id);
        }
        if self.keys.load(Ordering::Relaxed) >= self.max_keys && id != OVERFLOW_ID {
            self.make_room(shards, &mut map, hash, now);
        }
        if self.keys.load(Ordering::Relaxed) >= self.max_keys && id != OVERFLOW_ID {
            self.capacity_hits.fetch_add(1, Ordering::Relaxed);
            if !self.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    max_keys = self.max_keys,
                    behaviour = ?self.at_capacity,
                    "rate limit store is at its key cap; new keys are handled by the at-capacity rule"
                );
            }
            return match self.at_capacity {
                AtCapacity::Allow => (step, None),
                AtCapacity::Reject => (
                    Step {
                        allowed: false,
                        retry_after: g.interval_ns(),
                        ..step
                    },
                    None,
                ),
                AtCapacity::SharedOverflow | AtCapacity::Evict => {
                    drop(map);
                    self.consume(shards, OVERFLOW_ID, g, cost, now)
                }
            };
        }
        let hasher = &self.hasher;
        match map.entry(hash, |s| s.id == id, |s| hasher.hash_one(s.id)) {
            Entry::Occupied(e) => with_id(cas(&e.get().tat, g, cost, now), id),
            Entry::Vacant(v) => {
                v.insert(Slot {
                    id,
                    tat: AtomicU64::new(step.new_tat),
                });
                self.keys.fetch_add(1, Ordering::Relaxed);
                (step, Some(id))
            }
        }
    }

    /// At the cap, before inserting the key hashed `hash` into `own` (locked): bounded
    /// eviction, as the [`MemoryStore`] docs describe. Returns whether room was made.
    #[cold]
    fn make_room(&self, shards: &[RwLock<Map>], own: &mut Map, hash: u64, now: u64) -> bool {
        // A start derived from the new key's keyed hash, away from its own home bucket.
        let start = hash.rotate_left(29) as usize;
        let own_index = (hash >> 58) as usize % SHARDS;
        let others = || {
            self.policies
                .iter()
                .filter_map(OnceLock::get)
                .flat_map(move |p| (1..SHARDS).map(move |j| &p[(own_index + j * 7) % SHARDS]))
                .filter(|s| !std::ptr::eq(*s, &shards[own_index]))
                .take(EVICT_SHARDS - 1)
        };
        // Never wait for a second lock while holding one: a busy shard is skipped.
        let mut pass = |least: bool| {
            if self.evict_in(own, start, now, least) == Some(true) {
                return true;
            }
            others().any(|shard| {
                shard
                    .try_write()
                    .is_ok_and(|mut map| self.evict_in(&mut map, start, now, least) == Some(true))
            })
        };
        // Idle keys anywhere in the sample first; then the least remaining penalty.
        pass(false) || (self.at_capacity == AtCapacity::Evict && pass(true))
    }

    /// Looks at up to [`EVICT_SCAN`] buckets of `map` from `start`: forgets every key whose
    /// quota has fully returned, else (with `evict`) the one with the least remaining
    /// penalty. `None` when the window holds no key at all (look elsewhere).
    fn evict_in(&self, map: &mut Map, start: usize, now: u64, evict: bool) -> Option<bool> {
        let buckets = map.num_buckets();
        if map.is_empty() || buckets == 0 {
            return None;
        }
        let mut seen = false;
        let mut idle = 0usize;
        let mut least: Option<(usize, u64)> = None;
        for k in 0..EVICT_SCAN.min(buckets) {
            let i = start.wrapping_add(k) & (buckets - 1);
            let Ok(entry) = map.get_bucket_entry(i) else {
                continue;
            };
            seen = true;
            let (id, tat) = (entry.get().id, entry.get().tat.load(Ordering::Relaxed));
            if tat <= now {
                entry.remove();
                idle += 1;
            } else if id != OVERFLOW_ID && least.is_none_or(|(_, t)| tat < t) {
                least = Some((i, tat));
            }
        }
        if idle > 0 {
            self.keys.fetch_sub(idle, Ordering::Relaxed);
            self.evicted.fetch_add(idle as u64, Ordering::Relaxed);
            return Some(true);
        }
        if !seen {
            return None;
        }
        if let (true, Some((i, _))) = (evict, least) {
            if let Ok(entry) = map.get_bucket_entry(i) {
                entry.remove();
                self.keys.fetch_sub(1, Ordering::Relaxed);
                self.evicted_early.fetch_add(1, Ordering::Relaxed);
                return Some(true);
            }
        }
        Some(false)
    }

    fn read(&self, shards: &[RwLock<Map>], id: (u64, u64)) -> Option<u64> {
        let (hash, shard) = self.shard(shards, id);
        let map = shard.read().unwrap_or_else(|p| p.into_inner());
        map.find(hash, |s| s.id == id)
            .map(|s| s.tat.load(Ordering::Acquire))
    }

    fn give_back(&self, shards: &[RwLock<Map>], id: (u64, u64), weight: u64) {
        let (hash, shard) = self.shard(shards, id);
        let map = shard.read().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = map.find(hash, |s| s.id == id) {
            let _ = slot
                .tat
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                    Some(t.saturating_sub(weight))
                });
        }
    }

    /// [`decide`](Self::decide) of one cell, consuming: nothing to roll back, no
    /// [`Decision`] to build.
    #[inline]
    fn decide_one(&self, cell: &Cell<'_>) -> Result<CellOutcome, StoreError> {
        let now = self.clock.now();
        self.maybe_sweep(now);
        let shards = self.shards(cell.policy)?;
        let (step, _) = self.consume(shards, cell.key.identity(), &cell.gcra, cell.cost, now);
        Ok(outcome(&step))
    }

    fn decide(&self, cells: &[Cell<'_>], consume: bool) -> Result<Decision, StoreError> {
        let now = self.clock.now();
        if consume {
            self.maybe_sweep(now);
        }
        let mut out = Decision::default();
        // (cell index, identity, weight) of cells consumed so far, for rollback.
        let mut taken: SmallVec<[Taken; 4]> = SmallVec::new();
        let mut refused = false;
        for (i, cell) in cells.iter().enumerate() {
            let shards = self.shards(cell.policy)?;
            let id = cell.key.identity();
            let step = if consume && !refused {
                let (step, written) = self.consume(shards, id, &cell.gcra, cell.cost, now);
                if let Some(written) = written {
                    let weight = cell.gcra.interval_ns().saturating_mul(u64::from(cell.cost));
                    taken.push((i, written, weight));
                }
                refused |= !step.allowed;
                step
            } else {
                // Not consumed: whether it would be allowed, and what is left as things are.
                let tat = self.read(shards, id);
                let as_is = cell.gcra.step(tat, now, 0);
                Step {
                    remaining: as_is.remaining,
                    reset: as_is.reset,
                    ..cell.gcra.step(tat, now, cell.cost)
                }
            };
            out.push(outcome(&step));
        }
        if refused {
            for (i, id, weight) in taken {
                let cell = &cells[i];
                let shards = self.shards(cell.policy)?;
                self.give_back(shards, id, weight);
                // Report the state as it is after giving back.
                let peek = cell.gcra.step(self.read(shards, id), now, 0);
                out.cells_mut()[i] = outcome(&peek).mark_allowed();
            }
        }
        Ok(out)
    }
}

fn sweep_locked(inner: &Inner, map: &mut Map, now: u64) -> usize {
    let before = map.len();
    map.retain(|slot| *slot.tat.get_mut() > now);
    let removed = before - map.len();
    if removed > 0 {
        inner.keys.fetch_sub(removed, Ordering::Relaxed);
        inner.evicted.fetch_add(removed as u64, Ordering::Relaxed);
    }
    removed
}

fn cas(tat: &AtomicU64, g: &Gcra, cost: u32, now: u64) -> (Step, bool) {
    let mut cur = tat.load(Ordering::Acquire);
    loop {
        let step = g.step(Some(cur), now, cost);
        if !step.allowed {
            return (step, false);
        }
        match tat.compare_exchange_weak(cur, step.new_tat, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return (step, true),
            Err(actual) => cur = actual,
        }
    }
}

fn with_id((step, wrote): (Step, bool), id: (u64, u64)) -> (Step, Option<(u64, u64)>) {
    (step, wrote.then_some(id))
}

fn outcome(step: &Step) -> CellOutcome {
    CellOutcome::from(step)
}

impl RateLimitStore for MemoryStore {
    fn decide(&self, cells: &[Cell<'_>]) -> DecideFuture {
        DecideFuture::ready(self.inner.decide(cells, true))
    }

    fn peek(&self, cells: &[Cell<'_>]) -> DecideFuture {
        DecideFuture::ready(self.inner.decide(cells, false))
    }

    #[inline]
    fn decide_one(&self, cell: &Cell<'_>) -> Option<Result<CellOutcome, StoreError>> {
        Some(self.inner.decide_one(cell))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::{store::ManualClock, Key, Quota};

    fn cell(policy: usize, key: Key<'static>, q: Quota) -> Cell<'static> {
        Cell::new(policy, "p", key, q.validate().unwrap(), 1)
    }

    fn decide(store: &MemoryStore, cells: &[Cell<'_>]) -> Decision {
        store.decide(cells).try_take().unwrap().unwrap()
    }

    #[test]
    fn partial_rejection_consumes_nothing() {
        let clock = ManualClock::new();
        let store = MemoryStore::new().clock(clock.clone());
        let roomy = || cell(0, Key::Global, Quota::per_second(100));
        let tight = || cell(1, Key::Public("k".into()), Quota::per_second(1));
        assert!(decide(&store, &[roomy(), tight()]).allowed());
        for _ in 0..5 {
            let d = decide(&store, &[roomy(), tight()]);
            assert!(!d.allowed());
            assert!(d.cells()[0].allowed && !d.cells()[1].allowed);
        }
        // The roomy policy was charged once only: 99 left.
        let d = store.peek(&[roomy()]).try_take().unwrap().unwrap();
        assert_eq!(d.cells()[0].remaining, 99);
    }

    #[test]
    fn idle_keys_are_evicted_losslessly() {
        let clock = ManualClock::new();
        let store = MemoryStore::new().clock(clock.clone());
        for i in 0..1000u32 {
            let c = cell(0, Key::Public(i.to_string().into()), Quota::per_second(10));
            assert!(decide(&store, &[c]).allowed());
        }
        assert_eq!(store.stats().keys, 1000);
        assert_eq!(store.sweep_all(), 0, "nothing is idle yet");
        clock.advance(Duration::from_millis(100));
        assert_eq!(store.sweep_all(), 1000);
        assert_eq!(store.stats().keys, 0);
    }

    #[test]
    fn automatic_sweeping_runs_on_the_request_path() {
        let clock = ManualClock::new();
        let store = MemoryStore::new()
            .clock(clock.clone())
            .sweep_interval(Duration::from_secs(1))
            .unwrap();
        for i in 0..5000u32 {
            decide(
                &store,
                &[cell(
                    0,
                    Key::Public(i.to_string().into()),
                    Quota::per_second(10),
                )],
            );
        }
        clock.advance(Duration::from_secs(1));
        // One shard per step of interval/64: 64 requests spaced by that step sweep all.
        for _ in 0..SHARDS {
            clock.advance(Duration::from_millis(16));
            decide(&store, &[cell(0, Key::Global, Quota::per_second(10))]);
        }
        assert!(store.stats().keys <= 1, "{:?}", store.stats());
        assert!(store.stats().evicted >= 5000);
    }

    #[test]
    fn cap_uses_shared_overflow_bucket() {
        let clock = ManualClock::new();
        let store = MemoryStore::new()
            .clock(clock.clone())
            .max_keys(10)
            .unwrap()
            .at_capacity(AtCapacity::SharedOverflow);
        let q = Quota::per_minute(3);
        let mut allowed = 0;
        for i in 0..100u32 {
            if decide(&store, &[cell(0, Key::Public(i.to_string().into()), q)]).allowed() {
                allowed += 1;
            }
        }
        // 10 tracked keys + the overflow bucket's burst of 3.
        assert_eq!(allowed, 13);
        assert!(store.stats().keys <= 11);
        assert_eq!(store.stats().at_capacity, 90);
    }

    /// Issue #13 item 2: at the cap, churning keys cannot starve new clients, and cannot
    /// reset a throttled key's penalty by pushing it out.
    #[test]
    fn at_the_cap_new_clients_get_room_and_throttled_keys_keep_their_penalty() {
        let clock = ManualClock::new();
        let store = MemoryStore::new()
            .clock(clock.clone())
            .max_keys(1000)
            .unwrap();
        // Burst 3, one cell back every 20 s.
        let q = Quota::per_minute(3);
        let key = |name: &str| cell(0, Key::Public(name.to_owned().into()), q);
        for _ in 0..3 {
            assert!(decide(&store, &[key("victim")]).allowed());
        }
        assert!(!decide(&store, &[key("victim")]).allowed());
        // An attacker rotates through 20,000 keys, one request each, 0.1 ms apart.
        for i in 0..20_000u32 {
            decide(&store, &[key(&format!("churn-{i}"))]);
            clock.advance(Duration::from_micros(100));
        }
        assert!(store.stats().keys <= 1001, "{:?}", store.stats());
        // A new client still gets its own full burst...
        for i in 0..3 {
            assert!(
                decide(&store, &[key("newcomer")]).allowed(),
                "newcomer request {i}: {:?}",
                store.stats()
            );
        }
        assert!(!decide(&store, &[key("newcomer")]).allowed());
        // ...and the throttled key was never pushed out: still refused, not reset.
        assert!(!decide(&store, &[key("victim")]).allowed());
        let stats = store.stats();
        assert!(stats.keys <= 1000, "{stats:?}");
        assert!(stats.evicted_early >= 19_000, "counted: {stats:?}");
        assert_eq!(stats.at_capacity, 0, "{stats:?}");
    }

    #[test]
    fn at_the_cap_idle_keys_go_first_and_cost_nothing() {
        let clock = ManualClock::new();
        let store = MemoryStore::new()
            .clock(clock.clone())
            .max_keys(500)
            .unwrap();
        let q = Quota::per_minute(3);
        for i in 0..500u32 {
            assert!(decide(&store, &[cell(0, Key::Public(i.to_string().into()), q)]).allowed());
        }
        // Every key's quota is back: forgetting any of them loses nothing.
        clock.advance(Duration::from_secs(21));
        // 20 newcomers, not more: a newcomer samples its own shard and 3 others and forgets
        // the idle keys of the first that has any, so shards run out of idle keys one by
        // one. With shards placed by a random hash key, 100 newcomers sometimes met 4
        // sampled shards already emptied and evicted a fresh key, as documented (27 of
        // 3,000 stores: this test was flaky); 20 newcomers did in none of 200,000 stores.
        for i in 500..520u32 {
            assert!(decide(&store, &[cell(0, Key::Public(i.to_string().into()), q)]).allowed());
        }
        let stats = store.stats();
        assert_eq!(stats.evicted_early, 0, "{stats:?}");
        assert!(stats.evicted >= 20, "{stats:?}");
        assert!(stats.keys <= 500, "{stats:?}");
    }

    #[test]
    fn cap_reject_and_allow() {
        let store = MemoryStore::new()
            .clock(ManualClock::new())
            .max_keys(1)
            .unwrap()
            .at_capacity(AtCapacity::Reject);
        let q = Quota::per_second(1).burst(5);
        assert!(decide(&store, &[cell(0, Key::Public("a".into()), q)]).allowed());
        let d = decide(&store, &[cell(0, Key::Public("b".into()), q)]);
        assert!(!d.allowed());
        assert!(d.cells()[0].retry_after > Duration::ZERO);
        let store = store.at_capacity(AtCapacity::Allow);
        assert!(decide(&store, &[cell(0, Key::Public("a".into()), q)]).allowed());
        assert!(decide(&store, &[cell(0, Key::Public("b".into()), q)]).allowed());
    }

    #[test]
    fn decide_one_decides_as_decide_does() {
        let q = Quota::per_second(2).burst(3);
        let (clock_a, clock_b) = (ManualClock::new(), ManualClock::new());
        let one = MemoryStore::new().clock(clock_a.clone());
        let many = MemoryStore::new().clock(clock_b.clone());
        for i in 0..40u64 {
            let c = Cell::new(
                0,
                "p",
                Key::Public("k".into()),
                q.validate().unwrap(),
                1 + (i % 5) as u32,
            );
            let got = one.decide_one(&c).unwrap().unwrap();
            let want = decide(&many, std::slice::from_ref(&c));
            assert_eq!(&[got], want.cells(), "step {i}");
            clock_a.advance(Duration::from_millis(170));
            clock_b.advance(Duration::from_millis(170));
        }
        assert!(one
            .decide_one(&cell(MAX_POLICIES, Key::Global, q))
            .unwrap()
            .is_err());
    }

    #[test]
    fn policy_index_out_of_range_is_an_error_not_a_panic() {
        let store = MemoryStore::new();
        let r = store.decide(&[cell(MAX_POLICIES, Key::Global, Quota::per_second(1))]);
        let mut r = r;
        assert!(r.try_take().unwrap().is_err());
    }
}

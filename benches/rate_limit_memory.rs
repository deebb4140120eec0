#![allow(missing_docs)]
//! Memory per tracked key: this crate's `MemoryStore` against governor's keyed state
//! (what `tower_governor` uses), measured with a counting global allocator over a million
//! inserted keys.
//!
//! Run with `cargo bench --bench rate_limit_memory`. It prints bytes per key for both.

use std::{
    alloc::System,
    net::{IpAddr, Ipv4Addr},
    num::NonZeroU32,
};

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tower_fortify::rate_limit::{
    store::{Cell, ManualClock, MemoryStore, RateLimitStore},
    Key, Quota,
};

// A counting allocator from a library (this crate forbids `unsafe`, which writing one needs).
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Live bytes allocated since `region` started.
fn live(region: &Region<'_, System>) -> isize {
    let c = region.change();
    (c.bytes_allocated as isize + c.bytes_reallocated) - c.bytes_deallocated as isize
}

const KEYS: u32 = 1_000_000;

fn ip(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))
}

fn ours() -> f64 {
    let region = Region::new(GLOBAL);
    let store = MemoryStore::new().clock(ManualClock::new());
    let gcra = Quota::per_second(10).validate().unwrap();
    for i in 0..KEYS {
        let cell = Cell::new(0, "ip", Key::ip(ip(i), 64), gcra, 1);
        let mut fut = store.decide(&[cell]);
        assert!(fut.try_take().unwrap().unwrap().allowed());
    }
    assert_eq!(store.stats().keys, KEYS as usize);
    let bytes = live(&region);
    drop(store);
    bytes as f64 / f64::from(KEYS)
}

fn governor() -> f64 {
    let region = Region::new(GLOBAL);
    let limiter = governor::RateLimiter::<IpAddr, _, _>::keyed(governor::Quota::per_second(
        NonZeroU32::new(10).unwrap(),
    ));
    for i in 0..KEYS {
        assert!(limiter.check_key(&ip(i)).is_ok());
    }
    assert_eq!(limiter.len(), KEYS as usize);
    let bytes = live(&region);
    drop(limiter);
    bytes as f64 / f64::from(KEYS)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run both ways.
    let ours = ours();
    let gov = governor();
    println!("memory per tracked IPv4 key over {KEYS} keys (counting allocator, live bytes):");
    println!("  tower_fortify MemoryStore: {ours:.1} bytes/key");
    println!("  governor keyed (DashMap):  {gov:.1} bytes/key");
    println!("  ratio tower_fortify/governor: {:.2}", ours / gov);
}

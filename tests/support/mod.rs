//! Helpers shared by the test binaries (`layers`, `redis_backed`, `examples`, `tools`).
#![allow(dead_code, unreachable_pub)]

pub(crate) mod redis;
#[cfg(feature = "notify")]
pub(crate) mod sinks;
pub(crate) mod tools;

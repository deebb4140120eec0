//! Behaviour that needs a real Redis: each test starts its own `redis-server` on a free loopback port (see `support::redis`).

#[path = "../support/mod.rs"]
mod support;

mod fault;
mod full_stack;
mod metrics;
mod notify;
mod rate_limit;

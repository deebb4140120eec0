//! The example servers, driven through their `app()` as a user would with curl.

#[path = "../support/mod.rs"]
mod support;

mod full_stack;
mod metrics;
mod notify;
mod security_headers;

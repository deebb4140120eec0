//! The example servers, driven through their `app()` as a user would with curl.

#[path = "../support/mod.rs"]
mod support;

mod full_stack;
mod hyper_server;
mod metrics;
mod notify;
mod security_headers;
mod tonic_grpc;

//! Every layer through real services: one test binary for all the layer tests.

#[path = "../support/mod.rs"]
mod support;

mod cors_presets;
mod hyper;
mod injection;
mod injection_benign;
mod injection_rules;
mod layer_order;
mod metrics;
mod metrics_percentiles;
mod monitoring;
mod notify;
mod notify_layer;
mod notify_monitoring;
mod notify_webhook;
mod rate_limit;
mod security_headers;
mod trusted_host;

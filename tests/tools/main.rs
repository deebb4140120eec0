//! The crate's output checked by independent tools: promtool, the Python OpenMetrics parser and the OpenAPI validator.

#[path = "../support/mod.rs"]
mod support;

mod monitoring;

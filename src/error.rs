//! The one error type for configuration mistakes.
//!
//! Every builder in this crate stores what its setters are given and validates it in
//! `build()`, returning `Result<_, ConfigError>`; values built on their own (a `Quota`, a
//! policy, a content security policy, a sink) validate where they are built. Nothing panics
//! at configuration time or at run time. [`ConfigError`]'s docs list every setting name.
//!
//! ```
//! use tower_fortify::ConfigError;
//!
//! let err = ConfigError::new("rate_limit.quota.count", "the count must be at least 1");
//! assert_eq!(err.setting(), "rate_limit.quota.count");
//! assert_eq!(
//!     err.to_string(),
//!     "invalid rate_limit.quota.count: the count must be at least 1"
//! );
//! ```
//!

use std::fmt;

/// A configuration value was rejected.
///
/// It names the setting that was wrong and says why, in words a user can act on.
///
/// # Setting names
///
/// [`setting()`](Self::setting) is `module.setting` for a setting of a layer's builder, and
/// `module.value.setting` for a setting of a value built on its own; `setting` is the name of
/// the builder method (or constructor argument) at fault. The crate reports these:
///
/// | module | settings |
/// |---|---|
/// | `rate_limit` | `rate_limit.policy` (none, more than 16, duplicate names, a window longer than the store can hold), `rate_limit.policy.name`, `rate_limit.quota.{count,period,burst}`, `rate_limit.gcra.{interval_ns,burst}`, `rate_limit.tiers.{tier,default_tier}`, `rate_limit.peer_ip.ipv6_prefix`, `rate_limit.client_ip.ipv6_prefix`, `rate_limit.header.name`, `rate_limit.memory_store.{max_keys,sweep_interval}`, `rate_limit.redis_store.{url,prefix,timeout,reprobe_interval,local_fallback,failure_threshold}` |
/// | `security_headers` | `security_headers.{header,header_mode,reporting_endpoint,hsts,strip_headers,strip_header}`, `security_headers.csp.<directive method>` (for example `security_headers.csp.script_src`, `security_headers.csp.default_src` for a policy without `default-src`, `security_headers.csp.directive`, `security_headers.csp.report_to`) |
/// | `trusted_host` | `trusted_host.hosts` |
/// | `cors` | `cors.{origins,allow_credentials,allow_methods,allow_headers,expose_headers}` |
/// | `injection` | `injection.{threshold,body_limit,max_depth,skip_header,inspect_header,profile}`, the same under `injection.detector.*` for [`Detector`](crate::injection::Detector)'s builder, `injection.exclusion.{route,location}` |
/// | `metrics` | `metrics.{duration_buckets,max_label_sets,unmatched_route,percentile_window}`, `metrics.percentile_window.{slots,window}`, `metrics.health_registry.check` |
/// | `monitoring` | `monitoring.{bearer_token,extension}` |
/// | `notify` | `notify.{max_items,queue_capacity,max_in_flight_batches,dead_letter_capacity,sink,runtime}`, `notify.layer.{priority,ignore}`, `notify.retry_policy.{max_attempts,initial_backoff,attempt_timeout}`, `notify.channel_sink.capacity`, `notify.webhook_sink.{url,secret,timeout,tls}`, `notify.redis_stream_sink.{url,stream,max_len,timeout,runtime}` |
/// | `proxy` | `proxy.ip_net` (a trusted proxy network) |
///
/// (`notify.runtime` and `notify.redis_stream_sink.runtime`: built outside a tokio runtime;
/// `notify.webhook_sink.tls`: the TLS client could not be set up.)
///
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    setting: &'static str,
    message: String,
}

impl ConfigError {
    /// Creates an error for `setting` with a human-readable `message`.
    pub fn new(setting: &'static str, message: impl Into<String>) -> Self {
        Self {
            setting,
            message: message.into(),
        }
    }

    /// The name of the setting that was rejected, `module.setting` (for example
    /// `"rate_limit.quota.count"` or `"proxy.ip_net"`); the type's docs list them.
    pub fn setting(&self) -> &'static str {
        self.setting
    }

    /// Why it was rejected.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.setting, self.message)
    }
}

impl std::error::Error for ConfigError {}

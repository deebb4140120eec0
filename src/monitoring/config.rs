//! [`MonitoringServiceBuilder`]: the settings of a [`MonitoringService`] and their validation.

use std::{fmt, sync::Arc};

use bytes::Bytes;

use super::{
    auth::validate_token,
    extension::MonitoringExtension,
    openapi::openapi_document,
    service::{MonitoringService, Shared},
};
use crate::{
    metrics::{HealthRegistry, MetricsRegistry},
    ConfigError,
};

impl MonitoringService {
    /// Starts configuring the service; [`MonitoringServiceBuilder::build`] finishes it.
    pub fn builder() -> MonitoringServiceBuilder {
        MonitoringServiceBuilder::default()
    }
}

/// Builds a [`MonitoringService`]. Setters never fail; [`build`](Self::build) reports
/// the first bad setting as a [`ConfigError`] named `monitoring.<setter>`.
#[derive(Default)]
#[must_use]
pub struct MonitoringServiceBuilder {
    token: Option<String>,
    metrics: Option<MetricsRegistry>,
    health: Option<HealthRegistry>,
    extensions: Vec<Arc<dyn MonitoringExtension>>,
}

impl fmt::Debug for MonitoringServiceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitoringServiceBuilder")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("metrics", &self.metrics.is_some())
            .field("health", &self.health)
            .field("extensions", &self.extensions)
            .finish()
    }
}

impl MonitoringServiceBuilder {
    /// The bearer token every endpoint but the probes requires: 16 to 512 characters of
    /// `A-Z a-z 0-9 - . _ ~ + /` (optionally ending in `=`). Required.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The metrics served at `/metrics` and summarised at `/dashboard`. Without it those
    /// two paths give 404 and `/dashboard` has no traffic figures.
    pub fn metrics(mut self, metrics: MetricsRegistry) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The health checks behind `/health` and `/health/ready` (default: none, always healthy).
    pub fn health(mut self, health: HealthRegistry) -> Self {
        self.health = Some(health);
        self
    }

    /// Adds endpoints under `/{extension.name()}`; see [`MonitoringExtension`].
    pub fn extension(mut self, extension: impl MonitoringExtension) -> Self {
        self.extensions.push(Arc::new(extension));
        self
    }

    /// Validates the token and the extensions' names and builds the service.
    ///
    /// # Errors
    ///
    /// `monitoring.bearer_token` when the token is missing, shorter than 16 or longer than
    /// 512 characters, or not made of `A-Z a-z 0-9 - . _ ~ + /` (and trailing `=`);
    /// `monitoring.extension` when an extension's name is invalid, reserved (`metrics`,
    /// `health`, `dashboard`, `openapi.json`) or used twice.
    pub fn build(self) -> Result<MonitoringService, ConfigError> {
        let token = self.token.ok_or_else(|| {
            ConfigError::new(
                "monitoring.bearer_token",
                "the monitoring service needs a bearer token (for example from the ADMIN_TOKEN environment variable)",
            )
        })?;
        validate_token(&token)?;
        let mut names = std::collections::HashSet::new();
        for e in &self.extensions {
            let name = e.name();
            let valid = !name.is_empty()
                && name.len() <= 64
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                });
            if !valid {
                return Err(ConfigError::new(
                    "monitoring.extension",
                    format!("extension names are 1 to 64 of a-z, 0-9, - and _; got {name:?}"),
                ));
            }
            if RESERVED.contains(&name) {
                return Err(ConfigError::new(
                    "monitoring.extension",
                    format!("{name:?} is one of the service's own paths"),
                ));
            }
            if !names.insert(name.to_owned()) {
                return Err(ConfigError::new(
                    "monitoring.extension",
                    format!("two extensions are named {name:?}"),
                ));
            }
        }
        let openapi = openapi_document(self.metrics.is_some(), &self.extensions);
        Ok(MonitoringService {
            shared: Arc::new(Shared {
                token: token.into_bytes().into_boxed_slice(),
                metrics: self.metrics,
                health: self.health.unwrap_or_else(HealthRegistry::empty),
                extensions: self.extensions,
                openapi: Bytes::from(serde_json::to_vec_pretty(&openapi).unwrap_or_default()),
            }),
        })
    }
}

const RESERVED: [&str; 4] = ["metrics", "health", "dashboard", "openapi.json"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_tokens_are_refused() {
        for t in ["short", "has space in the token!!", &"x".repeat(600)] {
            let err = MonitoringService::builder()
                .bearer_token(t)
                .build()
                .unwrap_err();
            assert_eq!(err.setting(), "monitoring.bearer_token", "{t}");
        }
        assert_eq!(
            MonitoringService::builder().build().unwrap_err().setting(),
            "monitoring.bearer_token"
        );
        assert!(MonitoringService::builder()
            .bearer_token("abcdefghijklmnop+/==")
            .build()
            .is_ok());
    }

    #[test]
    fn service_is_clone_send_sync() {
        fn check<T: Clone + Send + Sync + 'static>() {}
        check::<MonitoringService>();
    }
}

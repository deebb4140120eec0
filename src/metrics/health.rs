//! [`HealthRegistry`]: named async checks with timeouts, criticality and a result cache.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};

use serde::Serialize;

use crate::ConfigError;

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type CheckFn = dyn Fn() -> CheckFuture + Send + Sync;

/// Overall health, from the worst check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Every check passed.
    Healthy,
    /// A non-critical check failed; the service still serves (HTTP 200).
    Degraded,
    /// A critical check failed (HTTP 503).
    Unhealthy,
}

impl HealthStatus {
    /// `healthy`, `degraded` or `unhealthy`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "healthy",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }

    /// Whether the service should receive traffic (healthy or degraded).
    pub fn is_serving(self) -> bool {
        self != HealthStatus::Unhealthy
    }
}

/// One named check: an async closure, a timeout, and whether its failure makes the service
/// unhealthy (critical) or only degraded.
pub struct HealthCheck {
    name: String,
    check: Arc<CheckFn>,
    timeout: Duration,
    critical: bool,
}

impl fmt::Debug for HealthCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthCheck")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .field("critical", &self.critical)
            .finish_non_exhaustive()
    }
}

impl HealthCheck {
    /// A critical check named `name` with a 2 s timeout. `check` returns `Ok(())` when the
    /// dependency is fine, or an error whose text is reported (to authenticated callers).
    pub fn new<F, Fut, E>(name: impl Into<String>, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display,
    {
        let check = Arc::new(move || -> CheckFuture {
            let fut = check();
            Box::pin(async move { fut.await.map_err(|e| e.to_string()) })
        });
        Self {
            name: name.into(),
            check,
            timeout: Duration::from_secs(2),
            critical: true,
        }
    }

    /// A check that sends `PING` on a Redis connection and expects `PONG`.
    ///
    /// The `ConnectionManager` reconnects by itself, so a Redis that comes back makes the
    /// check pass again without restarting the service.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis_ping(name: impl Into<String>, connection: redis::aio::ConnectionManager) -> Self {
        Self::new(name, move || {
            let mut conn = connection.clone();
            async move {
                let reply: String = redis::cmd("PING")
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                if reply == "PONG" {
                    Ok(())
                } else {
                    Err(format!("PING answered {reply:?}"))
                }
            }
        })
    }

    /// How long the check may take before it counts as failed (default 2 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether a failure makes the service unhealthy (`true`, the default) or only degraded.
    pub fn critical(mut self, critical: bool) -> Self {
        self.critical = critical;
        self
    }
}

/// The result of one check.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct CheckResult {
    /// The check's name.
    pub name: String,
    /// `pass` or `fail`.
    pub status: &'static str,
    /// Whether a failure of this check makes the service unhealthy.
    pub critical: bool,
    /// How long the check took, in milliseconds.
    pub duration_ms: f64,
    /// Why it failed (the check's error, or `timed out after ...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The result of running every check.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct HealthReport {
    /// The overall status.
    pub status: HealthStatus,
    /// Every check's result, in registration order.
    pub checks: Vec<CheckResult>,
    /// How old this (possibly cached) report is, in seconds.
    pub age_seconds: f64,
    #[serde(skip)]
    checked_at: Option<Instant>,
}

impl HealthReport {
    /// Whether the service should receive traffic (healthy or degraded).
    pub fn is_serving(&self) -> bool {
        self.status.is_serving()
    }
}

struct Shared {
    checks: Vec<HealthCheck>,
    cache_for: Duration,
    /// The last report. An async mutex: concurrent probes wait for the one run in
    /// progress instead of each running every check.
    last: tokio::sync::Mutex<Option<HealthReport>>,
}

/// Named health checks, run concurrently, each under its own timeout, with results cached
/// for a configurable interval so a probe storm does not hammer dependencies.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use std::time::Duration;
/// use tower_fortify::metrics::{HealthCheck, HealthRegistry, HealthStatus};
///
/// let health = HealthRegistry::builder()
///     .check(HealthCheck::new("database", || async { Ok::<_, String>(()) }))
///     .check(
///         HealthCheck::new("cache", || async { Err::<(), _>("connection refused") })
///             .critical(false)
///             .timeout(Duration::from_millis(200)),
///     )
///     .build()
///     .unwrap();
/// let report = health.check().await;
/// assert_eq!(report.status, HealthStatus::Degraded);
/// assert!(report.is_serving());
/// assert_eq!(report.checks[1].error.as_deref(), Some("connection refused"));
/// # });
/// ```
#[derive(Clone)]
pub struct HealthRegistry {
    shared: Arc<Shared>,
}

impl fmt::Debug for HealthRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthRegistry")
            .field("checks", &self.shared.checks)
            .field("cache_for", &self.shared.cache_for)
            .finish()
    }
}

/// Builds a [`HealthRegistry`]. Setters never fail; [`build`](Self::build) reports the
/// first bad check as a [`ConfigError`] named `metrics.health_registry.check`.
#[derive(Debug)]
#[must_use]
pub struct HealthRegistryBuilder {
    checks: Vec<HealthCheck>,
    cache_for: Duration,
}

impl HealthRegistryBuilder {
    /// Adds a check.
    pub fn check(mut self, check: HealthCheck) -> Self {
        self.checks.push(check);
        self
    }

    /// How long a report is reused before the checks run again (default 5 s; zero runs
    /// them on every call).
    pub fn cache_for(mut self, interval: Duration) -> Self {
        self.cache_for = interval;
        self
    }

    /// Validates the checks and builds the registry.
    ///
    /// # Errors
    ///
    /// `metrics.health_registry.check` when a check's name is empty, over 64 bytes or
    /// used twice, or its timeout is zero.
    pub fn build(self) -> Result<HealthRegistry, ConfigError> {
        let mut seen = std::collections::HashSet::new();
        for c in &self.checks {
            if c.name.is_empty() || c.name.len() > 64 {
                return Err(ConfigError::new(
                    "metrics.health_registry.check",
                    format!("check names must be 1 to 64 bytes long, got {:?}", c.name),
                ));
            }
            if !seen.insert(c.name.as_str()) {
                return Err(ConfigError::new(
                    "metrics.health_registry.check",
                    format!("two checks are named {:?}", c.name),
                ));
            }
            if c.timeout.is_zero() {
                return Err(ConfigError::new(
                    "metrics.health_registry.check",
                    format!("the timeout of {:?} must be greater than zero", c.name),
                ));
            }
        }
        Ok(HealthRegistry {
            shared: Arc::new(Shared {
                checks: self.checks,
                cache_for: self.cache_for,
                last: tokio::sync::Mutex::new(None),
            }),
        })
    }
}

impl Default for HealthRegistryBuilder {
    /// No checks (a registry that is always healthy), reports cached for 5 s.
    fn default() -> Self {
        Self {
            checks: Vec::new(),
            cache_for: Duration::from_secs(5),
        }
    }
}

impl HealthRegistry {
    /// Starts configuring a registry; [`HealthRegistryBuilder::build`] finishes it.
    pub fn builder() -> HealthRegistryBuilder {
        HealthRegistryBuilder::default()
    }

    /// A registry without checks (always healthy): what the monitoring service uses when
    /// it is given none.
    #[cfg_attr(not(feature = "monitoring"), allow(dead_code))]
    pub(crate) fn empty() -> Self {
        let HealthRegistryBuilder { checks, cache_for } = HealthRegistryBuilder::default();
        Self {
            shared: Arc::new(Shared {
                checks,
                cache_for,
                last: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// The number of registered checks.
    pub fn len(&self) -> usize {
        self.shared.checks.len()
    }

    /// Whether no check is registered.
    pub fn is_empty(&self) -> bool {
        self.shared.checks.is_empty()
    }

    /// Runs every check (or returns the cached report if it is fresh enough). Needs a tokio
    /// runtime with time enabled: checks run as tasks, concurrently.
    pub async fn check(&self) -> HealthReport {
        let mut last = self.shared.last.lock().await;
        if let Some(report) = last.as_ref() {
            if let Some(at) = report.checked_at {
                if at.elapsed() < self.shared.cache_for {
                    let mut r = report.clone();
                    r.age_seconds = at.elapsed().as_secs_f64();
                    return r;
                }
            }
        }
        let report = self.run().await;
        *last = Some(report.clone());
        report
    }

    async fn run(&self) -> HealthReport {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, c) in self.shared.checks.iter().enumerate() {
            let fut = (c.check)();
            let timeout = c.timeout;
            tasks.spawn(async move {
                let start = Instant::now();
                let result = match tokio::time::timeout(timeout, fut).await {
                    Ok(r) => r,
                    Err(_) => Err(format!("timed out after {timeout:?}")),
                };
                (i, result, start.elapsed())
            });
        }
        let mut results: Vec<Option<CheckResult>> = vec![None; self.shared.checks.len()];
        while let Some(joined) = tasks.join_next().await {
            // A check that panicked is reported as failed below (its slot stays empty).
            if let Ok((i, result, took)) = joined {
                let c = &self.shared.checks[i];
                results[i] = Some(CheckResult {
                    name: c.name.clone(),
                    status: if result.is_ok() { "pass" } else { "fail" },
                    critical: c.critical,
                    duration_ms: took.as_secs_f64() * 1e3,
                    error: result.err(),
                });
            }
        }
        let checks: Vec<CheckResult> = results
            .into_iter()
            .zip(&self.shared.checks)
            .map(|(r, c)| {
                r.unwrap_or_else(|| CheckResult {
                    name: c.name.clone(),
                    status: "fail",
                    critical: c.critical,
                    duration_ms: 0.0,
                    error: Some("the check panicked".to_owned()),
                })
            })
            .collect();
        let status = if checks.iter().any(|c| c.critical && c.error.is_some()) {
            HealthStatus::Unhealthy
        } else if checks.iter().any(|c| c.error.is_some()) {
            HealthStatus::Degraded
        } else {
            HealthStatus::Healthy
        };
        HealthReport {
            status,
            checks,
            age_seconds: 0.0,
            checked_at: Some(Instant::now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn critical_failure_is_unhealthy_and_timeouts_fail() {
        let health = HealthRegistry::builder()
            .check(HealthCheck::new("ok", || async { Ok::<_, String>(()) }))
            .check(
                HealthCheck::new("slow", || async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    Ok::<_, String>(())
                })
                .timeout(Duration::from_millis(50)),
            )
            .build()
            .unwrap();
        let started = Instant::now();
        let report = health.check().await;
        // Generous bound: proves the timeout works, not how fast it is.
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(report.status, HealthStatus::Unhealthy);
        assert_eq!(report.checks[0].status, "pass");
        assert!(report.checks[1]
            .error
            .as_deref()
            .unwrap()
            .starts_with("timed out"));
    }

    #[tokio::test]
    async fn reports_are_cached() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = runs.clone();
        let health = HealthRegistry::builder()
            .check(HealthCheck::new("counted", move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { Ok::<_, String>(()) }
            }))
            .cache_for(Duration::from_secs(60))
            .build()
            .unwrap();
        for _ in 0..10 {
            assert_eq!(health.check().await.status, HealthStatus::Healthy);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn duplicate_names_are_refused() {
        let err = HealthRegistry::builder()
            .check(HealthCheck::new("db", || async { Ok::<_, String>(()) }))
            .check(HealthCheck::new("db", || async { Ok::<_, String>(()) }))
            .build()
            .unwrap_err();
        assert_eq!(err.setting(), "metrics.health_registry.check");
    }
}

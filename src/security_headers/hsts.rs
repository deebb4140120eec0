//! The `Strict-Transport-Security` settings: [`Hsts`] and [`HstsScope`].

use std::{fmt, time::Duration};

use crate::ConfigError;

/// An HTTP Strict Transport Security policy (`Strict-Transport-Security`).
///
/// ```
/// use std::time::Duration;
/// use tower_fortify::security_headers::Hsts;
///
/// let hsts = Hsts::new(Duration::from_secs(63_072_000)).include_subdomains().preload();
/// assert_eq!(hsts.to_string(), "max-age=63072000; includeSubDomains; preload");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hsts {
    max_age: u64,
    include_subdomains: bool,
    preload: bool,
}

impl Hsts {
    /// A policy that tells browsers to use HTTPS for `max_age` (whole seconds).
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age: max_age.as_secs(),
            include_subdomains: false,
            preload: false,
        }
    }

    /// Adds `includeSubDomains`.
    pub fn include_subdomains(mut self) -> Self {
        self.include_subdomains = true;
        self
    }

    /// Adds `preload`. The preload list requires `includeSubDomains` and a `max-age` of at
    /// least one year; [`SecurityHeadersLayerBuilder::build`](super::SecurityHeadersLayerBuilder::build) refuses a preload policy
    /// without them (setting `security_headers.hsts`).
    pub fn preload(mut self) -> Self {
        self.preload = true;
        self
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.preload && (!self.include_subdomains || self.max_age < 31_536_000) {
            return Err(ConfigError::new(
                "security_headers.hsts",
                "`preload` requires `includeSubDomains` and a max-age of at least one year (31536000 s)",
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Hsts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "max-age={}", self.max_age)?;
        if self.include_subdomains {
            f.write_str("; includeSubDomains")?;
        }
        if self.preload {
            f.write_str("; preload")?;
        }
        Ok(())
    }
}

/// When `Strict-Transport-Security` is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HstsScope {
    /// On every response, as helmet does (browsers ignore it over plain HTTP).
    Always,
    /// Only on responses the layer knows are served over HTTPS: the listener is marked
    /// HTTPS ([`SecurityHeadersLayerBuilder::https_listener`](super::SecurityHeadersLayerBuilder::https_listener)), the request URI has the
    /// `https` scheme (HTTP/2 `:scheme`), or a **trusted** proxy says `https` in
    /// `X-Forwarded-Proto` / `Forwarded` ([`SecurityHeadersLayerBuilder::trusted_proxies`](super::SecurityHeadersLayerBuilder::trusted_proxies)).
    HttpsOnly,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preload_needs_subdomains_and_a_year() {
        let year = Duration::from_secs(31_536_000);
        assert!(Hsts::new(year)
            .include_subdomains()
            .preload()
            .validate()
            .is_ok());
        let err = Hsts::new(year).preload().validate().unwrap_err();
        assert_eq!(err.setting(), "security_headers.hsts");
        assert!(Hsts::new(year - Duration::from_secs(1))
            .include_subdomains()
            .preload()
            .validate()
            .is_err());
        assert_eq!(
            Hsts::new(Duration::from_millis(1500)).to_string(),
            "max-age=1"
        );
    }
}

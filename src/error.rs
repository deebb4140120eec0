//! The one error type for configuration mistakes.
//!
//! Every builder in this crate validates what it is given and returns
//! `Result<_, ConfigError>`; nothing panics at configuration time or at run time.
//!
//! ```
//! use tower_fortify::ConfigError;
//!
//! let err = ConfigError::new("quota", "the count must be at least 1");
//! assert_eq!(err.setting(), "quota");
//! assert_eq!(err.to_string(), "invalid quota: the count must be at least 1");
//! ```

use std::fmt;

/// A configuration value was rejected.
///
/// It names the setting that was wrong and says why, in words a user can act on.
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

    /// The name of the setting that was rejected (for example `"quota"` or `"trusted_proxies"`).
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

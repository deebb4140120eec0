//! [`InjectionLayer`] and its builder.

use std::sync::Arc;

use tower_layer::Layer;

use crate::ConfigError;

use super::{
    config::{Exclusion, Mode, OversizedBody, Profile, UnknownEncoding},
    inspect::{Detector, DetectorConfig},
    service::Injection,
};

/// Settings of the layer that the detector does not need.
#[derive(Debug, Clone)]
pub(crate) struct LayerConfig {
    pub(crate) mode: Mode,
    pub(crate) oversized: OversizedBody,
    pub(crate) unknown_encoding: UnknownEncoding,
}

/// The state every clone of the layer and its services shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) detector: Detector,
    pub(crate) layer: LayerConfig,
}

/// Applies [`Injection`] to a service: inspects each request and blocks (or reports)
/// injection attacks. Built with [`InjectionLayer::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct InjectionLayer {
    shared: Arc<Shared>,
}

impl InjectionLayer {
    /// A layer with the defaults: `balanced` profile, `Block` mode, 64 KiB body limit
    /// (larger bodies inspected up to the limit), undecodable encodings passed with an
    /// event.
    pub fn new() -> Result<Self, ConfigError> {
        Self::builder().build()
    }

    /// Starts a configuration.
    pub fn builder() -> InjectionBuilder {
        InjectionBuilder::default()
    }

    /// The detector the layer uses, for inspecting requests by hand with the same
    /// settings.
    pub fn detector(&self) -> &Detector {
        &self.shared.detector
    }
}

impl<S> Layer<S> for InjectionLayer {
    type Service = Injection<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Injection::new(inner, self.shared.clone())
    }
}

/// Configures an [`InjectionLayer`] or a standalone [`Detector`].
///
/// ```
/// use tower_fortify::event::Category;
/// use tower_fortify::injection::{Exclusion, InjectionLayer, Mode, Profile};
///
/// let layer = InjectionLayer::builder()
///     .profile(Profile::Strict)
///     .mode(Mode::Monitor)
///     .body_limit(128 * 1024)
///     .exclude(Exclusion::route("/api/posts")?.location("json:$.body")?.categories([Category::Xss]))
///     .build()?;
/// # let _ = layer;
/// # Ok::<(), tower_fortify::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct InjectionBuilder {
    detector: DetectorConfig,
    layer: LayerConfig,
    skip_extra: Vec<String>,
    inspect_extra: Vec<String>,
}

impl Default for InjectionBuilder {
    fn default() -> Self {
        Self {
            detector: DetectorConfig::default(),
            layer: LayerConfig {
                mode: Mode::Block,
                oversized: OversizedBody::InspectPrefix,
                unknown_encoding: UnknownEncoding::PassUninspected,
            },
            skip_extra: Vec::new(),
            inspect_extra: Vec::new(),
        }
    }
}

impl InjectionBuilder {
    /// The rule profile (default [`Profile::Balanced`]).
    pub fn profile(mut self, profile: Profile) -> Self {
        self.detector.profile = profile;
        self
    }

    /// Block or only report (default [`Mode::Block`]).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.layer.mode = mode;
        self
    }

    /// The anomaly score at which a request is flagged (default 5, one critical
    /// finding). Must be at least 1.
    pub fn threshold(mut self, threshold: u16) -> Self {
        self.detector.threshold = threshold;
        self
    }

    /// How many body bytes are buffered and inspected (default 64 KiB); also the bound
    /// on a compressed body's decoded size. Must be at least 1.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.detector.body_limit = bytes;
        self
    }

    /// What to do with a body over the limit (default: inspect the prefix and pass).
    pub fn oversized_body(mut self, policy: OversizedBody) -> Self {
        self.layer.oversized = policy;
        self
    }

    /// What to do with a content encoding other than gzip/deflate (default: pass it
    /// uninspected with an event).
    pub fn unknown_encoding(mut self, policy: UnknownEncoding) -> Self {
        self.layer.unknown_encoding = policy;
        self
    }

    /// Bound on JSON and XML nesting depth (default 32). Must be at least 1.
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.detector.max_depth = depth;
        self
    }

    /// Also skips this header (by name, case-insensitive). See
    /// [`DEFAULT_SKIPPED_HEADERS`](super::DEFAULT_SKIPPED_HEADERS) for the defaults.
    pub fn skip_header(mut self, name: &str) -> Self {
        self.skip_extra.push(name.to_ascii_lowercase());
        self
    }

    /// Inspects a header the defaults skip (for example `accept`).
    pub fn inspect_header(mut self, name: &str) -> Self {
        self.inspect_extra.push(name.to_ascii_lowercase());
        self
    }

    /// Adds an exclusion.
    pub fn exclude(mut self, exclusion: Exclusion) -> Self {
        self.detector.exclusions.push(exclusion);
        self
    }

    fn validated(mut self) -> Result<(DetectorConfig, LayerConfig), ConfigError> {
        if self.detector.threshold == 0 {
            return Err(ConfigError::new(
                "threshold",
                "must be at least 1, or every request would be flagged",
            ));
        }
        if self.detector.body_limit == 0 {
            return Err(ConfigError::new(
                "body_limit",
                "must be at least 1 byte; exclude routes whose bodies should not be read",
            ));
        }
        if self.detector.max_depth == 0 {
            return Err(ConfigError::new("max_depth", "must be at least 1"));
        }
        for name in &self.skip_extra {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(ConfigError::new(
                    "skip_header",
                    format!("{name:?} is not a header name"),
                ));
            }
        }
        let headers = &mut self.detector.skipped_headers;
        headers.extend(self.skip_extra);
        headers.retain(|h| !self.inspect_extra.contains(h));
        Ok((self.detector, self.layer))
    }

    /// Builds the layer.
    pub fn build(self) -> Result<InjectionLayer, ConfigError> {
        let (detector, layer) = self.validated()?;
        Ok(InjectionLayer {
            shared: Arc::new(Shared {
                detector: Detector::with_config(detector)?,
                layer,
            }),
        })
    }

    /// Builds a standalone detector with these settings (the layer-only ones are ignored).
    pub fn build_detector(self) -> Result<Detector, ConfigError> {
        let (detector, _) = self.validated()?;
        Detector::with_config(detector)
    }
}

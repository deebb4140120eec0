//! [`InjectionLayer`] and its [`InjectionLayerBuilder`].

use std::{fmt, sync::Arc};

use tower_layer::Layer;

use crate::{
    rejection::{DefaultResponder, Responder},
    ConfigError,
};

use super::{
    config::{Mode, OversizedBody, Shared, UnknownEncoding},
    exclusion::Exclusion,
    inspect::{Detector, DetectorBuilder, Profile, SettingNames},
    rejection::InjectionRejection,
    service::Injection,
};

/// The setting names of [`InjectionLayerBuilder`]'s detection settings.
const LAYER_SETTINGS: SettingNames = SettingNames {
    threshold: "injection.threshold",
    body_limit: "injection.body_limit",
    max_depth: "injection.max_depth",
    skip_header: "injection.skip_header",
    inspect_header: "injection.inspect_header",
    profile: "injection.profile",
};

/// Applies [`Injection`] to a service: inspects each request and blocks (or reports)
/// injection attacks. Built with [`InjectionLayer::builder`]; the defaults are
/// `InjectionLayer::builder().build()?`.
#[derive(Debug, Clone)]
#[must_use]
pub struct InjectionLayer {
    shared: Arc<Shared>,
}

impl InjectionLayer {
    /// Starts a configuration with the defaults: [`Profile::Balanced`], [`Mode::Block`],
    /// a 64 KiB body limit (larger bodies inspected up to the limit), undecodable
    /// encodings passed with an event, the default responder.
    pub fn builder() -> InjectionLayerBuilder {
        InjectionLayerBuilder {
            detector: Detector::builder(),
            mode: Mode::Block,
            oversized: OversizedBody::InspectPrefix,
            unknown_encoding: UnknownEncoding::PassUninspected,
            responder: Arc::new(DefaultResponder),
        }
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

/// Configures an [`InjectionLayer`]; started by [`InjectionLayer::builder`]. Setters never
/// fail; [`build`](Self::build) reports the first invalid setting as
/// `injection.<setter>`.
///
/// The profile is a setting ([`profile`](Self::profile)) rather than a preset
/// constructor: it only chooses which rules run, and the standalone
/// [`DetectorBuilder`] takes it the same way.
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
/// assert_eq!(layer.detector().profile(), Profile::Strict);
///
/// let err = InjectionLayer::builder().body_limit(0).build().unwrap_err();
/// assert_eq!(err.setting(), "injection.body_limit");
/// # Ok::<(), tower_fortify::ConfigError>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct InjectionLayerBuilder {
    detector: DetectorBuilder,
    mode: Mode,
    oversized: OversizedBody,
    unknown_encoding: UnknownEncoding,
    responder: Arc<dyn Responder<InjectionRejection>>,
}

impl fmt::Debug for InjectionLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InjectionLayerBuilder")
            .field("detector", &self.detector)
            .field("mode", &self.mode)
            .field("oversized", &self.oversized)
            .field("unknown_encoding", &self.unknown_encoding)
            .finish_non_exhaustive()
    }
}

impl InjectionLayerBuilder {
    /// The rule profile (default [`Profile::Balanced`]).
    pub fn profile(mut self, profile: Profile) -> Self {
        self.detector = self.detector.profile(profile);
        self
    }

    /// Block or only report (default [`Mode::Block`]).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The anomaly score at which a request is flagged (default
    /// [`DEFAULT_THRESHOLD`](super::DEFAULT_THRESHOLD), one critical finding). Must be at
    /// least 1.
    pub fn threshold(mut self, threshold: u16) -> Self {
        self.detector = self.detector.threshold(threshold);
        self
    }

    /// How many body bytes are buffered and inspected (default 64 KiB); also the bound
    /// on a compressed body's decoded size. Must be at least 1.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.detector = self.detector.body_limit(bytes);
        self
    }

    /// What to do with a body over the limit (default: inspect the prefix and pass).
    pub fn oversized_body(mut self, policy: OversizedBody) -> Self {
        self.oversized = policy;
        self
    }

    /// What to do with a content encoding other than gzip/deflate (default: pass it
    /// uninspected with an event).
    pub fn unknown_encoding(mut self, policy: UnknownEncoding) -> Self {
        self.unknown_encoding = policy;
        self
    }

    /// Bound on JSON and XML nesting depth (default 32). Must be at least 1.
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.detector = self.detector.max_depth(depth);
        self
    }

    /// Also skips this header (by name, case-insensitive). See
    /// [`DEFAULT_SKIPPED_HEADERS`](super::DEFAULT_SKIPPED_HEADERS) for the defaults. Must
    /// be a valid header name.
    pub fn skip_header(mut self, name: &str) -> Self {
        self.detector = self.detector.skip_header(name);
        self
    }

    /// Inspects a header the defaults skip (for example `accept`). Must be a valid header
    /// name.
    pub fn inspect_header(mut self, name: &str) -> Self {
        self.detector = self.detector.inspect_header(name);
        self
    }

    /// Adds an exclusion.
    pub fn exclude(mut self, exclusion: Exclusion) -> Self {
        self.detector = self.detector.exclude(exclusion);
        self
    }

    /// Answers refused requests with `responder` instead of
    /// [`InjectionRejection`]'s default response. The layer still puts the
    /// [`InjectionRejection`] in the response extensions and appends its events.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http::{Response, StatusCode};
    /// use tower_fortify::injection::{InjectionLayer, InjectionRejection};
    ///
    /// let layer = InjectionLayer::builder()
    ///     .responder(|why: &InjectionRejection| {
    ///         let mut res = Response::new(Bytes::from_static(b"no"));
    ///         *res.status_mut() = if matches!(why, InjectionRejection::Blocked { .. }) {
    ///             StatusCode::BAD_REQUEST
    ///         } else {
    ///             why.status()
    ///         };
    ///         res
    ///     })
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok::<(), tower_fortify::ConfigError>(())
    /// ```
    pub fn responder(mut self, responder: impl Responder<InjectionRejection>) -> Self {
        self.responder = Arc::new(responder);
        self
    }

    /// Builds the layer, or names the first invalid setting (`injection.<setter>`).
    pub fn build(self) -> Result<InjectionLayer, ConfigError> {
        Ok(InjectionLayer {
            shared: Arc::new(Shared {
                detector: self.detector.build_named(&LAYER_SETTINGS)?,
                mode: self.mode,
                oversized: self.oversized,
                unknown_encoding: self.unknown_encoding,
                responder: self.responder,
            }),
        })
    }
}

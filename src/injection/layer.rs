//! [`InjectionLayer`] and its [`InjectionLayerBuilder`].

use std::{fmt, sync::Arc, time::Duration};

use http::StatusCode;
use tower_layer::Layer;

use crate::{
    event::Category,
    openapi::{LayerDoc, MemberDoc, ResponseDoc},
    rejection::{DefaultResponder, Responder},
    ConfigError,
};

use super::{
    config::{
        BufferBudget, Mode, OversizedBody, Shared, UnknownEncoding, DEFAULT_BODY_TIMEOUT,
        DEFAULT_TOTAL_BUFFER_LIMIT,
    },
    exclusion::Exclusion,
    inspect::{Detector, DetectorBuilder, Profile, SettingNames},
    rejection::InjectionRejection,
    service::Injection,
};

/// Every attack family a 403 can name.
const CATEGORIES: [Category; 10] = [
    Category::Sqli,
    Category::Xss,
    Category::PathTraversal,
    Category::RemoteFileInclusion,
    Category::CommandInjection,
    Category::PhpInjection,
    Category::JavaInjection,
    Category::GenericInjection,
    Category::SessionFixation,
    Category::Protocol,
];

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
    /// encodings refused with 415, no gRPC routes (every body is inspected), 64 MiB
    /// buffered at most across all requests ([`DEFAULT_TOTAL_BUFFER_LIMIT`]), a 30 s body
    /// read timeout ([`DEFAULT_BODY_TIMEOUT`]), the default responder.
    pub fn builder() -> InjectionLayerBuilder {
        InjectionLayerBuilder {
            detector: Detector::builder(),
            mode: Mode::Block,
            oversized: OversizedBody::InspectPrefix,
            unknown_encoding: UnknownEncoding::Reject,
            grpc_routes: Vec::new(),
            total_buffer_limit: DEFAULT_TOTAL_BUFFER_LIMIT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            responder: Arc::new(DefaultResponder),
        }
    }

    /// The detector the layer uses, for inspecting requests by hand with the same
    /// settings.
    pub fn detector(&self) -> &Detector {
        &self.shared.detector
    }

    /// What this layer answers, for an OpenAPI document
    /// ([`FortifyDocs::injection`](crate::openapi::FortifyDocs::injection)): 403 in
    /// [`Mode::Block`], 408 when a body is too slow, 413 and 503 with
    /// [`OversizedBody::Reject`], 415 with [`UnknownEncoding::Reject`], each
    /// problem+json. Routes an [`Exclusion`] takes out of inspection (or out of body
    /// buffering, for all but 403) are listed as skipped routes, which only per-route
    /// documents read.
    pub fn openapi_doc(&self) -> LayerDoc {
        let s = &self.shared;
        let config = &s.detector.config;
        let skipped = |body: bool| -> Vec<String> {
            config
                .exclusions
                .iter()
                .filter(|e| {
                    if body {
                        e.skips_body()
                    } else {
                        e.skips_request()
                    }
                })
                .map(Exclusion::route_pattern)
                .collect()
        };
        let mut doc = LayerDoc::new();
        let mut add = |mut r: ResponseDoc, body: bool| {
            r.skipped_routes = skipped(body);
            doc.responses.push(r);
        };
        if s.mode == Mode::Block {
            add(
                ResponseDoc::new(
                    StatusCode::FORBIDDEN,
                    "Blocked: the request looks like an injection attack. The body names the attack families, never the payload.",
                )
                .member(
                    MemberDoc::new("categories", "The attack families found, each once.")
                        .values(CATEGORIES.iter().map(|c| c.as_str())),
                ),
                false,
            );
        }
        add(
            ResponseDoc::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "The request body did not arrive within {} s.",
                    s.body_timeout.as_secs_f64()
                ),
            ),
            true,
        );
        if s.oversized == OversizedBody::Reject {
            add(
                ResponseDoc::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "The request body is larger than the {} bytes this endpoint inspects.",
                        config.body_limit
                    ),
                ),
                true,
            );
        }
        if s.unknown_encoding == UnknownEncoding::Reject {
            add(
                ResponseDoc::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "The request body's Content-Encoding cannot be inspected (gzip, deflate, br and identity can).",
                ),
                true,
            );
        }
        if s.oversized == OversizedBody::Reject {
            add(
                ResponseDoc::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The server holds as many request bodies as it inspects at once; retry later.",
                ),
                true,
            );
        }
        doc
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
    grpc_routes: Vec<String>,
    total_buffer_limit: usize,
    body_timeout: Duration,
    responder: Arc<dyn Responder<InjectionRejection>>,
}

impl fmt::Debug for InjectionLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InjectionLayerBuilder")
            .field("detector", &self.detector)
            .field("mode", &self.mode)
            .field("oversized", &self.oversized)
            .field("unknown_encoding", &self.unknown_encoding)
            .field("grpc_routes", &self.grpc_routes)
            .field("total_buffer_limit", &self.total_buffer_limit)
            .field("body_timeout", &self.body_timeout)
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

    /// What to do with a content encoding other than gzip, deflate and br (default:
    /// refuse with 415). Every `Content-Encoding` value is honoured in order; more than
    /// three stacked codings are refused with 415 whatever this policy.
    pub fn unknown_encoding(mut self, policy: UnknownEncoding) -> Self {
        self.unknown_encoding = policy;
        self
    }

    /// Declares the routes that serve gRPC: path prefixes such as `"/pkg.Service/"` (or
    /// `"/"` for a server that only speaks gRPC). On these routes a gRPC call's body
    /// (binary protobuf) is neither buffered nor inspected, so streaming calls stream;
    /// its path and metadata still are. A request claiming `application/grpc` on any
    /// other route has its body inspected like any body (and is answered in gRPC). Each
    /// prefix must start with `/`. Adds to the routes already given.
    ///
    /// ```
    /// use tower_fortify::injection::InjectionLayer;
    ///
    /// // A tonic server with two services behind the layer.
    /// let layer = InjectionLayer::builder()
    ///     .grpc_routes(["/shop.v1.Orders/", "/grpc.health.v1.Health/"])
    ///     .build()?;
    /// # let _ = layer;
    /// let err = InjectionLayer::builder().grpc_routes(["shop.v1.Orders/"]).build().unwrap_err();
    /// assert_eq!(err.setting(), "injection.grpc_routes");
    /// # Ok::<(), tower_fortify::ConfigError>(())
    /// ```
    pub fn grpc_routes<I>(mut self, prefixes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.grpc_routes
            .extend(prefixes.into_iter().map(Into::into));
        self
    }

    /// Bound on the body bytes held by all the in-flight inspections of this layer and
    /// its clones together (default [`DEFAULT_TOTAL_BUFFER_LIMIT`], 64 MiB). A body that
    /// does not fit in what is left is handled by the [`oversized_body`](Self::oversized_body)
    /// policy: inspected as far as it was read and passed on (with an event), or refused
    /// with 503. Must be at least the body limit.
    pub fn total_buffer_limit(mut self, bytes: usize) -> Self {
        self.total_buffer_limit = bytes;
        self
    }

    /// Bound on the time to read a body up to the inspection limit (default
    /// [`DEFAULT_BODY_TIMEOUT`], 30 s); a slower body is refused with 408 (gRPC:
    /// `DEADLINE_EXCEEDED`) in both modes. Needs a Tokio runtime with its time driver,
    /// as hyper, axum and tonic servers have. Must be more than zero.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
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
        let detector = self.detector.build_named(&LAYER_SETTINGS)?;
        if let Some(bad) = self.grpc_routes.iter().find(|p| !p.starts_with('/')) {
            return Err(ConfigError::new(
                "injection.grpc_routes",
                format!("{bad:?} must start with '/'"),
            ));
        }
        if self.total_buffer_limit < detector.config.body_limit {
            return Err(ConfigError::new(
                "injection.total_buffer_limit",
                "must be at least the body limit, or no body could be read whole",
            ));
        }
        if self.body_timeout.is_zero() {
            return Err(ConfigError::new(
                "injection.body_timeout",
                "must be more than zero",
            ));
        }
        Ok(InjectionLayer {
            shared: Arc::new(Shared {
                detector,
                mode: self.mode,
                oversized: self.oversized,
                unknown_encoding: self.unknown_encoding,
                grpc_routes: self.grpc_routes,
                budget: BufferBudget::new(self.total_buffer_limit),
                body_timeout: self.body_timeout,
                responder: self.responder,
            }),
        })
    }
}

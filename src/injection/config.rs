//! The layer's policies ([`Mode`], [`OversizedBody`], [`UnknownEncoding`]) and the state
//! every clone of the layer, its services and their futures share.
//!
//! The builder lives in `layer.rs`; this file is the bottom of the module's imports
//! (`layer -> service -> future -> config`), so the futures can read the settings without
//! importing the layer.

use std::{fmt, sync::Arc};

use crate::rejection::Responder;

use super::{inspect::Detector, rejection::InjectionRejection};

/// What the layer does with a flagged request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// Answer 403 (gRPC: `grpc-status: 7`) without calling the inner service.
    #[default]
    Block,
    /// Call the inner service anyway and only report the findings as events.
    Monitor,
}

/// What the layer does with a body larger than the configured limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OversizedBody {
    /// Inspect the first `limit` bytes, then pass the whole body on unchanged.
    #[default]
    InspectPrefix,
    /// Answer 413 Content Too Large.
    Reject,
}

/// What the layer does with a `Content-Encoding` it cannot decode (anything but `gzip`,
/// `x-gzip`, `deflate` and `identity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UnknownEncoding {
    /// Pass the body on uninspected and report a [`Category::Protocol`](crate::event::Category::Protocol) event.
    #[default]
    PassUninspected,
    /// Answer 415 Unsupported Media Type.
    Reject,
}

/// The state every clone of the layer and its services shares.
pub(crate) struct Shared {
    pub(crate) detector: Detector,
    pub(crate) mode: Mode,
    pub(crate) oversized: OversizedBody,
    pub(crate) unknown_encoding: UnknownEncoding,
    pub(crate) responder: Arc<dyn Responder<InjectionRejection>>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("detector", &self.detector)
            .field("mode", &self.mode)
            .field("oversized", &self.oversized)
            .field("unknown_encoding", &self.unknown_encoding)
            .finish_non_exhaustive()
    }
}

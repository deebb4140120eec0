//! The peers' layers as the benches configure them, so every bench compares against the
//! same tower_governor setup.

use std::time::Duration;

use axum::body::Body;
use tower_governor::{
    governor::GovernorConfigBuilder, key_extractor::PeerIpKeyExtractor, GovernorLayer,
};

/// tower_governor 0.8 keyed by peer IP, headers off, a burst of `burst` replenished every
/// nanosecond: the bench client is never refused, every request takes the allowed path.
pub(crate) fn governor_layer(
    burst: u32,
) -> GovernorLayer<
    PeerIpKeyExtractor,
    governor::middleware::NoOpMiddleware<governor::clock::QuantaInstant>,
    Body,
> {
    let config = GovernorConfigBuilder::default()
        .period(Duration::from_nanos(1))
        .burst_size(burst)
        .finish()
        .expect("governor config");
    GovernorLayer::new(config)
}

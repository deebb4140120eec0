//! The layer and its builder.

use std::{fmt, sync::Arc};

use tower_layer::Layer;

use super::{host::AllowList, service::Shared, HostRejection, TrustedHost};
use crate::{
    proxy::TrustedProxies,
    rejection::{DefaultResponder, Responder},
    ConfigError,
};

/// Refuses requests whose host is not on the allow-list (see the [module docs](super)).
///
/// Built by [`TrustedHostLayer::builder`]; clones share one allow-list.
#[derive(Clone)]
#[must_use]
pub struct TrustedHostLayer {
    shared: Arc<Shared>,
}

impl fmt::Debug for TrustedHostLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedHostLayer")
            .field("allow", &self.shared.allow)
            .field("proxies", &self.shared.proxies)
            .finish_non_exhaustive()
    }
}

impl TrustedHostLayer {
    /// Starts a layer that allows the given hosts and patterns (`example.com`,
    /// `*.example.com`, `example.com:8443`, `[::1]:8080`). An empty list, `*`, or a
    /// malformed pattern is a [`ConfigError`] (`trusted_host.hosts`) from
    /// [`build`](TrustedHostLayerBuilder::build).
    pub fn builder<I, S>(hosts: I) -> TrustedHostLayerBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        TrustedHostLayerBuilder {
            hosts: hosts.into_iter().map(|h| h.as_ref().to_owned()).collect(),
            proxies: TrustedProxies::none(),
            responder: Arc::new(DefaultResponder),
        }
    }
}

impl<S> Layer<S> for TrustedHostLayer {
    type Service = TrustedHost<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TrustedHost::new(inner, Arc::clone(&self.shared))
    }
}

/// Builder of a [`TrustedHostLayer`], from [`TrustedHostLayer::builder`].
///
/// Setters never fail: the host patterns are checked by [`build`](Self::build).
#[derive(Clone)]
#[must_use]
pub struct TrustedHostLayerBuilder {
    hosts: Vec<String>,
    proxies: TrustedProxies,
    responder: Arc<dyn Responder<HostRejection>>,
}

impl fmt::Debug for TrustedHostLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedHostLayerBuilder")
            .field("hosts", &self.hosts)
            .field("proxies", &self.proxies)
            .finish_non_exhaustive()
    }
}

impl TrustedHostLayerBuilder {
    /// Reads `X-Forwarded-Host` / `Forwarded: host=` from these proxies (default: nobody)
    /// and checks that host as well as the request's own `Host`: both must be allowed.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// Replaces the response sent for a refused request (default
    /// [`DefaultResponder`]: [`HostRejection`]'s own response). The layer still puts the
    /// [`HostRejection`] in the response extensions and appends the
    /// [`SecurityEvent::UntrustedHost`](crate::event::SecurityEvent::UntrustedHost),
    /// whatever the responder returns.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http::{Response, StatusCode};
    /// use tower_fortify::trusted_host::{HostRejection, TrustedHostLayer};
    ///
    /// let layer = TrustedHostLayer::builder(["example.com"])
    ///     .responder(|_why: &HostRejection| {
    ///         let mut res = Response::new(Bytes::from_static(b"misdirected"));
    ///         *res.status_mut() = StatusCode::MISDIRECTED_REQUEST;
    ///         res
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # let _ = layer;
    /// ```
    pub fn responder(mut self, responder: impl Responder<HostRejection>) -> Self {
        self.responder = Arc::new(responder);
        self
    }

    /// Checks the host patterns and builds the layer.
    pub fn build(self) -> Result<TrustedHostLayer, ConfigError> {
        let allow = AllowList::parse(&self.hosts)?;
        Ok(TrustedHostLayer {
            shared: Arc::new(Shared {
                allow,
                proxies: self.proxies,
                responder: self.responder,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setters_never_fail_build_names_the_hosts() {
        let b = TrustedHostLayer::builder(["example.com", "a b"])
            .trusted_proxies(TrustedProxies::none())
            .responder(DefaultResponder);
        let err = b.build().unwrap_err();
        assert_eq!(err.setting(), "trusted_host.hosts");
        assert!(err.message().contains("a b"), "{err}");
        let empty: [&str; 0] = [];
        assert!(TrustedHostLayer::builder(empty).build().is_err());
        assert!(TrustedHostLayer::builder(["example.com"]).build().is_ok());
    }
}

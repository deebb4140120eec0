//! The layer, its builder and the presets that start one.

use std::time::Duration;

use tower_http::cors as thc;
use tower_layer::Layer;

use super::{
    origin::{header_list, methods, parse_origin},
    Cors,
};
use crate::ConfigError;

/// Which origins may read responses.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origins {
    Any,
    List(Vec<String>),
}

/// The hardened CORS layer (see the [module docs](super)).
///
/// Started from a preset ([`CorsLayer::same_origin_api`], [`CorsLayer::public_read_only`]),
/// adjusted on the [`CorsLayerBuilder`], then [`build`](CorsLayerBuilder::build). The
/// headers are computed by tower-http's `CorsLayer`, held privately.
#[derive(Debug, Clone)]
#[must_use]
pub struct CorsLayer {
    inner: thc::CorsLayer,
}

impl CorsLayer {
    /// For an API called by your own front ends on other origins (say
    /// `https://app.example.com` calling `https://api.example.com`), with cookies or
    /// `Authorization`:
    ///
    /// | setting | value |
    /// |---|---|
    /// | origins | exactly `origins` (`scheme://host[:port]`, no path) |
    /// | credentials | allowed |
    /// | methods | `GET, HEAD, POST, PUT, PATCH, DELETE` |
    /// | request headers | `content-type, authorization` |
    /// | preflight cache | 600 s |
    ///
    /// An empty list, `*`, `null` or an origin with a path is a [`ConfigError`]
    /// (`cors.origins`) from [`build`](CorsLayerBuilder::build).
    pub fn same_origin_api<I, S>(origins: I) -> CorsLayerBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        CorsLayerBuilder {
            origins: Origins::List(origins.into_iter().map(|o| o.as_ref().to_owned()).collect()),
            credentials: true,
            methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
                .map(String::from)
                .to_vec(),
            allow_headers: ["content-type", "authorization"].map(String::from).to_vec(),
            expose_headers: Vec::new(),
            max_age: Some(Duration::from_secs(600)),
        }
    }

    /// For public, read-only data any site may fetch (open data, a status feed):
    ///
    /// | setting | value |
    /// |---|---|
    /// | origins | any (`Access-Control-Allow-Origin: *`) |
    /// | credentials | never (`cors.allow_credentials` error if enabled) |
    /// | methods | `GET, HEAD` |
    /// | request headers | none beyond the CORS-safelisted ones |
    /// | preflight cache | 3600 s |
    pub fn public_read_only() -> CorsLayerBuilder {
        CorsLayerBuilder {
            origins: Origins::Any,
            credentials: false,
            methods: ["GET", "HEAD"].map(String::from).to_vec(),
            allow_headers: Vec::new(),
            expose_headers: Vec::new(),
            max_age: Some(Duration::from_secs(3600)),
        }
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        // `CorsLayerBuilder::build` refused every combination tower-http's `layer` would panic on.
        Cors::new(&self.inner, inner)
    }
}

/// Builder of a [`CorsLayer`], started by a preset ([`CorsLayer::same_origin_api`],
/// [`CorsLayer::public_read_only`]).
///
/// Setters never fail: they store what they are given, and [`build`](Self::build) reports
/// the first invalid setting as a [`ConfigError`] (`cors.origins`, `cors.allow_credentials`,
/// `cors.allow_methods`, `cors.allow_headers`, `cors.expose_headers`).
#[derive(Debug, Clone)]
#[must_use]
pub struct CorsLayerBuilder {
    origins: Origins,
    credentials: bool,
    methods: Vec<String>,
    allow_headers: Vec<String>,
    expose_headers: Vec<String>,
    max_age: Option<Duration>,
}

impl CorsLayerBuilder {
    /// Whether cookies and `Authorization` may be sent cross-origin
    /// (`Access-Control-Allow-Credentials: true`). Requires a list of origins.
    pub fn allow_credentials(mut self, allow: bool) -> Self {
        self.credentials = allow;
        self
    }

    /// Replaces the allowed methods (`"GET"`, `"POST"`, ...). `*` is refused.
    pub fn allow_methods<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.methods = methods.into_iter().map(|m| m.as_ref().to_owned()).collect();
        self
    }

    /// Replaces the request headers a cross-origin script may send. `*` is refused.
    pub fn allow_headers<I, S>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.allow_headers = headers.into_iter().map(|h| h.as_ref().to_owned()).collect();
        self
    }

    /// The response headers a cross-origin script may read beyond the safelisted ones. `*` is refused.
    pub fn expose_headers<I, S>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.expose_headers = headers.into_iter().map(|h| h.as_ref().to_owned()).collect();
        self
    }

    /// How long browsers may cache a preflight answer (`None`: not sent).
    pub fn max_age(mut self, max_age: Option<Duration>) -> Self {
        self.max_age = max_age;
        self
    }

    /// Validates the configuration and builds the layer.
    pub fn build(self) -> Result<CorsLayer, ConfigError> {
        let mut layer = thc::CorsLayer::new();
        match &self.origins {
            Origins::Any => {
                if self.credentials {
                    return Err(ConfigError::new(
                        "cors.allow_credentials",
                        "credentials cannot be allowed for any origin; list the origins \
                         (CorsLayer::same_origin_api) or turn credentials off",
                    ));
                }
                layer = layer.allow_origin(thc::AllowOrigin::any());
            }
            Origins::List(list) => {
                if list.is_empty() {
                    return Err(ConfigError::new(
                        "cors.origins",
                        "the list of allowed origins is empty",
                    ));
                }
                let values = list
                    .iter()
                    .map(|o| parse_origin(o))
                    .collect::<Result<Vec<_>, _>>()?;
                layer = layer.allow_origin(thc::AllowOrigin::list(values));
            }
        }
        layer = layer.allow_methods(methods(&self.methods)?);
        layer = layer.allow_headers(header_list("cors.allow_headers", &self.allow_headers)?);
        layer = layer.expose_headers(header_list("cors.expose_headers", &self.expose_headers)?);
        if let Some(age) = self.max_age {
            layer = layer.max_age(age);
        }
        layer = layer.allow_credentials(self.credentials);
        Ok(CorsLayer { inner: layer })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_panicking_combination_is_an_error() {
        fn api<const N: usize>(origins: [&str; N]) -> CorsLayerBuilder {
            CorsLayer::same_origin_api(origins)
        }
        let cases = [
            (
                CorsLayer::public_read_only().allow_credentials(true),
                "cors.allow_credentials",
            ),
            (api(["*"]), "cors.origins"),
            (api(["https://a.example", "*"]), "cors.origins"),
            (api([]), "cors.origins"),
            (api(["null"]), "cors.origins"),
            (api(["https://a.example/"]), "cors.origins"),
            (api(["https://a.example/path"]), "cors.origins"),
            (api(["a.example"]), "cors.origins"),
            (api(["ftp://a.example"]), "cors.origins"),
            (api(["https://u@a.example"]), "cors.origins"),
            (api(["https://*.a.example"]), "cors.origins"),
            (
                api(["https://a.example"]).allow_methods(["*"]),
                "cors.allow_methods",
            ),
            (
                api(["https://a.example"]).allow_methods(["GE T"]),
                "cors.allow_methods",
            ),
            (
                api(["https://a.example"]).allow_headers(["*"]),
                "cors.allow_headers",
            ),
            (
                api(["https://a.example"]).expose_headers(["*"]),
                "cors.expose_headers",
            ),
            (
                api(["https://a.example"]).allow_headers(["bad header"]),
                "cors.allow_headers",
            ),
        ];
        for (c, setting) in cases {
            let err = c.clone().build().expect_err(&format!("{c:?} accepted"));
            assert_eq!(err.setting(), setting, "{c:?}");
        }
    }

    #[test]
    fn presets_build() {
        assert!(CorsLayer::public_read_only().build().is_ok());
        assert!(CorsLayer::same_origin_api(["https://a.example"])
            .allow_credentials(false)
            .max_age(None)
            .build()
            .is_ok());
    }
}

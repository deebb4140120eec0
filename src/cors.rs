//! Hardened CORS presets over tower-http's `CorsLayer`: misconfigurations are
//! [`ConfigError`]s, not panics, and plain `OPTIONS` requests reach your application.
//!
//! ```
//! use http::{Method, Request, Response, StatusCode};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_fortify::cors::Cors;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cors = Cors::same_origin_api(["https://app.example.com"]).build()?;
//! let app = ServiceBuilder::new().layer(cors).service(service_fn(|_req: Request<()>| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(String::from("data")))
//! }));
//!
//! // A genuine preflight is answered by the layer.
//! let preflight = Request::builder()
//!     .method(Method::OPTIONS)
//!     .header("origin", "https://app.example.com")
//!     .header("access-control-request-method", "PUT")
//!     .body(())?;
//! let res = app.clone().oneshot(preflight).await?;
//! assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example.com");
//! assert_eq!(res.headers()["access-control-allow-credentials"], "true");
//!
//! // Another origin gets no CORS headers, so the browser withholds the response.
//! let foreign = Request::builder().header("origin", "https://evil.example").body(())?;
//! let res = app.oneshot(foreign).await?;
//! assert_eq!(res.status(), StatusCode::OK);
//! assert!(res.headers().get("access-control-allow-origin").is_none());
//!
//! // Credentials with a wildcard origin: an error, where tower-http would panic.
//! assert!(Cors::public_read_only().allow_credentials(true).build().is_err());
//! # Ok(())
//! # }
//! ```
//!
//! # CORS is not access control
//!
//! CORS only tells a **browser** whether a script from another origin may **read** a
//! response. It does not stop the request: curl, servers and other non-browser clients
//! ignore it, and browsers still send "simple" cross-origin requests (a form `POST`, a
//! `GET`) and run them on your server before deciding whether the page may see the answer.
//! Authenticate and authorise every request; protect cookie-authenticated state changes
//! against CSRF.
//!
//! # What is different from tower-http's `CorsLayer`
//!
//! This module writes no CORS logic itself: the headers are computed by tower-http's
//! `CorsLayer` (a dependency of the `security-headers` feature). What it adds:
//!
//! - [`Cors::build`] returns a [`ConfigError`] for every combination tower-http would panic
//!   on in `layer()` or `poll_ready` (credentials with a wildcard origin, `*` in a list), and
//!   for origins a browser never sends (`https://app.example.com/` with a path, `null`).
//! - There is no way to mirror the request's origin: with credentials the origins are an
//!   explicit list.
//! - An `OPTIONS` request without `Access-Control-Request-Method` is not a preflight: it
//!   goes to your application (with the CORS headers of an ordinary request), where
//!   tower-http would answer it itself with an empty `200`.
//!
//! # Deployment caveats
//!
//! - Origins are compared exactly (scheme, host and port); list every front-end origin,
//!   `http://localhost:5173` included during development.
//! - Place it inside `trusted_host` and outside `rate_limit`, so genuine preflights are
//!   answered before they count against a quota.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use http::{header, HeaderName, HeaderValue, Method, Request, Response};
use pin_project_lite::pin_project;
use tower_http::cors as thc;
use tower_layer::Layer;
use tower_service::Service;

use crate::ConfigError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Origins {
    Any,
    List(Vec<String>),
}

/// A CORS configuration: start from a preset, adjust, then [`build`](Cors::build).
///
/// Setters never fail; the first invalid value is reported by `build`.
#[derive(Debug, Clone)]
pub struct Cors {
    origins: Origins,
    credentials: bool,
    methods: Vec<String>,
    allow_headers: Vec<String>,
    expose_headers: Vec<String>,
    max_age: Option<Duration>,
}

impl Cors {
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
    pub fn same_origin_api<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self {
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
    /// | credentials | never (an error if enabled) |
    /// | methods | `GET, HEAD` |
    /// | request headers | none beyond the CORS-safelisted ones |
    /// | preflight cache | 3600 s |
    pub fn public_read_only() -> Self {
        Self {
            origins: Origins::Any,
            credentials: false,
            methods: ["GET", "HEAD"].map(String::from).to_vec(),
            allow_headers: Vec::new(),
            expose_headers: Vec::new(),
            max_age: Some(Duration::from_secs(3600)),
        }
    }

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
                        "cors_origins",
                        "credentials cannot be allowed for any origin; list the origins \
                         (Cors::same_origin_api) or turn credentials off",
                    ));
                }
                layer = layer.allow_origin(thc::AllowOrigin::any());
            }
            Origins::List(list) => {
                if list.is_empty() {
                    return Err(ConfigError::new(
                        "cors_origins",
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
        let methods = self
            .methods
            .iter()
            .map(|m| {
                if m == "*" {
                    return Err(ConfigError::new(
                        "cors_methods",
                        "`*` is not allowed; list the methods",
                    ));
                }
                Method::from_bytes(m.as_bytes()).map_err(|_| {
                    ConfigError::new(
                        "cors_methods",
                        format!("`{}` is not a method", m.escape_debug()),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        layer = layer.allow_methods(methods);
        layer = layer.allow_headers(header_list("cors_allow_headers", &self.allow_headers)?);
        layer = layer.expose_headers(header_list("cors_expose_headers", &self.expose_headers)?);
        if let Some(age) = self.max_age {
            layer = layer.max_age(age);
        }
        layer = layer.allow_credentials(self.credentials);
        Ok(CorsLayer { inner: layer })
    }
}

fn header_list(setting: &'static str, names: &[String]) -> Result<Vec<HeaderName>, ConfigError> {
    names
        .iter()
        .map(|h| {
            if h == "*" {
                return Err(ConfigError::new(
                    setting,
                    "`*` is not allowed; list the header names",
                ));
            }
            HeaderName::try_from(h.as_str()).map_err(|_| {
                ConfigError::new(
                    setting,
                    format!("`{}` is not a header name", h.escape_debug()),
                )
            })
        })
        .collect()
}

/// Checks that `raw` is a serialised origin as browsers send it, lowercased.
fn parse_origin(raw: &str) -> Result<HeaderValue, ConfigError> {
    let bad =
        |why: &str| ConfigError::new("cors_origins", format!("`{}` {why}", raw.escape_debug()));
    match raw {
        "*" => {
            return Err(bad(
                "is a wildcard; use Cors::public_read_only() for any origin",
            ))
        }
        "null" => {
            return Err(bad(
                "is sent by sandboxed frames and local files, so anyone can send it",
            ))
        }
        _ => {}
    }
    let uri: http::Uri = raw
        .parse()
        .map_err(|_| bad("is not an origin such as `https://app.example.com`"))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(bad("is not an origin such as `https://app.example.com`"));
    };
    if !matches!(scheme, "http" | "https") {
        return Err(bad("must use http or https"));
    }
    if authority.as_str().contains('*') {
        return Err(bad(
            "has a wildcard; tower-http compares origins exactly, so list each origin",
        ));
    }
    if authority.as_str().contains('@') {
        return Err(bad("must not contain user info"));
    }
    if raw.ends_with('/') || uri.query().is_some() || !matches!(uri.path(), "" | "/") {
        return Err(bad(
            "has a path; browsers send the origin without one (`https://app.example.com`, no trailing slash)",
        ));
    }
    HeaderValue::from_str(&format!(
        "{scheme}://{}",
        authority.as_str().to_ascii_lowercase()
    ))
    .map_err(|_| bad("is not a valid header value"))
}

/// The CORS layer built by [`Cors::build`].
#[derive(Debug, Clone)]
#[must_use]
pub struct CorsLayer {
    inner: thc::CorsLayer,
}

impl<S> Layer<S> for CorsLayer {
    type Service = CorsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        // `Cors::build` refused every combination tower-http's `layer` would panic on.
        CorsService {
            inner: self.inner.layer(RestoreMethod { inner }),
        }
    }
}

/// Marks a plain `OPTIONS` request disguised as `GET` while it passes tower-http's layer.
#[derive(Debug, Clone, Copy)]
struct PlainOptions;

/// Sits inside tower-http's `Cors` and gives a plain `OPTIONS` request its method back.
#[derive(Debug, Clone)]
struct RestoreMethod<S> {
    inner: S,
}

impl<S, ReqBody> Service<Request<ReqBody>> for RestoreMethod<S>
where
    S: Service<Request<ReqBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        if req.extensions_mut().remove::<PlainOptions>().is_some() {
            *req.method_mut() = Method::OPTIONS;
        }
        self.inner.call(req)
    }
}

/// The service built by [`CorsLayer`].
#[derive(Clone)]
pub struct CorsService<S> {
    inner: thc::Cors<RestoreMethod<S>>,
}

impl<S> fmt::Debug for CorsService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CorsService").finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CorsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // tower-http answers every OPTIONS itself; only one with
        // Access-Control-Request-Method is a preflight. The others are ordinary requests:
        // let tower-http treat this one as such, and restore the method inside it.
        if req.method() == Method::OPTIONS
            && !req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            *req.method_mut() = Method::GET;
            req.extensions_mut().insert(PlainOptions);
        }
        ResponseFuture {
            inner: self.inner.call(req),
        }
    }
}

pin_project! {
    /// The response future of [`CorsService`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: thc::ResponseFuture<F>,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_panicking_combination_is_an_error() {
        let cases = [
            Cors::public_read_only().allow_credentials(true),
            Cors::same_origin_api(["*"]),
            Cors::same_origin_api(["https://a.example", "*"]),
            Cors::same_origin_api(Vec::<String>::new()),
            Cors::same_origin_api(["null"]),
            Cors::same_origin_api(["https://a.example/"]),
            Cors::same_origin_api(["https://a.example/path"]),
            Cors::same_origin_api(["a.example"]),
            Cors::same_origin_api(["ftp://a.example"]),
            Cors::same_origin_api(["https://u@a.example"]),
            Cors::same_origin_api(["https://*.a.example"]),
            Cors::same_origin_api(["https://a.example"]).allow_methods(["*"]),
            Cors::same_origin_api(["https://a.example"]).allow_methods(["GE T"]),
            Cors::same_origin_api(["https://a.example"]).allow_headers(["*"]),
            Cors::same_origin_api(["https://a.example"]).expose_headers(["*"]),
            Cors::same_origin_api(["https://a.example"]).allow_headers(["bad header"]),
        ];
        for c in cases {
            assert!(c.clone().build().is_err(), "{c:?} accepted");
        }
    }

    #[test]
    fn origins_are_lowercased() {
        assert_eq!(
            parse_origin("HTTPS://App.Example.com:8443").unwrap(),
            "https://app.example.com:8443"
        );
    }
}

//! [`WebhookSink`]: signed HTTP delivery per the Standard Webhooks specification.

use std::{
    fmt, io,
    net::IpAddr,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{header, HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};
use serde::Serialize;
use sha2::Sha256;

use super::resolver::{is_public, GuardedResolver, RefusedTarget};
use super::{Batch, Sink, SinkError, SinkFuture};
use crate::{
    notify::notification::{rfc3339, Notification},
    ConfigError,
};

/// How much of a receiver's response body is read (and discarded) per delivery.
const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// A Standard Webhooks signing secret: `whsec_` followed by the base64 of 24 to 64 bytes.
///
/// Its `Debug` output never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl WebhookSecret {
    /// Parses a secret in `whsec_<base64>` form (the `whsec_` prefix is optional).
    pub fn parse(secret: &str) -> Result<Self, ConfigError> {
        let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
        let key = BASE64.decode(encoded.trim()).map_err(|_| {
            ConfigError::new(
                "notify.webhook_sink.secret",
                "expected `whsec_` followed by standard base64",
            )
        })?;
        if !(24..=64).contains(&key.len()) {
            return Err(ConfigError::new(
                "notify.webhook_sink.secret",
                format!(
                    "the secret decodes to {} bytes; Standard Webhooks secrets are 24 to 64 bytes",
                    key.len()
                ),
            ));
        }
        Ok(Self { key })
    }

    /// A new random 32-byte secret (from the operating system's CSPRNG via `rand`).
    pub fn generate() -> Self {
        Self {
            key: rand::random::<[u8; 32]>().to_vec(),
        }
    }

    /// The secret in `whsec_<base64>` form, to share with the receiver.
    pub fn to_whsec(&self) -> String {
        format!("whsec_{}", BASE64.encode(&self.key))
    }

    /// `v1,<base64 of HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
    fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> Result<String, SinkError> {
        // HMAC takes keys of any length, so this never fails; no panic path either way.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .map_err(|e| SinkError::permanent(format!("cannot key HMAC-SHA256: {e}")))?;
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        Ok(format!("v1,{}", BASE64.encode(mac.finalize().into_bytes())))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// Delivers each batch as one signed HTTP `POST` with a JSON body (feature `webhook`).
///
/// Follows the [Standard Webhooks] specification: `webhook-id` (the batch id, stable
/// across retries, for the receiver to deduplicate), `webhook-timestamp` (Unix seconds of
/// this attempt) and `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`,
/// one signature per configured secret, space-separated, so keys can be rotated. The body
/// is the Standard Webhooks payload shape:
///
/// ```json
/// {"type": "notification.batch", "timestamp": "2026-11-25T10:00:00.123Z",
///  "data": {"batch_id": "bat_...", "notifications": [ ... ]}}
/// ```
///
/// A 2xx answer is success; 408, 429 and 5xx are retried honouring `Retry-After`
/// (seconds or an HTTP date); timeouts and connection errors are retried; other statuses
/// (including redirects, which are not followed) dead-letter the batch.
///
/// Targets on loopback, private, link-local and other non-public addresses are refused by
/// default (server-side request forgery), both for IP literals at build time and for names
/// at resolution time; [`allow_private_networks`](WebhookSinkBuilder::allow_private_networks)
/// lifts that for internal receivers. IPv6 transition addresses (NAT64 `64:ff9b::/96`,
/// 6to4 `2002::/16`, Teredo `2001::/32`, IPv4-mapped) are judged by the IPv4 address they
/// carry; local-use NAT64 `64:ff9b:1::/48`, IPv4-compatible `::/96`, site-local
/// `fec0::/10` and `192.0.0.0/24` are refused whatever they hold.
///
/// Built on hyper-util's client with rustls (ring, webpki roots): no native TLS library.
///
/// ```
/// use std::time::Duration;
/// use tower_fortify::notify::{WebhookSecret, WebhookSink};
///
/// let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
/// let sink = WebhookSink::builder("https://hooks.example.com/fortify")
///     .secret(secret)
///     .timeout(Duration::from_secs(5))
///     .build()
///     .unwrap();
/// # let _ = sink;
///
/// let refused = WebhookSink::builder("http://169.254.169.254/latest")
///     .secret(WebhookSecret::generate())
///     .build()
///     .unwrap_err();
/// assert_eq!(refused.setting(), "notify.webhook_sink.url");
/// ```
///
/// [Standard Webhooks]: https://www.standardwebhooks.com/
pub struct WebhookSink {
    client: Client<HttpsConnector<HttpConnector<GuardedResolver>>, Full<Bytes>>,
    url: Uri,
    secrets: Vec<WebhookSecret>,
    timeout: Duration,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSink")
            .field("url", &self.url)
            .field("secrets", &self.secrets.len())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`WebhookSink`].
#[must_use]
pub struct WebhookSinkBuilder {
    url: String,
    secrets: Vec<WebhookSecret>,
    timeout: Duration,
    allow_private: bool,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl fmt::Debug for WebhookSinkBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSinkBuilder")
            .field("url", &self.url)
            .field("secrets", &self.secrets.len())
            .field("timeout", &self.timeout)
            .field("allow_private", &self.allow_private)
            .finish_non_exhaustive()
    }
}

impl WebhookSink {
    /// A builder for a sink posting to `url` (`http` or `https`).
    pub fn builder(url: impl Into<String>) -> WebhookSinkBuilder {
        WebhookSinkBuilder {
            url: url.into(),
            secrets: Vec::new(),
            timeout: Duration::from_secs(10),
            allow_private: false,
            headers: Vec::new(),
        }
    }
}

impl WebhookSinkBuilder {
    /// Adds a signing secret. With several, every delivery carries one signature per
    /// secret (rotation: add the new secret, update receivers, remove the old one).
    pub fn secret(mut self, secret: WebhookSecret) -> Self {
        self.secrets.push(secret);
        self
    }

    /// How long one delivery attempt may take, connection and response included
    /// (default 10 s). A timeout is retried.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Allows targets on loopback, private and link-local addresses (default: refused).
    /// Only for receivers you control; never for URLs that users supply.
    pub fn allow_private_networks(mut self, allow: bool) -> Self {
        self.allow_private = allow;
        self
    }

    /// Adds a header to every delivery (for example an `authorization` the receiver needs).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Validates the settings and builds the sink. Reports a bad setting as
    /// `notify.webhook_sink.<setter>` (`url`, `secret`, `timeout`), and
    /// `notify.webhook_sink.tls` if the TLS stack cannot be set up.
    pub fn build(self) -> Result<WebhookSink, ConfigError> {
        let url: Uri = self.url.parse().map_err(|_| {
            ConfigError::new(
                "notify.webhook_sink.url",
                format!("`{}` is not a URL", self.url),
            )
        })?;
        match url.scheme_str() {
            Some("http" | "https") => {}
            _ => {
                return Err(ConfigError::new(
                    "notify.webhook_sink.url",
                    "the URL must start with http:// or https://",
                ))
            }
        }
        let Some(host) = url.host() else {
            return Err(ConfigError::new(
                "notify.webhook_sink.url",
                "the URL has no host",
            ));
        };
        let literal = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>();
        if let Ok(ip) = literal {
            if !self.allow_private && !is_public(ip) {
                return Err(ConfigError::new(
                    "notify.webhook_sink.url",
                    format!("{ip} is not a public address; use allow_private_networks(true) for an internal receiver"),
                ));
            }
        }
        if self.secrets.is_empty() {
            return Err(ConfigError::new(
                "notify.webhook_sink.secret",
                "add at least one signing secret (WebhookSecret::generate() makes one)",
            ));
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::new(
                "notify.webhook_sink.timeout",
                "the timeout must be greater than zero",
            ));
        }

        let mut http = HttpConnector::new_with_resolver(GuardedResolver {
            allow_private: self.allow_private,
        });
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| ConfigError::new("notify.webhook_sink.tls", e.to_string()))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(WebhookSink {
            client,
            url,
            secrets: self.secrets,
            timeout: self.timeout,
            headers: self.headers,
        })
    }
}

#[derive(Serialize)]
struct Payload<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: String,
    data: PayloadData<'a>,
}

#[derive(Serialize)]
struct PayloadData<'a> {
    batch_id: &'a str,
    notifications: &'a [Notification],
}

impl WebhookSink {
    /// The body, headers and signatures of one delivery attempt, exactly as sent.
    fn prepare(&self, batch: &Batch, now: SystemTime) -> Result<Request<Full<Bytes>>, SinkError> {
        let body = serde_json::to_vec(&Payload {
            kind: "notification.batch",
            timestamp: rfc3339(now),
            data: PayloadData {
                batch_id: batch.id(),
                notifications: batch.notifications(),
            },
        })
        .map_err(|e| SinkError::permanent(format!("cannot encode the batch: {e}")))?;
        let ts = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let signatures = self
            .secrets
            .iter()
            .map(|s| s.sign(batch.id(), ts, &body))
            .collect::<Result<Vec<_>, _>>()?
            .join(" ");
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(self.url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                header::USER_AGENT,
                concat!("tower-fortify/", env!("CARGO_PKG_VERSION")),
            )
            .header("webhook-id", batch.id())
            .header("webhook-timestamp", ts)
            .header("webhook-signature", signatures);
        for (name, value) in &self.headers {
            req = req.header(name, value);
        }
        req.body(Full::new(Bytes::from(body)))
            .map_err(|e| SinkError::permanent(format!("cannot build the request: {e}")))
    }

    async fn deliver(&self, batch: &Batch) -> Result<(), SinkError> {
        let req = self.prepare(batch, SystemTime::now())?;
        let attempt = async {
            let res = self
                .client
                .request(req)
                .await
                .map_err(classify_client_error)?;
            let status = res.status();
            let retry_after = res
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            // Read (a bounded part of) the body so the connection can be reused.
            let _ = Limited::new(res.into_body(), MAX_RESPONSE_BODY)
                .collect()
                .await;
            Ok::<_, SinkError>((status, retry_after))
        };
        let (status, retry_after) =
            tokio::time::timeout(self.timeout, attempt)
                .await
                .map_err(|_| {
                    SinkError::retryable(format!(
                        "no answer within {} ms",
                        self.timeout.as_millis()
                    ))
                })??;
        if status.is_success() {
            return Ok(());
        }
        let message = format!("the receiver answered {status}");
        if status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
            || status.is_server_error()
        {
            let err = SinkError::retryable(message);
            Err(match retry_after {
                Some(after) => err.with_retry_after(after),
                None => err,
            })
        } else {
            Err(SinkError::permanent(message))
        }
    }
}

impl Sink for WebhookSink {
    fn send<'a>(&'a self, batch: &'a Batch) -> SinkFuture<'a> {
        Box::pin(self.deliver(batch))
    }
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110).
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

fn classify_client_error(err: hyper_util::client::legacy::Error) -> SinkError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<RefusedTarget>() {
            return SinkError::permanent(refused.to_string());
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if let Some(refused) = io.get_ref().and_then(|i| i.downcast_ref::<RefusedTarget>()) {
                return SinkError::permanent(refused.to_string());
            }
        }
        source = e.source();
    }
    let mut message = err.to_string();
    if let Some(cause) = std::error::Error::source(&err) {
        message = format!("{message}: {cause}");
    }
    SinkError::retryable(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let d = parse_retry_after(&soon).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn secrets_parse_in_whsec_form_and_reject_short_keys() {
        let s = WebhookSecret::generate();
        assert_eq!(WebhookSecret::parse(&s.to_whsec()).unwrap(), s);
        assert_eq!(
            WebhookSecret::parse("whsec_c2hvcnQ=")
                .unwrap_err()
                .setting(),
            "notify.webhook_sink.secret"
        );
        assert!(WebhookSecret::parse("whsec_***").is_err());
        assert_eq!(format!("{s:?}"), "WebhookSecret(<redacted>)");
    }

    #[test]
    fn the_signature_matches_a_known_vector() {
        // The example of the Standard Webhooks specification's reference libraries.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        let sig = sig.unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}

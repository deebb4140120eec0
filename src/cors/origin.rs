//! Validation of what the builder stores as text: origins, methods and header names, each
//! refused where tower-http would panic or a browser would never match.

use http::{HeaderName, HeaderValue, Method};

use crate::ConfigError;

/// Checks that `raw` is a serialised origin as browsers send it, lowercased.
pub(super) fn parse_origin(raw: &str) -> Result<HeaderValue, ConfigError> {
    let bad =
        |why: &str| ConfigError::new("cors.origins", format!("`{}` {why}", raw.escape_debug()));
    match raw {
        "*" => {
            return Err(bad(
                "is a wildcard; use CorsLayer::public_read_only() for any origin",
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

/// Parses the methods given to `allow_methods`; `*` is refused.
pub(super) fn methods(names: &[String]) -> Result<Vec<Method>, ConfigError> {
    names
        .iter()
        .map(|m| {
            if m == "*" {
                return Err(ConfigError::new(
                    "cors.allow_methods",
                    "`*` is not allowed; list the methods",
                ));
            }
            Method::from_bytes(m.as_bytes()).map_err(|_| {
                ConfigError::new(
                    "cors.allow_methods",
                    format!("`{}` is not a method", m.escape_debug()),
                )
            })
        })
        .collect()
}

/// Parses a list of header names for `setting`; `*` is refused.
pub(super) fn header_list(
    setting: &'static str,
    names: &[String],
) -> Result<Vec<HeaderName>, ConfigError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_lowercased() {
        assert_eq!(
            parse_origin("HTTPS://App.Example.com:8443").unwrap(),
            "https://app.example.com:8443"
        );
        assert_eq!(
            parse_origin("http://localhost:5173").unwrap(),
            "http://localhost:5173"
        );
    }

    #[test]
    fn what_browsers_never_send_is_refused() {
        for bad in [
            "*",
            "null",
            "https://a.example/",
            "https://a.example/path",
            "https://a.example?q",
            "a.example",
            "ftp://a.example",
            "https://u@a.example",
            "https://*.a.example",
        ] {
            let err = parse_origin(bad).unwrap_err();
            assert_eq!(err.setting(), "cors.origins", "{bad:?}");
        }
    }

    #[test]
    fn methods_and_headers() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            methods(&list(&["GET", "PROPFIND"])).unwrap(),
            [Method::GET, Method::from_bytes(b"PROPFIND").unwrap()]
        );
        assert!(methods(&list(&["*"])).is_err());
        assert!(methods(&list(&["GE T"])).is_err());
        let err = header_list("cors.expose_headers", &list(&["x-ok", "*"])).unwrap_err();
        assert_eq!(err.setting(), "cors.expose_headers");
        assert!(header_list("cors.allow_headers", &list(&["bad header"])).is_err());
        assert_eq!(
            header_list("cors.allow_headers", &list(&["Content-Type"])).unwrap(),
            [http::header::CONTENT_TYPE]
        );
    }
}

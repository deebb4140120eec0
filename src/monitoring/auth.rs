//! The bearer token: its validation at build time, the constant-time check of the
//! `Authorization` header, and the 401 challenge.

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use subtle::ConstantTimeEq;

use crate::{rejection::Problem, ConfigError};

/// Refuses tokens that are short, very long, or not `token68` characters.
pub(super) fn validate_token(token: &str) -> Result<(), ConfigError> {
    if !(16..=512).contains(&token.len()) {
        return Err(ConfigError::new(
            "monitoring.bearer_token",
            format!(
                "the token must be 16 to 512 characters long, got {}",
                token.len()
            ),
        ));
    }
    let body = token.trim_end_matches('=');
    let ok = !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        });
    if !ok {
        return Err(ConfigError::new(
            "monitoring.bearer_token",
            "the token may contain only A-Z, a-z, 0-9, '-', '.', '_', '~', '+', '/' and trailing '='",
        ));
    }
    Ok(())
}

/// `b` without leading and trailing ASCII whitespace.
fn trim_ascii(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if first.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if last.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

/// What the `Authorization` header of a request proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Auth {
    /// No `Authorization: Bearer` header.
    Missing,
    /// A bearer token that is not ours.
    Invalid,
    /// Our token.
    Valid,
}

/// Checks `headers` against `token`, in constant time for tokens of the same length.
pub(super) fn authorize(headers: &HeaderMap, token: &[u8]) -> Auth {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Auth::Missing;
    };
    let value = value.as_bytes();
    if value.len() < 7 || !value[..7].eq_ignore_ascii_case(b"bearer ") {
        return Auth::Missing;
    }
    let given = trim_ascii(&value[7..]);
    if bool::from(given.ct_eq(token)) {
        Auth::Valid
    } else {
        Auth::Invalid
    }
}

/// The 401 answer, with a `WWW-Authenticate` challenge.
pub(super) fn unauthorized(auth: Auth) -> Response<Bytes> {
    let (challenge, detail) = match auth {
        Auth::Invalid => (
            r#"Bearer realm="monitoring", error="invalid_token""#,
            "The bearer token is not valid.",
        ),
        _ => (
            r#"Bearer realm="monitoring""#,
            "This endpoint needs an Authorization: Bearer token.",
        ),
    };
    let mut res = Problem::new(StatusCode::UNAUTHORIZED, "Unauthorized")
        .detail(detail)
        .into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &[u8] = b"s3cret-token-of-32-characters-xx";

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_token_trimmed() {
        assert_eq!(authorize(&HeaderMap::new(), TOKEN), Auth::Missing);
        assert_eq!(authorize(&with("Basic abc"), TOKEN), Auth::Missing);
        assert_eq!(authorize(&with("Bearer"), TOKEN), Auth::Missing);
        assert_eq!(
            authorize(&with("bEaReR s3cret-token-of-32-characters-xx "), TOKEN),
            Auth::Valid
        );
        assert_eq!(
            authorize(&with("Bearer s3cret-token-of-32-characters-xy"), TOKEN),
            Auth::Invalid
        );
        assert_eq!(authorize(&with("Bearer s3cret"), TOKEN), Auth::Invalid);
    }

    #[test]
    fn trim_ascii_trims_both_ends() {
        assert_eq!(trim_ascii(b"  a b \t"), b"a b");
        assert_eq!(trim_ascii(b"   "), b"");
    }

    #[test]
    fn tokens_are_token68() {
        assert!(validate_token("abcdefghijklmnop+/==").is_ok());
        for bad in ["short", "has space in the token!!", "================"] {
            assert_eq!(
                validate_token(bad).unwrap_err().setting(),
                "monitoring.bearer_token",
                "{bad}"
            );
        }
    }

    #[test]
    fn challenges_say_whether_a_token_was_given() {
        let missing = unauthorized(Auth::Missing);
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            missing.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="monitoring""#
        );
        let invalid = unauthorized(Auth::Invalid);
        assert_eq!(
            invalid.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="monitoring", error="invalid_token""#
        );
    }
}

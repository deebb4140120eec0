//! The per-request CSP nonce.

use std::fmt;

use base64::{engine::general_purpose::STANDARD, Engine as _};
use rand::RngCore;

/// Random bytes per nonce: 144 bits, which base64 encodes to exactly 24 characters, no padding.
const NONCE_BYTES: usize = 18;
const NONCE_CHARS: usize = 24;

/// The CSP nonce of one request.
///
/// When the layer's policy uses [`CspSource::Nonce`](super::CspSource::Nonce), the layer draws 144
/// random bits from the thread-local CSPRNG (`rand::rng()`, ChaCha seeded by the operating
/// system) **before** the handler runs, stores this value in the request extensions, and
/// writes the same value into the `Content-Security-Policy` header of the response. The
/// handler reads it (with axum: `Extension<CspNonce>`) and puts it in
/// `<script nonce="...">`.
///
/// The value is standard base64 (`A-Z a-z 0-9 + /`), safe inside a double-quoted HTML
/// attribute without escaping. It lives inline: generating one does not allocate.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CspNonce {
    b64: [u8; NONCE_CHARS],
}

impl CspNonce {
    /// Draws a fresh nonce.
    pub fn generate() -> Self {
        let mut raw = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut raw);
        let mut b64 = [0u8; NONCE_CHARS];
        // 18 bytes always encode to 24 characters, so the slice is large enough.
        let _ = STANDARD.encode_slice(raw, &mut b64);
        Self { b64 }
    }

    /// The nonce, for `<script nonce="...">`.
    pub fn as_str(&self) -> &str {
        // The buffer holds base64 characters only, which are ASCII.
        std::str::from_utf8(&self.b64).unwrap_or_default()
    }
}

impl fmt::Display for CspNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CspNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CspNonce").field(&self.as_str()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_24_base64_chars_and_differ() {
        let a = CspNonce::generate();
        let b = CspNonce::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 24);
        let decoded = STANDARD.decode(a.as_str()).unwrap();
        assert_eq!(decoded.len(), NONCE_BYTES);
        assert!(a
            .as_str()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/'));
    }
}

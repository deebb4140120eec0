//! `Content-Encoding`: which codings a request declares (every header line, every
//! comma-separated value, in order) and undoing them for inspection, each step bounded
//! by the body limit.

use std::io::Read;

use bytes::Bytes;
use http::{header, HeaderMap};

/// At most this many codings (other than `identity`) are undone; a request declaring
/// more is refused with 415 whatever the [`UnknownEncoding`](super::UnknownEncoding)
/// policy (no client stacks encodings this deep; an attacker does, to tire a decoder).
pub(crate) const MAX_CODINGS: usize = 3;

/// A content coding the layer can undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Gzip,
    Deflate,
    Brotli,
}

/// Why the declared codings cannot be undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodingError {
    /// A coding the layer does not know (`zstd`, `compress`, a typo, bytes that are not
    /// text).
    Unknown,
    /// More than [`MAX_CODINGS`] codings.
    TooMany,
}

/// The codings of `headers` in the order they were applied (`identity` and empty list
/// elements dropped).
pub(crate) fn codings(headers: &HeaderMap) -> Result<Vec<Coding>, CodingError> {
    let mut out = Vec::new();
    let mut unknown = false;
    for value in headers.get_all(header::CONTENT_ENCODING) {
        let Ok(value) = value.to_str() else {
            unknown = true;
            continue;
        };
        for coding in value.split(',') {
            let coding = coding.trim();
            let known =
                if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                    Coding::Gzip
                } else if coding.eq_ignore_ascii_case("deflate") {
                    Coding::Deflate
                } else if coding.eq_ignore_ascii_case("br") {
                    Coding::Brotli
                } else if coding.is_empty() || coding.eq_ignore_ascii_case("identity") {
                    continue;
                } else {
                    unknown = true;
                    continue;
                };
            out.push(known);
        }
    }
    if out.len() > MAX_CODINGS {
        Err(CodingError::TooMany)
    } else if unknown {
        Err(CodingError::Unknown)
    } else {
        Ok(out)
    }
}

/// The result of undoing a body's codings.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// What decoded (at most `limit` bytes); the body itself when there were no codings.
    pub(crate) bytes: Bytes,
    /// Whether a step failed: the body is not what its header says (a plaintext body
    /// labelled `gzip`, or garbage after a valid stream), so the raw bytes are inspected
    /// too.
    pub(crate) failed: bool,
}

/// Undoes `codings` (last applied first), each step reading at most `limit` decoded
/// bytes, so a decompression bomb costs at most `limit` bytes per step. `truncated`
/// says the body is a prefix of a larger one: a stream cut short is then expected, not a
/// failure.
pub(crate) fn decode(codings: &[Coding], body: &Bytes, limit: usize, truncated: bool) -> Decoded {
    let mut cur = body.clone();
    for coding in codings.iter().rev() {
        let mut out = Vec::new();
        let read = match coding {
            Coding::Gzip => flate2::read::MultiGzDecoder::new(&cur[..])
                .take(limit as u64)
                .read_to_end(&mut out),
            Coding::Deflate => {
                // `deflate` is zlib-wrapped by the standard, raw in some clients: try both.
                let zlib = flate2::read::ZlibDecoder::new(&cur[..])
                    .take(limit as u64)
                    .read_to_end(&mut out);
                if zlib.is_err() && out.is_empty() {
                    flate2::read::DeflateDecoder::new(&cur[..])
                        .take(limit as u64)
                        .read_to_end(&mut out)
                } else {
                    zlib
                }
            }
            Coding::Brotli => brotli_decompressor::Decompressor::new(&cur[..], 4096)
                .take(limit as u64)
                .read_to_end(&mut out),
        };
        match read {
            Ok(_) => cur = Bytes::from(out),
            // A prefix of an oversized body: inspect what decoded.
            Err(_) if truncated && !out.is_empty() => cur = Bytes::from(out),
            Err(_) => {
                return Decoded {
                    bytes: Bytes::from(out),
                    failed: true,
                }
            }
        }
    }
    Decoded {
        bytes: cur,
        failed: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::CONTENT_ENCODING, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn codings_are_read_from_every_line_in_order() {
        use Coding::*;
        assert_eq!(codings(&headers(&[])), Ok(vec![]));
        assert_eq!(codings(&headers(&["identity", ""])), Ok(vec![]));
        assert_eq!(
            codings(&headers(&["X-Gzip, deflate", "br"])),
            Ok(vec![Gzip, Deflate, Brotli])
        );
        assert_eq!(
            codings(&headers(&["gzip", "zstd"])),
            Err(CodingError::Unknown)
        );
        assert_eq!(
            codings(&headers(&["gzip, gzip", "gzip,gzip"])),
            Err(CodingError::TooMany)
        );
        let mut h = HeaderMap::new();
        h.append(
            header::CONTENT_ENCODING,
            http::HeaderValue::from_bytes(b"gz\xffip").unwrap(),
        );
        assert_eq!(codings(&h), Err(CodingError::Unknown));
    }

    #[test]
    fn a_body_that_is_not_what_its_header_says_fails_to_decode() {
        let body = Bytes::from_static(b"plain text");
        for c in [Coding::Gzip, Coding::Deflate, Coding::Brotli] {
            let d = decode(&[c], &body, 1024, false);
            assert!(d.failed, "{c:?}");
        }
        let d = decode(&[], &body, 1024, false);
        assert!(!d.failed);
        assert_eq!(d.bytes, body);
    }
}

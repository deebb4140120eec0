//! A tolerant `multipart/form-data` splitter for a body already in memory, possibly cut
//! at the inspection limit: the last part runs to the end of what was read, a malformed
//! part does not stop the parts after it, and CRLF or bare LF line ends are accepted
//! (an application's parser may be laxer than the standard). Plus the test that tells
//! binary content from text by its bytes.

/// One part of a multipart body.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Part<'a> {
    /// The `name` of its `Content-Disposition` (empty when missing).
    pub(super) name: String,
    /// Its `filename`, when it has one (even empty).
    pub(super) filename: Option<String>,
    /// Its content, up to the next delimiter or the end of the body.
    pub(super) content: &'a [u8],
}

/// The `boundary` parameter of a `multipart/*` content type (case kept).
pub(super) fn boundary(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        (!value.is_empty() && value.len() <= 200).then_some(value)
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    (from..=haystack.len() - needle.len()).find(|&i| haystack[i..].starts_with(needle))
}

/// The parts of `body`, split at `--boundary` lines.
pub(super) fn parts<'a>(body: &'a [u8], boundary: &str) -> Vec<Part<'a>> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut out = Vec::new();
    // The first delimiter: at the start or after a line end (a preamble may precede it).
    let mut at = if body.starts_with(delimiter) {
        0
    } else {
        match find(body, &[b"\n", delimiter].concat(), 0) {
            Some(i) => i + 1,
            None => return out,
        }
    };
    loop {
        let after = at + delimiter.len();
        if body[after..].starts_with(b"--") {
            break;
        }
        // Skip the rest of the delimiter line.
        let Some(eol) = body[after..].iter().position(|&b| b == b'\n') else {
            break;
        };
        let head_start = after + eol + 1;
        // The part's headers end at an empty line.
        let (head_end, content_start) = match (
            find(body, b"\r\n\r\n", head_start),
            find(body, b"\n\n", head_start),
        ) {
            _ if body[head_start..].starts_with(b"\r\n") => (head_start, head_start + 2),
            _ if body[head_start..].starts_with(b"\n") => (head_start, head_start + 1),
            (Some(a), Some(b)) if b + 1 < a => (b, b + 2),
            (Some(a), _) => (a, a + 4),
            (None, Some(b)) => (b, b + 2),
            (None, None) => (body.len(), body.len()),
        };
        let head = String::from_utf8_lossy(&body[head_start..head_end]);
        let next = find(body, &[b"\n", delimiter].concat(), content_start);
        let content_end = match next {
            Some(n) if n > content_start && body[n - 1] == b'\r' => n - 1,
            Some(n) => n,
            None => body.len(),
        };
        let (name, filename) = disposition(&head);
        out.push(Part {
            name,
            filename,
            content: &body[content_start.min(content_end)..content_end],
        });
        match next {
            Some(n) => at = n + 1,
            None => break,
        }
    }
    out
}

/// `name` and `filename` of a part's `Content-Disposition` header.
fn disposition(head: &str) -> (String, Option<String>) {
    let mut name = String::new();
    let mut filename = None;
    for line in head.lines() {
        let Some((header, value)) = line.split_once(':') else {
            continue;
        };
        if !header.trim().eq_ignore_ascii_case("content-disposition") {
            continue;
        }
        for param in value.split(';').skip(1) {
            let Some((key, v)) = param.split_once('=') else {
                continue;
            };
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(v)
                .to_owned();
            match key.trim().to_ascii_lowercase().as_str() {
                "name" => name = v,
                "filename" | "filename*" => filename = Some(v),
                _ => {}
            }
        }
    }
    (name, filename)
}

/// File signatures of common binary formats.
const MAGIC: &[&[u8]] = &[
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"%PDF-",
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"\x1f\x8b",
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
    b"\x7fELF",
    b"MZ",
    b"RIFF",
    b"OggS",
    b"fLaC",
    b"ID3",
    b"\0asm",
    b"BZh",
    b"\xfd7zXZ\0",
    b"\x28\xb5\x2f\xfd",
    b"SQLite format 3\0",
    b"wOFF",
    b"wOF2",
    b"II*\0",
    b"MM\0*",
    b"\xca\xfe\xba\xbe",
    b"\0\0\x01\0",
];

/// Whether `content` is binary, judged by its bytes (never by a declared type): a known
/// file signature followed by any byte text never holds, or at least 10% of the first
/// 8 KiB being such bytes (control characters other than whitespace, invalid UTF-8) of
/// at least 8 different values. NUL padding or a few stray bytes do not make a text
/// value binary.
pub(super) fn is_binary(content: &[u8]) -> bool {
    let sample = &content[..content.len().min(8192)];
    let mut odd = 0usize;
    let mut seen = [false; 256];
    let mut count = |b: u8, odd: &mut usize| {
        *odd += 1;
        seen[usize::from(b)] = true;
    };
    for chunk in sample.utf8_chunks() {
        for b in chunk.valid().bytes() {
            if (b < 0x20 && !b"\t\n\r\x0c".contains(&b)) || b == 0x7f {
                count(b, &mut odd);
            }
        }
        for &b in chunk.invalid() {
            count(b, &mut odd);
        }
    }
    // A sample cut mid-character at 8 KiB ends in an "invalid" byte or three: no matter.
    let distinct = seen.iter().filter(|s| **s).count();
    let magic = MAGIC.iter().any(|m| sample.starts_with(m));
    (magic && odd > 0) || (odd * 10 >= sample.len() && distinct >= 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_are_read_as_sent() {
        assert_eq!(boundary("multipart/form-data; boundary=XyZ"), Some("XyZ"));
        assert_eq!(
            boundary("multipart/form-data; charset=utf-8; BOUNDARY=\"a b\""),
            Some("a b")
        );
        assert_eq!(boundary("multipart/form-data"), None);
    }

    #[test]
    fn parts_are_split_even_when_cut_short_or_malformed() {
        let body = b"preamble\r\n--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\none\r\n--b\nContent-Disposition: form-data; name=\"f\"; filename=\"\"\n\ntwo\n--b\r\nContent-Disposition: form-data; name=\"c\"\r\n\r\nthr";
        let p = parts(body, "b");
        assert_eq!(p.len(), 3);
        assert_eq!((p[0].name.as_str(), p[0].content), ("a", &b"one"[..]));
        assert_eq!(p[1].filename.as_deref(), Some(""));
        assert_eq!(p[1].content, b"two");
        assert_eq!((p[2].name.as_str(), p[2].content), ("c", &b"thr"[..]));
        assert!(parts(b"--b--\r\n", "b").is_empty());
        assert!(parts(b"no delimiter", "b").is_empty());
        // Headers that never end, and nothing after the delimiter: no panic.
        assert_eq!(parts(b"--b\r\nContent-Disposition: x", "b").len(), 1);
        assert!(parts(b"--b", "b").is_empty());
    }

    #[test]
    fn binary_is_told_by_bytes() {
        assert!(is_binary(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"));
        let noise: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        assert!(is_binary(&noise));
        assert!(!is_binary(b"1' UNION SELECT password FROM users--"));
        assert!(!is_binary("caf\u{e9} cr\u{e8}me".as_bytes()));
        // Padding does not hide text: one repeated odd byte is not binary.
        let mut padded = b"1' OR 1=1-- ".to_vec();
        padded.extend([0u8; 200]);
        assert!(!is_binary(&padded));
        // A signature alone, followed by text, is not binary either.
        assert!(!is_binary(b"%PDF-<script>alert(1)</script>"));
    }
}

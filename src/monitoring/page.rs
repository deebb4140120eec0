//! The dashboard page served at `GET /`: one static HTML file, without the token (it holds
//! no data), under a strict CSP that allows its one inline script and its one inline style
//! by their sha256 hashes, computed once from the same bytes the page is served from.

use std::sync::LazyLock;

use base64::Engine as _;
use bytes::Bytes;
use http::{header, HeaderValue, Response};
use sha2::{Digest as _, Sha256};

/// The page, as served.
const DASHBOARD_HTML: &str = include_str!("dashboard.html");

/// The text between `<tag>` and `</tag>`, when both appear exactly once.
fn inline_block<'a>(html: &'a str, tag: &str) -> Option<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    if html.matches(&open).count() != 1 || html.matches(&close).count() != 1 {
        return None;
    }
    let start = html.find(&open)? + open.len();
    let len = html[start..].find(&close)?;
    Some(&html[start..start + len])
}

/// `'sha256-<base64>'` of `text`, as a CSP source.
fn sha256_source(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The page's `Content-Security-Policy`: nothing but its own script, its own style and
/// fetches to its own origin. A block that cannot be found is allowed nothing (`'none'`).
fn dashboard_csp(html: &str) -> String {
    let hash = |tag| {
        inline_block(html, tag)
            .map(sha256_source)
            .unwrap_or_else(|| "'none'".to_owned())
    };
    format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src 'self' data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'; \
         require-trusted-types-for 'script'; trusted-types 'none'",
        hash("script"),
        hash("style")
    )
}

static CSP: LazyLock<HeaderValue> = LazyLock::new(|| {
    HeaderValue::from_str(&dashboard_csp(DASHBOARD_HTML))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
});

/// The answer to `GET /` and `HEAD /` (the body is dropped for `HEAD` by the caller).
/// `Cache-Control: no-store` is added with every answer of the service.
pub(super) fn dashboard_page() -> Response<Bytes> {
    let mut res = Response::new(Bytes::from_static(DASHBOARD_HTML.as_bytes()));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CONTENT_SECURITY_POLICY, CSP.clone());
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_one_script_and_one_style_and_both_are_hashed() {
        let script = inline_block(DASHBOARD_HTML, "script").expect("one <script> block");
        let style = inline_block(DASHBOARD_HTML, "style").expect("one <style> block");
        let csp = dashboard_csp(DASHBOARD_HTML);
        assert!(csp.contains(&format!("script-src {}", sha256_source(script))));
        assert!(csp.contains(&format!("style-src {}", sha256_source(style))));
        assert!(!csp.contains("unsafe"));
        assert!(!csp.contains("'none'; style-src 'none'"));
        // No inline handlers or style attributes the hashes would not cover.
        assert!(!DASHBOARD_HTML.contains(" style=\""));
        assert!(!DASHBOARD_HTML.contains(" onclick="));
        assert!(!DASHBOARD_HTML.contains(" onload="));
    }

    #[test]
    fn known_digest() {
        // echo -n 'abc' | sha256sum | xxd -r -p | base64
        assert_eq!(
            sha256_source("abc"),
            "'sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0='"
        );
    }

    #[test]
    fn a_page_without_a_block_allows_nothing_for_it() {
        let csp = dashboard_csp("<html><style>a{}</style></html>");
        assert!(csp.contains("script-src 'none'"));
        assert!(csp.contains("style-src 'sha256-"));
        assert_eq!(
            inline_block("<script></script><script></script>", "script"),
            None
        );
    }

    #[test]
    fn the_page_answer_carries_its_headers() {
        let res = dashboard_page();
        let h = res.headers();
        assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(h[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'; script-src 'sha256-"));
        assert!(res.body().starts_with(b"<!doctype html>"));
    }

    #[tokio::test]
    async fn the_service_serves_the_page_without_the_token_and_nothing_else() {
        use crate::monitoring::MonitoringService;
        use http::{Method, Request, StatusCode};
        use http_body_util::BodyExt;
        use tower::ServiceExt;

        let svc = MonitoringService::builder()
            .bearer_token("s3cret-token-of-32-characters-xx")
            .build()
            .unwrap();
        let call = |method: Method, path: &str| {
            let req = Request::builder()
                .method(method)
                .uri(path)
                .body(http_body_util::Empty::<Bytes>::new())
                .unwrap();
            svc.clone().oneshot(req)
        };
        let res = call(Method::GET, "/").await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(res.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, DASHBOARD_HTML.as_bytes());

        let res = call(Method::HEAD, "/").await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .is_empty());

        let res = call(Method::POST, "/").await.unwrap();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers()[header::ALLOW], "GET, HEAD");

        // The data behind it still needs the token.
        let res = call(Method::GET, "/dashboard").await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert!(res.headers().get(header::CONTENT_SECURITY_POLICY).is_none());
    }
}

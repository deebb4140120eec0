//! What a guard layer tells an OpenAPI document, as plain data: [`LayerDoc`],
//! [`ResponseDoc`], [`HeaderDoc`], [`MemberDoc`]. No OpenAPI library is involved; the
//! layers build these from their own configuration, and the generators render them.

use http::{HeaderName, StatusCode};

/// What one guard layer adds to the operations behind it: the responses it may answer
/// with instead of the handler, and the headers it adds to every response.
///
/// Each layer builds its own from the values it runs with (`RateLimitLayer::openapi_doc`,
/// `InjectionLayer::openapi_doc`, `TrustedHostLayer::openapi_doc`,
/// `SecurityHeadersLayer::openapi_doc`), so a document built from it cannot drift from
/// what the layer does. A layer of your own describes itself with the constructors.
///
/// ```
/// use http::StatusCode;
/// use tower_fortify::openapi::{HeaderDoc, LayerDoc, ResponseDoc};
///
/// let doc = LayerDoc::new()
///     .response(ResponseDoc::new(StatusCode::PAYMENT_REQUIRED, "The plan does not include this."))
///     .header(HeaderDoc::new(http::HeaderName::from_static("x-plan"), "The caller's plan."));
/// assert_eq!(doc.responses[0].status, StatusCode::PAYMENT_REQUIRED);
/// assert_eq!(doc.headers[0].component_name(), "X-Plan");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LayerDoc {
    /// The responses the layer may answer with instead of the inner service.
    pub responses: Vec<ResponseDoc>,
    /// Headers the layer may add to every response that passes through it.
    pub headers: Vec<HeaderDoc>,
}

impl LayerDoc {
    /// A layer that documents nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a response the layer may answer with.
    pub fn response(mut self, response: ResponseDoc) -> Self {
        self.responses.push(response);
        self
    }

    /// Adds a header the layer may put on every response.
    pub fn header(mut self, header: HeaderDoc) -> Self {
        self.headers.push(header);
        self
    }
}

/// One response a guard layer may answer with: a status, an `application/problem+json`
/// body (the shared `Problem` schema plus the extension members listed here), and the
/// headers it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseDoc {
    /// The HTTP status.
    pub status: StatusCode,
    /// What it means, for the document's readers.
    pub description: String,
    /// The problem `type` URI, when the layer sets one (`about:blank` otherwise).
    pub problem_type: Option<String>,
    /// Extension members of the problem body beyond RFC 9457's.
    pub members: Vec<MemberDoc>,
    /// Headers this response carries (besides the layer's every-response headers).
    pub headers: Vec<HeaderDoc>,
    /// Routes where the layer never answers with this response (exact paths, or prefixes
    /// ending in `/*`). Only documents built with
    /// [`FortifyDocs::per_route`](super::FortifyDocs::per_route) read them.
    pub skipped_routes: Vec<String>,
}

impl ResponseDoc {
    /// A response with `status`, explained by `description`.
    pub fn new(status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            status,
            description: description.into(),
            problem_type: None,
            members: Vec::new(),
            headers: Vec::new(),
            skipped_routes: Vec::new(),
        }
    }

    /// Sets the problem `type` URI.
    pub fn problem_type(mut self, uri: impl Into<String>) -> Self {
        self.problem_type = Some(uri.into());
        self
    }

    /// Adds an extension member of the problem body.
    pub fn member(mut self, member: MemberDoc) -> Self {
        self.members.push(member);
        self
    }

    /// Adds a header the response carries.
    pub fn header(mut self, header: HeaderDoc) -> Self {
        self.headers.push(header);
        self
    }

    /// Adds a route where the layer never answers with this response.
    pub fn skipped_route(mut self, route: impl Into<String>) -> Self {
        self.skipped_routes.push(route.into());
        self
    }

    /// Whether the response can happen on the OpenAPI path `path` (templates such as
    /// `/items/{id}` are compared as written).
    pub fn applies_to(&self, path: &str) -> bool {
        !self
            .skipped_routes
            .iter()
            .any(|r| match r.strip_suffix("/*") {
                Some(prefix) => path == prefix || path.starts_with(&format!("{prefix}/")),
                None => path == r,
            })
    }
}

/// An extension member of a problem body: an array of strings (`violated-policies`,
/// `categories`), optionally from a known set of values.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberDoc {
    /// The member's name.
    pub name: String,
    /// What it holds.
    pub description: String,
    /// The values it can hold; empty when any string can appear.
    pub values: Vec<String>,
}

impl MemberDoc {
    /// A member `name` holding an array of strings.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            values: Vec::new(),
        }
    }

    /// Restricts the array's items to `values`.
    pub fn values<I, S>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.values = values.into_iter().map(Into::into).collect();
        self
    }
}

/// How a documented header's value is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HeaderValueType {
    /// A string (structured fields, directives, ...).
    #[default]
    String,
    /// A non-negative integer (a number of seconds or requests).
    Integer,
}

/// A response header, documented once as a reusable header component (named by
/// [`component_name`](Self::component_name)) and referenced from each response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeaderDoc {
    /// The header.
    pub name: HeaderName,
    /// What it says.
    pub description: String,
    /// An example value, as the layer would send it.
    pub example: Option<String>,
    /// The type of its value.
    pub value_type: HeaderValueType,
}

impl HeaderDoc {
    /// A string-valued header `name`.
    pub fn new(name: HeaderName, description: impl Into<String>) -> Self {
        Self {
            name,
            description: description.into(),
            example: None,
            value_type: HeaderValueType::String,
        }
    }

    /// Sets an example value.
    pub fn example(mut self, example: impl Into<String>) -> Self {
        self.example = Some(example.into());
        self
    }

    /// Sets the value type.
    pub fn value_type(mut self, value_type: HeaderValueType) -> Self {
        self.value_type = value_type;
        self
    }

    /// The header's name as documents spell it, each dash-separated word capitalised
    /// (`ratelimit-policy` is `RateLimit-Policy`, `x-frame-options` is `X-Frame-Options`).
    /// It names the header component and the header in each response.
    pub fn component_name(&self) -> String {
        let name = self.name.as_str();
        // The IETF draft's own spelling.
        match name {
            "ratelimit" => return "RateLimit".into(),
            "ratelimit-policy" => return "RateLimit-Policy".into(),
            "x-ratelimit-limit" => return "X-RateLimit-Limit".into(),
            "x-ratelimit-remaining" => return "X-RateLimit-Remaining".into(),
            "x-ratelimit-reset" => return "X-RateLimit-Reset".into(),
            _ => {}
        }
        name.split('-')
            .map(|w| {
                let mut c = w.chars();
                match c.next() {
                    Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                    None => String::new(),
                }
            })
            .collect::<Vec<_>>()
            .join("-")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_names() {
        let h = |n: &'static str| HeaderDoc::new(HeaderName::from_static(n), "");
        assert_eq!(h("retry-after").component_name(), "Retry-After");
        assert_eq!(h("ratelimit-policy").component_name(), "RateLimit-Policy");
        assert_eq!(h("ratelimit").component_name(), "RateLimit");
        assert_eq!(
            h("content-security-policy").component_name(),
            "Content-Security-Policy"
        );
        assert_eq!(h("x-ratelimit-reset").component_name(), "X-RateLimit-Reset");
    }

    #[test]
    fn skipped_routes_match_exact_paths_and_prefixes() {
        let r = ResponseDoc::new(StatusCode::FORBIDDEN, "")
            .skipped_route("/upload/*")
            .skipped_route("/raw");
        assert!(!r.applies_to("/upload"));
        assert!(!r.applies_to("/upload/{id}"));
        assert!(!r.applies_to("/raw"));
        assert!(r.applies_to("/raw/x"));
        assert!(r.applies_to("/uploads"));
        assert!(r.applies_to("/items"));
    }
}

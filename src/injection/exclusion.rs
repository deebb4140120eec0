//! [`Exclusion`]: a typed exception to the rules, built and validated on its own.

use crate::{event::Category, ConfigError};

/// What part of a matching route an [`Exclusion`] covers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    /// The whole request: nothing is inspected and the body is not buffered.
    Route,
    /// The body: it is neither buffered nor inspected.
    Body,
    /// Values whose location matches a pattern (`json:$.body`, `query:*`).
    Location(String),
}

/// A typed exception to the rules: a route, optionally narrowed to one location and to
/// some attack families, where findings are ignored.
///
/// Routes are exact paths (`/api/posts`) or prefixes ending in `/*` (`/admin/*`).
/// Locations are the ones findings report (`query:id`, `form:comment`, `json:$.body`,
/// `header:user-agent`, `cookie:prefs`); a trailing `*` makes a prefix.
///
/// ```
/// use tower_fortify::{event::Category, injection::Exclusion};
///
/// // Posts may contain HTML in their body field.
/// let html_posts = Exclusion::route("/api/posts")?
///     .location("json:$.body")?
///     .categories([Category::Xss]);
/// // Uploads are not buffered at all.
/// let uploads = Exclusion::route("/upload/*")?.body();
/// # let _ = (html_posts, uploads);
/// # Ok::<(), tower_fortify::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclusion {
    route: String,
    prefix: bool,
    scope: Scope,
    categories: Vec<Category>,
}

/// Location kinds an exclusion may name.
const LOCATION_KINDS: &[&str] = &[
    "path",
    "query",
    "query-name",
    "cookie",
    "cookie-name",
    "header",
    "form",
    "form-name",
    "json",
    "json-key",
    "multipart",
    "multipart-name",
    "multipart-filename",
    "xml",
    "body",
];

impl Exclusion {
    /// An exclusion of the whole route `route` (exact, or a prefix ending in `/*`).
    pub fn route(route: &str) -> Result<Self, ConfigError> {
        if !route.starts_with('/') {
            return Err(ConfigError::new(
                "injection.exclusion.route",
                format!("{route:?} must start with '/'"),
            ));
        }
        let (route, prefix) = match route.strip_suffix("/*") {
            Some(p) => (format!("{p}/"), true),
            None => (route.to_owned(), false),
        };
        if route.contains('*') {
            return Err(ConfigError::new(
                "injection.exclusion.route",
                "only a trailing '/*' wildcard is supported",
            ));
        }
        Ok(Self {
            route,
            prefix,
            scope: Scope::Route,
            categories: Vec::new(),
        })
    }

    /// Narrows the exclusion to values whose location matches `location` (for example
    /// `json:$.body`, or `query:*` for every query value).
    pub fn location(mut self, location: &str) -> Result<Self, ConfigError> {
        let kind = location.split(':').next().unwrap_or_default();
        if !location.contains(':') && location != "path" && location != "body"
            || !LOCATION_KINDS.contains(&kind)
        {
            return Err(ConfigError::new(
                "injection.exclusion.location",
                format!(
                    "{location:?} is not a location; use one of {} followed by ':' and a name",
                    LOCATION_KINDS.join(", ")
                ),
            ));
        }
        if location.find('*').is_some_and(|i| i + 1 != location.len()) {
            return Err(ConfigError::new(
                "injection.exclusion.location",
                "only a trailing '*' wildcard is supported",
            ));
        }
        self.scope = Scope::Location(location.to_owned());
        Ok(self)
    }

    /// Narrows the exclusion to the request body, which is then neither buffered nor
    /// inspected (for example file uploads).
    pub fn body(mut self) -> Self {
        self.scope = Scope::Body;
        self
    }

    /// Narrows the exclusion to these attack families (default: all).
    pub fn categories(mut self, categories: impl IntoIterator<Item = Category>) -> Self {
        self.categories = categories.into_iter().collect();
        self
    }

    /// The route as it was given (`/api/posts`, `/upload/*`).
    pub(crate) fn route_pattern(&self) -> String {
        if self.prefix {
            format!("{}*", self.route)
        } else {
            self.route.clone()
        }
    }

    pub(crate) fn matches_route(&self, path: &str) -> bool {
        if self.prefix {
            path.starts_with(&self.route) || path == &self.route[..self.route.len() - 1]
        } else {
            path == self.route
        }
    }

    /// Whether the whole request on this route is skipped.
    pub(crate) fn skips_request(&self) -> bool {
        self.scope == Scope::Route && self.categories.is_empty()
    }

    /// Whether the body on this route is skipped (not even buffered).
    pub(crate) fn skips_body(&self) -> bool {
        matches!(self.scope, Scope::Route | Scope::Body) && self.categories.is_empty()
    }

    /// Whether a finding of `category` at `location` is excused.
    pub(crate) fn excuses(&self, category: Category, location: &str) -> bool {
        if !self.categories.is_empty() && !self.categories.contains(&category) {
            return false;
        }
        match &self.scope {
            Scope::Route => true,
            Scope::Body => {
                !location.starts_with("path")
                    && !location.starts_with("query")
                    && !location.starts_with("cookie")
                    && !location.starts_with("header")
            }
            Scope::Location(pat) => match pat.strip_suffix('*') {
                Some(prefix) => location.starts_with(prefix),
                None => location == pat,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_patterns() {
        let exact = Exclusion::route("/api/posts").unwrap();
        assert!(exact.matches_route("/api/posts"));
        assert!(!exact.matches_route("/api/posts/1"));
        let prefix = Exclusion::route("/admin/*").unwrap();
        assert!(prefix.matches_route("/admin/users"));
        assert!(prefix.matches_route("/admin"));
        assert!(!prefix.matches_route("/administrator"));
        assert_eq!(
            Exclusion::route("api").unwrap_err().setting(),
            "injection.exclusion.route"
        );
        assert!(Exclusion::route("/a/*/b").is_err());
    }

    #[test]
    fn locations_and_categories() {
        let e = Exclusion::route("/p")
            .unwrap()
            .location("json:$.body")
            .unwrap()
            .categories([Category::Xss]);
        assert!(e.excuses(Category::Xss, "json:$.body"));
        assert!(!e.excuses(Category::Sqli, "json:$.body"));
        assert!(!e.excuses(Category::Xss, "json:$.title"));
        assert!(!e.skips_body());
        let q = Exclusion::route("/p").unwrap().location("query:*").unwrap();
        assert!(q.excuses(Category::Sqli, "query:id"));
        assert!(Exclusion::route("/p").unwrap().location("nowhere").is_err());
        assert!(Exclusion::route("/p")
            .unwrap()
            .location("json:*.x")
            .is_err());
        assert!(Exclusion::route("/up").unwrap().body().skips_body());
    }
}

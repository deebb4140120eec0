//! The rendered text of a policy, split around the places where the per-request nonce goes.

use http::HeaderValue;

/// The rendered policy, split around the places where the per-request nonce goes.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Template {
    pub(super) parts: Vec<String>,
    pub(super) static_value: Option<HeaderValue>,
}

impl Template {
    pub(super) fn push(&mut self, s: &str) {
        if self.parts.is_empty() {
            self.parts.push(String::new());
        }
        if let Some(last) = self.parts.last_mut() {
            last.push_str(s);
        }
    }

    pub(super) fn nonce(&mut self) {
        if self.parts.is_empty() {
            self.parts.push(String::new());
        }
        self.parts.push(String::new());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_split_the_text() {
        let mut t = Template::default();
        t.push("script-src 'nonce-");
        t.nonce();
        t.push("';style-src 'nonce-");
        t.nonce();
        t.push("'");
        assert_eq!(t.parts, ["script-src 'nonce-", "';style-src 'nonce-", "'"]);

        let mut starts_with_nonce = Template::default();
        starts_with_nonce.nonce();
        starts_with_nonce.push("x");
        assert_eq!(starts_with_nonce.parts, ["", "x"]);
    }
}

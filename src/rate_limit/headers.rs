//! The `RateLimit-Policy` and `RateLimit` response headers
//! (draft-ietf-httpapi-ratelimit-headers-10), legacy `X-RateLimit-*` headers and
//! `Retry-After`.

use std::{fmt::Write as _, time::Duration};

use http::{HeaderName, HeaderValue};

use super::{quota::Gcra, store::CellOutcome};

/// Which rate-limit headers responses carry.
///
/// With [`RateLimitHeaders::Ietf`] (the default) every response, allowed or refused,
/// carries, per policy that applied:
///
/// - `RateLimit-Policy: "ip";q=100;w=1`: the policy's burst `q` and the window `w` (whole
///   seconds, rounded up) over which a full burst returns. For `Quota::per_minute(600)`
///   that is `q=600;w=60`; for `Quota::per_second(10).burst(20)` it is `q=20;w=2`.
/// - `RateLimit: "ip";r=42;t=1`: `r` requests left now, `t` whole seconds (rounded up)
///   until the full quota is available again.
///
/// Refused requests also carry `Retry-After` (whole seconds, rounded up, at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RateLimitHeaders {
    /// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers-10).
    #[default]
    Ietf,
    /// The IETF headers plus `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
    /// `X-RateLimit-Reset`, for the policy with the fewest requests left. Here
    /// `X-RateLimit-Reset` is a number of **seconds from now** (not a Unix time).
    IetfAndLegacy,
    /// No rate-limit headers (`Retry-After` is still sent on refusals).
    None,
}

pub(crate) static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub(crate) static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
static X_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
static X_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
static X_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// Headers to add to a response; empty (no allocation) when headers are off.
pub(crate) type HeaderList = Vec<(HeaderName, HeaderValue)>;

/// Whole seconds, rounded up; `at_least_one` for `Retry-After`, which must never say "now".
pub(crate) fn ceil_secs(d: Duration, at_least_one: bool) -> u64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    if at_least_one {
        s.max(1)
    } else {
        s
    }
}

/// `"name";q=B;w=W` for one policy's quota.
pub(crate) fn policy_item(name: &str, g: &Gcra) -> String {
    format!(
        "\"{name}\";q={};w={}",
        g.burst(),
        ceil_secs(g.window(), true)
    )
}

/// One applied policy, for header rendering.
pub(crate) struct Applied<'a> {
    pub(crate) name: &'a str,
    pub(crate) policy_item: &'a str,
    pub(crate) gcra: Gcra,
    pub(crate) outcome: CellOutcome,
}

pub(crate) fn render(mode: RateLimitHeaders, applied: &[Applied<'_>], out: &mut HeaderList) {
    if mode == RateLimitHeaders::None || applied.is_empty() {
        return;
    }
    let mut policy = String::with_capacity(32 * applied.len());
    let mut state = String::with_capacity(24 * applied.len());
    for (i, a) in applied.iter().enumerate() {
        if i > 0 {
            policy.push_str(", ");
            state.push_str(", ");
        }
        policy.push_str(a.policy_item);
        let remaining = if a.outcome.allowed {
            a.outcome.remaining
        } else {
            0
        };
        let _ = write!(
            state,
            "\"{}\";r={};t={}",
            a.name,
            remaining,
            ceil_secs(a.outcome.reset, false)
        );
    }
    // Policy names are validated to be token characters, so these are valid header values.
    if let Ok(v) = HeaderValue::from_str(&policy) {
        out.push((RATELIMIT_POLICY.clone(), v));
    }
    if let Ok(v) = HeaderValue::from_str(&state) {
        out.push((RATELIMIT.clone(), v));
    }
    if mode == RateLimitHeaders::IetfAndLegacy {
        let Some(tightest) = applied.iter().min_by_key(|a| {
            if a.outcome.allowed {
                a.outcome.remaining
            } else {
                0
            }
        }) else {
            return;
        };
        let remaining = if tightest.outcome.allowed {
            tightest.outcome.remaining
        } else {
            0
        };
        out.push((X_LIMIT.clone(), HeaderValue::from(tightest.gcra.burst())));
        out.push((X_REMAINING.clone(), HeaderValue::from(remaining)));
        out.push((
            X_RESET.clone(),
            HeaderValue::from(ceil_secs(tightest.outcome.reset, false)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::Quota;

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        assert_eq!(ceil_secs(Duration::from_millis(1), true), 1);
        assert_eq!(ceil_secs(Duration::ZERO, true), 1);
        assert_eq!(ceil_secs(Duration::from_millis(1001), true), 2);
        assert_eq!(ceil_secs(Duration::from_secs(3), true), 3);
        assert_eq!(ceil_secs(Duration::ZERO, false), 0);
    }

    #[test]
    fn policy_items() {
        let g = Quota::per_minute(600).validate().unwrap();
        assert_eq!(policy_item("ip", &g), "\"ip\";q=600;w=60");
        let g = Quota::per_second(10).burst(20).validate().unwrap();
        assert_eq!(policy_item("ip", &g), "\"ip\";q=20;w=2");
    }
}

//! [`Notification`] and the value types it is made of: [`Kind`], [`Priority`],
//! [`NotificationId`]. The leaf of the module: every other file may use it, it uses none.

use std::{
    borrow::Cow,
    collections::BTreeMap,
    fmt,
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use serde::{Serialize, Serializer};

use crate::event::EventKind;

/// How urgent a notification is.
///
/// `Critical` notifications are sent at once, bypassing batching; within a batch higher
/// priorities come first; when the queue is full the lowest priority is dropped first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Dropped first when the queue is full.
    Low,
    /// The default.
    Normal,
    /// Sent before `Normal` and `Low` items in the same batch.
    High,
    /// Sent at once; dropped only when the queue holds nothing but `Critical` items.
    Critical,
}

impl Priority {
    /// All priorities, highest first.
    pub const ALL: [Priority; 4] = [
        Priority::Critical,
        Priority::High,
        Priority::Normal,
        Priority::Low,
    ];

    /// `critical`, `high`, `normal` or `low`.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a notification is about.
///
/// The guard layers' events keep the name [`EventKind::as_str`] gives them (one spelling
/// for notifications, metric labels and dashboards); [`NotifyLayer`](super::NotifyLayer)
/// adds the two outcomes it observes itself; an application names its own events with
/// [`Kind::custom`].
///
/// ```
/// use tower_fortify::{event::EventKind, notify::Kind};
///
/// assert_eq!(Kind::from(EventKind::RateLimited).as_str(), "rate_limited");
/// assert_eq!(Kind::ServerError.as_str(), "server_error");
/// assert_eq!(Kind::custom("order_filled").as_str(), "order_filled");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Kind {
    /// A guard layer's [`SecurityEvent`](crate::event::SecurityEvent), named by its
    /// [`EventKind`] (`rate_limited`, `injection_detected`, `untrusted_host`,
    /// `backend_error`).
    Security(EventKind),
    /// The service answered with a 5xx status (`server_error`).
    ServerError,
    /// A request took longer than the configured threshold (`slow_request`).
    SlowRequest,
    /// An application event, such as `order_filled`.
    Custom(Arc<str>),
}

impl Kind {
    /// An application kind.
    pub fn custom(name: impl Into<Arc<str>>) -> Self {
        Kind::Custom(name.into())
    }

    /// The snake_case name used in JSON and as the Redis stream field.
    pub fn as_str(&self) -> &str {
        match self {
            Kind::Security(kind) => kind.as_str(),
            Kind::ServerError => "server_error",
            Kind::SlowRequest => "slow_request",
            Kind::Custom(name) => name,
        }
    }
}

impl From<EventKind> for Kind {
    fn from(kind: EventKind) -> Self {
        Kind::Security(kind)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A unique, time-ordered notification id: 48 bits of Unix milliseconds then 80 random
/// bits, shown as `ntf_` and 32 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NotificationId(u128);

impl NotificationId {
    fn generate(at: SystemTime) -> Self {
        let ms = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let random: u128 = rand::random::<u128>() & ((1u128 << 80) - 1);
        Self(((ms & ((1u128 << 48) - 1)) << 80) | random)
    }

    /// The raw 128-bit value.
    pub fn as_u128(self) -> u128 {
        self.0
    }
}

impl fmt::Display for NotificationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ntf_{:032x}", self.0)
    }
}

impl Serialize for NotificationId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One thing to tell people or systems about.
///
/// Its `fields` are [`serde_json::Value`]s: serde_json 1 is part of this type's public
/// API (the fields are the JSON the sinks send).
///
/// # JSON shape
///
/// ```json
/// {
///   "id": "ntf_0193f1c2a4b87d6e5f40312a9b8c7d6e",
///   "kind": "rate_limited",
///   "priority": "normal",
///   "title": "Rate limit exceeded",
///   "message": "policy per-ip refused 203.0.113.7",
///   "fields": { "policy": "per-ip", "key": "203.0.113.7" },
///   "count": 1,
///   "timestamp": "2026-11-25T10:00:00.123Z",
///   "source": "tower-fortify"
/// }
/// ```
///
/// `count` is greater than 1 when [`NotifyLayer`](super::NotifyLayer) (or
/// [`Notifier::notify_coalesced`](super::Notifier::notify_coalesced)) aggregated several
/// occurrences into this one; `fields` holds any JSON values; `timestamp` is RFC 3339 UTC
/// with milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    id: NotificationId,
    kind: Kind,
    priority: Priority,
    title: Cow<'static, str>,
    message: String,
    fields: BTreeMap<Cow<'static, str>, serde_json::Value>,
    count: u64,
    #[serde(serialize_with = "serialize_time")]
    timestamp: SystemTime,
    source: Cow<'static, str>,
}

/// Serialises an `Arc<str>` as a string.
pub(crate) fn serialize_arc_str<S: Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

/// Serialises a time as [`rfc3339`].
pub(crate) fn serialize_time<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

impl Notification {
    /// A notification of `kind` and `priority` with a short `title`, stamped now with a
    /// fresh id and the source `tower-fortify`.
    pub fn new(kind: Kind, priority: Priority, title: impl Into<Cow<'static, str>>) -> Self {
        let timestamp = SystemTime::now();
        Self {
            id: NotificationId::generate(timestamp),
            kind,
            priority,
            title: title.into(),
            message: String::new(),
            fields: BTreeMap::new(),
            count: 1,
            timestamp,
            source: Cow::Borrowed("tower-fortify"),
        }
    }

    /// Sets the human-readable message.
    #[must_use]
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Adds a structured field (any JSON value: strings, numbers, booleans...).
    #[must_use]
    pub fn field(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.fields.insert(name.into(), value.into());
        self
    }

    /// Sets the source (the service or component that raised it).
    #[must_use]
    pub fn source(mut self, source: impl Into<Cow<'static, str>>) -> Self {
        self.source = source.into();
        self
    }

    /// Sets how many occurrences this notification stands for (at least 1).
    #[must_use]
    pub fn count(mut self, count: u64) -> Self {
        self.count = count.max(1);
        self
    }

    /// The unique id.
    pub fn id(&self) -> NotificationId {
        self.id
    }
    /// The kind.
    pub fn kind(&self) -> &Kind {
        &self.kind
    }
    /// The priority.
    pub fn priority(&self) -> Priority {
        self.priority
    }
    /// The title.
    pub fn title(&self) -> &str {
        &self.title
    }
    /// The message (empty when none was set).
    pub fn message_text(&self) -> &str {
        &self.message
    }
    /// The structured fields.
    pub fn fields(&self) -> &BTreeMap<Cow<'static, str>, serde_json::Value> {
        &self.fields
    }
    /// How many occurrences this notification stands for.
    pub fn occurrences(&self) -> u64 {
        self.count
    }
    /// When it was created.
    pub fn timestamp(&self) -> SystemTime {
        self.timestamp
    }
    /// The source.
    pub fn source_name(&self) -> &str {
        &self.source
    }

    /// A copy with a fresh id and timestamp (for aggregation summaries).
    pub(crate) fn renewed(&self) -> Self {
        let timestamp = SystemTime::now();
        Self {
            id: NotificationId::generate(timestamp),
            timestamp,
            ..self.clone()
        }
    }

    /// The documented JSON shape, as a string.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Formats a time as RFC 3339 UTC with milliseconds, e.g. `2026-11-25T10:00:00.123Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        let at = |secs: u64, ms: u64| UNIX_EPOCH + Duration::from_millis(secs * 1000 + ms);
        assert_eq!(rfc3339(at(0, 0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(at(951_782_400, 0)), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(at(1_700_000_000, 123)), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(at(4_102_444_799, 999)), "2099-12-31T23:59:59.999Z");
    }

    #[test]
    fn security_kinds_take_the_event_name() {
        for kind in EventKind::ALL {
            assert_eq!(Kind::from(kind).as_str(), kind.as_str());
            assert_eq!(Kind::from(kind).to_string(), kind.to_string());
        }
        assert_eq!(
            serde_json::to_value(Kind::Security(EventKind::UntrustedHost)).unwrap(),
            "untrusted_host"
        );
    }

    #[test]
    fn count_is_at_least_one() {
        let n = Notification::new(Kind::custom("x"), Priority::Low, "t").count(0);
        assert_eq!(n.occurrences(), 1);
        let renewed = n.renewed();
        assert_ne!(renewed.id(), n.id());
        assert_eq!(renewed.title(), "t");
    }

    #[test]
    fn ids_are_time_ordered() {
        let early = NotificationId::generate(UNIX_EPOCH + Duration::from_secs(1));
        let late = NotificationId::generate(UNIX_EPOCH + Duration::from_secs(2));
        assert!(early < late);
    }
}

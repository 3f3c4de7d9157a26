//! Serde helpers that give one type two encodings: readable in JSON, compact and self-contained in postcard.
//!
//! postcard is not self-describing, so it cannot carry a `serde_json::Value` (which needs `deserialize_any`).
//! [`Json`] therefore keeps its text and travels as that text inside binary formats and as plain JSON in readable
//! ones, and
//! [`Timestamp`] as microseconds in binary formats and RFC 3339 text in readable ones.
//!
//! Persisted types must not use `#[serde(skip_serializing_if)]`, `#[serde(flatten)]` or internally tagged enums:
//! each of those breaks postcard's positional decoding.

use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

/// An instant with microsecond precision, stored as microseconds since the Unix epoch (the default is the epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current time, truncated to microseconds.
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_micros())
    }

    /// From microseconds since the Unix epoch.
    pub fn from_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    /// Microseconds since the Unix epoch.
    pub fn as_micros(self) -> i64 {
        self.0
    }

    /// As a chrono date-time in UTC.
    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_micros(self.0)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Parses RFC 3339 (`2026-11-23T14:00:00Z`) or a plain date (`2026-11-23`, midnight UTC).
    pub fn parse(text: &str) -> Option<Self> {
        if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
            return Some(Timestamp(dt.timestamp_micros()));
        }
        let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
        Some(Timestamp(
            date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros(),
        ))
    }

    /// Microseconds from `earlier` to `self`, zero if `earlier` is later.
    pub fn micros_since(self, earlier: Timestamp) -> u64 {
        u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0)
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(dt: DateTime<Utc>) -> Self {
        Timestamp(dt.timestamp_micros())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            &self
                .to_datetime()
                .to_rfc3339_opts(SecondsFormat::Micros, true),
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let text = String::deserialize(d)?;
            Timestamp::parse(&text).ok_or_else(|| {
                D::Error::custom(format!(
                    "invalid timestamp {}",
                    crate::validate::quoted(&text)
                ))
            })
        } else {
            i64::deserialize(d).map(Timestamp)
        }
    }
}

/// A JSON value kept as its compact text: cheap to store, copy and compare, parsed only when looked into.
///
/// The text is always valid JSON. Values built with [`Json::new`] or [`Json::from_text`] are canonical (compact,
/// object keys sorted), so two equal values have equal text. Readable formats carry it as plain JSON; binary
/// formats (postcard) carry the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Json(Box<str>);

impl Json {
    /// An empty JSON object.
    pub fn empty_object() -> Self {
        Json("{}".into())
    }

    /// The canonical text of `value`.
    pub fn new(value: &serde_json::Value) -> Self {
        Json(value.to_string().into_boxed_str())
    }

    /// Parses JSON text and keeps its canonical form.
    pub fn from_text(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<serde_json::Value>(text).map(|v| Json::new(&v))
    }

    /// Wraps text that this software stored earlier, checking that it is JSON without rebuilding it.
    pub fn from_stored(text: String) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<serde::de::IgnoredAny>(&text)?;
        Ok(Json(text.into_boxed_str()))
    }

    /// The compact JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The compact JSON text, owned.
    pub fn to_text(&self) -> String {
        self.0.to_string()
    }

    /// Length of the text in bytes.
    pub fn encoded_len(&self) -> usize {
        self.0.len()
    }

    /// True when the value is a JSON object.
    pub fn is_object(&self) -> bool {
        self.0.starts_with('{')
    }

    /// The parsed value.
    pub fn value(&self) -> serde_json::Value {
        // The text is valid JSON by construction.
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }
}

impl From<serde_json::Value> for Json {
    fn from(value: serde_json::Value) -> Self {
        Json::new(&value)
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            self.value().serialize(s)
        } else {
            s.serialize_str(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            serde_json::Value::deserialize(d).map(|v| Json::new(&v))
        } else {
            let text = String::deserialize(d)?;
            Json::from_stored(text).map_err(D::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests;

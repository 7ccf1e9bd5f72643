//! The conformance suite's own entities, kept simple enough for every store.
//!
//! [`Record`] has a text id and a nullable field of every storage class; [`Pair`] has a composite
//! key (text + i64) and no default TTL; [`Route`] has a composite key of two text parts (so key
//! codec collisions between parts show); [`Tick`] is a time series that suits QuestDB (no bytes,
//! DEDUP on timestamp + id). A setup creates tables for them from [`super::ENTITIES`].

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Entity, TextEnum};

/// A text enum field of [`Record`] (stored as `low`, `medium`, `high`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, TextEnum)]
#[text(crate = "crate", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Level {
    Low,
    Medium,
    High,
}

/// The JSON field of [`Record`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Free text tags.
    pub tags: Vec<String>,
    /// Any integer.
    pub depth: i64,
    /// An optional label.
    pub label: Option<String>,
}

/// A keyed record with a text id and a nullable field of every storage class.
///
/// Default cache TTL 60 s. `code` has `max_len = 16`, so an over-long code is a validation error
/// on every store (the suite's batch partial-failure cases rely on it).
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(crate = "crate", table = "conf_record", redis(ttl = "60s"))]
pub struct Record {
    /// The key.
    #[entity(id)]
    pub id: String,
    /// Non-null text.
    pub name: String,
    /// Non-null integer.
    pub rank: i64,
    /// At most 16 characters.
    #[entity(max_len = 16)]
    pub code: Option<String>,
    #[allow(missing_docs)]
    pub flag: Option<bool>,
    #[allow(missing_docs)]
    pub small: Option<i16>,
    #[allow(missing_docs)]
    pub medium: Option<i32>,
    #[allow(missing_docs)]
    pub large: Option<i64>,
    #[allow(missing_docs)]
    pub ratio32: Option<f32>,
    #[allow(missing_docs)]
    pub ratio: Option<f64>,
    #[allow(missing_docs)]
    pub note: Option<String>,
    #[allow(missing_docs)]
    pub uid: Option<Uuid>,
    #[allow(missing_docs)]
    pub at: Option<DateTime<Utc>>,
    #[allow(missing_docs)]
    pub amount: Option<Decimal>,
    #[allow(missing_docs)]
    #[entity(json)]
    pub meta: Option<Meta>,
    #[allow(missing_docs)]
    pub blob: Option<Vec<u8>>,
    #[allow(missing_docs)]
    pub level: Option<Level>,
}

impl Record {
    /// A record with `id`, the given name and rank, and every optional field `None`.
    pub fn new(id: impl Into<String>, name: impl Into<String>, rank: i64) -> Self {
        Record {
            id: id.into(),
            name: name.into(),
            rank,
            code: None,
            flag: None,
            small: None,
            medium: None,
            large: None,
            ratio32: None,
            ratio: None,
            note: None,
            uid: None,
            at: None,
            amount: None,
            meta: None,
            blob: None,
            level: None,
        }
    }
}

/// A record with a composite key (text + i64) and no default TTL.
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(crate = "crate", table = "conf_pair")]
pub struct Pair {
    /// First key part.
    #[entity(id)]
    pub venue: String,
    /// Second key part.
    #[entity(id)]
    pub seq: i64,
    /// Any number.
    pub value: f64,
    /// Optional text.
    pub label: Option<String>,
}

/// A record with a composite key of two text parts and a default cache TTL of 90 s.
///
/// Two text parts are what a key codec without escaping gets wrong: `("a:b", "c")` and
/// `("a", "b:c")` would render the same key.
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(crate = "crate", table = "conf_route", redis(ttl = "90s"))]
pub struct Route {
    /// First key part.
    #[entity(id)]
    pub from: String,
    /// Second key part.
    #[entity(id)]
    pub to: String,
    /// Optional text (the cases store a value unique to each key).
    pub note: Option<String>,
}

/// A time series row: id + designated timestamp + symbol + value, and optional fields.
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(
    crate = "crate",
    table = "conf_tick",
    questdb(partition = "day", dedup)
)]
pub struct Tick {
    /// Row id (a DEDUP key with the timestamp).
    #[entity(id)]
    pub id: i64,
    /// The designated timestamp.
    #[entity(timestamp)]
    pub ts: DateTime<Utc>,
    /// Low-cardinality tag.
    #[entity(symbol)]
    pub symbol: String,
    /// The measured value.
    pub value: f64,
    /// Optional integer.
    pub qty: Option<i64>,
    /// Optional float (NULLs are ignored by aggregates).
    pub price: Option<f64>,
    /// Optional text (not numeric: aggregates over it are rejected).
    pub note: Option<String>,
}

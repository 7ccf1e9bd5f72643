//! What values a store can hold, as data: [`Limits`], part of a backend's
//! [`Capabilities`](crate::Capabilities).
//!
//! The rule every backend follows: a value a store accepts, it returns unchanged; a value it
//! cannot hold is refused at write time with [`Error::Validation`]
//! naming entity and field, and nothing of that row is stored. `Limits` says which values those
//! are, so that a backend checks them on its write path ([`Limits::check`], or the per-kind
//! methods from inside its own encoder) and the conformance and differential suites can tell a
//! legitimate refusal from a silent change.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::entity::{Entity, FieldKind, FieldMeta};
use crate::error::{Error, Result};
use crate::value::FieldVisitor;

/// The values a backend can store and return unchanged. Anything outside is refused on write.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Limits {
    /// Earliest timestamp the store holds, in any timestamp field (inclusive).
    pub timestamp_min: DateTime<Utc>,
    /// Latest timestamp the store holds, in any timestamp field (inclusive).
    pub timestamp_max: DateTime<Utc>,
    /// Earliest designated timestamp (`#[entity(timestamp)]`) of a time-series row (inclusive);
    /// QuestDB's partitions start at 1970.
    pub designated_timestamp_min: DateTime<Utc>,
    /// Latest designated timestamp of a time-series row (inclusive).
    pub designated_timestamp_max: DateTime<Utc>,
    /// NaN and ±infinity can be stored in float fields (QuestDB reads them back as NULL).
    pub non_finite_floats: bool,
    /// `i32::MIN` and `i64::MIN` can be stored (QuestDB uses them as the NULL of INT and LONG).
    pub integer_min: bool,
    /// Text may contain the NUL character (Postgres TEXT cannot).
    pub nul_in_text: bool,
    /// A symbol (`#[entity(symbol)]`) may contain NUL (QuestDB's SYMBOL cannot, its VARCHAR can).
    /// Without `nul_in_text`, no text may.
    pub nul_in_symbols: bool,
    /// A UUID the store uses as NULL, which it cannot hold as a value (QuestDB's
    /// `80000000-0000-0000-8000-000000000000`).
    pub null_uuid: Option<Uuid>,
    /// Longest symbol (`#[entity(symbol)]`) in UTF-8 bytes, if bounded.
    pub symbol_max_bytes: Option<usize>,
    /// Longest text or JSON value in UTF-8 bytes, if bounded.
    pub text_max_bytes: Option<usize>,
    /// Largest indexed text in UTF-8 bytes, if bounded: the text parts of a key together (a
    /// primary-key entry holds all of them) and each symbol (an index of its own). Postgres'
    /// B-tree refuses entries above about a third of a page.
    pub index_max_bytes: Option<usize>,
}

impl Limits {
    /// No limit beyond what the Rust types hold.
    pub const NONE: Limits = Limits {
        timestamp_min: DateTime::<Utc>::MIN_UTC,
        timestamp_max: DateTime::<Utc>::MAX_UTC,
        designated_timestamp_min: DateTime::<Utc>::MIN_UTC,
        designated_timestamp_max: DateTime::<Utc>::MAX_UTC,
        non_finite_floats: true,
        integer_min: true,
        nul_in_text: true,
        nul_in_symbols: true,
        null_uuid: None,
        symbol_max_bytes: None,
        text_max_bytes: None,
        index_max_bytes: None,
    };

    /// Checks every field of `entity` against these limits and the field's own declarations
    /// (`max_len`, decimal precision and scale).
    ///
    /// # Errors
    /// [`Error::Validation`] naming the entity and the first field that does not fit.
    pub fn check<T: Entity>(&self, entity: &T) -> Result<()> {
        entity.encode(&mut LimitsCheck::new(self))
    }

    /// Checks every part of a key, as [`Limits::check`] checks a row: a key the store cannot
    /// hold cannot name a stored row.
    ///
    /// # Errors
    /// [`Error::Validation`] naming the entity and the first key part that does not fit.
    pub fn check_key<T: crate::Keyed>(&self, key: &T::Key) -> Result<()> {
        T::encode_key(key, &mut LimitsCheck::new(self))
    }

    /// Checks the indexed text of a key: `key_text_bytes` is the UTF-8 length of the key's text
    /// parts up to and including `field` (a backend sums them as it encodes the key).
    ///
    /// # Errors
    /// [`Error::Validation`] naming the field at which the key grew too large.
    #[inline]
    pub fn check_key_text(&self, field: &FieldMeta, key_text_bytes: usize) -> Result<()> {
        match self.index_max_bytes {
            Some(max) if key_text_bytes > max => Err(Error::invalid_field(
                field,
                format_args!(
                    "the key's text is {key_text_bytes} bytes, above the {max} bytes this store indexes"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Checks a timestamp against the store's range.
    ///
    /// # Errors
    /// [`Error::Validation`] naming the field.
    #[inline]
    pub fn check_timestamp(&self, field: &FieldMeta, v: &DateTime<Utc>) -> Result<()> {
        let (min, max) = if field.timestamp {
            (
                self.timestamp_min.max(self.designated_timestamp_min),
                self.timestamp_max.min(self.designated_timestamp_max),
            )
        } else {
            (self.timestamp_min, self.timestamp_max)
        };
        if *v < min || *v > max {
            return Err(Error::invalid_field(
                field,
                format_args!("timestamp {v} is outside what the store holds ({min} ..= {max})"),
            ));
        }
        Ok(())
    }

    /// Checks a UUID: the store's NULL UUID cannot be a value.
    ///
    /// # Errors
    /// [`Error::Validation`] naming the field.
    #[inline]
    pub fn check_uuid(&self, field: &FieldMeta, v: &Uuid) -> Result<()> {
        if self.null_uuid == Some(*v) {
            return Err(Error::invalid_field(
                field,
                format_args!(
                    "{v} is this store's NULL UUID and would read back as NULL; use an Option and None, or another value"
                ),
            ));
        }
        Ok(())
    }

    /// Checks a float: NaN and ±infinity where the store cannot hold them.
    ///
    /// # Errors
    /// [`Error::Validation`] naming the field.
    #[inline]
    pub fn check_f64(&self, field: &FieldMeta, v: f64) -> Result<()> {
        if !self.non_finite_floats && !v.is_finite() {
            return Err(Error::invalid_field(
                field,
                format_args!(
                    "{v} cannot be stored here (the store reads it back as NULL); use an Option and None, or a finite value"
                ),
            ));
        }
        Ok(())
    }

    /// Checks a 32-bit integer: `i32::MIN` where the store uses it as NULL.
    ///
    /// # Errors
    /// [`Error::Validation`] naming the field.
    #[inline]
    pub fn check_i32(&self, field: &FieldMeta, v: i32) -> Result<()> {
        if !self.integer_min && v == i32::MIN {
            return Err(integer_min_error(field, v));
        }
        Ok(())
    }

    /// Checks a 64-bit integer: `i64::MIN` where the store uses it as NULL.
    ///
    /// # Errors
    /// [`Error::Validation`] naming the field.
    #[inline]
    pub fn check_i64(&self, field: &FieldMeta, v: i64) -> Result<()> {
        if !self.integer_min && v == i64::MIN {
            return Err(integer_min_error(field, v));
        }
        Ok(())
    }

    /// Checks text (and JSON text): NUL, the store's byte limits, the field's `max_len`.
    ///
    /// # Errors
    /// [`Error::Validation`] naming the field.
    #[inline]
    pub fn check_text(&self, field: &FieldMeta, v: &str) -> Result<()> {
        let bound = if field.symbol {
            let indexed = match (self.symbol_max_bytes, self.index_max_bytes) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            indexed.or(self.text_max_bytes)
        } else {
            self.text_max_bytes
        };
        if let Some(max) = bound
            && v.len() > max
        {
            let what = if field.symbol { "a symbol" } else { "text" };
            return Err(Error::invalid_field(
                field,
                format_args!(
                    "{} bytes exceed the {max} bytes this store holds in {what}",
                    v.len()
                ),
            ));
        }
        let nul_allowed = self.nul_in_text && (self.nul_in_symbols || !field.symbol);
        if !nul_allowed
            && (v.as_bytes().contains(&0)
                || (field.kind == FieldKind::Json && json_has_nul_escape(v)))
        {
            return Err(Error::invalid_field(
                field,
                "text contains a NUL character, which this store cannot hold",
            ));
        }
        field.check_max_len(v)
    }
}

/// Whether JSON text holds the escape `\u0000` (a NUL inside a JSON string), as opposed to an
/// escaped backslash followed by `u0000`.
fn json_has_nul_escape(json: &str) -> bool {
    let bytes = json.as_bytes();
    let mut from = 0;
    while let Some(at) = json[from..].find("u0000").map(|i| i + from) {
        let backslashes = bytes[..at]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if backslashes % 2 == 1 {
            return true;
        }
        from = at + 1;
    }
    false
}

#[cold]
fn integer_min_error(field: &FieldMeta, v: impl std::fmt::Display) -> Error {
    Error::invalid_field(
        field,
        format_args!(
            "{v} cannot be stored here (the store uses it as NULL); use an Option and None, or another value"
        ),
    )
}

/// The visitor behind [`Limits::check`]: the per-value checks, and the key's text summed.
struct LimitsCheck<'a> {
    limits: &'a Limits,
    key_text_bytes: usize,
}

impl<'a> LimitsCheck<'a> {
    fn new(limits: &'a Limits) -> Self {
        LimitsCheck {
            limits,
            key_text_bytes: 0,
        }
    }
}

impl FieldVisitor for LimitsCheck<'_> {
    fn null(&mut self, _: &'static FieldMeta) -> Result<()> {
        Ok(())
    }
    fn bool(&mut self, _: &'static FieldMeta, _: bool) -> Result<()> {
        Ok(())
    }
    fn i16(&mut self, _: &'static FieldMeta, _: i16) -> Result<()> {
        Ok(())
    }
    fn i32(&mut self, field: &'static FieldMeta, v: i32) -> Result<()> {
        self.limits.check_i32(field, v)
    }
    fn i64(&mut self, field: &'static FieldMeta, v: i64) -> Result<()> {
        self.limits.check_i64(field, v)
    }
    fn f32(&mut self, field: &'static FieldMeta, v: f32) -> Result<()> {
        self.limits.check_f64(field, f64::from(v))
    }
    fn f64(&mut self, field: &'static FieldMeta, v: f64) -> Result<()> {
        self.limits.check_f64(field, v)
    }
    fn str(&mut self, field: &'static FieldMeta, v: &str) -> Result<()> {
        self.limits.check_text(field, v)?;
        if field.id {
            self.key_text_bytes += v.len();
            self.limits.check_key_text(field, self.key_text_bytes)?;
        }
        Ok(())
    }
    fn uuid(&mut self, field: &'static FieldMeta, v: &Uuid) -> Result<()> {
        self.limits.check_uuid(field, v)
    }
    fn timestamp(&mut self, field: &'static FieldMeta, v: &DateTime<Utc>) -> Result<()> {
        self.limits.check_timestamp(field, v)
    }
    fn decimal(&mut self, field: &'static FieldMeta, v: &Decimal) -> Result<()> {
        field.fit_decimal(v).map(drop)
    }
    fn json(&mut self, field: &'static FieldMeta, json: &str) -> Result<()> {
        self.limits.check_text(field, json)
    }
    fn bytes(&mut self, _: &'static FieldMeta, _: &[u8]) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::entity::DecimalSpec;

    const fn field(kind: FieldKind, symbol: bool, decimal: Option<DecimalSpec>) -> FieldMeta {
        FieldMeta {
            entity: "E",
            name: "f",
            column: "f",
            index: 0,
            kind,
            nullable: false,
            id: false,
            timestamp: false,
            symbol,
            default: false,
            max_len: None,
            decimal,
        }
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap_or_default()
    }

    #[test]
    fn declared_decimals_take_the_declared_scale_or_are_refused() {
        let f = field(
            FieldKind::Decimal,
            false,
            Some(DecimalSpec {
                precision: 6,
                scale: 3,
            }),
        );
        let fit = |s: &str| f.fit_decimal(&dec(s)).map(|d| d.to_string());
        assert_eq!(fit("12.5").ok().as_deref(), Some("12.500"));
        assert_eq!(fit("0").ok().as_deref(), Some("0.000"));
        assert_eq!(fit("-0.0000").ok().as_deref(), Some("0.000"));
        assert_eq!(fit("-999.999").ok().as_deref(), Some("-999.999"));
        assert_eq!(fit("1.23000000").ok().as_deref(), Some("1.230"));
        for bad in ["1.2345", "1000", "-1000.1", "0.0001"] {
            match f.fit_decimal(&dec(bad)) {
                Err(Error::Validation {
                    entity: "E",
                    field: Some("f"),
                    ..
                }) => {}
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn undeclared_decimals_keep_their_scale_but_not_the_sign_of_zero() {
        let f = field(FieldKind::Decimal, false, None);
        for s in ["12.500", "0.000", "79228162514264337593543950335", "-0.010"] {
            let got = f.fit_decimal(&dec(s)).unwrap_or_default();
            assert_eq!(got.to_string(), s);
            assert_eq!(got.scale(), dec(s).scale());
        }
        let zero = f.fit_decimal(&dec("-0.00")).unwrap_or_default();
        assert_eq!(
            (zero.to_string().as_str(), zero.is_sign_negative()),
            ("0.00", false)
        );
    }

    #[test]
    fn limits_refuse_what_the_store_cannot_hold() {
        let limits = Limits {
            timestamp_min: DateTime::from_timestamp(0, 0).unwrap_or_default(),
            timestamp_max: DateTime::from_timestamp(100, 0).unwrap_or_default(),
            designated_timestamp_min: DateTime::from_timestamp(10, 0).unwrap_or_default(),
            designated_timestamp_max: DateTime::<Utc>::MAX_UTC,
            non_finite_floats: false,
            integer_min: false,
            nul_in_text: false,
            nul_in_symbols: false,
            null_uuid: Some(Uuid::nil()),
            symbol_max_bytes: Some(4),
            text_max_bytes: Some(8),
            index_max_bytes: Some(6),
        };
        let text = field(FieldKind::Text, false, None);
        let symbol = field(FieldKind::Text, true, None);
        let ts = field(FieldKind::Timestamp, false, None);
        let f = field(FieldKind::F64, false, None);
        assert!(limits.check_text(&text, "12345678").is_ok());
        assert!(limits.check_text(&text, "123456789").is_err());
        assert!(limits.check_text(&symbol, "1234").is_ok());
        assert!(limits.check_text(&symbol, "12345").is_err());
        assert!(limits.check_text(&text, "a\0b").is_err());
        assert!(limits.check_f64(&f, f64::NAN).is_err());
        assert!(limits.check_f64(&f, f64::NEG_INFINITY).is_err());
        assert!(limits.check_f64(&f, -0.0).is_ok());
        assert!(limits.check_i64(&f, i64::MIN).is_err());
        assert!(limits.check_i64(&f, i64::MIN + 1).is_ok());
        assert!(limits.check_i32(&f, i32::MIN).is_err());
        assert!(limits.check_timestamp(&ts, &limits.timestamp_max).is_ok());
        let past_max = limits.timestamp_max + chrono::Duration::nanoseconds(1);
        assert!(limits.check_timestamp(&ts, &past_max).is_err());
        let before_min = limits.timestamp_min - chrono::Duration::nanoseconds(1);
        assert!(limits.check_timestamp(&ts, &before_min).is_err());
        let json = field(FieldKind::Json, false, None);
        let limits = Limits {
            text_max_bytes: None,
            ..limits
        };
        assert!(limits.check_text(&json, r#"{"a":"x\u0000"}"#).is_err());
        assert!(limits.check_text(&json, r#"{"a":"x\\u0000"}"#).is_ok());
        assert!(limits.check_text(&json, r#"{"a":"x\\\u0000"}"#).is_err());
        let designated = FieldMeta {
            timestamp: true,
            ..field(FieldKind::Timestamp, false, None)
        };
        let five = DateTime::from_timestamp(5, 0).unwrap_or_default();
        assert!(limits.check_timestamp(&ts, &five).is_ok());
        assert!(limits.check_timestamp(&designated, &five).is_err());
        assert!(limits.check_uuid(&f, &Uuid::nil()).is_err());
        assert!(limits.check_uuid(&f, &Uuid::max()).is_ok());
        let questdb_like = Limits {
            nul_in_text: true,
            nul_in_symbols: false,
            ..Limits::NONE
        };
        assert!(questdb_like.check_text(&text, "a\0").is_ok());
        assert!(questdb_like.check_text(&symbol, "a\0").is_err());
        assert!(limits.check_key_text(&text, 6).is_ok());
        assert!(limits.check_key_text(&text, 7).is_err());
        let all = Limits::NONE;
        assert!(all.check_f64(&f, f64::NAN).is_ok() && all.check_text(&symbol, "a\0").is_ok());
    }
}

//! What values a store can hold, as data: [`Limits`], part of a backend's
//! [`Capabilities`](crate::Capabilities).
//!
//! The rule every backend follows: a value a store accepts, it returns unchanged; a value it
//! cannot hold is refused at write time with [`Error::Validation`](crate::Error::Validation)
//! naming entity and field, and nothing of that row is stored. `Limits` says which values those
//! are, so that a backend checks them on its write path ([`Limits::check`], or the per-kind
//! methods from inside its own encoder) and the conformance and differential suites can tell a
//! legitimate refusal from a silent change.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::entity::{Entity, FieldMeta};
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
    /// NaN and ±infinity can be stored in float fields (QuestDB reads them back as NULL).
    pub non_finite_floats: bool,
    /// `i32::MIN` and `i64::MIN` can be stored (QuestDB uses them as the NULL of INT and LONG).
    pub integer_min: bool,
    /// Text may contain the NUL character (Postgres TEXT cannot).
    pub nul_in_text: bool,
    /// Longest symbol (`#[entity(symbol)]`) in UTF-8 bytes, if bounded.
    pub symbol_max_bytes: Option<usize>,
    /// Longest text or JSON value in UTF-8 bytes, if bounded.
    pub text_max_bytes: Option<usize>,
}

impl Limits {
    /// No limit beyond what the Rust types hold.
    pub const NONE: Limits = Limits {
        timestamp_min: DateTime::<Utc>::MIN_UTC,
        timestamp_max: DateTime::<Utc>::MAX_UTC,
        non_finite_floats: true,
        integer_min: true,
        nul_in_text: true,
        symbol_max_bytes: None,
        text_max_bytes: None,
    };

    /// Checks every field of `entity` against these limits and the field's own declarations
    /// (`max_len`, decimal precision and scale).
    ///
    /// # Errors
    /// [`Error::Validation`] naming the entity and the first field that does not fit.
    pub fn check<T: Entity>(&self, entity: &T) -> Result<()> {
        entity.encode(&mut LimitsCheck(self))
    }

    /// Checks a timestamp against the store's range.
    ///
    /// # Errors
    /// [`Error::Validation`] naming the field.
    #[inline]
    pub fn check_timestamp(&self, field: &FieldMeta, v: &DateTime<Utc>) -> Result<()> {
        if *v < self.timestamp_min || *v > self.timestamp_max {
            return Err(Error::invalid_field(
                field,
                format_args!(
                    "timestamp {v} is outside what the store holds ({} ..= {})",
                    self.timestamp_min, self.timestamp_max
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
            self.symbol_max_bytes.or(self.text_max_bytes)
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
        if !self.nul_in_text && v.as_bytes().contains(&0) {
            return Err(Error::invalid_field(
                field,
                "text contains a NUL character, which this store cannot hold",
            ));
        }
        field.check_max_len(v)
    }
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

/// The visitor behind [`Limits::check`].
struct LimitsCheck<'a>(&'a Limits);

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
        self.0.check_i32(field, v)
    }
    fn i64(&mut self, field: &'static FieldMeta, v: i64) -> Result<()> {
        self.0.check_i64(field, v)
    }
    fn f32(&mut self, field: &'static FieldMeta, v: f32) -> Result<()> {
        self.0.check_f64(field, f64::from(v))
    }
    fn f64(&mut self, field: &'static FieldMeta, v: f64) -> Result<()> {
        self.0.check_f64(field, v)
    }
    fn str(&mut self, field: &'static FieldMeta, v: &str) -> Result<()> {
        self.0.check_text(field, v)
    }
    fn uuid(&mut self, _: &'static FieldMeta, _: &Uuid) -> Result<()> {
        Ok(())
    }
    fn timestamp(&mut self, field: &'static FieldMeta, v: &DateTime<Utc>) -> Result<()> {
        self.0.check_timestamp(field, v)
    }
    fn decimal(&mut self, field: &'static FieldMeta, v: &Decimal) -> Result<()> {
        field.fit_decimal(v).map(drop)
    }
    fn json(&mut self, field: &'static FieldMeta, json: &str) -> Result<()> {
        self.0.check_text(field, json)
    }
    fn bytes(&mut self, _: &'static FieldMeta, _: &[u8]) -> Result<()> {
        Ok(())
    }
}

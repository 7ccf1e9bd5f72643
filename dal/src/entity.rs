//! The model side of dal: what `#[derive(Entity)]` produces.
//!
//! Schema is data. The derive emits one `'static` [`EntityMeta`] per entity (names, columns, type
//! classes, roles, TTL, partitioning and the Postgres statement text computed at expansion time)
//! and a small field visitor ([`Entity::encode`] / [`Entity::decode`]). Backends interpret the
//! metadata; generated code stays small.

use std::time::Duration;

use crate::error::Result;
use crate::value::{FieldDecoder, FieldVisitor};

/// The storage class of a field, after widening (`u8` is stored as `I16`, `u32` as `I64`).
///
/// This is what backends map to column types: see the table in the crate docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldKind {
    /// `bool`
    Bool,
    /// `i16`, `u8`
    I16,
    /// `i32`, `u16`
    I32,
    /// `i64`, `u32`
    I64,
    /// `f32`
    F32,
    /// `f64`
    F64,
    /// `String`, text enums, text newtypes
    Text,
    /// `uuid::Uuid`
    Uuid,
    /// `chrono::DateTime<Utc>`
    Timestamp,
    /// `rust_decimal::Decimal`
    Decimal,
    /// `#[entity(json)]`: any serde type, stored as JSON text (JSONB in Postgres)
    Json,
    /// `Vec<u8>`
    Bytes,
}

impl FieldKind {
    /// Whether aggregates (quantiles, sums) can be computed over this kind.
    pub const fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldKind::I16
                | FieldKind::I32
                | FieldKind::I64
                | FieldKind::F32
                | FieldKind::F64
                | FieldKind::Decimal
        )
    }
}

/// Metadata of one stored field.
#[derive(Debug)]
pub struct FieldMeta {
    /// The entity this field belongs to (its [`EntityMeta::name`]), so errors can name both.
    pub entity: &'static str,
    /// The Rust field name.
    pub name: &'static str,
    /// The column / ILP column / Redis field name (after `rename` and `rename_all`).
    pub column: &'static str,
    /// Position among the stored fields (skipped fields are not counted). Select lists and
    /// decoders use this order.
    pub index: usize,
    /// Storage class.
    pub kind: FieldKind,
    /// Whether the Rust type is an `Option`.
    pub nullable: bool,
    /// Part of the key (`#[entity(id)]`).
    pub id: bool,
    /// The designated timestamp (`#[entity(timestamp)]`).
    pub timestamp: bool,
    /// A low-cardinality tag (`#[entity(symbol)]`): QuestDB SYMBOL, indexed in Postgres.
    pub symbol: bool,
    /// `#[entity(default)]`: a missing or NULL stored value decodes as `Default::default()`.
    pub default: bool,
    /// Maximum length in characters for text (`#[entity(max_len = N)]`, VARCHAR(N) in Postgres).
    pub max_len: Option<u32>,
    /// Declared precision and scale of a `Decimal` field (`#[entity(precision = P, scale = S)]`):
    /// NUMERIC(P, S) in Postgres, DECIMAL(P, S) in QuestDB, and the scale every backend returns.
    pub decimal: Option<DecimalSpec>,
}

/// The declared precision and scale of a `Decimal` field.
///
/// Every backend, Memory included, stores such a value at exactly `scale` fractional digits
/// ([`FieldMeta::fit_decimal`]): `12.5` in a `scale = 3` field is stored and returned as `12.500`.
/// A value with more fractional digits than `scale` (other than trailing zeros), or more than
/// `precision - scale` integer digits, is a validation error, never rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecimalSpec {
    /// Total number of significant digits (1..=28: what `rust_decimal` holds exactly).
    pub precision: u32,
    /// Digits after the decimal point (0..=precision).
    pub scale: u32,
}

impl FieldMeta {
    /// Checks text stored in this field against its `max_len` (counted in characters, as
    /// Postgres `VARCHAR(n)` counts). Backends call it so that every store rejects the same text.
    ///
    /// # Errors
    /// [`crate::Error::Validation`] naming entity and field when the text is longer.
    pub fn check_max_len(&self, text: &str) -> Result<()> {
        match self.max_len {
            // A string of at most `max` bytes has at most `max` characters: skip the count.
            Some(max) if text.len() > max as usize => {
                let chars = text.chars().count();
                if chars > max as usize {
                    return Err(crate::Error::invalid_field(
                        self,
                        format_args!("{chars} characters exceed max_len = {max}"),
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Brings a decimal to this field's declared scale ([`DecimalSpec`]); a field without a
    /// declaration keeps the value as it is. Backends call it on every write so that every store
    /// holds, and returns, the same value with the same scale.
    ///
    /// # Errors
    /// [`crate::Error::Validation`] naming entity and field when the value has more fractional
    /// digits than the scale (trailing zeros aside) or does not fit the precision.
    pub fn fit_decimal(&self, value: &rust_decimal::Decimal) -> Result<rust_decimal::Decimal> {
        let Some(spec) = self.decimal else {
            // A decimal zero keeps its scale but not its sign: no SQL NUMERIC has a -0.
            let mut d = *value;
            if d.is_zero() {
                d.set_sign_positive(true);
            }
            return Ok(d);
        };
        let mut d = value.normalize();
        if d.scale() > spec.scale {
            return Err(crate::Error::invalid_field(
                self,
                format_args!(
                    "{value} has {} fractional digits; the field declares scale = {} (round it first)",
                    d.scale(),
                    spec.scale
                ),
            ));
        }
        let integer_digits = spec.precision - spec.scale;
        let limit = 10u128.pow(integer_digits);
        if d.abs().trunc().mantissa().unsigned_abs() >= limit {
            return Err(crate::Error::invalid_field(
                self,
                format_args!(
                    "{value} needs more than {integer_digits} integer digits; the field declares precision = {}, scale = {}",
                    spec.precision, spec.scale
                ),
            ));
        }
        d.rescale(spec.scale);
        // `normalize` turned -0 into 0 already; a rescale of a fitting value is exact.
        Ok(d)
    }
}

/// QuestDB partitioning unit (`PARTITION BY ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    /// No partitioning.
    None,
    /// `PARTITION BY HOUR`
    Hour,
    /// `PARTITION BY DAY`
    Day,
    /// `PARTITION BY WEEK`
    Week,
    /// `PARTITION BY MONTH`
    Month,
    /// `PARTITION BY YEAR`
    Year,
}

impl Partition {
    /// The SQL keyword.
    pub const fn as_sql(self) -> &'static str {
        match self {
            Partition::None => "NONE",
            Partition::Hour => "HOUR",
            Partition::Day => "DAY",
            Partition::Week => "WEEK",
            Partition::Month => "MONTH",
            Partition::Year => "YEAR",
        }
    }
}

/// The `questdb(...)` section of an entity.
#[derive(Debug)]
pub struct QuestDbMeta {
    /// Partitioning of the table.
    pub partition: Partition,
    /// Retention, as QuestDB's TTL clause text (e.g. `"30 DAYS"`), already validated.
    pub ttl: Option<&'static str>,
    /// Whether the table is created with `DEDUP UPSERT KEYS(timestamp, ids...)`.
    pub dedup: bool,
}

/// Postgres statement text computed by the derive at expansion time.
///
/// Identifiers are double-quoted; placeholders are `$1..$n` in [`EntityMeta::fields`] order for
/// `insert`/`upsert` and in id order for the keyed statements. Table names are unqualified so a
/// connection's `search_path` chooses the schema.
#[derive(Debug)]
pub struct PgStatements {
    /// Quoted, comma-separated column list in field order.
    pub columns: &'static str,
    /// `INSERT INTO t (cols) VALUES ($1..)`.
    pub insert: &'static str,
    /// `INSERT .. ON CONFLICT (ids) DO UPDATE SET ..` (plain insert when there is no id).
    pub upsert: &'static str,
    /// `SELECT cols FROM t WHERE id1 = $1 AND ..` (empty when there is no id).
    pub select_by_key: &'static str,
    /// `DELETE FROM t WHERE id1 = $1 AND ..` (empty when there is no id).
    pub delete_by_key: &'static str,
    /// `SELECT cols FROM t` (callers append WHERE / ORDER BY / LIMIT).
    pub select: &'static str,
}

/// One piece of a parsed Redis key template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySegment {
    /// Literal text, copied as is.
    Literal(&'static str),
    /// The id field at this index of [`EntityMeta::fields`], escaped by the key codec.
    Field(usize),
}

/// Everything a backend needs to know about an entity, as `'static` data.
#[derive(Debug)]
pub struct EntityMeta {
    /// Entity name (the struct name, or `name = ".."`).
    pub name: &'static str,
    /// Table / measurement name (`table = ".."`, default: snake_case of the name).
    pub table: &'static str,
    /// Stored fields in declaration order (skipped fields excluded).
    pub fields: &'static [FieldMeta],
    /// Indexes (into `fields`) of the id fields, in declaration order.
    pub id_fields: &'static [usize],
    /// Index of the designated timestamp, if any.
    pub timestamp_field: Option<usize>,
    /// Redis key template (`redis(key = "price:{token}")`); default `table:{id1}:{id2}..`.
    pub key_template: &'static [KeySegment],
    /// Default TTL for cache stores (`redis(ttl = "2s")`).
    pub default_ttl: Option<Duration>,
    /// QuestDB section.
    pub questdb: QuestDbMeta,
    /// Postgres statements.
    pub pg: PgStatements,
}

impl EntityMeta {
    /// The field with this Rust name.
    pub fn field(&self, name: &str) -> Option<&'static FieldMeta> {
        // `fields` is `'static`, so the reference is too.
        let fields: &'static [FieldMeta] = self.fields;
        fields.iter().find(|f| f.name == name)
    }

    /// The designated timestamp field, if any.
    pub fn timestamp(&self) -> Option<&'static FieldMeta> {
        let fields: &'static [FieldMeta] = self.fields;
        self.timestamp_field.map(|i| &fields[i])
    }

    /// The id fields in key order.
    pub fn ids(&self) -> impl Iterator<Item = &'static FieldMeta> + '_ {
        let fields: &'static [FieldMeta] = self.fields;
        self.id_fields.iter().map(move |&i| &fields[i])
    }
}

/// A model type: `#[derive(Entity)]` implements this.
///
/// # Contract
/// `encode` MUST call the visitor once per field of [`Entity::META`]`.fields`, in order; `decode`
/// MUST read each field once, in the same order, through the decoder.
pub trait Entity: Clone + Send + Sync + Sized + 'static {
    /// The entity's metadata.
    const META: &'static EntityMeta;

    /// Walks the stored fields in order, handing each value to the visitor.
    ///
    /// # Errors
    /// A field that cannot be encoded (a JSON field whose `Serialize` fails, an unsigned value
    /// out of range) or an error returned by the visitor.
    fn encode<V: FieldVisitor + ?Sized>(&self, visitor: &mut V) -> Result<()>;

    /// Builds an entity from stored fields read in order; skipped fields get their default.
    ///
    /// # Errors
    /// [`crate::Error::Codec`] naming the entity and field when a stored value does not fit.
    fn decode<D: FieldDecoder + ?Sized>(decoder: &mut D) -> Result<Self>;
}

/// An entity with `#[entity(id)]` fields: it can be stored by key.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no key: mark its key field(s) with #[entity(id)]",
    label = "keyed stores (RecordStore, CacheStore) need an entity with #[entity(id)] fields",
    note = "add `#[entity(id)]` to the field (or fields, for a composite key) that identifies a `{Self}`"
)]
pub trait Keyed: Entity {
    /// The key: the id field's type, or a tuple of them in declaration order.
    type Key: Clone + Send + Sync + std::fmt::Debug + 'static;

    /// This entity's key.
    fn key(&self) -> Self::Key;

    /// Walks the key parts in id order (the same fields as [`EntityMeta::id_fields`]).
    ///
    /// # Errors
    /// As [`Entity::encode`].
    fn encode_key<V: FieldVisitor + ?Sized>(key: &Self::Key, visitor: &mut V) -> Result<()>;
}

/// An entity with a designated `#[entity(timestamp)]` field: it can be stored as a time series.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no designated timestamp: mark a `DateTime<Utc>` field with #[entity(timestamp)]",
    label = "time-series and metrics stores need an entity with an #[entity(timestamp)] field",
    note = "add `#[entity(timestamp)]` to the `chrono::DateTime<Utc>` field that orders `{Self}` rows"
)]
pub trait TimeSeries: Entity {
    /// The designated timestamp of this row.
    fn timestamp(&self) -> chrono::DateTime<chrono::Utc>;
}

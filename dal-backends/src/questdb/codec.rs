//! Rows in and out of QuestDB: the ILP row encoder (the write hot path) and the PG-wire decoder.
//!
//! [`encode_row`] walks an entity with a [`FieldVisitor`] that writes straight into a
//! `questdb::ingress::Buffer`: the table, then every symbol, then every other column, then the
//! designated timestamp with `at`. Names were validated by the derive at compile time (and the
//! namespace suffix once, when the handle was made), so the unchecked name constructors are used.
//! ILP wants all symbols before the first column while [`Entity::encode`] visits fields in
//! declaration order, so an entity that declares a column before a symbol is walked twice (a
//! symbols pass, then a columns pass); one that declares its symbols first is walked once.
//!
//! Type mapping (see also [`crate::questdb::ddl`]): `bool` is BOOLEAN (a nullable `bool` is an INT
//! holding 0/1, because QuestDB's BOOLEAN has no NULL), integers are written as ILP longs into
//! INT/LONG columns (i16 widens to INT: SHORT has no NULL either), floats as doubles into
//! FLOAT/DOUBLE, text as a string or symbol, UUIDs as their hyphenated text into a UUID column
//! (ILP has no UUID type for QuestDB 9.3), timestamps as microseconds, `Decimal` with ILP v3's
//! binary decimal into DECIMAL(57, 28) (which holds every `rust_decimal` value exactly), JSON as
//! its text. `None` omits the column. Bytes cannot be stored.

use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use dal::value::{FieldDecoder, FieldVisitor};
use dal::{Entity, Error, FieldKind, FieldMeta, Result, Value};
use questdb::ingress::{Buffer, ColumnName, DecimalView, TableName, TimestampMicros};
use rust_decimal::Decimal;
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::error;

/// Appends one ILP row for `row` to `buf`, into table `table`.
///
/// `table` must be a valid QuestDB table name (the entity's table, plus a validated namespace
/// suffix). On error the buffer is left exactly as it was before the call.
///
/// # Errors
/// [`Error::Codec`] naming the field that cannot be written (a designated timestamp before 1970,
/// a bytes field, a JSON field whose `Serialize` fails), [`Error::Validation`] for a table name
/// longer than the buffer accepts.
pub fn encode_row<T: Entity>(buf: &mut Buffer, table: &str, row: &T) -> Result<()> {
    let meta = T::META;
    // A marker lets a failure in the middle of a row (a JSON field, a bad timestamp) take back
    // what was already written, so a rejected row never leaves half a line in the batch.
    buf.set_marker().map_err(|e| error::ilp_row(meta.name, e))?;
    match encode_row_unmarked(buf, table, row) {
        Ok(()) => {
            buf.clear_marker();
            Ok(())
        }
        Err(e) => {
            // Rewinding to a marker we just set cannot fail; if it somehow did, clearing the
            // marker keeps the buffer usable and the error still reaches the caller.
            if buf.rewind_to_marker().is_err() {
                buf.clear_marker();
            }
            Err(e)
        }
    }
}

fn encode_row_unmarked<T: Entity>(buf: &mut Buffer, table: &str, row: &T) -> Result<()> {
    let meta = T::META;
    let ts_field = meta.timestamp().ok_or_else(|| {
        Error::invalid(
            meta.name,
            "a QuestDB row needs a designated #[entity(timestamp)] field",
        )
    })?;
    buf.table(TableName::new_unchecked(table))
        .map_err(|e| error::ilp_row(meta.name, e))?;
    let mut w = IlpRow {
        buf,
        pass: Pass::All,
        ts: None,
    };
    if symbols_first(meta.fields) {
        row.encode(&mut w)?;
    } else {
        w.pass = Pass::Symbols;
        row.encode(&mut w)?;
        w.pass = Pass::Columns;
        row.encode(&mut w)?;
    }
    let micros =
        w.ts.ok_or_else(|| Error::codec(ts_field, "the designated timestamp was not encoded"))?;
    if micros < 0 {
        return Err(Error::codec(
            ts_field,
            "QuestDB's designated timestamp cannot be before 1970-01-01T00:00:00Z",
        ));
    }
    w.buf
        .at(TimestampMicros::new(micros))
        .map_err(|e| error::ilp_field(ts_field, e))
}

/// Whether every symbol field comes before every other non-timestamp field, so one pass over
/// the fields writes them in the order ILP requires.
fn symbols_first(fields: &[FieldMeta]) -> bool {
    let mut seen_column = false;
    for f in fields {
        if f.timestamp {
            continue;
        }
        if f.symbol && is_symbol_kind(f) {
            if seen_column {
                return false;
            }
        } else {
            seen_column = true;
        }
    }
    true
}

/// Only text can be a SYMBOL (the derive enforces it; this keeps the encoder total).
#[inline]
fn is_symbol_kind(f: &FieldMeta) -> bool {
    f.symbol && matches!(f.kind, FieldKind::Text)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    All,
    Symbols,
    Columns,
}

struct IlpRow<'b> {
    buf: &'b mut Buffer,
    pass: Pass,
    ts: Option<i64>,
}

impl IlpRow<'_> {
    /// Whether a non-symbol column is written in the current pass.
    #[inline(always)]
    fn columns(&self) -> bool {
        self.pass != Pass::Symbols
    }

    #[inline(always)]
    fn name(field: &'static FieldMeta) -> ColumnName<'static> {
        ColumnName::new_unchecked(field.column)
    }
}

macro_rules! column {
    ($self:ident, $field:ident, $call:ident($($arg:expr),*)) => {{
        if $self.columns() {
            $self
                .buf
                .$call(Self::name($field), $($arg),*)
                .map_err(|e| error::ilp_field($field, e))?;
        }
        Ok(())
    }};
}

impl FieldVisitor for IlpRow<'_> {
    #[inline]
    fn null(&mut self, _field: &'static FieldMeta) -> Result<()> {
        // None omits the column: QuestDB stores NULL for a column missing from a row.
        Ok(())
    }

    #[inline]
    fn bool(&mut self, field: &'static FieldMeta, v: bool) -> Result<()> {
        if field.nullable {
            column!(self, field, column_i64(i64::from(v)))
        } else {
            column!(self, field, column_bool(v))
        }
    }

    #[inline]
    fn i16(&mut self, field: &'static FieldMeta, v: i16) -> Result<()> {
        column!(self, field, column_i64(i64::from(v)))
    }

    #[inline]
    fn i32(&mut self, field: &'static FieldMeta, v: i32) -> Result<()> {
        column!(self, field, column_i64(i64::from(v)))
    }

    #[inline]
    fn i64(&mut self, field: &'static FieldMeta, v: i64) -> Result<()> {
        column!(self, field, column_i64(v))
    }

    #[inline]
    fn f32(&mut self, field: &'static FieldMeta, v: f32) -> Result<()> {
        column!(self, field, column_f64(f64::from(v)))
    }

    #[inline]
    fn f64(&mut self, field: &'static FieldMeta, v: f64) -> Result<()> {
        column!(self, field, column_f64(v))
    }

    #[inline]
    fn str(&mut self, field: &'static FieldMeta, v: &str) -> Result<()> {
        check_text(field, v)?;
        if is_symbol_kind(field) {
            if self.pass != Pass::Columns {
                self.buf
                    .symbol(Self::name(field), v)
                    .map_err(|e| error::ilp_field(field, e))?;
            }
            Ok(())
        } else {
            column!(self, field, column_str(v))
        }
    }

    #[inline]
    fn uuid(&mut self, field: &'static FieldMeta, v: &Uuid) -> Result<()> {
        if !self.columns() {
            return Ok(());
        }
        // QuestDB 9.3 refuses ILP's binary UUID; its UUID column parses the canonical text.
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let text = v.hyphenated().encode_lower(&mut text);
        column!(self, field, column_str(&*text))
    }

    #[inline]
    fn timestamp(&mut self, field: &'static FieldMeta, v: &DateTime<Utc>) -> Result<()> {
        if field.timestamp {
            // The designated timestamp goes last, with `at`; keep it for then.
            if self.pass != Pass::Columns {
                self.ts = Some(v.timestamp_micros());
            }
            return Ok(());
        }
        column!(
            self,
            field,
            column_ts(TimestampMicros::new(v.timestamp_micros()))
        )
    }

    #[inline]
    fn decimal(&mut self, field: &'static FieldMeta, v: &Decimal) -> Result<()> {
        if !self.columns() {
            return Ok(());
        }
        let bytes = v.mantissa().to_be_bytes();
        let view = DecimalView::try_new_scaled(v.scale(), trim_sign_bytes(&bytes))
            .map_err(|e| error::ilp_field(field, e))?;
        column!(self, field, column_dec(view))
    }

    #[inline]
    fn json(&mut self, field: &'static FieldMeta, json: &str) -> Result<()> {
        check_text(field, json)?;
        column!(self, field, column_str(json))
    }

    fn bytes(&mut self, field: &'static FieldMeta, _v: &[u8]) -> Result<()> {
        Err(Error::codec(
            field,
            "QuestDB cannot store bytes over ILP; store them in Postgres or encode them as text",
        ))
    }
}

/// Text checks every backend makes: `max_len`, and no NUL (QuestDB's PG wire cannot return it).
#[inline]
fn check_text(field: &'static FieldMeta, v: &str) -> Result<()> {
    field.check_max_len(v)?;
    if v.as_bytes().contains(&0) {
        return Err(Error::invalid_field(
            field,
            "text contains a NUL character, which QuestDB cannot return over the PG wire",
        ));
    }
    Ok(())
}

/// The shortest big-endian two's complement form of a mantissa (what ILP's binary decimal wants).
fn trim_sign_bytes(bytes: &[u8; 16]) -> &[u8] {
    let negative = bytes[0] & 0x80 != 0;
    let mut from = 0;
    while from < bytes.len() - 1 {
        let (cur, next) = (bytes[from], bytes[from + 1]);
        let redundant = if negative {
            cur == 0xFF && next & 0x80 != 0
        } else {
            cur == 0x00 && next & 0x80 == 0
        };
        if !redundant {
            break;
        }
        from += 1;
    }
    &bytes[from..]
}

/// The select-list expression that reads `field` back over the PG wire.
///
/// Decimals are read as text: QuestDB pads them to the column's scale (28), which can exceed what
/// a binary NUMERIC decode into `rust_decimal` accepts.
pub(crate) fn select_expr(field: &FieldMeta, out: &mut String) {
    if field.kind == FieldKind::Decimal {
        out.push_str("cast(");
        quote_ident(field.column, out);
        out.push_str(" as varchar)");
    } else {
        quote_ident(field.column, out);
    }
}

/// Appends a double-quoted identifier (names were validated: no quotes inside).
pub(crate) fn quote_ident(name: &str, out: &mut String) {
    out.push('"');
    out.push_str(name);
    out.push('"');
}

/// Reads one row of an entity's select list (fields in [`dal::EntityMeta::fields`] order).
pub(crate) struct PgRowDecoder<'r> {
    row: &'r PgRow,
}

impl<'r> PgRowDecoder<'r> {
    pub(crate) fn new(row: &'r PgRow) -> Self {
        PgRowDecoder { row }
    }

    fn get<V>(&self, field: &'static FieldMeta) -> Result<Option<V>>
    where
        V: for<'a> sqlx::Decode<'a, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        self.row
            .try_get::<Option<V>, usize>(field.index)
            .map_err(|e| error::sql_decode(field, e))
    }
}

fn narrow<S: TryFrom<i64>>(
    field: &'static FieldMeta,
    v: Option<i64>,
    ty: &str,
) -> Result<Option<S>> {
    v.map(|x| {
        S::try_from(x).map_err(|_| {
            Error::codec(
                field,
                format_args!("stored value {x} is out of range for {ty}"),
            )
        })
    })
    .transpose()
}

impl FieldDecoder for PgRowDecoder<'_> {
    fn bool(&mut self, field: &'static FieldMeta) -> Result<Option<bool>> {
        if field.nullable {
            let v: Option<i32> = self.get(field)?;
            return v
                .map(|x| match x {
                    0 => Ok(false),
                    1 => Ok(true),
                    other => Err(Error::codec(
                        field,
                        format_args!("stored value {other} is not a boolean (0 or 1)"),
                    )),
                })
                .transpose();
        }
        self.get(field)
    }
    fn i16(&mut self, field: &'static FieldMeta) -> Result<Option<i16>> {
        let v: Option<i32> = self.get(field)?;
        narrow(field, v.map(i64::from), "i16")
    }
    fn i32(&mut self, field: &'static FieldMeta) -> Result<Option<i32>> {
        self.get(field)
    }
    fn i64(&mut self, field: &'static FieldMeta) -> Result<Option<i64>> {
        self.get(field)
    }
    fn f32(&mut self, field: &'static FieldMeta) -> Result<Option<f32>> {
        self.get(field)
    }
    fn f64(&mut self, field: &'static FieldMeta) -> Result<Option<f64>> {
        self.get(field)
    }
    fn string(&mut self, field: &'static FieldMeta) -> Result<Option<String>> {
        self.get(field)
    }
    fn uuid(&mut self, field: &'static FieldMeta) -> Result<Option<Uuid>> {
        self.get(field)
    }
    fn timestamp(&mut self, field: &'static FieldMeta) -> Result<Option<DateTime<Utc>>> {
        // QuestDB's TIMESTAMP is UTC micros, sent as a timestamp without time zone.
        let v: Option<NaiveDateTime> = self.get(field)?;
        Ok(v.map(|n| n.and_utc()))
    }
    fn decimal(&mut self, field: &'static FieldMeta) -> Result<Option<Decimal>> {
        let v: Option<String> = self.get(field)?;
        v.map(|text| parse_decimal(field, &text)).transpose()
    }
    fn json(&mut self, field: &'static FieldMeta) -> Result<Option<String>> {
        self.get(field)
    }
    fn bytes(&mut self, field: &'static FieldMeta) -> Result<Option<Vec<u8>>> {
        Err(Error::codec(field, "QuestDB entities cannot hold bytes"))
    }
}

/// Parses QuestDB's decimal text, dropping the trailing zeros of the column's scale first so a
/// value with up to 28 significant digits fits `rust_decimal`.
pub(crate) fn parse_decimal(field: &'static FieldMeta, text: &str) -> Result<Decimal> {
    let trimmed = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    };
    Decimal::from_str_exact(trimmed)
        .or_else(|_| Decimal::from_str(trimmed))
        .map_err(|e| Error::codec(field, format_args!("stored decimal {text:?}: {e}")))
}

/// One bind parameter of a generated query.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Bool(bool),
    I32(i32),
    I64(i64),
    F64(f64),
    Text(String),
    Uuid(Uuid),
    Timestamp(NaiveDateTime),
}

impl Bind {
    /// The parameter for comparing `field` with `value` (which is never NULL here).
    pub(crate) fn for_field(field: &'static FieldMeta, value: &Value) -> Result<Bind> {
        Ok(match value {
            Value::Bool(b) if field.nullable => Bind::I32(i32::from(*b)),
            Value::Bool(b) => Bind::Bool(*b),
            Value::I16(v) => Bind::I32(i32::from(*v)),
            Value::I32(v) => Bind::I32(*v),
            Value::I64(v) => Bind::I64(*v),
            Value::F32(v) => Bind::F64(f64::from(*v)),
            Value::F64(v) => Bind::F64(*v),
            Value::Text(v) | Value::Json(v) => Bind::Text(v.clone()),
            Value::Uuid(v) => Bind::Uuid(*v),
            Value::Timestamp(v) => Bind::Timestamp(v.naive_utc()),
            Value::Decimal(v) => Bind::Text(v.to_string()),
            Value::Null | Value::Bytes(_) => {
                return Err(Error::invalid_field(
                    field,
                    format_args!("cannot compare with {value} on QuestDB"),
                ));
            }
        })
    }

    /// Whether the placeholder needs a cast to the column's type (decimals are bound as text).
    pub(crate) fn cast_suffix(field: &FieldMeta) -> &'static str {
        if field.kind == FieldKind::Decimal {
            "::decimal(57,28)"
        } else {
            ""
        }
    }
}

/// Binds every parameter, in order.
pub(crate) fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    binds: &[Bind],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    for b in binds {
        q = match b.clone() {
            Bind::Bool(v) => q.bind(v),
            Bind::I32(v) => q.bind(v),
            Bind::I64(v) => q.bind(v),
            Bind::F64(v) => q.bind(v),
            Bind::Text(v) => q.bind(v),
            Bind::Uuid(v) => q.bind(v),
            Bind::Timestamp(v) => q.bind(v),
        };
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mantissa_bytes_are_minimal_twos_complement() {
        assert_eq!(trim_sign_bytes(&0i128.to_be_bytes()), &[0]);
        assert_eq!(trim_sign_bytes(&12345i128.to_be_bytes()), &[0x30, 0x39]);
        assert_eq!(trim_sign_bytes(&128i128.to_be_bytes()), &[0x00, 0x80]);
        assert_eq!(trim_sign_bytes(&(-1i128).to_be_bytes()), &[0xFF]);
        assert_eq!(trim_sign_bytes(&(-129i128).to_be_bytes()), &[0xFF, 0x7F]);
    }
}

//! Rows in and out of Postgres in its binary wire format.
//!
//! Writes: one [`FieldVisitor`] ([`Encoder`]) checks each value against Postgres' [`LIMITS`]
//! (NUL and the 1 GB limit in text, `max_len`, timestamps Postgres cannot hold, `\u0000` in
//! JSON), brings decimals to their declared scale ([`FieldMeta::fit_decimal`]) and hands each
//! value to a [`Sink`]: the bind arguments of a statement, a row of a binary `COPY` stream, or
//! the column arrays of an `UNNEST` statement. Every sink writes the same binary encoding
//! ([`write_scalar`]), so a value is encoded once, straight from the entity, with no
//! intermediate `Value` row. Reads: a [`FieldDecoder`] over a `PgRow` ([`RowReader`]) that checks
//! the column's type and converts compatible widths with range checks, so a stored value that
//! does not fit is a `Codec` error naming entity and field, never a panic.
//!
//! `NUMERIC` is encoded and decoded here rather than by sqlx, whose conversion drops the scale of
//! a zero (`0.000` came back as `0`): a decimal is returned with the scale it was written with.

use chrono::{DateTime, Utc};
use dal::value::{FieldDecoder, FieldVisitor};
use std::borrow::Cow;

use dal::query::{CmpOp, Condition};
use dal::{Error, FieldKind, FieldMeta, Limits, Result, Value};
use rust_decimal::Decimal;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgArguments, PgRow, PgTypeInfo, PgValueFormat, PgValueRef};
use sqlx::{Arguments, Decode, Encode, Row, Type, TypeInfo, ValueRef};
use uuid::Uuid;

/// Microseconds between the Unix epoch and Postgres' epoch (2000-01-01 UTC).
const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;
/// The earliest timestamp Postgres stores (4714-11-24 00:00 UTC BC), in µs since 2000.
pub(crate) const PG_MIN_TIMESTAMP_US: i64 = -211_813_488_000_000_000;
/// The longest text value Postgres stores: 1 GB less the varlena header.
const PG_TEXT_MAX_BYTES: usize = 0x3fff_ffff - 4;

/// The values Postgres holds and returns unchanged (its `Capabilities::limits`).
///
/// - Timestamps from 4714-11-24 00:00 UTC BC (Postgres' earliest; chrono goes further back) to
///   chrono's latest (year 262142; `TIMESTAMPTZ` goes to 294276 AD); truncated to microseconds.
/// - Text without NUL, up to 1 GB. NaN, ±infinity and the integer minimums are plain values.
pub(crate) const LIMITS: Limits = {
    let mut l = Limits::NONE;
    l.timestamp_min =
        match DateTime::from_timestamp_micros(PG_MIN_TIMESTAMP_US + PG_EPOCH_OFFSET_US) {
            Some(t) => t,
            None => panic!("Postgres' earliest timestamp fits chrono"),
        };
    l.timestamp_max = DateTime::<Utc>::MAX_UTC;
    l.non_finite_floats = true;
    l.integer_min = true;
    l.nul_in_text = false;
    l.symbol_max_bytes = None;
    l.text_max_bytes = Some(PG_TEXT_MAX_BYTES);
    l.index_max_bytes = Some(PG_INDEX_TEXT_MAX_BYTES);
    l
};

/// The most text one B-tree entry holds: symbols are indexed, and a key's text parts (with the
/// timestamp, for a series) form its primary-key entry. A B-tree item may take a third of an 8 KiB
/// page, 2,704 bytes with headers; the rest of this budget is headroom for the varlena headers,
/// the other key parts and alignment. Larger text that happens to compress below the limit would
/// be stored by Postgres, but then whether a value is accepted depends on its compressibility;
/// refusing by length keeps it predictable.
const PG_INDEX_TEXT_MAX_BYTES: usize = 2_600;

/// One non-NULL value, borrowed from the entity being written.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scalar<'a> {
    Bool(bool),
    I16(i16),
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Text(&'a str),
    Uuid(&'a Uuid),
    /// Microseconds since 2000-01-01 UTC (Postgres' own representation).
    Timestamp(i64),
    Decimal(Decimal),
    Json(&'a str),
    Bytes(&'a [u8]),
}

/// Built-in type OIDs (stable across Postgres versions: `pg_type.dat`).
pub(crate) const fn element_oid(kind: FieldKind) -> u32 {
    match kind {
        FieldKind::Bool => 16,
        FieldKind::Bytes => 17,
        FieldKind::I64 => 20,
        FieldKind::I16 => 21,
        FieldKind::I32 => 23,
        FieldKind::Text => 25,
        FieldKind::F32 => 700,
        FieldKind::F64 => 701,
        FieldKind::Timestamp => 1184,
        FieldKind::Decimal => 1700,
        FieldKind::Uuid => 2950,
        FieldKind::Json => 3802,
        // FieldKind is non_exhaustive; a kind this backend does not know is sent as text.
        #[allow(unreachable_patterns)]
        _ => 25,
    }
}

/// The Postgres type of a parameter holding one value of `kind`.
pub(crate) fn type_info(kind: FieldKind) -> PgTypeInfo {
    match kind {
        FieldKind::Bool => <bool as Type<sqlx::Postgres>>::type_info(),
        FieldKind::I16 => <i16 as Type<sqlx::Postgres>>::type_info(),
        FieldKind::I32 => <i32 as Type<sqlx::Postgres>>::type_info(),
        FieldKind::I64 => <i64 as Type<sqlx::Postgres>>::type_info(),
        FieldKind::F32 => <f32 as Type<sqlx::Postgres>>::type_info(),
        FieldKind::F64 => <f64 as Type<sqlx::Postgres>>::type_info(),
        FieldKind::Uuid => <Uuid as Type<sqlx::Postgres>>::type_info(),
        FieldKind::Timestamp => <DateTime<Utc> as Type<sqlx::Postgres>>::type_info(),
        FieldKind::Decimal => <Decimal as Type<sqlx::Postgres>>::type_info(),
        FieldKind::Json => <sqlx::types::Json<()> as Type<sqlx::Postgres>>::type_info(),
        FieldKind::Bytes => <Vec<u8> as Type<sqlx::Postgres>>::type_info(),
        _ => <String as Type<sqlx::Postgres>>::type_info(),
    }
}

/// The Postgres type of a parameter holding an array of `kind`.
pub(crate) fn array_type_info(kind: FieldKind) -> PgTypeInfo {
    match kind {
        FieldKind::Bool => <Vec<bool> as Type<sqlx::Postgres>>::type_info(),
        FieldKind::I16 => <Vec<i16> as Type<sqlx::Postgres>>::type_info(),
        FieldKind::I32 => <Vec<i32> as Type<sqlx::Postgres>>::type_info(),
        FieldKind::I64 => <Vec<i64> as Type<sqlx::Postgres>>::type_info(),
        FieldKind::F32 => <Vec<f32> as Type<sqlx::Postgres>>::type_info(),
        FieldKind::F64 => <Vec<f64> as Type<sqlx::Postgres>>::type_info(),
        FieldKind::Uuid => <Vec<Uuid> as Type<sqlx::Postgres>>::type_info(),
        FieldKind::Timestamp => <Vec<DateTime<Utc>> as Type<sqlx::Postgres>>::type_info(),
        FieldKind::Decimal => <Vec<Decimal> as Type<sqlx::Postgres>>::type_info(),
        FieldKind::Json => <Vec<sqlx::types::Json<()>> as Type<sqlx::Postgres>>::type_info(),
        FieldKind::Bytes => <Vec<Vec<u8>> as Type<sqlx::Postgres>>::type_info(),
        _ => <Vec<String> as Type<sqlx::Postgres>>::type_info(),
    }
}

/// Appends the binary representation of `v` (without a length prefix).
pub(crate) fn write_scalar(buf: &mut PgArgumentBuffer, v: Scalar<'_>) -> Result<(), BoxDynError> {
    match v {
        Scalar::Bool(b) => buf.push(u8::from(b)),
        Scalar::I16(x) => buf.extend_from_slice(&x.to_be_bytes()),
        Scalar::I32(x) => buf.extend_from_slice(&x.to_be_bytes()),
        Scalar::I64(x) | Scalar::Timestamp(x) => buf.extend_from_slice(&x.to_be_bytes()),
        Scalar::F32(x) => buf.extend_from_slice(&x.to_be_bytes()),
        Scalar::F64(x) => buf.extend_from_slice(&x.to_be_bytes()),
        Scalar::Text(s) => buf.extend_from_slice(s.as_bytes()),
        Scalar::Uuid(u) => buf.extend_from_slice(u.as_bytes()),
        Scalar::Decimal(d) => write_numeric(buf, &d),
        Scalar::Json(s) => {
            // JSONB binary format: a version byte, then the JSON text.
            buf.push(1);
            buf.extend_from_slice(s.as_bytes());
        }
        Scalar::Bytes(b) => buf.extend_from_slice(b),
    }
    Ok(())
}

/// Appends a decimal in `NUMERIC`'s binary form (base-10000 digits, weight, sign, display
/// scale), keeping its scale: `0.000` is sent with display scale 3, `12.500` with 3.
pub(crate) fn write_numeric(buf: &mut PgArgumentBuffer, d: &Decimal) {
    let scale = d.scale();
    // Pad the fraction to whole base-10000 digits: 12.5 is 12.5000, the digits 12 and 5000.
    let pad = (4 - scale % 4) % 4;
    // At most 2^96 * 1000 < 10^32: no overflow, at most 8 digits.
    let mut m = d.mantissa().unsigned_abs() * 10u128.pow(pad);
    let fraction_digits = ((scale + pad) / 4) as i16;
    let mut digits = [0i16; 8];
    let mut n = 0;
    while m != 0 && n < digits.len() {
        digits[n] = (m % 10_000) as i16;
        m /= 10_000;
        n += 1;
    }
    // `digits[..n]` is least significant first; trailing zero digits are implied by the weight.
    let low = digits[..n].iter().take_while(|&&x| x == 0).count();
    let ndigits = n - low;
    let weight = if ndigits == 0 {
        0
    } else {
        n as i16 - fraction_digits - 1
    };
    let sign: u16 = if ndigits > 0 && d.is_sign_negative() {
        0x4000
    } else {
        0
    };
    buf.extend_from_slice(&(ndigits as i16).to_be_bytes());
    buf.extend_from_slice(&weight.to_be_bytes());
    buf.extend_from_slice(&sign.to_be_bytes());
    buf.extend_from_slice(&(scale as u16).to_be_bytes());
    for &x in digits[low..n].iter().rev() {
        buf.extend_from_slice(&x.to_be_bytes());
    }
}

/// Reads `NUMERIC`'s binary form into a decimal with the stored display scale.
pub(crate) fn read_numeric(b: &[u8]) -> std::result::Result<Decimal, String> {
    let word = |i: usize| -> std::result::Result<u16, String> {
        b.get(i..i + 2)
            .map(|w| u16::from_be_bytes([w[0], w[1]]))
            .ok_or_else(|| "truncated NUMERIC".to_owned())
    };
    let ndigits = usize::from(word(0)?);
    let weight = i64::from(word(2)? as i16);
    let sign = word(4)?;
    let dscale = word(6)?;
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Err("NaN does not fit Decimal".to_owned()),
        0xD000 | 0xF000 => return Err("infinity does not fit Decimal".to_owned()),
        other => return Err(format!("invalid NUMERIC sign {other:#x}")),
    }
    if dscale > 28 {
        return Err(format!(
            "a scale of {dscale} does not fit Decimal (at most 28 fractional digits)"
        ));
    }
    let too_big = || "the value does not fit Decimal (at most 96 bits)".to_owned();
    // The digits as one integer, then moved to `dscale` fractional digits.
    let mut int: u128 = 0;
    for i in 0..ndigits {
        let digit = word(8 + 2 * i)?;
        if digit > 9_999 {
            return Err(format!("invalid NUMERIC digit {digit}"));
        }
        int = int
            .checked_mul(10_000)
            .and_then(|x| x.checked_add(u128::from(digit)))
            .ok_or_else(too_big)?;
    }
    let exponent = if ndigits == 0 {
        0
    } else {
        4 * (weight - (ndigits as i64 - 1)) + i64::from(dscale)
    };
    let mantissa = if exponent >= 0 {
        u32::try_from(exponent)
            .ok()
            .and_then(|e| 10u128.checked_pow(e))
            .and_then(|p| int.checked_mul(p))
            .ok_or_else(too_big)?
    } else {
        let p = u32::try_from(-exponent)
            .ok()
            .and_then(|e| 10u128.checked_pow(e));
        match p {
            Some(p) if int.is_multiple_of(p) => int / p,
            // Digits beyond the display scale: Postgres never sends them.
            _ => return Err("NUMERIC digits beyond its scale".to_owned()),
        }
    };
    let mantissa = i128::try_from(mantissa).map_err(|_| too_big())?;
    let mut d =
        Decimal::try_from_i128_with_scale(mantissa, u32::from(dscale)).map_err(|_| too_big())?;
    if sign == 0x4000 {
        d.set_sign_negative(true);
    }
    Ok(d)
}

/// Appends `v` with its `i32` length prefix (-1 for NULL): the layout of a binary `COPY` field
/// and of an array element.
pub(crate) fn write_field(
    buf: &mut PgArgumentBuffer,
    v: Option<Scalar<'_>>,
) -> Result<(), BoxDynError> {
    let Some(v) = v else {
        buf.extend_from_slice(&(-1i32).to_be_bytes());
        return Ok(());
    };
    let at = buf.len();
    buf.extend_from_slice(&[0; 4]);
    write_scalar(buf, v)?;
    let len = i32::try_from(buf.len() - at - 4).map_err(|_| "value longer than 2 GiB")?;
    buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// A bind parameter: one value of a field, NULL of a field's type, or an array built by a
/// [`ColumnSink`].
#[derive(Debug)]
pub(crate) enum Param<'a> {
    Null(FieldKind),
    Value(FieldKind, Scalar<'a>),
    Array(&'a ArrayColumn),
}

impl Type<sqlx::Postgres> for Param<'_> {
    fn type_info() -> PgTypeInfo {
        <String as Type<sqlx::Postgres>>::type_info()
    }
    fn compatible(_: &PgTypeInfo) -> bool {
        true
    }
}

impl Encode<'_, sqlx::Postgres> for Param<'_> {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        match self {
            Param::Null(_) => Ok(IsNull::Yes),
            Param::Value(_, v) => write_scalar(buf, *v).map(|()| IsNull::No),
            Param::Array(col) => {
                col.write(buf);
                Ok(IsNull::No)
            }
        }
    }

    // The type travels with the value so a NULL still has its column's type, and one statement
    // text always sees the same parameter types (sqlx prepares it once per connection).
    fn produces(&self) -> Option<PgTypeInfo> {
        Some(match self {
            Param::Null(kind) | Param::Value(kind, _) => type_info(*kind),
            Param::Array(col) => array_type_info(col.kind),
        })
    }
}

/// The elements of a one-dimensional array parameter, in binary array-element layout.
#[derive(Debug)]
pub(crate) struct ArrayColumn {
    kind: FieldKind,
    body: PgArgumentBuffer,
    len: usize,
    has_null: bool,
}

impl ArrayColumn {
    pub(crate) fn new(kind: FieldKind) -> Self {
        ArrayColumn {
            kind,
            body: PgArgumentBuffer::default(),
            len: 0,
            has_null: false,
        }
    }

    pub(crate) fn push(&mut self, v: Option<Scalar<'_>>) -> Result<(), BoxDynError> {
        self.has_null |= v.is_none();
        write_field(&mut self.body, v)?;
        self.len += 1;
        Ok(())
    }

    fn mark(&self) -> (usize, usize, bool) {
        (self.body.len(), self.len, self.has_null)
    }

    fn reset(&mut self, (bytes, len, has_null): (usize, usize, bool)) {
        self.body.truncate(bytes);
        self.len = len;
        self.has_null = has_null;
    }

    fn write(&self, buf: &mut PgArgumentBuffer) {
        let oid = element_oid(self.kind);
        if self.len == 0 {
            // ndim 0: the empty array.
            buf.extend_from_slice(&0i32.to_be_bytes());
            buf.extend_from_slice(&0i32.to_be_bytes());
            buf.extend_from_slice(&oid.to_be_bytes());
            return;
        }
        buf.extend_from_slice(&1i32.to_be_bytes());
        buf.extend_from_slice(&i32::from(self.has_null).to_be_bytes());
        buf.extend_from_slice(&oid.to_be_bytes());
        // The element count fits: arrays are chunked well below 2^31 elements.
        buf.extend_from_slice(&i32::try_from(self.len).unwrap_or(i32::MAX).to_be_bytes());
        buf.extend_from_slice(&1i32.to_be_bytes());
        buf.extend_from_slice(&self.body);
    }
}

/// Where an [`Encoder`] puts the checked values.
pub(crate) trait Sink {
    /// One field's value (`None`: NULL).
    fn value(&mut self, field: &'static FieldMeta, v: Option<Scalar<'_>>) -> Result<()>;
}

/// A [`FieldVisitor`] that checks each value against what Postgres can store and hands it to a
/// sink.
pub(crate) struct Encoder<'s, S: Sink> {
    sink: &'s mut S,
    /// Whether the values are a row being written (checked against [`LIMITS`] and the field's
    /// declarations, decimals brought to their declared scale), or values compared with columns
    /// in filters (a value longer than `max_len` or finer than the scale simply matches no row).
    row: bool,
    /// UTF-8 bytes of the key's text parts so far (their index entry is bounded).
    key_text_bytes: usize,
}

impl<'s, S: Sink> Encoder<'s, S> {
    /// Checks values of rows being written.
    pub(crate) fn row(sink: &'s mut S) -> Self {
        Encoder {
            sink,
            row: true,
            key_text_bytes: 0,
        }
    }

    /// Checks values compared with columns.
    pub(crate) fn filter(sink: &'s mut S) -> Self {
        Encoder {
            sink,
            row: false,
            key_text_bytes: 0,
        }
    }
}

/// Rejects text Postgres cannot store: NUL anywhere; for a row being written also more than
/// 1 GB or more than the field's `max_len`.
pub(crate) fn check_text(field: &'static FieldMeta, s: &str, row: bool) -> Result<()> {
    if row {
        return LIMITS.check_text(field, s);
    }
    if s.as_bytes().contains(&0) {
        return Err(Error::invalid_field(
            field,
            "text contains a NUL character (\\0), which Postgres TEXT cannot store",
        ));
    }
    Ok(())
}

/// Rejects JSON text with a `\u0000` escape, which JSONB cannot store.
pub(crate) fn check_json(field: &'static FieldMeta, s: &str) -> Result<()> {
    if has_nul_escape(s) {
        return Err(Error::invalid_field(
            field,
            "JSON contains the escape \\u0000, which Postgres JSONB cannot store",
        ));
    }
    Ok(())
}

/// Whether JSON text holds the escape `\u0000` (not an escaped backslash followed by `u0000`).
fn has_nul_escape(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(pos) = find(&bytes[from..], b"\\u0000") {
        let at = from + pos;
        // The escape counts only if the backslash itself is not escaped.
        let backslashes = bytes[..at]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if backslashes % 2 == 0 {
            return true;
        }
        from = at + 1;
    }
    false
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Postgres' representation of a timestamp, or a validation error when it cannot hold it.
pub(crate) fn timestamp_micros(field: &'static FieldMeta, v: &DateTime<Utc>) -> Result<i64> {
    // `timestamp_micros` floors sub-microsecond parts, as the conformance contract expects.
    let us = v.timestamp_micros() - PG_EPOCH_OFFSET_US;
    if us < PG_MIN_TIMESTAMP_US {
        return Err(Error::invalid_field(
            field,
            format_args!(
                "{} is before 4714 BC, the earliest timestamp Postgres stores",
                v.to_rfc3339()
            ),
        ));
    }
    Ok(us)
}

impl<S: Sink> FieldVisitor for Encoder<'_, S> {
    fn null(&mut self, field: &'static FieldMeta) -> Result<()> {
        self.sink.value(field, None)
    }
    fn bool(&mut self, field: &'static FieldMeta, v: bool) -> Result<()> {
        self.sink.value(field, Some(Scalar::Bool(v)))
    }
    fn i16(&mut self, field: &'static FieldMeta, v: i16) -> Result<()> {
        self.sink.value(field, Some(Scalar::I16(v)))
    }
    fn i32(&mut self, field: &'static FieldMeta, v: i32) -> Result<()> {
        self.sink.value(field, Some(Scalar::I32(v)))
    }
    fn i64(&mut self, field: &'static FieldMeta, v: i64) -> Result<()> {
        self.sink.value(field, Some(Scalar::I64(v)))
    }
    fn f32(&mut self, field: &'static FieldMeta, v: f32) -> Result<()> {
        self.sink.value(field, Some(Scalar::F32(v)))
    }
    fn f64(&mut self, field: &'static FieldMeta, v: f64) -> Result<()> {
        self.sink.value(field, Some(Scalar::F64(v)))
    }
    fn str(&mut self, field: &'static FieldMeta, v: &str) -> Result<()> {
        check_text(field, v, self.row)?;
        if self.row && field.id {
            self.key_text_bytes += v.len();
            LIMITS.check_key_text(field, self.key_text_bytes)?;
        }
        self.sink.value(field, Some(Scalar::Text(v)))
    }
    fn uuid(&mut self, field: &'static FieldMeta, v: &Uuid) -> Result<()> {
        self.sink.value(field, Some(Scalar::Uuid(v)))
    }
    fn timestamp(&mut self, field: &'static FieldMeta, v: &DateTime<Utc>) -> Result<()> {
        let us = if self.row {
            LIMITS.check_timestamp(field, v)?;
            // In range: no overflow. Truncated to µs (`timestamp_precision`).
            v.timestamp_micros() - PG_EPOCH_OFFSET_US
        } else {
            timestamp_micros(field, v)?
        };
        self.sink.value(field, Some(Scalar::Timestamp(us)))
    }
    fn decimal(&mut self, field: &'static FieldMeta, v: &Decimal) -> Result<()> {
        let d = if self.row { field.fit_decimal(v)? } else { *v };
        self.sink.value(field, Some(Scalar::Decimal(d)))
    }
    fn json(&mut self, field: &'static FieldMeta, json: &str) -> Result<()> {
        if self.row {
            LIMITS.check_text(field, json)?;
        }
        check_json(field, json)?;
        self.sink.value(field, Some(Scalar::Json(json)))
    }
    fn bytes(&mut self, field: &'static FieldMeta, v: &[u8]) -> Result<()> {
        self.sink.value(field, Some(Scalar::Bytes(v)))
    }
}

/// Binds each value as the next statement parameter (`$1, $2, ..` in visiting order).
pub(crate) struct BindSink<'a>(pub(crate) &'a mut PgArguments);

impl Sink for BindSink<'_> {
    fn value(&mut self, field: &'static FieldMeta, v: Option<Scalar<'_>>) -> Result<()> {
        let param = match v {
            Some(v) => Param::Value(field.kind, v),
            None => Param::Null(field.kind),
        };
        self.0.add(param).map_err(|e| Error::codec(field, e))
    }
}

/// Binds one value of a field as the next parameter.
pub(crate) fn bind_value(
    args: &mut PgArguments,
    field: &'static FieldMeta,
    value: &Value,
) -> Result<()> {
    let value = coerce(field, value)?;
    value.encode(field, &mut Encoder::filter(&mut BindSink(args)))
}

/// Binds a list of values of one field as one array parameter.
pub(crate) fn bind_array(
    args: &mut PgArguments,
    field: &'static FieldMeta,
    values: &[Value],
) -> Result<()> {
    let mut col = ColumnSink::new(&[field]);
    for v in values {
        let v = coerce(field, v)?;
        v.encode(field, &mut Encoder::filter(&mut col))?;
    }
    let array = col
        .columns
        .pop()
        .unwrap_or_else(|| ArrayColumn::new(field.kind));
    args.add(Param::Array(&array))
        .map_err(|e| Error::codec(field, e))
}

/// Converts a filter value to the field's own storage class, so the parameter type always
/// matches the column (a cached statement is prepared with the types of its first use).
fn coerce<'v>(field: &'static FieldMeta, value: &'v Value) -> Result<std::borrow::Cow<'v, Value>> {
    use std::borrow::Cow;
    let wide = match value {
        Value::I16(x) => Some(i64::from(*x)),
        Value::I32(x) => Some(i64::from(*x)),
        Value::I64(x) => Some(*x),
        _ => None,
    };
    let out = match (field.kind, value, wide) {
        (_, Value::Null, _) => return Ok(Cow::Borrowed(value)),
        (FieldKind::I16, Value::I16(_), _)
        | (FieldKind::I32, Value::I32(_), _)
        | (FieldKind::I64, Value::I64(_), _) => return Ok(Cow::Borrowed(value)),
        (FieldKind::I16, _, Some(w)) => i16::try_from(w).ok().map(Value::I16),
        (FieldKind::I32, _, Some(w)) => i32::try_from(w).ok().map(Value::I32),
        (FieldKind::I64, _, Some(w)) => Some(Value::I64(w)),
        (FieldKind::F64, Value::F32(x), _) => Some(Value::F64(f64::from(*x))),
        (FieldKind::Json, Value::Text(s), _) => Some(Value::Json(s.clone())),
        _ => return Ok(Cow::Borrowed(value)),
    };
    out.map(Cow::Owned).ok_or_else(|| {
        Error::invalid_field(
            field,
            format_args!("filter value {value} does not fit the column"),
        )
    })
}

/// The filter conditions as Postgres can evaluate them, with the answer the memory backend
/// gives. A value Postgres cannot hold (a timestamp before 4714 BC, text with a NUL, JSON with a
/// `\u0000` escape) cannot be bound, but no stored value equals it and its order against every
/// stored value is known, so each comparison with one becomes one that Postgres can run:
/// - `=` (and each such value of an `IN` list) matches nothing, `<>` every non-NULL value;
/// - a timestamp before every stored one is below all of them;
/// - text `p\0..` (with `p` free of NUL) is, in byte order, above exactly the stored texts up to
///   `p`: `< / <=` become `< p\x01` / `<= p`, `> / >=` become `> p` / `>= p\x01`.
///
/// Borrowed (no copy) when every value can be bound.
pub(crate) fn comparable(conditions: &[Condition]) -> Cow<'_, [Condition]> {
    if !conditions.iter().any(|c| match c {
        Condition::Cmp { value, .. } => unbindable(value),
        Condition::In { values, .. } => values.iter().any(unbindable),
        Condition::IsNull { .. } => false,
    }) {
        return Cow::Borrowed(conditions);
    }
    let never = |field| Condition::In {
        field,
        values: Vec::new(),
    };
    let not_null = |field| Condition::IsNull {
        field,
        negated: true,
    };
    let rewritten = conditions
        .iter()
        .map(|c| match c {
            Condition::Cmp { field, op, value } if unbindable(value) => {
                let (field, op) = (*field, *op);
                match (value, op) {
                    (_, CmpOp::Eq) => never(field),
                    (_, CmpOp::Ne) => not_null(field),
                    (Value::Text(text), _) => {
                        let prefix = text.split('\0').next().unwrap_or_default();
                        let value = match op {
                            CmpOp::Le | CmpOp::Gt => Value::Text(prefix.to_owned()),
                            _ => Value::Text(format!("{prefix}\u{1}")),
                        };
                        Condition::Cmp { field, op, value }
                    }
                    (Value::Timestamp(_), CmpOp::Gt | CmpOp::Ge) => not_null(field),
                    (Value::Timestamp(_), _) => never(field),
                    // JSON has no order Postgres and the memory backend share: binding fails
                    // with the validation error it always gave.
                    _ => c.clone(),
                }
            }
            Condition::In { field, values } => Condition::In {
                field,
                values: values.iter().filter(|v| !unbindable(v)).cloned().collect(),
            },
            other => other.clone(),
        })
        .collect();
    Cow::Owned(rewritten)
}

/// Whether Postgres cannot hold `value`, so that it cannot be bound as a parameter.
fn unbindable(value: &Value) -> bool {
    match value {
        Value::Timestamp(ts) => ts.timestamp_micros() - PG_EPOCH_OFFSET_US < PG_MIN_TIMESTAMP_US,
        Value::Text(text) => text.as_bytes().contains(&0),
        Value::Json(json) => has_nul_escape(json),
        _ => false,
    }
}

/// Collects values column by column, as arrays for `INSERT .. SELECT FROM UNNEST($1, $2, ..)`.
pub(crate) struct ColumnSink {
    /// One array per selected field, in selection order.
    pub(crate) columns: Vec<ArrayColumn>,
    /// For each field index of the entity, its column here (`usize::MAX`: not selected).
    slot: Vec<usize>,
    marks: Vec<(usize, usize, bool)>,
}

impl ColumnSink {
    /// Arrays for `fields` (all of an entity's fields, or its id fields).
    pub(crate) fn new(fields: &[&'static FieldMeta]) -> Self {
        let width = fields.iter().map(|f| f.index + 1).max().unwrap_or(0);
        let mut slot = vec![usize::MAX; width];
        for (i, f) in fields.iter().enumerate() {
            slot[f.index] = i;
        }
        ColumnSink {
            columns: fields.iter().map(|f| ArrayColumn::new(f.kind)).collect(),
            slot,
            marks: Vec::with_capacity(fields.len()),
        }
    }

    /// Remembers the current end of every array, so a row that fails half-way can be undone.
    pub(crate) fn begin_row(&mut self) {
        self.marks.clear();
        self.marks
            .extend(self.columns.iter().map(ArrayColumn::mark));
    }

    /// Removes everything written since [`ColumnSink::begin_row`].
    pub(crate) fn undo_row(&mut self) {
        for (col, mark) in self.columns.iter_mut().zip(self.marks.iter()) {
            col.reset(*mark);
        }
    }

    /// Binds every array as the next parameters.
    pub(crate) fn bind(&self, args: &mut PgArguments) -> Result<(), BoxDynError> {
        for col in &self.columns {
            args.add(Param::Array(col))?;
        }
        Ok(())
    }
}

impl Sink for ColumnSink {
    fn value(&mut self, field: &'static FieldMeta, v: Option<Scalar<'_>>) -> Result<()> {
        let slot = self.slot.get(field.index).copied().unwrap_or(usize::MAX);
        match self.columns.get_mut(slot) {
            Some(col) => col.push(v).map_err(|e| Error::codec(field, e)),
            None => Ok(()),
        }
    }
}

/// Writes rows of a binary `COPY .. FROM STDIN (FORMAT binary)` stream.
pub(crate) struct CopySink {
    pub(crate) buf: PgArgumentBuffer,
    row_start: usize,
}

/// The binary COPY header: signature, flags, header-extension length.
const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

impl CopySink {
    pub(crate) fn new() -> Self {
        let mut buf = PgArgumentBuffer::default();
        buf.extend_from_slice(COPY_HEADER);
        CopySink { buf, row_start: 0 }
    }

    /// Starts a tuple of `fields` fields.
    pub(crate) fn begin_row(&mut self, fields: usize) {
        self.row_start = self.buf.len();
        let n = i16::try_from(fields).unwrap_or(i16::MAX);
        self.buf.extend_from_slice(&n.to_be_bytes());
    }

    /// Drops the tuple started by the last [`CopySink::begin_row`].
    pub(crate) fn undo_row(&mut self) {
        self.buf.truncate(self.row_start);
    }

    /// Appends the end-of-data marker.
    pub(crate) fn finish(&mut self) {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
    }
}

impl Sink for CopySink {
    fn value(&mut self, field: &'static FieldMeta, v: Option<Scalar<'_>>) -> Result<()> {
        write_field(&mut self.buf, v).map_err(|e| Error::codec(field, e))
    }
}

/// Reads an entity's fields from a row, by [`FieldMeta::index`].
pub(crate) struct RowReader<'r> {
    row: &'r PgRow,
}

impl<'r> RowReader<'r> {
    pub(crate) fn new(row: &'r PgRow) -> Self {
        RowReader { row }
    }

    /// The raw value, `None` for NULL, plus its type OID.
    fn raw(&self, field: &'static FieldMeta) -> Result<Option<(PgValueRef<'r>, u32)>> {
        let v = self
            .row
            .try_get_raw(field.index)
            .map_err(|e| Error::codec(field, format_args!("column {}: {e}", field.column)))?;
        if v.is_null() {
            return Ok(None);
        }
        let oid = v.type_info().oid().map_or(0, |o| o.0);
        Ok(Some((v, oid)))
    }
}

fn bytes<'r>(field: &'static FieldMeta, v: &PgValueRef<'r>) -> Result<&'r [u8]> {
    v.as_bytes().map_err(|e| Error::codec(field, e))
}

fn fixed<const N: usize>(field: &'static FieldMeta, b: &[u8]) -> Result<[u8; N]> {
    b.try_into()
        .map_err(|_| Error::codec(field, format_args!("expected {N} bytes, found {}", b.len())))
}

fn text<'r>(field: &'static FieldMeta, v: &PgValueRef<'r>) -> Result<&'r str> {
    v.as_str().map_err(|e| Error::codec(field, e))
}

fn wrong_type(field: &'static FieldMeta, want: &str, v: &PgValueRef<'_>) -> Error {
    Error::codec(
        field,
        format_args!(
            "column {} has SQL type {}, which cannot be read as {want}",
            field.column,
            v.type_info().name()
        ),
    )
}

fn parse<T: std::str::FromStr>(field: &'static FieldMeta, s: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    s.trim()
        .parse()
        .map_err(|e| Error::codec(field, format_args!("{s:?}: {e}")))
}

impl RowReader<'_> {
    /// Any integer column, widened to i64.
    fn integer(&self, field: &'static FieldMeta, want: &str) -> Result<Option<i64>> {
        let Some((v, oid)) = self.raw(field)? else {
            return Ok(None);
        };
        if v.format() == PgValueFormat::Text {
            return match oid {
                20 | 21 | 23 => parse(field, text(field, &v)?).map(Some),
                _ => Err(wrong_type(field, want, &v)),
            };
        }
        let b = bytes(field, &v)?;
        Ok(Some(match oid {
            21 => i64::from(i16::from_be_bytes(fixed(field, b)?)),
            23 => i64::from(i32::from_be_bytes(fixed(field, b)?)),
            20 => i64::from_be_bytes(fixed(field, b)?),
            _ => return Err(wrong_type(field, want, &v)),
        }))
    }

    fn narrow<T: TryFrom<i64>>(&self, field: &'static FieldMeta, want: &str) -> Result<Option<T>> {
        match self.integer(field, want)? {
            None => Ok(None),
            Some(w) => T::try_from(w).map(Some).map_err(|_| {
                Error::codec(
                    field,
                    format_args!(
                        "stored value {w} in column {} is out of range for {want}",
                        field.column
                    ),
                )
            }),
        }
    }

    fn float(&self, field: &'static FieldMeta, want: &str) -> Result<Option<f64>> {
        let Some((v, oid)) = self.raw(field)? else {
            return Ok(None);
        };
        if v.format() == PgValueFormat::Text {
            return match oid {
                700 | 701 => parse(field, text(field, &v)?).map(Some),
                _ => Err(wrong_type(field, want, &v)),
            };
        }
        let b = bytes(field, &v)?;
        match oid {
            700 => Ok(Some(f64::from(f32::from_be_bytes(fixed(field, b)?)))),
            701 => Ok(Some(f64::from_be_bytes(fixed(field, b)?))),
            _ => Err(wrong_type(field, want, &v)),
        }
    }
}

impl FieldDecoder for RowReader<'_> {
    fn bool(&mut self, field: &'static FieldMeta) -> Result<Option<bool>> {
        let Some((v, oid)) = self.raw(field)? else {
            return Ok(None);
        };
        if oid != 16 {
            return Err(wrong_type(field, "bool", &v));
        }
        if v.format() == PgValueFormat::Text {
            return Ok(Some(text(field, &v)? == "t"));
        }
        Ok(Some(fixed::<1>(field, bytes(field, &v)?)?[0] != 0))
    }
    fn i16(&mut self, field: &'static FieldMeta) -> Result<Option<i16>> {
        self.narrow(field, "i16")
    }
    fn i32(&mut self, field: &'static FieldMeta) -> Result<Option<i32>> {
        self.narrow(field, "i32")
    }
    fn i64(&mut self, field: &'static FieldMeta) -> Result<Option<i64>> {
        self.integer(field, "i64")
    }
    fn f32(&mut self, field: &'static FieldMeta) -> Result<Option<f32>> {
        let Some((v, oid)) = self.raw(field)? else {
            return Ok(None);
        };
        if oid == 701 {
            // A DOUBLE PRECISION column read into f32: narrowing loses precision, as `as` does.
            return Ok(self.float(field, "f32")?.map(|x| x as f32));
        }
        if oid != 700 {
            return Err(wrong_type(field, "f32", &v));
        }
        if v.format() == PgValueFormat::Text {
            return parse(field, text(field, &v)?).map(Some);
        }
        Ok(Some(f32::from_be_bytes(fixed(field, bytes(field, &v)?)?)))
    }
    fn f64(&mut self, field: &'static FieldMeta) -> Result<Option<f64>> {
        self.float(field, "f64")
    }
    fn string(&mut self, field: &'static FieldMeta) -> Result<Option<String>> {
        let Some((v, oid)) = self.raw(field)? else {
            return Ok(None);
        };
        match oid {
            // text, varchar, bpchar, name
            25 | 1043 | 1042 | 19 => Ok(Some(text(field, &v)?.to_owned())),
            _ => Err(wrong_type(field, "String", &v)),
        }
    }
    fn uuid(&mut self, field: &'static FieldMeta) -> Result<Option<Uuid>> {
        let Some((v, oid)) = self.raw(field)? else {
            return Ok(None);
        };
        if oid != 2950 {
            return Err(wrong_type(field, "Uuid", &v));
        }
        if v.format() == PgValueFormat::Text {
            return parse(field, text(field, &v)?).map(Some);
        }
        Ok(Some(Uuid::from_bytes(fixed(field, bytes(field, &v)?)?)))
    }
    fn timestamp(&mut self, field: &'static FieldMeta) -> Result<Option<DateTime<Utc>>> {
        let Some((v, oid)) = self.raw(field)? else {
            return Ok(None);
        };
        // TIMESTAMP without time zone is read as UTC: both store µs since 2000-01-01.
        if oid != 1184 && oid != 1114 {
            return Err(wrong_type(field, "DateTime<Utc>", &v));
        }
        if v.format() == PgValueFormat::Text {
            return <DateTime<Utc> as Decode<'_, sqlx::Postgres>>::decode(v)
                .map(Some)
                .map_err(|e| Error::codec(field, e));
        }
        let us = i64::from_be_bytes(fixed(field, bytes(field, &v)?)?);
        // ±infinity are i64::MAX / i64::MIN; they and the far past/future do not fit chrono.
        us.checked_add(PG_EPOCH_OFFSET_US)
            .and_then(DateTime::from_timestamp_micros)
            .map(Some)
            .ok_or_else(|| {
                Error::codec(
                    field,
                    format_args!("stored timestamp in column {} (infinity or beyond year 262143) does not fit DateTime<Utc>", field.column),
                )
            })
    }
    fn decimal(&mut self, field: &'static FieldMeta) -> Result<Option<Decimal>> {
        let Some((v, oid)) = self.raw(field)? else {
            return Ok(None);
        };
        if oid != 1700 {
            return Err(wrong_type(field, "Decimal", &v));
        }
        let r = if v.format() == PgValueFormat::Text {
            text(field, &v)?
                .parse::<Decimal>()
                .map_err(|e| e.to_string())
        } else {
            read_numeric(bytes(field, &v)?)
        };
        r.map(Some)
            .map_err(|e| Error::codec(field, format_args!("column {}: {e}", field.column)))
    }
    fn json(&mut self, field: &'static FieldMeta) -> Result<Option<String>> {
        let Some((v, oid)) = self.raw(field)? else {
            return Ok(None);
        };
        let b = bytes(field, &v)?;
        let b = match (oid, v.format()) {
            (3802, PgValueFormat::Binary) => match b.split_first() {
                Some((1, rest)) => rest,
                _ => return Err(Error::codec(field, "unsupported JSONB format version")),
            },
            (3802 | 114 | 25 | 1043, _) => b,
            _ => return Err(wrong_type(field, "JSON", &v)),
        };
        String::from_utf8(b.to_vec())
            .map(Some)
            .map_err(|e| Error::codec(field, e))
    }
    fn bytes(&mut self, field: &'static FieldMeta) -> Result<Option<Vec<u8>>> {
        let Some((v, oid)) = self.raw(field)? else {
            return Ok(None);
        };
        if oid != 17 {
            return Err(wrong_type(field, "Vec<u8>", &v));
        }
        if v.format() == PgValueFormat::Text {
            return <Vec<u8> as Decode<'_, sqlx::Postgres>>::decode(v)
                .map(Some)
                .map_err(|e| Error::codec(field, e));
        }
        Ok(Some(bytes(field, &v)?.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static TEXT: FieldMeta = FieldMeta {
        entity: "E",
        name: "name",
        column: "name",
        index: 0,
        kind: FieldKind::Text,
        nullable: false,
        id: false,
        timestamp: false,
        symbol: false,
        default: false,
        max_len: Some(3),
        decimal: None,
    };

    #[test]
    fn text_checks_name_the_field() {
        assert!(check_text(&TEXT, "abc", true).is_ok());
        assert!(
            check_text(&TEXT, "äöü", true).is_ok(),
            "max_len counts characters, not bytes"
        );
        let e = check_text(&TEXT, "abcd", true).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Validation {
                    entity: "E",
                    field: Some("name"),
                    ..
                }
            ),
            "{e}"
        );
        let e = check_text(&TEXT, "a\0", true).unwrap_err();
        assert!(e.to_string().contains("NUL"), "{e}");
    }

    #[test]
    fn json_nul_escape_is_rejected_unless_escaped() {
        assert!(check_json(&TEXT, r#"{"a":"\u0000"}"#).is_err());
        assert!(check_json(&TEXT, r#"{"a":"\\u0000"}"#).is_ok());
        assert!(check_json(&TEXT, r#"{"a":"\\\u0000"}"#).is_err());
    }

    #[test]
    fn copy_fields_have_length_prefixes() {
        let mut buf = PgArgumentBuffer::default();
        write_field(&mut buf, Some(Scalar::I32(7))).unwrap();
        write_field(&mut buf, None).unwrap();
        assert_eq!(&buf[..], &[0, 0, 0, 4, 0, 0, 0, 7, 255, 255, 255, 255]);
    }

    fn numeric(d: &Decimal) -> Vec<u8> {
        let mut buf = PgArgumentBuffer::default();
        write_numeric(&mut buf, d);
        buf.to_vec()
    }

    fn decimals() -> Vec<Decimal> {
        let mut out: Vec<Decimal> = [
            "0",
            "0.000",
            "12.500",
            "-0.010",
            "1",
            "10000",
            "0.0001",
            "-12345.6789",
            "100.10",
            "0.0000000000000000000000000001",
            "7.9228162514264337593543950335",
            "-0.0000000000000000000000000000",
        ]
        .iter()
        .map(|s| s.parse().expect("decimal"))
        .collect();
        out.extend([
            Decimal::MAX,
            Decimal::MIN,
            Decimal::new(1, 28),
            Decimal::new(-5, 27),
        ]);
        out
    }

    #[test]
    fn numeric_round_trips_value_and_scale() {
        for d in decimals() {
            let back = read_numeric(&numeric(&d)).unwrap_or_else(|e| panic!("{d}: {e}"));
            assert_eq!(back, d);
            assert_eq!(back.scale(), d.scale(), "{d} came back as {back}");
        }
    }

    #[test]
    fn numeric_matches_sqlx_except_for_the_scale_of_zero() {
        for d in decimals() {
            let mut theirs = PgArgumentBuffer::default();
            let _ = <Decimal as Encode<'_, sqlx::Postgres>>::encode_by_ref(&d, &mut theirs)
                .expect("sqlx encodes");
            if d.is_zero() {
                // sqlx sends every zero with display scale 0.
                assert_eq!(&numeric(&d)[6..8], &(d.scale() as u16).to_be_bytes());
            } else {
                assert_eq!(numeric(&d), theirs.to_vec(), "{d}");
            }
        }
    }

    #[test]
    fn numerics_that_do_not_fit_are_errors() {
        let header = |n: u16, weight: i16, sign: u16, scale: u16| {
            let mut b = Vec::new();
            for w in [n, weight as u16, sign, scale] {
                b.extend_from_slice(&w.to_be_bytes());
            }
            b
        };
        assert!(read_numeric(&header(0, 0, 0xC000, 0)).is_err(), "NaN");
        assert!(read_numeric(&header(0, 0, 0xD000, 0)).is_err(), "infinity");
        assert!(read_numeric(&header(0, 0, 0, 29)).is_err(), "scale 29");
        assert!(read_numeric(&header(2, 0, 0, 0)).is_err(), "truncated");
        let mut huge = header(12, 11, 0, 0);
        for _ in 0..12 {
            huge.extend_from_slice(&9_999u16.to_be_bytes());
        }
        assert!(read_numeric(&huge).is_err(), "48 digits");
        assert_eq!(
            read_numeric(&header(0, 0, 0, 4)).expect("zero").to_string(),
            "0.0000"
        );
    }

    #[test]
    fn timestamps_before_4714_bc_are_rejected() {
        let ok = DateTime::from_timestamp(0, 0).unwrap();
        assert_eq!(timestamp_micros(&TEXT, &ok).unwrap(), -PG_EPOCH_OFFSET_US);
        let too_old = DateTime::<Utc>::MIN_UTC;
        assert!(timestamp_micros(&TEXT, &too_old).is_err());
    }
}

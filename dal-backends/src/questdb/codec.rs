//! Rows in and out of QuestDB: the ILP row encoder (the write hot path) and the PG-wire decoder.
//!
//! [`encode_row`] walks an entity with a [`FieldVisitor`] that writes straight into a
//! `questdb::ingress::Buffer`: the table, then every symbol, then every other column, then the
//! designated timestamp with `at`. Names were validated by the derive at compile time (and the
//! namespace suffix once, when the handle was made), so the unchecked name constructors are used.
//! ILP wants all symbols before the first column while [`Entity::encode`] visits fields in
//! declaration order. A compile-time plan per entity decides how: symbols declared first are
//! written in one walk; a few scalar columns declared before the last symbol (an `id` first, as in
//! most entities) are held back in that walk and written after it; text, JSON, or many columns
//! before a symbol make two walks (symbols, then columns). Every field order works.
//!
//! The same walk checks every value against [`LIMITS`], what QuestDB can store and return
//! unchanged, so a row QuestDB would refuse, change, or later fail to read back is refused at
//! `append` with [`Error::Validation`] naming entity and field, and nothing of it is queued.
//!
//! Type mapping (see also [`crate::questdb::ddl`]): `bool` is BOOLEAN (a nullable `bool` is an INT
//! holding 0/1, because QuestDB's BOOLEAN has no NULL), integers are written as ILP longs into
//! INT/LONG columns (i16 widens to INT: SHORT has no NULL either), floats as doubles into
//! FLOAT/DOUBLE, text as a string or symbol, UUIDs as their hyphenated text into a UUID column
//! (ILP has no UUID type for QuestDB 9.3), timestamps as microseconds, `Decimal` with ILP v3's
//! binary decimal at exactly the field's declared scale into DECIMAL(P, S), JSON as its text.
//! `None` omits the column. Bytes cannot be stored.

use chrono::{DateTime, NaiveDateTime, Utc};
use dal::value::{FieldDecoder, FieldVisitor};
use dal::{Entity, Error, FieldKind, FieldMeta, Limits, Result, Value};
use questdb::ingress::{Buffer, ColumnName, DecimalView, TableName, TimestampMicros};
use rust_decimal::Decimal;
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::error;

/// Microseconds of 1970-01-01T00:00:00Z, the earliest designated timestamp QuestDB 9.3 accepts
/// (it refuses an earlier one with HTTP 400).
pub const DESIGNATED_MIN_MICROS: i64 = 0;
/// Microseconds of 9999-12-31T23:59:59.999999Z, the latest designated timestamp QuestDB 9.3
/// accepts (a later one is refused with HTTP 500, which a writer would retry for ever). A
/// non-designated TIMESTAMP column holds and returns any `DateTime<Utc>` (to the microsecond).
pub const DESIGNATED_MAX_MICROS: i64 = 253_402_300_799_999_999;
/// Largest text or JSON value, in UTF-8 bytes (see [`ROW_MAX_BYTES`]).
pub const TEXT_MAX_BYTES: usize = 512 << 10;
/// Largest symbol, in UTF-8 bytes. A symbol is sent back whole over the PG wire (a VARCHAR is
/// sent in pieces), and a symbol over ~1 MiB makes every read of its row fail with "not enough
/// space in send buffer"; symbols are dictionary entries cached by every ILP connection (tags,
/// not documents), so the bound is well below that.
pub const SYMBOL_MAX_BYTES: usize = 64 << 10;
/// Largest ILP line of one row. QuestDB sends each row over the PG wire through a 1 MiB buffer
/// (`pg.send.buffer.size`); a row that does not fit can make every read of it fail. A row's
/// PG-wire form is at most a few dozen bytes per column longer than its ILP line (PG sends a
/// 4-byte length per column, fixed-width numbers and decimals as text; ILP spells column names
/// and escapes text), so a row whose ILP line is under this size always fits.
pub const ROW_MAX_BYTES: usize = 768 << 10;

const fn micros(v: i64) -> DateTime<Utc> {
    match DateTime::from_timestamp_micros(v) {
        Some(d) => d,
        None => panic!("timestamp limit out of chrono's range"),
    }
}

const fn last_nanosecond_of_micros(v: i64) -> DateTime<Utc> {
    let nanos = (v.rem_euclid(1_000_000) * 1_000 + 999) as u32;
    match DateTime::from_timestamp(v.div_euclid(1_000_000), nanos) {
        Some(d) => d,
        None => panic!("timestamp limit out of chrono's range"),
    }
}

/// What QuestDB 9.3 stores and returns unchanged, part of the backend's
/// [`dal::Capabilities`]. The encoder refuses every other value at `append`, and also a
/// designated timestamp outside [`DESIGNATED_MIN_MICROS`]`..=`[`DESIGNATED_MAX_MICROS`] and a
/// row longer than [`ROW_MAX_BYTES`].
pub const LIMITS: Limits = {
    let mut l = Limits::NONE;
    // Any DateTime<Utc> in a non-designated TIMESTAMP column round-trips (Limits::NONE).

    // DOUBLE/FLOAT store NaN and ±infinity as NULL.
    l.non_finite_floats = false;
    // INT/LONG use i32::MIN/i64::MIN as NULL.
    l.integer_min = false;
    // Symbols cannot hold NUL (VARCHAR can).
    l.nul_in_text = true;
    l.nul_in_symbols = false;
    l.designated_timestamp_min = micros(DESIGNATED_MIN_MICROS);
    // The last nanosecond of that microsecond: QuestDB keeps microseconds, so a later nanosecond
    // of the last one is stored as it (the encoder floors), as on every store that truncates.
    l.designated_timestamp_max = last_nanosecond_of_micros(DESIGNATED_MAX_MICROS);
    l.null_uuid = Some(Uuid::from_u128(NULL_UUID));
    l.symbol_max_bytes = Some(SYMBOL_MAX_BYTES);
    l.text_max_bytes = Some(TEXT_MAX_BYTES);
    l
};

/// Runs a [`Limits`] check out of line. The encoder tests each value with the same predicate
/// inline (a compare or two, folded from the constant [`LIMITS`]) and calls the check, which
/// builds the error, only for a value that fails it, keeping the error formatting out of the
/// row loop.
#[cold]
#[inline(never)]
fn out_of_line(check: impl FnOnce() -> Result<()>) -> Result<()> {
    check()
}

/// Appends one ILP row for `row` to `buf`, into table `table`.
///
/// `table` must be a valid QuestDB table name (the entity's table, plus a validated namespace
/// suffix). On error the buffer is left exactly as it was before the call.
///
/// # Errors
/// [`Error::Validation`] naming the field whose value QuestDB cannot hold ([`LIMITS`], a
/// designated timestamp before 1970, a `Decimal` without a declared scale, a row longer than
/// [`ROW_MAX_BYTES`]); [`Error::Codec`] for a bytes field or a JSON field whose `Serialize` fails.
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
    let plan = PlanOf::<T>::PLAN;
    if let Some(i) = plan.undeclared_decimal {
        return Err(undeclared_decimal(&meta.fields[i]));
    }
    let Some(ts_field) = meta.timestamp() else {
        return Err(Error::invalid(
            meta.name,
            "a QuestDB row needs a designated #[entity(timestamp)] field",
        ));
    };
    let start = buf.len();
    buf.table(TableName::new_unchecked(table))
        .map_err(|e| error::ilp_row(meta.name, e))?;
    let ts = if plan.two_passes {
        let mut w = IlpRow::<T, SYMBOLS>::new(buf);
        row.encode(&mut w)?;
        // The designated timestamp was seen by the first walk.
        let ts = w.ts;
        let mut w = IlpRow::<T, COLUMNS>::new(w.buf);
        row.encode(&mut w)?;
        ts
    } else if plan.held > 0 {
        let mut w = IlpRow::<T, HOLD>::new(buf);
        row.encode(&mut w)?;
        w.ts
    } else {
        let mut w = IlpRow::<T, DIRECT>::new(buf);
        row.encode(&mut w)?;
        w.ts
    };
    let Some(micros) = ts else {
        return Err(Error::codec(
            ts_field,
            "internal: the designated timestamp was not encoded",
        ));
    };
    buf.at(TimestampMicros::new(micros))
        .map_err(|e| error::ilp_field(ts_field, e))?;
    if buf.len() - start > ROW_MAX_BYTES {
        return Err(row_too_long(row, buf.len() - start));
    }
    Ok(())
}

#[cold]
#[inline(never)]
fn undeclared_decimal(field: &'static FieldMeta) -> Error {
    Error::invalid_field(
        field,
        "QuestDB keeps one scale per DECIMAL column, not each value's own: declare the field's precision and scale, e.g. #[entity(precision = 18, scale = 8)]",
    )
}

/// A row whose ILP line is over [`ROW_MAX_BYTES`]: names its longest text field.
#[cold]
#[inline(never)]
fn row_too_long<T: Entity>(row: &T, len: usize) -> Error {
    /// Finds the longest text or JSON field of a row.
    struct Longest(Option<(&'static FieldMeta, usize)>);
    impl Longest {
        fn text(&mut self, field: &'static FieldMeta, len: usize) -> Result<()> {
            if self.0.is_none_or(|(_, l)| len > l) {
                self.0 = Some((field, len));
            }
            Ok(())
        }
    }
    impl FieldVisitor for Longest {
        fn null(&mut self, _: &'static FieldMeta) -> Result<()> {
            Ok(())
        }
        fn bool(&mut self, _: &'static FieldMeta, _: bool) -> Result<()> {
            Ok(())
        }
        fn i16(&mut self, _: &'static FieldMeta, _: i16) -> Result<()> {
            Ok(())
        }
        fn i32(&mut self, _: &'static FieldMeta, _: i32) -> Result<()> {
            Ok(())
        }
        fn i64(&mut self, _: &'static FieldMeta, _: i64) -> Result<()> {
            Ok(())
        }
        fn f32(&mut self, _: &'static FieldMeta, _: f32) -> Result<()> {
            Ok(())
        }
        fn f64(&mut self, _: &'static FieldMeta, _: f64) -> Result<()> {
            Ok(())
        }
        fn str(&mut self, field: &'static FieldMeta, v: &str) -> Result<()> {
            self.text(field, v.len())
        }
        fn uuid(&mut self, _: &'static FieldMeta, _: &Uuid) -> Result<()> {
            Ok(())
        }
        fn timestamp(&mut self, _: &'static FieldMeta, _: &DateTime<Utc>) -> Result<()> {
            Ok(())
        }
        fn decimal(&mut self, _: &'static FieldMeta, _: &Decimal) -> Result<()> {
            Ok(())
        }
        fn json(&mut self, field: &'static FieldMeta, json: &str) -> Result<()> {
            self.text(field, json.len())
        }
        fn bytes(&mut self, _: &'static FieldMeta, _: &[u8]) -> Result<()> {
            Ok(())
        }
    }
    let mut longest = Longest(None);
    let message = format!(
        "the row is {len} bytes of ILP; QuestDB can only return rows that fit its PG-wire send buffer, so a row may be at most {ROW_MAX_BYTES} bytes: shorten its text"
    );
    match row.encode(&mut longest).ok().and(longest.0) {
        Some((field, _)) => Error::invalid_field(field, message),
        None => Error::invalid(T::META.name, message),
    }
}

/// A designated timestamp outside what QuestDB accepts.
#[cold]
#[inline(never)]
fn designated_out_of_range(field: &'static FieldMeta, v: &DateTime<Utc>) -> Error {
    Error::invalid_field(
        field,
        format_args!(
            "designated timestamp {v} is outside what QuestDB stores ({} ..= {})",
            micros(DESIGNATED_MIN_MICROS),
            micros(DESIGNATED_MAX_MICROS)
        ),
    )
}

/// A UUID QuestDB reads back as NULL (both halves are its LONG NULL, `i64::MIN`).
#[cold]
#[inline(never)]
fn uuid_null(field: &'static FieldMeta) -> Error {
    Error::invalid_field(
        field,
        "80000000-0000-0000-8000-000000000000 is QuestDB's NULL UUID and would read back as NULL; use an Option and None, or another value",
    )
}

/// The UUID whose halves are both `i64::MIN`: QuestDB's NULL.
const NULL_UUID: u128 = 0x8000_0000_0000_0000_8000_0000_0000_0000;

/// Columns that may be held back in a single pass until the last symbol is written.
const MAX_HELD: usize = 4;

/// How an entity's fields meet ILP's "all symbols first" rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    /// Scalar columns declared before the last symbol (held back in a single walk).
    held: u16,
    /// Index of the last symbol field (meaningful when `held > 0`).
    last_symbol: usize,
    /// Walk the fields twice (symbols, then columns): a text or JSON column comes before a
    /// symbol (holding it back would copy it), or more than [`MAX_HELD`] columns do. Otherwise
    /// one walk writes symbols at once and holds back the few scalar columns declared before the
    /// last symbol (an `id` first, as in most entities).
    two_passes: bool,
    /// Position in `fields` of a `Decimal` field without a declared precision and scale, which
    /// QuestDB cannot store unchanged.
    undeclared_decimal: Option<usize>,
}

/// The plan of an entity, computed at compile time from its `'static` metadata.
struct PlanOf<T>(std::marker::PhantomData<T>);

impl<T: Entity> PlanOf<T> {
    const PLAN: Plan = compute_plan(T::META.fields);
}

const fn compute_plan(fields: &[FieldMeta]) -> Plan {
    let (mut symbols, mut last_symbol) = (0usize, 0usize);
    let mut undeclared_decimal = None;
    let mut i = 0;
    while i < fields.len() {
        if is_symbol_kind(&fields[i]) {
            symbols += 1;
            last_symbol = fields[i].index;
        }
        if matches!(fields[i].kind, FieldKind::Decimal)
            && fields[i].decimal.is_none()
            && undeclared_decimal.is_none()
        {
            undeclared_decimal = Some(i);
        }
        i += 1;
    }
    let (mut seen, mut held, mut two_passes) = (0usize, 0usize, false);
    let mut i = 0;
    while i < fields.len() {
        let f = &fields[i];
        i += 1;
        if f.timestamp {
            continue;
        }
        if is_symbol_kind(f) {
            seen += 1;
        } else if seen < symbols {
            if matches!(f.kind, FieldKind::Text | FieldKind::Json | FieldKind::Bytes) {
                two_passes = true;
            }
            held += 1;
        }
    }
    if two_passes || held > MAX_HELD || symbols > u16::MAX as usize {
        return Plan {
            held: 0,
            last_symbol: 0,
            two_passes: true,
            undeclared_decimal,
        };
    }
    Plan {
        held: held as u16,
        last_symbol,
        two_passes: false,
        undeclared_decimal,
    }
}

/// Only text can be a SYMBOL (the derive enforces it; this keeps the encoder total).
#[inline(always)]
const fn is_symbol_kind(f: &FieldMeta) -> bool {
    f.symbol && matches!(f.kind, FieldKind::Text)
}

/// How one walk over the fields writes them (a const parameter of [`IlpRow`], so each entity's
/// encoder is compiled for its plan and the per-field decisions fold away).
type Pass = u8;
/// One walk, every field written as it comes (symbols are declared first).
const DIRECT: Pass = 0;
/// One walk: symbols at once, scalar columns before the last symbol held back.
const HOLD: Pass = 1;
/// First of two walks: symbols only (and the designated timestamp, kept for `at`).
const SYMBOLS: Pass = 2;
/// Second of two walks: columns only.
const COLUMNS: Pass = 3;

/// A scalar column value held back until the last symbol is written.
#[derive(Clone, Copy)]
enum Held {
    Bool(bool),
    I64(i64),
    F64(f64),
    Uuid(Uuid),
    Micros(i64),
    Decimal(Decimal),
}

/// What to do with a non-symbol column now.
enum Now {
    Skip,
    Hold,
    Write,
}

/// Writes one entity of type `T` (whose compile-time [`Plan`] decides, per field, whether a
/// column is written now or held back: no per-row state machine).
struct IlpRow<'b, T, const PASS: Pass> {
    buf: &'b mut Buffer,
    held: [Option<(&'static FieldMeta, Held)>; MAX_HELD],
    held_len: usize,
    ts: Option<i64>,
    entity: std::marker::PhantomData<fn(&T)>,
}

impl<'b, T: Entity, const PASS: Pass> IlpRow<'b, T, PASS> {
    /// In a HOLD walk, the index of the last symbol field: columns declared before it are held
    /// back until it is written (fields are visited in declaration order).
    const LAST_SYMBOL: usize = PlanOf::<T>::PLAN.last_symbol;

    #[inline(always)]
    fn new(buf: &'b mut Buffer) -> Self {
        IlpRow {
            buf,
            held: [None; MAX_HELD],
            held_len: 0,
            ts: None,
            entity: std::marker::PhantomData,
        }
    }

    /// Whether `field` is the last symbol of a HOLD walk (the held columns follow it).
    #[inline(always)]
    fn ends_symbols(field: &'static FieldMeta) -> bool {
        PASS == HOLD && field.index == Self::LAST_SYMBOL
    }

    #[inline(always)]
    fn name(field: &'static FieldMeta) -> ColumnName<'static> {
        ColumnName::new_unchecked(field.column)
    }

    #[inline(always)]
    fn column_now(field: &'static FieldMeta) -> Now {
        match PASS {
            SYMBOLS => Now::Skip,
            HOLD if field.index < Self::LAST_SYMBOL => Now::Hold,
            _ => Now::Write,
        }
    }

    #[inline(always)]
    fn scalar(&mut self, field: &'static FieldMeta, v: Held) -> Result<()> {
        match Self::column_now(field) {
            Now::Skip => Ok(()),
            Now::Write => self.write(field, v),
            Now::Hold => {
                match self.held.get_mut(self.held_len) {
                    Some(slot) => *slot = Some((field, v)),
                    // The plan allows at most MAX_HELD; writing now would break the order.
                    None => {
                        return Err(Error::codec(
                            field,
                            "internal: too many columns before the last symbol",
                        ));
                    }
                }
                self.held_len += 1;
                Ok(())
            }
        }
    }

    #[inline(always)]
    fn write(&mut self, field: &'static FieldMeta, v: Held) -> Result<()> {
        let name = Self::name(field);
        let written = match v {
            Held::Bool(b) if field.nullable => self.buf.column_i64(name, i64::from(b)),
            Held::Bool(b) => self.buf.column_bool(name, b),
            Held::I64(x) => self.buf.column_i64(name, x),
            Held::F64(x) => self.buf.column_f64(name, x),
            Held::Micros(x) => self.buf.column_ts(name, TimestampMicros::new(x)),
            Held::Uuid(u) => {
                // QuestDB 9.3 refuses ILP's binary UUID; its UUID column parses the text.
                let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
                let text = u.hyphenated().encode_lower(&mut text);
                self.buf.column_str(name, &*text)
            }
            Held::Decimal(d) => {
                let bytes = d.mantissa().to_be_bytes();
                match DecimalView::try_new_scaled(d.scale(), trim_sign_bytes(&bytes)) {
                    Ok(view) => self.buf.column_dec(name, view),
                    Err(e) => Err(e),
                }
            }
        };
        written.map_err(|e| error::ilp_field(field, e))?;
        Ok(())
    }

    /// Writes the columns held back, in declaration order.
    #[inline(always)]
    fn write_held(&mut self) -> Result<()> {
        let n = std::mem::take(&mut self.held_len);
        for i in 0..n.min(MAX_HELD) {
            if let Some((field, v)) = self.held[i] {
                self.write(field, v)?;
            }
        }
        Ok(())
    }
}

// Every value is checked in the walk that writes it (symbols in the symbol walk, columns in the
// column walk), so two walks check each value once.
impl<T: Entity, const PASS: Pass> FieldVisitor for IlpRow<'_, T, PASS> {
    #[inline(always)]
    fn null(&mut self, field: &'static FieldMeta) -> Result<()> {
        // None omits the column: QuestDB stores NULL for a column missing from a row. An
        // omitted symbol still counts, so held columns are written after the last one.
        if Self::ends_symbols(field) {
            self.write_held()?;
        }
        Ok(())
    }

    #[inline(always)]
    fn bool(&mut self, field: &'static FieldMeta, v: bool) -> Result<()> {
        self.scalar(field, Held::Bool(v))
    }

    #[inline(always)]
    fn i16(&mut self, field: &'static FieldMeta, v: i16) -> Result<()> {
        // An i16 is widened to INT, whose NULL (i32::MIN) it cannot reach.
        self.scalar(field, Held::I64(i64::from(v)))
    }

    #[inline(always)]
    fn i32(&mut self, field: &'static FieldMeta, v: i32) -> Result<()> {
        if PASS != SYMBOLS && !LIMITS.integer_min && v == i32::MIN {
            out_of_line(|| LIMITS.check_i32(field, v))?;
        }
        self.scalar(field, Held::I64(i64::from(v)))
    }

    #[inline(always)]
    fn i64(&mut self, field: &'static FieldMeta, v: i64) -> Result<()> {
        if PASS != SYMBOLS && !LIMITS.integer_min && v == i64::MIN {
            out_of_line(|| LIMITS.check_i64(field, v))?;
        }
        self.scalar(field, Held::I64(v))
    }

    #[inline(always)]
    fn f32(&mut self, field: &'static FieldMeta, v: f32) -> Result<()> {
        if PASS != SYMBOLS && !LIMITS.non_finite_floats && !v.is_finite() {
            out_of_line(|| LIMITS.check_f64(field, f64::from(v)))?;
        }
        self.scalar(field, Held::F64(f64::from(v)))
    }

    #[inline(always)]
    fn f64(&mut self, field: &'static FieldMeta, v: f64) -> Result<()> {
        if PASS != SYMBOLS && !LIMITS.non_finite_floats && !v.is_finite() {
            out_of_line(|| LIMITS.check_f64(field, v))?;
        }
        self.scalar(field, Held::F64(v))
    }

    #[inline(always)]
    fn str(&mut self, field: &'static FieldMeta, v: &str) -> Result<()> {
        let symbol = is_symbol_kind(field);
        let now = match PASS {
            SYMBOLS => symbol,
            COLUMNS => !symbol,
            _ => true,
        };
        if !now {
            return Ok(());
        }
        check_text(field, v, symbol)?;
        if symbol {
            self.buf
                .symbol(Self::name(field), v)
                .map_err(|e| error::ilp_field(field, e))?;
            if Self::ends_symbols(field) {
                self.write_held()?;
            }
        } else {
            self.buf
                .column_str(Self::name(field), v)
                .map_err(|e| error::ilp_field(field, e))?;
        }
        Ok(())
    }

    #[inline(always)]
    fn uuid(&mut self, field: &'static FieldMeta, v: &Uuid) -> Result<()> {
        if PASS != SYMBOLS && v.as_u128() == NULL_UUID {
            return Err(uuid_null(field));
        }
        self.scalar(field, Held::Uuid(*v))
    }

    #[inline(always)]
    fn timestamp(&mut self, field: &'static FieldMeta, v: &DateTime<Utc>) -> Result<()> {
        if field.timestamp {
            // The designated timestamp goes last, with `at`; keep it for then (the first walk
            // of two sees it).
            if PASS != COLUMNS {
                let micros = v.timestamp_micros();
                if !(DESIGNATED_MIN_MICROS..=DESIGNATED_MAX_MICROS).contains(&micros) {
                    return Err(designated_out_of_range(field, v));
                }
                self.ts = Some(micros);
            }
            return Ok(());
        }
        if PASS != SYMBOLS && (*v < LIMITS.timestamp_min || *v > LIMITS.timestamp_max) {
            out_of_line(|| LIMITS.check_timestamp(field, v))?;
        }
        self.scalar(field, Held::Micros(v.timestamp_micros()))
    }

    #[inline(always)]
    fn decimal(&mut self, field: &'static FieldMeta, v: &Decimal) -> Result<()> {
        if PASS == SYMBOLS {
            return Ok(());
        }
        if field.decimal.is_none() {
            return Err(undeclared_decimal(field));
        }
        // Exactly the declared scale: the column's, so QuestDB returns it unchanged.
        let d = field.fit_decimal(v)?;
        self.scalar(field, Held::Decimal(d))
    }

    #[inline(always)]
    fn json(&mut self, field: &'static FieldMeta, json: &str) -> Result<()> {
        if matches!(Self::column_now(field), Now::Skip) {
            return Ok(());
        }
        check_text(field, json, false)?;
        self.buf
            .column_str(Self::name(field), json)
            .map_err(|e| error::ilp_field(field, e))?;
        Ok(())
    }

    fn bytes(&mut self, field: &'static FieldMeta, _v: &[u8]) -> Result<()> {
        Err(Error::codec(
            field,
            "QuestDB cannot store bytes over ILP; store them in Postgres or encode them as text",
        ))
    }
}

/// Checks text before it is written: the byte limits of [`LIMITS`] and the field's `max_len`
/// (as every backend does), and for a symbol, no NUL: QuestDB's ILP parser refuses a NUL in a
/// symbol, so such a row is refused here, alone. Strings (VARCHAR) store and return NUL, so they
/// are not scanned.
#[inline(always)]
fn check_text(field: &'static FieldMeta, v: &str, symbol: bool) -> Result<()> {
    let bound = if field.symbol {
        LIMITS.symbol_max_bytes.or(LIMITS.text_max_bytes)
    } else {
        LIMITS.text_max_bytes
    };
    if bound.is_some_and(|max| v.len() > max) || field.max_len.is_some() {
        out_of_line(|| LIMITS.check_text(field, v))?;
    }
    if symbol && has_nul(v.as_bytes()) {
        return Err(symbol_nul(field));
    }
    Ok(())
}

#[cold]
#[inline(never)]
fn symbol_nul(field: &'static FieldMeta) -> Error {
    Error::invalid_field(field, "a symbol cannot contain a NUL character in QuestDB")
}

/// Whether `b` contains a zero byte: eight bytes at a time with the "has zero byte" bit trick,
/// the tail as one overlapping word, short text as two overlapping four-byte words (std's
/// `contains` and `memchr` cost more on the short strings of a row).
#[inline]
fn has_nul(b: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    #[inline(always)]
    fn word(b: &[u8], at: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(w)
    }
    #[inline(always)]
    fn half(b: &[u8], at: usize) -> u64 {
        let mut w = [0u8; 4];
        w.copy_from_slice(&b[at..at + 4]);
        u64::from(u32::from_le_bytes(w))
    }
    // (x - 0x01..) & !x has a high bit set in a byte only at or above a zero byte, so OR-ing
    // the words and testing the high bits answers "any zero byte" exactly.
    let zero_in = |x: u64| x.wrapping_sub(LO) & !x;
    if b.len() < 8 {
        if b.len() < 4 {
            return b.contains(&0);
        }
        // Two overlapping four-byte words, padded with 0xFF bytes (never zero).
        let acc = zero_in(half(b, 0) | 0xFFFF_FFFF_0000_0000)
            | zero_in(half(b, b.len() - 4) | 0xFFFF_FFFF_0000_0000);
        return acc & HI != 0;
    }
    let mut acc = 0u64;
    let mut i = 0;
    while i + 8 <= b.len() {
        acc |= zero_in(word(b, i));
        i += 8;
    }
    acc |= zero_in(word(b, b.len() - 8));
    acc & HI != 0
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

/// A NULL read into a non-`Option` field whose QuestDB NULL is the value `null` itself.
#[inline]
fn null_as<V>(field: &FieldMeta, v: Option<V>, null: V) -> Option<V> {
    match v {
        None if !field.nullable && !field.default => Some(null),
        v => v,
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
    // QuestDB's NULL of INT/LONG/FLOAT/DOUBLE is the value i32::MIN/i64::MIN/NaN itself, so a
    // NULL read into a non-Option field is that value: a row written outside dal (or before
    // dal refused those values) still reads back instead of failing the whole read.
    fn i32(&mut self, field: &'static FieldMeta) -> Result<Option<i32>> {
        Ok(null_as(field, self.get(field)?, i32::MIN))
    }
    fn i64(&mut self, field: &'static FieldMeta) -> Result<Option<i64>> {
        Ok(null_as(field, self.get(field)?, i64::MIN))
    }
    fn f32(&mut self, field: &'static FieldMeta) -> Result<Option<f32>> {
        Ok(null_as(field, self.get(field)?, f32::NAN))
    }
    fn f64(&mut self, field: &'static FieldMeta) -> Result<Option<f64>> {
        Ok(null_as(field, self.get(field)?, f64::NAN))
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

/// Parses QuestDB's decimal text, which has exactly the column's scale: the field's declared
/// scale, which the value keeps.
pub(crate) fn parse_decimal(field: &'static FieldMeta, text: &str) -> Result<Decimal> {
    let d = Decimal::from_str_exact(text)
        .map_err(|e| Error::codec(field, format_args!("stored decimal {text:?}: {e}")))?;
    // A column made outside dal may have another scale; the field's declaration wins.
    match field.decimal {
        Some(spec) if d.scale() != spec.scale => field.fit_decimal(&d).map_err(|_| {
            Error::codec(
                field,
                format_args!(
                    "stored decimal {text} does not fit the declared scale {}",
                    spec.scale
                ),
            )
        }),
        _ => Ok(d),
    }
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

    /// Whether the placeholder needs a cast to a decimal (decimals are bound as text). The cast
    /// is to the widest DECIMAL that holds every `rust_decimal` exactly, so a filter value with
    /// more digits than the column compares exactly instead of being rounded.
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
    fn nul_bytes_are_found_anywhere_and_only_there() {
        for len in 0..40 {
            for at in 0..len {
                for byte in 0..=255u8 {
                    let mut text = vec![b'a'; len];
                    text[at] = byte;
                    assert_eq!(has_nul(&text), byte == 0, "len {len}, {byte:#04x} at {at}");
                    // Next to a 0x80 or 0x01, the bytes where the bit trick could borrow.
                    text.iter_mut()
                        .filter(|b| **b == b'a')
                        .for_each(|b| *b = 0x80);
                    assert_eq!(has_nul(&text), byte == 0, "len {len}, {byte:#04x} at {at}");
                }
            }
        }
        assert!(!has_nul(b""));
        assert!(!has_nul("ü東京😀\x01\x7f\u{80}".as_bytes()));
    }

    #[test]
    fn mantissa_bytes_are_minimal_twos_complement() {
        assert_eq!(trim_sign_bytes(&0i128.to_be_bytes()), &[0]);
        assert_eq!(trim_sign_bytes(&12345i128.to_be_bytes()), &[0x30, 0x39]);
        assert_eq!(trim_sign_bytes(&128i128.to_be_bytes()), &[0x00, 0x80]);
        assert_eq!(trim_sign_bytes(&(-1i128).to_be_bytes()), &[0xFF]);
        assert_eq!(trim_sign_bytes(&(-129i128).to_be_bytes()), &[0xFF, 0x7F]);
    }
}

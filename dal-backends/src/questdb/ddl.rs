//! QuestDB DDL derived from an entity's metadata, and the check that an existing table matches.
//!
//! A time-series entity becomes
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS "trades" (
//!     "id" UUID,
//!     "timestamp" TIMESTAMP,
//!     "trader_id" SYMBOL,
//!     ...
//! ) TIMESTAMP("timestamp") PARTITION BY DAY TTL 30 DAYS WAL
//! DEDUP UPSERT KEYS("timestamp", "id")
//! ```
//!
//! QuestDB's grammar puts `TTL` before `WAL`, and its DEDUP keys must include the designated
//! timestamp. An unpartitioned table cannot be WAL, so it gets neither TTL nor DEDUP.
//! `CREATE TABLE IF NOT EXISTS` silently keeps an existing table whatever its schema, so
//! [`check_columns`] compares `SHOW COLUMNS` with what the entity needs.
//!
//! Column types: see [`column_type`]. The mapping chooses types whose NULL QuestDB can store
//! (BOOLEAN and SHORT cannot hold NULL, so nullable booleans and all `i16` use INT).
//!
//! A `Decimal` field must declare its precision and scale (`#[entity(precision = 18, scale =
//! 8)]`) and becomes `DECIMAL(18, 8)`: a QuestDB DECIMAL column has one scale for every value,
//! so a value's own scale (`12.500` vs `12.5`) could not be kept. Values are stored, and read
//! back, at exactly the declared scale ([`dal::FieldMeta::fit_decimal`]).

use std::borrow::Cow;

use dal::{EntityMeta, Error, FieldKind, FieldMeta, Result};

use super::codec::quote_ident;

/// The QuestDB column type of a field (`DECIMAL(P, S)` of a decimal field without a declared
/// precision and scale is `DECIMAL`, which [`create_table_sql`] refuses).
pub fn column_type(field: &FieldMeta) -> Cow<'static, str> {
    if field.kind == FieldKind::Decimal {
        return match field.decimal {
            Some(spec) => Cow::Owned(format!("DECIMAL({}, {})", spec.precision, spec.scale)),
            None => Cow::Borrowed("DECIMAL"),
        };
    }
    Cow::Borrowed(match field.kind {
        FieldKind::Bool if field.nullable => "INT",
        FieldKind::Bool => "BOOLEAN",
        FieldKind::I16 | FieldKind::I32 => "INT",
        FieldKind::I64 => "LONG",
        FieldKind::F32 => "FLOAT",
        FieldKind::F64 => "DOUBLE",
        FieldKind::Text if field.symbol => "SYMBOL",
        FieldKind::Text | FieldKind::Json => "VARCHAR",
        FieldKind::Uuid => "UUID",
        FieldKind::Timestamp => "TIMESTAMP",
        // The derive rejects bytes in a QuestDB entity; BINARY keeps this total.
        FieldKind::Bytes => "BINARY",
        _ => "VARCHAR",
    })
}

/// `CREATE TABLE IF NOT EXISTS` for `meta`, named `table` (without a trailing semicolon).
///
/// # Errors
/// [`Error::Validation`] when the entity has no designated timestamp, or naming a `Decimal`
/// field without a declared precision and scale.
pub fn create_table_sql(meta: &EntityMeta, table: &str) -> Result<String> {
    let ts = meta.timestamp().ok_or_else(|| {
        Error::invalid(
            meta.name,
            "a QuestDB table needs a designated #[entity(timestamp)] field",
        )
    })?;
    if let Some(f) = meta
        .fields
        .iter()
        .find(|f| f.kind == FieldKind::Decimal && f.decimal.is_none())
    {
        return Err(Error::invalid_field(
            f,
            "QuestDB keeps one scale per DECIMAL column, not each value's own: declare the field's precision and scale, e.g. #[entity(precision = 18, scale = 8)]",
        ));
    }
    let mut sql = String::with_capacity(256);
    sql.push_str("CREATE TABLE IF NOT EXISTS ");
    quote_ident(table, &mut sql);
    sql.push_str(" (\n");
    for (i, f) in meta.fields.iter().enumerate() {
        sql.push_str("    ");
        quote_ident(f.column, &mut sql);
        sql.push(' ');
        sql.push_str(&column_type(f));
        if i + 1 < meta.fields.len() {
            sql.push(',');
        }
        sql.push('\n');
    }
    sql.push_str(") TIMESTAMP(");
    quote_ident(ts.column, &mut sql);
    sql.push_str(") PARTITION BY ");
    sql.push_str(meta.questdb.partition.as_sql());
    if is_wal(meta) {
        if let Some(ttl) = meta.questdb.ttl {
            sql.push_str(" TTL ");
            sql.push_str(ttl);
        }
        sql.push_str(" WAL");
        if meta.questdb.dedup {
            sql.push_str("\nDEDUP UPSERT KEYS(");
            quote_ident(ts.column, &mut sql);
            for id in meta.ids() {
                if id.timestamp {
                    continue;
                }
                sql.push_str(", ");
                quote_ident(id.column, &mut sql);
            }
            sql.push(')');
        }
    }
    Ok(sql)
}

/// Whether the entity's table is a WAL table (every partitioned table is; QuestDB cannot make an
/// unpartitioned table WAL).
pub fn is_wal(meta: &EntityMeta) -> bool {
    meta.questdb.partition != dal::entity::Partition::None
}

/// One row of `SHOW COLUMNS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownColumn {
    /// Column name.
    pub name: String,
    /// Type as QuestDB prints it (`SYMBOL`, `DECIMAL(57,28)`, ...).
    pub ty: String,
    /// Whether it is the designated timestamp.
    pub designated: bool,
    /// Whether it is a DEDUP UPSERT key.
    pub upsert_key: bool,
}

fn normalize_type(ty: &str) -> String {
    ty.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase()
}

fn type_matches(field: &FieldMeta, shown: &str) -> bool {
    let want = normalize_type(&column_type(field));
    let got = normalize_type(shown);
    // VARCHAR and STRING are different types in QuestDB but both read back as text and both
    // accept ILP strings, so a table made with either serves a text field.
    want == got || (want == "VARCHAR" && got == "STRING")
}

/// Compares an existing table's columns with the entity's.
///
/// # Errors
/// [`Error::Validation`] naming the first field whose column is missing or has another type,
/// or the entity when the designated timestamp or the DEDUP keys differ.
pub fn check_columns(meta: &EntityMeta, table: &str, shown: &[ShownColumn]) -> Result<()> {
    for f in meta.fields {
        let Some(col) = shown.iter().find(|c| c.name.eq_ignore_ascii_case(f.column)) else {
            return Err(Error::invalid_field(
                f,
                format_args!(
                    "QuestDB table {table} has no column {}: add it with ALTER TABLE {table} ADD COLUMN {} {}, or drop the table so dal creates it",
                    f.column,
                    f.column,
                    column_type(f)
                ),
            ));
        };
        if !type_matches(f, &col.ty) {
            return Err(Error::invalid_field(
                f,
                format_args!(
                    "QuestDB table {table} has column {} of type {}, but the field needs {}",
                    f.column,
                    col.ty,
                    column_type(f)
                ),
            ));
        }
        if f.timestamp && !col.designated {
            return Err(Error::invalid_field(
                f,
                format_args!(
                    "QuestDB table {table} does not use {} as its designated timestamp",
                    f.column
                ),
            ));
        }
    }
    if meta.questdb.dedup && is_wal(meta) {
        for f in meta.ids().chain(meta.timestamp()) {
            let is_key = shown
                .iter()
                .any(|c| c.name.eq_ignore_ascii_case(f.column) && c.upsert_key);
            if !is_key {
                return Err(Error::invalid(
                    meta.name,
                    format_args!(
                        "QuestDB table {table} does not deduplicate on {}: the entity needs DEDUP UPSERT KEYS on its timestamp and ids (ALTER TABLE {table} DEDUP ENABLE UPSERT KEYS(...))",
                        f.column
                    ),
                ));
            }
        }
    }
    Ok(())
}

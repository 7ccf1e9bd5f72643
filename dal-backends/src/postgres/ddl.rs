//! Table definitions derived from `EntityMeta`: what `Postgres::create_table` runs and what the
//! migrations in `migrations/postgres` must match (the drift test compares the two).
//!
//! Column types follow the crate-level type table. Text columns use `COLLATE "C"` so that the
//! primary-key index orders keys bytewise, exactly as `Value::total_cmp` does, and keyset
//! pagination can walk the index instead of sorting. A `Decimal` field with a declared
//! `precision`/`scale` is `NUMERIC(P, S)`; without one, plain `NUMERIC`, which keeps each value's
//! own scale.
//!
//! # One table, one role
//! The primary key depends on the store trait the table serves ([`TableRole`]): a record table
//! is keyed by the ids (`save` replaces the row with the same ids); a time-series table by the
//! ids *and* the designated timestamp (an append replaces only the row with the same ids and
//! the same timestamp; distinct timestamps are distinct rows), and has no key without ids. An
//! entity with ids and a timestamp could serve either, but one table cannot: a key on the ids
//! alone would overwrite a series' history, and a key on (ids, timestamp) would let `save` add
//! rows. [`create_table_statements`] derives the table of the entity's natural role (a time
//! series when it has a timestamp); [`create_table_statements_for`] takes the role, for such an
//! entity used as a keyed record. Before its first upsert into a table, the backend reads the
//! table's unique keys from the catalog and refuses, with `Error::Config`, a table made for the
//! other role or one without the key the upsert conflicts on.

use std::fmt::Write as _;

use dal::{EntityMeta, FieldKind, FieldMeta};

/// Quotes an SQL identifier (`"name"`, with embedded quotes doubled).
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    push_ident(&mut out, name);
    out
}

pub(crate) fn push_ident(out: &mut String, name: &str) {
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

/// The SQL type of a field's column, as `CREATE TABLE` spells it (`TEXT`, `VARCHAR(20)`,
/// `NUMERIC(18, 8)`, ...).
pub fn column_type(field: &FieldMeta) -> String {
    match (field.kind, field.max_len, field.decimal) {
        (FieldKind::Text, Some(n), _) => format!("VARCHAR({n})"),
        (FieldKind::Decimal, _, Some(d)) => format!("NUMERIC({}, {})", d.precision, d.scale),
        (kind, _, _) => base_type(kind).to_owned(),
    }
}

/// The SQL type of a storage class (text without a length).
pub fn base_type(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Bool => "BOOLEAN",
        FieldKind::I16 => "SMALLINT",
        FieldKind::I32 => "INTEGER",
        FieldKind::I64 => "BIGINT",
        FieldKind::F32 => "REAL",
        FieldKind::F64 => "DOUBLE PRECISION",
        FieldKind::Uuid => "UUID",
        FieldKind::Timestamp => "TIMESTAMPTZ",
        FieldKind::Decimal => "NUMERIC",
        FieldKind::Json => "JSONB",
        FieldKind::Bytes => "BYTEA",
        _ => "TEXT",
    }
}

/// One column definition: name, type, collation for text, `NOT NULL` unless nullable.
pub fn column_definition(field: &FieldMeta) -> String {
    let mut out = quote_ident(field.column);
    out.push(' ');
    out.push_str(&column_type(field));
    if field.kind == FieldKind::Text {
        out.push_str(" COLLATE \"C\"");
    }
    if !field.nullable {
        out.push_str(" NOT NULL");
    }
    out
}

/// Which store trait a table serves; it decides the table's primary key ([`key_fields`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableRole {
    /// Keyed records (`RecordStore`): primary key on the ids.
    Record,
    /// A time series (`TimeSeriesStore`): primary key on the ids and the designated timestamp,
    /// none without ids.
    TimeSeries,
}

impl TableRole {
    /// The entity's natural role: a time series when it has a designated timestamp, records
    /// otherwise.
    pub fn of(meta: &EntityMeta) -> TableRole {
        if meta.timestamp().is_some() {
            TableRole::TimeSeries
        } else {
            TableRole::Record
        }
    }
}

/// The primary-key columns of `meta`'s table in `role`: the ids in declaration order, then (for
/// a time series with ids) the designated timestamp. Empty when the entity has no ids.
pub fn key_fields(meta: &EntityMeta, role: TableRole) -> Vec<&'static FieldMeta> {
    let mut key: Vec<&'static FieldMeta> = meta.ids().collect();
    if role == TableRole::TimeSeries
        && !key.is_empty()
        && let Some(ts) = meta.timestamp()
        && !ts.id
    {
        key.push(ts);
    }
    key
}

/// `CREATE TABLE IF NOT EXISTS` plus its indexes, as separate statements, for the entity's
/// natural role ([`TableRole::of`]).
pub fn create_table_statements(meta: &EntityMeta) -> Vec<String> {
    create_table_statements_for(meta, TableRole::of(meta))
}

/// `CREATE TABLE IF NOT EXISTS` plus its indexes for `role`, as separate statements.
///
/// Indexes: the primary key ([`key_fields`]); one on each symbol column (with the timestamp
/// when there is one, the shape of "this symbol in this window" queries); one on the designated
/// timestamp of a time series.
pub fn create_table_statements_for(meta: &EntityMeta, role: TableRole) -> Vec<String> {
    let table = quote_ident(meta.table);
    let mut create = format!("CREATE TABLE IF NOT EXISTS {table} (\n");
    for (i, f) in meta.fields.iter().enumerate() {
        if i > 0 {
            create.push_str(",\n");
        }
        create.push_str("    ");
        create.push_str(&column_definition(f));
    }
    let key = key_fields(meta, role);
    if !key.is_empty() {
        create.push_str(",\n    PRIMARY KEY (");
        for (i, f) in key.iter().enumerate() {
            if i > 0 {
                create.push_str(", ");
            }
            push_ident(&mut create, f.column);
        }
        create.push(')');
    }
    create.push_str("\n)");
    let mut out = vec![create];
    let ts = meta.timestamp();
    if let Some(ts) = ts {
        out.push(index_statement(meta, &[ts]));
    }
    for f in meta.fields.iter().filter(|f| f.symbol && !f.id) {
        match ts {
            Some(ts) => out.push(index_statement(meta, &[f, ts])),
            None => out.push(index_statement(meta, &[f])),
        }
    }
    out
}

/// The name of the index over `columns` (`<table>_<col>_<col>_idx`, as Postgres would name it).
pub fn index_name(meta: &EntityMeta, columns: &[&FieldMeta]) -> String {
    let mut name = meta.table.to_owned();
    for c in columns {
        name.push('_');
        name.push_str(c.column);
    }
    name.push_str("_idx");
    name
}

fn index_statement(meta: &EntityMeta, columns: &[&FieldMeta]) -> String {
    let mut s = format!(
        "CREATE INDEX IF NOT EXISTS {} ON {} (",
        quote_ident(&index_name(meta, columns)),
        quote_ident(meta.table)
    );
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        push_ident(&mut s, c.column);
    }
    s.push(')');
    s
}

/// The whole definition as one script (statements separated by `;`), for migrations and docs,
/// for the entity's natural role.
pub fn create_table_script(meta: &EntityMeta) -> String {
    create_table_script_for(meta, TableRole::of(meta))
}

/// The whole definition for `role` as one script.
pub fn create_table_script_for(meta: &EntityMeta, role: TableRole) -> String {
    let mut out = String::new();
    for s in create_table_statements_for(meta, role) {
        let _ = writeln!(out, "{s};");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use dal::Entity;
    use dal::conformance::{Record, Tick};

    fn columns(fields: &[&FieldMeta]) -> Vec<&'static str> {
        fields.iter().map(|f| f.column).collect()
    }

    #[test]
    fn a_time_series_is_keyed_by_its_ids_and_timestamp() {
        assert_eq!(TableRole::of(Tick::META), TableRole::TimeSeries);
        assert_eq!(
            columns(&key_fields(Tick::META, TableRole::TimeSeries)),
            ["id", "ts"]
        );
        assert_eq!(columns(&key_fields(Tick::META, TableRole::Record)), ["id"]);
        let create = &create_table_statements(Tick::META)[0];
        assert!(
            create.ends_with("PRIMARY KEY (\"id\", \"ts\")\n)"),
            "{create}"
        );
        let record = &create_table_statements_for(Tick::META, TableRole::Record)[0];
        assert!(record.ends_with("PRIMARY KEY (\"id\")\n)"), "{record}");
    }

    #[test]
    fn records_are_keyed_by_their_ids() {
        assert_eq!(TableRole::of(Record::META), TableRole::Record);
        let create = &create_table_statements(Record::META)[0];
        assert!(create.ends_with("PRIMARY KEY (\"id\")\n)"), "{create}");
    }
}

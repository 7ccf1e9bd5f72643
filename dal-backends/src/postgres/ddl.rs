//! Table definitions derived from `EntityMeta`: what `Postgres::create_table` runs and what the
//! migrations in `migrations/postgres` must match (the drift test compares the two).
//!
//! Column types follow the crate-level type table. Text columns use `COLLATE "C"` so that the
//! primary-key index orders keys bytewise, exactly as `Value::total_cmp` does, and keyset
//! pagination can walk the index instead of sorting.

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

/// The SQL type of a field's column, as `CREATE TABLE` spells it (`TEXT`, `VARCHAR(20)`, ...).
pub fn column_type(field: &FieldMeta) -> String {
    match (field.kind, field.max_len) {
        (FieldKind::Text, Some(n)) => format!("VARCHAR({n})"),
        (kind, _) => base_type(kind).to_owned(),
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

/// `CREATE TABLE IF NOT EXISTS` plus its indexes, as separate statements.
///
/// Indexes: the primary key over the id fields; one on each symbol column (with the timestamp
/// when there is one, the shape of "this symbol in this window" queries); one on the designated
/// timestamp of a time series.
pub fn create_table_statements(meta: &EntityMeta) -> Vec<String> {
    let table = quote_ident(meta.table);
    let mut create = format!("CREATE TABLE IF NOT EXISTS {table} (\n");
    for (i, f) in meta.fields.iter().enumerate() {
        if i > 0 {
            create.push_str(",\n");
        }
        create.push_str("    ");
        create.push_str(&column_definition(f));
    }
    if !meta.id_fields.is_empty() {
        create.push_str(",\n    PRIMARY KEY (");
        for (i, f) in meta.ids().enumerate() {
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

/// The whole definition as one script (statements separated by `;`), for migrations and docs.
pub fn create_table_script(meta: &EntityMeta) -> String {
    let mut out = String::new();
    for s in create_table_statements(meta) {
        let _ = writeln!(out, "{s};");
    }
    out
}

//! Drift between `migrations/postgres` and the DDL dal derives from the trading example's
//! entities: migrate a fresh schema, then compare every entity's columns (name, type, length,
//! decimal precision and scale, nullability, collation), primary key (the ids for records, the
//! ids and the timestamp for time series) and derived indexes with the catalog. A mismatch fails
//! with one readable line per difference.

use dal::{Entity, EntityMeta, FieldKind};
use dal_backends::postgres::ddl::TableRole;
use dal_backends::postgres::{Postgres, PostgresOptions, ddl};
use trading::models::{
    MetricPoint, MevEvent, NodeHealth, OrderRule, Position, TokenInfo, Trade, TraderConfig,
};

/// The example entities that live in Postgres (Price and PoolState are Redis-only caches).
const TABLES: [&EntityMeta; 8] = [
    TokenInfo::META,
    TraderConfig::META,
    OrderRule::META,
    NodeHealth::META,
    Trade::META,
    Position::META,
    MetricPoint::META,
    MevEvent::META,
];

/// `udt_name` of information_schema for a storage class.
fn udt(kind: FieldKind, max_len: Option<u32>) -> &'static str {
    match (kind, max_len) {
        (FieldKind::Text, Some(_)) => "varchar",
        (FieldKind::Text, None) => "text",
        (FieldKind::Bool, _) => "bool",
        (FieldKind::I16, _) => "int2",
        (FieldKind::I32, _) => "int4",
        (FieldKind::I64, _) => "int8",
        (FieldKind::F32, _) => "float4",
        (FieldKind::F64, _) => "float8",
        (FieldKind::Uuid, _) => "uuid",
        (FieldKind::Timestamp, _) => "timestamptz",
        (FieldKind::Decimal, _) => "numeric",
        (FieldKind::Json, _) => "jsonb",
        (FieldKind::Bytes, _) => "bytea",
        _ => "?",
    }
}

#[derive(Debug, sqlx::FromRow)]
struct CatalogColumn {
    column_name: String,
    udt_name: String,
    is_nullable: String,
    character_maximum_length: Option<i32>,
    numeric_precision: Option<i32>,
    numeric_scale: Option<i32>,
    collation_name: Option<String>,
}

/// Every difference between `meta`'s derived DDL (for its natural role) and the table in
/// `schema`, one line each.
async fn drift(pg: &Postgres, schema: &str, meta: &EntityMeta) -> Vec<String> {
    drift_as(pg, schema, meta, TableRole::of(meta)).await
}

/// Every difference between `meta`'s derived DDL for `role` and the table in `schema`.
async fn drift_as(pg: &Postgres, schema: &str, meta: &EntityMeta, role: TableRole) -> Vec<String> {
    let mut out = Vec::new();
    let table = meta.table;
    let columns: Vec<CatalogColumn> = sqlx::query_as(
        "SELECT column_name::text, udt_name::text, is_nullable::text,
                character_maximum_length::int4, numeric_precision::int4, numeric_scale::int4,
                collation_name::text
         FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
    )
    .bind(schema)
    .bind(table)
    .fetch_all(pg.pool())
    .await
    .expect("information_schema.columns");
    if columns.is_empty() {
        out.push(format!(
            "{table}: table missing (derived: {})",
            ddl::create_table_script_for(meta, role)
        ));
        return out;
    }
    for f in meta.fields {
        let want_type = ddl::column_type(f);
        let Some(c) = columns.iter().find(|c| c.column_name == f.column) else {
            out.push(format!(
                "{table}.{}: column missing, derived {}",
                f.column,
                ddl::column_definition(f)
            ));
            continue;
        };
        if c.udt_name != udt(f.kind, f.max_len) {
            out.push(format!(
                "{table}.{}: type {} in the migrations, derived {want_type}",
                f.column, c.udt_name
            ));
        }
        let want_len = f
            .max_len
            .filter(|_| f.kind == FieldKind::Text)
            .map(|n| n as i32);
        if c.character_maximum_length != want_len {
            out.push(format!(
                "{table}.{}: length {:?} in the migrations, derived {want_type}",
                f.column, c.character_maximum_length
            ));
        }
        if f.kind == FieldKind::Decimal {
            let declared = f.decimal.map(|d| (d.precision as i32, d.scale as i32));
            let found = c.numeric_precision.zip(c.numeric_scale);
            if declared != found {
                let shown = |p: Option<(i32, i32)>| match p {
                    Some((p, s)) => format!("NUMERIC({p}, {s})"),
                    None => "NUMERIC".to_owned(),
                };
                out.push(format!(
                    "{table}.{}: {} in the migrations, derived {}",
                    f.column,
                    shown(found),
                    shown(declared)
                ));
            }
        }
        let nullable = c.is_nullable == "YES";
        if nullable != f.nullable {
            out.push(format!(
                "{table}.{}: {} in the migrations, derived {}",
                f.column,
                if nullable { "NULL" } else { "NOT NULL" },
                if f.nullable {
                    "NULL (Option)"
                } else {
                    "NOT NULL"
                }
            ));
        }
        if f.kind == FieldKind::Text && c.collation_name.as_deref() != Some("C") {
            out.push(format!(
                "{table}.{}: collation {:?} in the migrations, derived COLLATE \"C\"",
                f.column, c.collation_name
            ));
        }
    }
    for c in &columns {
        if !meta.fields.iter().any(|f| f.column == c.column_name) {
            out.push(format!(
                "{table}.{}: column in the migrations that the entity does not have",
                c.column_name
            ));
        }
    }
    let pk: Vec<String> = sqlx::query_scalar(
        "SELECT a.attname::text
         FROM pg_index i
         JOIN pg_class t ON t.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
         WHERE i.indisprimary AND n.nspname = $1 AND t.relname = $2
         ORDER BY k.ord",
    )
    .bind(schema)
    .bind(table)
    .fetch_all(pg.pool())
    .await
    .expect("primary key");
    let want_pk: Vec<String> = ddl::key_fields(meta, role)
        .iter()
        .map(|f| f.column.to_owned())
        .collect();
    if pk != want_pk {
        out.push(format!(
            "{table}: primary key {pk:?} in the migrations, derived {want_pk:?}"
        ));
    }
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 AND tablename = $2",
    )
    .bind(schema)
    .bind(table)
    .fetch_all(pg.pool())
    .await
    .expect("pg_indexes");
    for stmt in ddl::create_table_statements_for(meta, role).iter().skip(1) {
        // "CREATE INDEX IF NOT EXISTS "name" ON ..."
        let name = stmt.split('"').nth(1).unwrap_or_default();
        if !indexes.iter().any(|i| i == name) {
            out.push(format!("{table}: index {name} missing (derived: {stmt})"));
        }
    }
    out
}

async fn connect(schema: &str) -> Option<Postgres> {
    let url = dal_tests::store_url("DATABASE_URL")?;
    let pg = Postgres::connect_with(PostgresOptions::new(url).schema(schema).max_connections(2))
        .await
        .expect("connect to DATABASE_URL");
    Some(pg)
}

#[tokio::test]
async fn migrations_match_the_derived_ddl_of_every_example_entity() {
    let schema = dal_tests::unique_namespace("drift");
    let Some(pg) = connect(&schema).await else {
        return;
    };
    dal_backends::postgres::migrate(&pg)
        .await
        .expect("migrations apply");
    // Running them again is a no-op (sqlx records what ran).
    dal_backends::postgres::migrate(&pg)
        .await
        .expect("migrations re-run");
    let mut diff = Vec::new();
    for meta in TABLES {
        diff.extend(drift(&pg, &schema, meta).await);
    }
    pg.drop_schema().await.expect("drop schema");
    assert!(
        diff.is_empty(),
        "migrations/postgres drifted from the entities' derived DDL:\n  {}",
        diff.join("\n  ")
    );
}

#[tokio::test]
async fn drift_is_reported_readably() {
    let schema = dal_tests::unique_namespace("drift_bad");
    let Some(pg) = connect(&schema).await else {
        return;
    };
    // TokenInfo's table, by hand, with three mistakes.
    sqlx::query(
        "CREATE TABLE tokens (
            address VARCHAR(40) COLLATE \"C\" PRIMARY KEY,
            symbol TEXT COLLATE \"C\" NOT NULL,
            name VARCHAR(255) COLLATE \"C\",
            decimals BIGINT NOT NULL,
            has_transfer_fee BOOLEAN,
            transfer_fee_bps INTEGER,
            extensions JSONB,
            last_updated TIMESTAMPTZ NOT NULL)",
    )
    .execute(pg.pool())
    .await
    .expect("create");
    let diff = drift(&pg, &schema, TokenInfo::META).await;
    pg.drop_schema().await.expect("drop schema");
    let text = diff.join("\n");
    assert!(text.contains("tokens.address: length Some(40)"), "{text}");
    assert!(
        text.contains("tokens.symbol: type text in the migrations, derived VARCHAR(20)"),
        "{text}"
    );
    assert!(
        text.contains("tokens.decimals: type int8 in the migrations, derived INTEGER"),
        "{text}"
    );
    assert!(
        text.contains("tokens.has_transfer_fee: NULL in the migrations, derived NOT NULL"),
        "{text}"
    );
    assert!(text.contains("index tokens_symbol_idx missing"), "{text}");
}

#[tokio::test]
async fn create_table_matches_its_own_ddl() {
    let schema = dal_tests::unique_namespace("drift_own");
    let Some(pg) = connect(&schema).await else {
        return;
    };
    for meta in TABLES {
        pg.create_table_for(meta).await.expect("create_table");
    }
    let mut diff = Vec::new();
    for meta in TABLES {
        diff.extend(drift(&pg, &schema, meta).await);
    }
    pg.drop_schema().await.expect("drop schema");
    assert!(diff.is_empty(), "{}", diff.join("\n"));
}

#[tokio::test]
async fn a_series_keyed_by_its_id_alone_and_an_undeclared_scale_are_drift() {
    let schema = dal_tests::unique_namespace("drift_keys");
    let Some(pg) = connect(&schema).await else {
        return;
    };
    // `trades` as 20251101000002 made it (the record layout: primary key on the id), and
    // `trader_config` with unconstrained NUMERIC columns.
    let old_trades = ddl::create_table_script_for(Trade::META, TableRole::Record);
    let loose_config =
        ddl::create_table_script(TraderConfig::META).replace("NUMERIC(20, 8)", "NUMERIC");
    for script in [old_trades, loose_config] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(script))
            .execute(pg.pool())
            .await
            .expect("create");
    }
    let mut diff = drift(&pg, &schema, Trade::META).await;
    diff.extend(drift(&pg, &schema, TraderConfig::META).await);
    // The record layout is what it is meant to be for the record role.
    let as_record = drift_as(&pg, &schema, Trade::META, TableRole::Record).await;
    pg.drop_schema().await.expect("drop schema");
    let text = diff.join("\n");
    assert!(
        text.contains(
            r#"trades: primary key ["id"] in the migrations, derived ["id", "timestamp"]"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "trader_config.max_position_size: NUMERIC in the migrations, derived NUMERIC(20, 8)"
        ),
        "{text}"
    );
    assert!(as_record.is_empty(), "{}", as_record.join("\n"));
}

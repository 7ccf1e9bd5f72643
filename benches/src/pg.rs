//! Postgres pairs: dal's `Repository<Trade, Postgres>` beside hand-written sqlx code on the same
//! pool, in the same run, in a schema of its own (migrated with `dal_backends::postgres::migrate`,
//! so `trades` has the example's primary key, (id, timestamp), and indexes). The record pairs
//! (`save_all`, upserts by id, `get`) use `Trade` as a keyed record, whose table is keyed by the
//! id alone: they run in a second schema whose `trades` comes from `create_record_table`, dal
//! and the raw side on the same table.
//!
//! Bulk writes of 100,000 trades are timed per call (the table is truncated, untimed, before
//! each), every raw path in the same rounds: binary `COPY`, text `COPY`, `INSERT .. SELECT FROM
//! UNNEST`, multi-row `VALUES` (chunked under the 65,535-parameter limit) and one `INSERT` per row
//! in a transaction (on 5,000 rows). `pg_save_all_100k` / `pg_append_all_100k` compare dal with
//! the fastest of them. The raw paths encode from the same `Vec<Trade>` the framework gets.
//! Pairs are skipped without `DATABASE_URL`.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use dal::{RangeQuery, RecordStore, Repository, TextEnum, TimeSeriesStore};
use dal_backends::postgres::{Postgres, PostgresOptions};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Executor as _, Row as _};
use trading::models::{Action, Mode, Trade};
use uuid::Uuid;

use crate::harness::Harness;

const NAMES: [&str; 6] = [
    "pg_save_all_100k",
    "pg_append_all_100k",
    "pg_upsert_batch_1000",
    "pg_upsert_batch_100k",
    "pg_get",
    "pg_range_1000",
];

const BULK: usize = 100_000;
const ROW_BY_ROW: usize = 5_000;
const COLUMNS: &str = "id, \"timestamp\", trader_id, mode, action, base_token, quote_token, amount, \
     price, slippage, fee, priority_fee, transfer_fee, tx_signature, latency_ms, mev_protected";
const UPSERT_SET: &str = " ON CONFLICT (id) DO UPDATE SET \"timestamp\" = EXCLUDED.\"timestamp\", \
     trader_id = EXCLUDED.trader_id, mode = EXCLUDED.mode, action = EXCLUDED.action, \
     base_token = EXCLUDED.base_token, quote_token = EXCLUDED.quote_token, amount = EXCLUDED.amount, \
     price = EXCLUDED.price, slippage = EXCLUDED.slippage, fee = EXCLUDED.fee, \
     priority_fee = EXCLUDED.priority_fee, transfer_fee = EXCLUDED.transfer_fee, \
     tx_signature = EXCLUDED.tx_signature, latency_ms = EXCLUDED.latency_ms, \
     mev_protected = EXCLUDED.mev_protected";

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn trade(i: usize, round: u64) -> Trade {
    Trade {
        id: Uuid::from_u64_pair(round, i as u64),
        timestamp: epoch() + chrono::Duration::milliseconds(i as i64 * 10),
        trader_id: format!("trader-{}", i % 8),
        mode: if i.is_multiple_of(2) {
            Mode::Paper
        } else {
            Mode::Live
        },
        action: [Action::Buy, Action::Sell, Action::Swap][i % 3],
        base_token: format!("BaseMint{:04}So11111111111111111111111111", i % 50),
        quote_token: "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v".to_owned(),
        amount: 1.0 + i as f64 * 0.001,
        price: 100.0 + (i % 1000) as f64 * 0.01,
        slippage: 0.001,
        fee: 0.000_005,
        priority_fee: 10_000 + i as i64,
        transfer_fee: if i.is_multiple_of(5) {
            Some(0.01)
        } else {
            None
        },
        tx_signature: if i % 2 == 1 {
            Some(format!("5ig{i:085}"))
        } else {
            None
        },
        latency_ms: (i % 400) as i32,
        mev_protected: i.is_multiple_of(3),
    }
}

pub(crate) async fn run(h: &mut Harness) {
    if !NAMES.iter().any(|n| h.wants(n)) {
        return;
    }
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => return h.skip("pg_*", "DATABASE_URL is not set"),
    };
    let schema = format!("bench_pg_{}", std::process::id());
    let pg = match Postgres::connect_with(PostgresOptions::new(&url).schema(&schema)).await {
        Ok(pg) => pg,
        Err(e) => return h.skip("pg_*", &format!("cannot connect: {e}")),
    };
    let schema = format!("bench_pg_rec_{}", std::process::id());
    let rec = match Postgres::connect_with(PostgresOptions::new(url).schema(&schema)).await {
        Ok(rec) => rec,
        Err(e) => return h.skip("pg_*", &format!("cannot connect: {e}")),
    };
    if let Err(e) = run_pairs(h, &pg, &rec).await {
        h.skip("pg_*", &format!("error: {e}"));
    }
    let _ = pg.drop_schema().await;
    let _ = rec.drop_schema().await;
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn run_pairs(h: &mut Harness, pg: &Postgres, rec: &Postgres) -> Result<(), BoxError> {
    dal_backends::postgres::migrate(pg).await?;
    rec.create_record_table::<Trade>().await?;
    let series_pool = pg.pool().clone();
    let pool = rec.pool().clone();
    let series: Repository<Trade, Postgres> = Repository::new(pg.clone());
    let trades: Repository<Trade, Postgres> = Repository::new(rec.clone());
    let rows: Vec<Trade> = (0..BULK).map(|i| trade(i, 0)).collect();

    if h.wants("pg_save_all_100k") || h.wants("pg_append_all_100k") {
        bulk(h, &pool, &trades, &series_pool, &series, &rows).await?;
        crossover(&series_pool).await?;
    }

    // Both tables hold the 100k rows from here on.
    truncate(&pool).await?;
    trades.save_all(&rows).await?.into_result()?;
    pool.execute("ANALYZE trades").await?;
    truncate(&series_pool).await?;
    series.append_all(&rows).await?.into_result()?;
    series_pool.execute("ANALYZE trades").await?;

    // Upserts of existing keys: dal's save_all beside a hand-written UNNEST upsert.
    let mut version = 1u64;
    let mut changed = move |n: usize| {
        version += 1;
        rows[..n]
            .iter()
            .map(|t| Trade {
                price: t.price + version as f64,
                ..t.clone()
            })
            .collect::<Vec<_>>()
    };
    let small = changed(1_000);
    h.pair(
        "pg_upsert_batch_1000",
        1_000,
        || {
            let (trades, small) = (&trades, &small);
            async move {
                let r = trades.save_all(small).await.expect("save_all");
                assert!(r.is_complete());
            }
        },
        || {
            let (pool, small) = (&pool, &small);
            async move {
                raw_unnest(pool, small, true).await.expect("raw upsert");
            }
        },
    )
    .await;

    if h.wants("pg_upsert_batch_100k") {
        let big = changed(BULK);
        let (mut dal_best, mut raw_best, mut stage_best) = (0f64, 0f64, 0f64);
        for _ in 0..h.rounds.min(3) {
            let t = Instant::now();
            raw_unnest(&pool, &big, true).await?;
            raw_best = raw_best.max(rate(BULK, t));
            let t = Instant::now();
            raw_copy_stage_upsert(&pool, &big).await?;
            stage_best = stage_best.max(rate(BULK, t));
            let t = Instant::now();
            trades.save_all(&big).await?.into_result()?;
            dal_best = dal_best.max(rate(BULK, t));
        }
        println!(
            "# pg upsert of 100k existing keys, rows/s: UNNEST .. ON CONFLICT {raw_best:.0}, \
             COPY into a temp table + INSERT .. SELECT .. ON CONFLICT {stage_best:.0}"
        );
        h.record("pg_upsert_batch_100k", dal_best, raw_best.max(stage_best));
    }

    // The upserts left dead row versions: clean up so autovacuum does not run during the reads.
    pool.execute("VACUUM ANALYZE trades").await?;

    // Point reads by key: dal's get beside query_as with a FromRow struct.
    let keys: Vec<Uuid> = (0..1_000)
        .map(|i| Uuid::from_u64_pair(0, i * 97 % BULK as u64))
        .collect();
    let mut next = 0usize;
    let mut next_raw = 0usize;
    h.pair(
        "pg_get",
        1,
        || {
            next = (next + 1) % keys.len();
            let (trades, key) = (&trades, keys[next]);
            async move {
                let t = trades.get(&key).await.expect("get");
                assert!(t.is_some());
            }
        },
        || {
            next_raw = (next_raw + 1) % keys.len();
            let (pool, key) = (&pool, keys[next_raw]);
            async move {
                let sql = format!("SELECT {COLUMNS} FROM trades WHERE id = $1");
                let t: Option<RawTrade> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(key)
                    .fetch_optional(pool)
                    .await
                    .expect("query_as");
                assert!(t.is_some());
            }
        },
    )
    .await;

    // A 10-second window of the time series: 1,000 rows, oldest first.
    let (start, end) = (epoch(), epoch() + chrono::Duration::seconds(10));
    let query = RangeQuery::new(start, end);
    h.pair(
        "pg_range_1000",
        1,
        || {
            let (series, query) = (&series, &query);
            async move {
                let got = series.range(query).await.expect("range");
                assert_eq!(got.len(), 1_000);
            }
        },
        || {
            let pool = &series_pool;
            async move {
                let sql = format!(
                    "SELECT {COLUMNS} FROM trades WHERE \"timestamp\" >= $1 AND \"timestamp\" < $2 \
                     ORDER BY \"timestamp\""
                );
                let got: Vec<RawTrade> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(start)
                    .bind(end)
                    .fetch_all(pool)
                    .await
                    .expect("query_as");
                assert_eq!(got.len(), 1_000);
            }
        },
    )
    .await;
    Ok(())
}

fn rate(rows: usize, since: Instant) -> f64 {
    rows as f64 / since.elapsed().as_secs_f64()
}

async fn truncate(pool: &PgPool) -> Result<(), BoxError> {
    pool.execute("TRUNCATE trades").await?;
    Ok(())
}

/// Every bulk path on an empty table, best of the rounds each: `save_all` and the raw paths on
/// the record table (`pool`), `append_all` and the raw paths on the time series (`series_pool`).
async fn bulk(
    h: &mut Harness,
    pool: &PgPool,
    trades: &Repository<Trade, Postgres>,
    series_pool: &PgPool,
    series: &Repository<Trade, Postgres>,
    rows: &[Trade],
) -> Result<(), BoxError> {
    let names = [
        "dal",
        "raw binary COPY",
        "raw text COPY",
        "raw UNNEST",
        "raw multi-row VALUES",
        "raw INSERT per row (5k rows)",
    ];
    // [record table, time series] x paths.
    let mut best = [[0f64; 6]; 2];
    for _ in 0..h.rounds {
        for (table, best) in best.iter_mut().enumerate() {
            let pool = if table == 0 { pool } else { series_pool };
            for (i, slot) in best.iter_mut().enumerate() {
                truncate(pool).await?;
                let t = Instant::now();
                let n = match i {
                    0 if table == 0 => trades.save_all(rows).await?.into_result()?,
                    0 => series.append_all(rows).await?.into_result()?,
                    1 => raw_copy_binary(pool, rows).await?,
                    2 => raw_copy_text(pool, rows).await?,
                    3 => raw_unnest(pool, rows, false).await?,
                    4 => raw_values(pool, rows).await?,
                    _ => raw_row_by_row(pool, &rows[..ROW_BY_ROW]).await?,
                };
                *slot = slot.max(rate(n, t));
            }
        }
    }
    for (table, best) in ["record table, save_all", "time series, append_all"]
        .iter()
        .zip(best)
    {
        let mut line = format!("# pg bulk insert of 100k trades ({table}), rows/s:");
        for (n, r) in names.iter().zip(best) {
            let _ = write!(line, " {n} {r:.0};");
        }
        println!("{line}");
    }
    let raw_best = |b: &[f64; 6]| b[1..].iter().copied().fold(0f64, f64::max);
    h.record("pg_save_all_100k", best[0][0], raw_best(&best[0]));
    h.record("pg_append_all_100k", best[1][0], raw_best(&best[1]));
    Ok(())
}

/// Binary COPY beside UNNEST at small sizes, fresh keys each time: where COPY starts to win
/// decides `COPY_MIN_ROWS` in the backend.
async fn crossover(pool: &PgPool) -> Result<(), BoxError> {
    truncate(pool).await?;
    let mut line = String::from("# pg insert rows/s by batch size (binary COPY / UNNEST):");
    let mut round = 1_000u64;
    for size in [10usize, 100, 300, 1_000, 10_000] {
        let reps = (20_000 / size).clamp(3, 200);
        let (mut copy, mut unnest) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..reps {
            round += 1;
            let batch: Vec<Trade> = (0..size).map(|i| trade(i, round)).collect();
            let t = Instant::now();
            raw_copy_binary(pool, &batch).await?;
            copy += t.elapsed();
            round += 1;
            let batch: Vec<Trade> = (0..size).map(|i| trade(i, round)).collect();
            let t = Instant::now();
            raw_unnest(pool, &batch, false).await?;
            unnest += t.elapsed();
        }
        let n = (size * reps) as f64;
        let _ = write!(
            line,
            " {size}: {:.0} / {:.0};",
            n / copy.as_secs_f64(),
            n / unnest.as_secs_f64()
        );
    }
    println!("{line}");
    Ok(())
}

const PG_EPOCH_US: i64 = 946_684_800_000_000;

fn put_field(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    buf.extend_from_slice(bytes);
}

fn put_null(buf: &mut Vec<u8>) {
    buf.extend_from_slice(&(-1i32).to_be_bytes());
}

/// One trade as a binary COPY tuple, by hand.
fn copy_tuple(buf: &mut Vec<u8>, t: &Trade) {
    buf.extend_from_slice(&16i16.to_be_bytes());
    put_field(buf, t.id.as_bytes());
    put_field(
        buf,
        &(t.timestamp.timestamp_micros() - PG_EPOCH_US).to_be_bytes(),
    );
    put_field(buf, t.trader_id.as_bytes());
    put_field(buf, t.mode.as_str().as_bytes());
    put_field(buf, t.action.as_str().as_bytes());
    put_field(buf, t.base_token.as_bytes());
    put_field(buf, t.quote_token.as_bytes());
    put_field(buf, &t.amount.to_be_bytes());
    put_field(buf, &t.price.to_be_bytes());
    put_field(buf, &t.slippage.to_be_bytes());
    put_field(buf, &t.fee.to_be_bytes());
    put_field(buf, &t.priority_fee.to_be_bytes());
    match t.transfer_fee {
        Some(v) => put_field(buf, &v.to_be_bytes()),
        None => put_null(buf),
    }
    match &t.tx_signature {
        Some(v) => put_field(buf, v.as_bytes()),
        None => put_null(buf),
    }
    put_field(buf, &t.latency_ms.to_be_bytes());
    put_field(buf, &[u8::from(t.mev_protected)]);
}

async fn raw_copy_binary(pool: &PgPool, rows: &[Trade]) -> Result<usize, BoxError> {
    let mut conn = pool.acquire().await?;
    let sql = format!("COPY trades ({COLUMNS}) FROM STDIN (FORMAT binary)");
    let mut copy = conn.copy_in_raw(&sql).await?;
    let mut buf = Vec::with_capacity(1 << 20);
    buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0");
    for t in rows {
        copy_tuple(&mut buf, t);
        if buf.len() >= 256 * 1024 {
            copy.send(&buf[..]).await?;
            buf.clear();
        }
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    copy.send(&buf[..]).await?;
    copy.finish().await?;
    Ok(rows.len())
}

async fn raw_copy_text(pool: &PgPool, rows: &[Trade]) -> Result<usize, BoxError> {
    let mut conn = pool.acquire().await?;
    let sql = format!("COPY trades ({COLUMNS}) FROM STDIN");
    let mut copy = conn.copy_in_raw(&sql).await?;
    let mut buf = String::with_capacity(1 << 20);
    for t in rows {
        // The generated data needs no escaping (no tabs, newlines or backslashes).
        let _ = writeln!(
            buf,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:?}\t{:?}\t{:?}\t{:?}\t{}\t{}\t{}\t{}\t{}",
            t.id,
            t.timestamp.to_rfc3339(),
            t.trader_id,
            t.mode.as_str(),
            t.action.as_str(),
            t.base_token,
            t.quote_token,
            t.amount,
            t.price,
            t.slippage,
            t.fee,
            t.priority_fee,
            t.transfer_fee
                .map_or("\\N".to_owned(), |v| format!("{v:?}")),
            t.tx_signature.as_deref().unwrap_or("\\N"),
            t.latency_ms,
            t.mev_protected,
        );
        if buf.len() >= 256 * 1024 {
            copy.send(buf.as_bytes()).await?;
            buf.clear();
        }
    }
    copy.send(buf.as_bytes()).await?;
    copy.finish().await?;
    Ok(rows.len())
}

/// `INSERT .. SELECT * FROM UNNEST($1::uuid[], ..)`, one statement (optionally an upsert).
async fn raw_unnest(pool: &PgPool, rows: &[Trade], upsert: bool) -> Result<usize, BoxError> {
    let mut sql = format!(
        "INSERT INTO trades ({COLUMNS}) SELECT * FROM UNNEST($1::uuid[], $2::timestamptz[], \
         $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[], $9::float8[], \
         $10::float8[], $11::float8[], $12::int8[], $13::float8[], $14::text[], $15::int4[], \
         $16::bool[])"
    );
    if upsert {
        sql.push_str(UPSERT_SET);
    }
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(rows.iter().map(|t| t.id).collect::<Vec<_>>())
        .bind(rows.iter().map(|t| t.timestamp).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|t| t.trader_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|t| t.mode.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|t| t.action.as_str()).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|t| t.base_token.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|t| t.quote_token.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|t| t.amount).collect::<Vec<_>>())
        .bind(rows.iter().map(|t| t.price).collect::<Vec<_>>())
        .bind(rows.iter().map(|t| t.slippage).collect::<Vec<_>>())
        .bind(rows.iter().map(|t| t.fee).collect::<Vec<_>>())
        .bind(rows.iter().map(|t| t.priority_fee).collect::<Vec<_>>())
        .bind(rows.iter().map(|t| t.transfer_fee).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|t| t.tx_signature.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|t| t.latency_ms).collect::<Vec<_>>())
        .bind(rows.iter().map(|t| t.mev_protected).collect::<Vec<_>>());
    q.execute(pool).await?;
    Ok(rows.len())
}

/// Multi-row `INSERT .. VALUES (..), (..)`, 4,000 rows (64,000 parameters) per statement, in
/// one transaction.
async fn raw_values(pool: &PgPool, rows: &[Trade]) -> Result<usize, BoxError> {
    let mut tx = pool.begin().await?;
    for chunk in rows.chunks(4_000) {
        let mut qb =
            sqlx::QueryBuilder::<sqlx::Postgres>::new(format!("INSERT INTO trades ({COLUMNS}) "));
        qb.push_values(chunk, |mut b, t| {
            b.push_bind(t.id)
                .push_bind(t.timestamp)
                .push_bind(t.trader_id.as_str())
                .push_bind(t.mode.as_str())
                .push_bind(t.action.as_str())
                .push_bind(t.base_token.as_str())
                .push_bind(t.quote_token.as_str())
                .push_bind(t.amount)
                .push_bind(t.price)
                .push_bind(t.slippage)
                .push_bind(t.fee)
                .push_bind(t.priority_fee)
                .push_bind(t.transfer_fee)
                .push_bind(t.tx_signature.as_deref())
                .push_bind(t.latency_ms)
                .push_bind(t.mev_protected);
        });
        qb.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(rows.len())
}

async fn raw_row_by_row(pool: &PgPool, rows: &[Trade]) -> Result<usize, BoxError> {
    let mut tx = pool.begin().await?;
    let sql = format!(
        "INSERT INTO trades ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         $13, $14, $15, $16)"
    );
    for t in rows {
        sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .bind(t.id)
            .bind(t.timestamp)
            .bind(t.trader_id.as_str())
            .bind(t.mode.as_str())
            .bind(t.action.as_str())
            .bind(t.base_token.as_str())
            .bind(t.quote_token.as_str())
            .bind(t.amount)
            .bind(t.price)
            .bind(t.slippage)
            .bind(t.fee)
            .bind(t.priority_fee)
            .bind(t.transfer_fee)
            .bind(t.tx_signature.as_deref())
            .bind(t.latency_ms)
            .bind(t.mev_protected)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(rows.len())
}

/// Binary COPY into a temporary table, then one `INSERT .. SELECT .. ON CONFLICT`.
async fn raw_copy_stage_upsert(pool: &PgPool, rows: &[Trade]) -> Result<usize, BoxError> {
    let mut tx = pool.begin().await?;
    tx.execute(
        "CREATE TEMP TABLE IF NOT EXISTS trades_stage (LIKE trades INCLUDING DEFAULTS) \
         ON COMMIT DELETE ROWS",
    )
    .await?;
    {
        let sql = format!("COPY trades_stage ({COLUMNS}) FROM STDIN (FORMAT binary)");
        let mut copy = tx.copy_in_raw(&sql).await?;
        let mut buf = Vec::with_capacity(1 << 20);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0");
        for t in rows {
            copy_tuple(&mut buf, t);
            if buf.len() >= 256 * 1024 {
                copy.send(&buf[..]).await?;
                buf.clear();
            }
        }
        buf.extend_from_slice(&(-1i16).to_be_bytes());
        copy.send(&buf[..]).await?;
        copy.finish().await?;
    }
    let sql =
        format!("INSERT INTO trades ({COLUMNS}) SELECT {COLUMNS} FROM trades_stage{UPSERT_SET}");
    tx.execute(sqlx::AssertSqlSafe(sql)).await?;
    tx.commit().await?;
    Ok(rows.len())
}

/// What a hand-written repository would read a trade into.
#[allow(dead_code)] // read to measure the decoding, not used afterwards
struct RawTrade {
    id: Uuid,
    timestamp: DateTime<Utc>,
    trader_id: String,
    mode: String,
    action: String,
    base_token: String,
    quote_token: String,
    amount: f64,
    price: f64,
    slippage: f64,
    fee: f64,
    priority_fee: i64,
    transfer_fee: Option<f64>,
    tx_signature: Option<String>,
    latency_ms: i32,
    mev_protected: bool,
}

impl sqlx::FromRow<'_, PgRow> for RawTrade {
    fn from_row(r: &PgRow) -> sqlx::Result<Self> {
        Ok(RawTrade {
            id: r.try_get(0)?,
            timestamp: r.try_get(1)?,
            trader_id: r.try_get(2)?,
            mode: r.try_get(3)?,
            action: r.try_get(4)?,
            base_token: r.try_get(5)?,
            quote_token: r.try_get(6)?,
            amount: r.try_get(7)?,
            price: r.try_get(8)?,
            slippage: r.try_get(9)?,
            fee: r.try_get(10)?,
            priority_fee: r.try_get(11)?,
            transfer_fee: r.try_get(12)?,
            tx_signature: r.try_get(13)?,
            latency_ms: r.try_get(14)?,
            mev_protected: r.try_get(15)?,
        })
    }
}

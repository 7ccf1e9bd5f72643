//! QuestDB pairs: the derived ILP encoder beside hand-written `Buffer` calls, the batch writer
//! beside a raw questdb-rs sender loop on the same server, and the derived Redis key encoder
//! beside `format!`.
//!
//! - `ilp_encode_trade` (no server): `encode_row` of a `trading::models::Trade` vs the same row
//!   written with `Buffer` calls and pre-validated names, 1,000 rows per call, protocol v3.
//! - `ilp_ingest` (when `QDB_CLIENT_CONF` and `QDB_PG_URL` are set): 50,000 trades through
//!   `Repository<Trade, QuestDb>::append_all` + `flush` (which waits until QuestDB applied them) vs
//!   a raw sender loop flushing every 10,000 rows on a blocking thread, then `wait_wal_table`. Both
//!   write fresh rows into their own table with the same DDL (DEDUP included). Prints bytes/row.
//! - `key_encode`: `dal::key::encode_key::<Price>` into a new `String` vs `format!("price:{}")`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use dal::{Repository, TextEnum, TimeSeriesStore};
use dal_backends::questdb::{QuestDb, QuestDbOptions, ddl, encode_row};
use questdb::ingress::{Buffer, ColumnName, ProtocolVersion, Sender, TableName, TimestampMicros};
use trading::models::{Action, Mode, Price, Trade};
use uuid::Uuid;

use crate::harness::Harness;

const ENCODE_ROWS: usize = 1_000;
const INGEST_ROWS: usize = 50_000;
const RAW_FLUSH_ROWS: usize = 10_000;

fn trade(i: i64, base_micros: i64) -> Trade {
    Trade {
        id: Uuid::from_u64_pair(0x5eed, i as u64),
        timestamp: ts(base_micros + i),
        trader_id: format!("trader-{}", i % 16),
        mode: if i % 3 == 0 { Mode::Live } else { Mode::Paper },
        action: [Action::Buy, Action::Sell, Action::Swap][(i % 3) as usize],
        base_token: "So11111111111111111111111111111111111111112".into(),
        quote_token: "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v".into(),
        amount: 1.0 + i as f64 / 1e3,
        price: 150.0 + (i % 100) as f64 / 100.0,
        slippage: 0.0005,
        fee: 0.000_005,
        priority_fee: 10_000 + i % 1000,
        transfer_fee: (i % 4 == 0).then_some(0.001),
        tx_signature: (i % 3 == 0).then(|| format!("5sig{i:080}")),
        latency_ms: (i % 250) as i32,
        mev_protected: i % 2 == 0,
    }
}

fn ts(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros).single().unwrap_or_default()
}

/// The Trade's ILP names, validated once (what a careful hand-written writer does).
struct Names {
    table: TableName<'static>,
    id: ColumnName<'static>,
    trader_id: ColumnName<'static>,
    mode: ColumnName<'static>,
    action: ColumnName<'static>,
    base_token: ColumnName<'static>,
    quote_token: ColumnName<'static>,
    amount: ColumnName<'static>,
    price: ColumnName<'static>,
    slippage: ColumnName<'static>,
    fee: ColumnName<'static>,
    priority_fee: ColumnName<'static>,
    transfer_fee: ColumnName<'static>,
    tx_signature: ColumnName<'static>,
    latency_ms: ColumnName<'static>,
    mev_protected: ColumnName<'static>,
}

impl Names {
    fn new(table: &'static str) -> Names {
        let c = ColumnName::new_unchecked;
        Names {
            table: TableName::new_unchecked(table),
            id: c("id"),
            trader_id: c("trader_id"),
            mode: c("mode"),
            action: c("action"),
            base_token: c("base_token"),
            quote_token: c("quote_token"),
            amount: c("amount"),
            price: c("price"),
            slippage: c("slippage"),
            fee: c("fee"),
            priority_fee: c("priority_fee"),
            transfer_fee: c("transfer_fee"),
            tx_signature: c("tx_signature"),
            latency_ms: c("latency_ms"),
            mev_protected: c("mev_protected"),
        }
    }
}

/// The hand-written encoder: what one would write without dal.
fn hand_encode(buf: &mut Buffer, n: &Names, t: &Trade) -> questdb::Result<()> {
    let mut id = [0u8; 36];
    buf.table(n.table)?
        .symbol(n.trader_id, &t.trader_id)?
        .symbol(n.mode, t.mode.as_str())?
        .symbol(n.action, t.action.as_str())?
        .symbol(n.base_token, &t.base_token)?
        .symbol(n.quote_token, &t.quote_token)?
        .column_str(n.id, &*t.id.hyphenated().encode_lower(&mut id))?
        .column_f64(n.amount, t.amount)?
        .column_f64(n.price, t.price)?
        .column_f64(n.slippage, t.slippage)?
        .column_f64(n.fee, t.fee)?
        .column_i64(n.priority_fee, t.priority_fee)?;
    if let Some(fee) = t.transfer_fee {
        buf.column_f64(n.transfer_fee, fee)?;
    }
    if let Some(sig) = &t.tx_signature {
        buf.column_str(n.tx_signature, sig)?;
    }
    buf.column_i64(n.latency_ms, i64::from(t.latency_ms))?
        .column_bool(n.mev_protected, t.mev_protected)?
        .at(TimestampMicros::new(t.timestamp.timestamp_micros()))
}

pub(crate) async fn run(h: &mut Harness) {
    encode_pair(h);
    key_pair(h);
    ingest_pair(h).await;
}

fn encode_pair(h: &mut Harness) {
    let rows: Vec<Trade> = (0..ENCODE_ROWS as i64)
        .map(|i| trade(i, 1_700_000_000_000_000))
        .collect();
    let names = Names::new("trades");
    let mut fbuf = Buffer::new(ProtocolVersion::V3);
    let mut bbuf = Buffer::new(ProtocolVersion::V3);
    // Same bytes on both sides, or the comparison means nothing.
    for t in &rows {
        let _ = encode_row(&mut fbuf, "trades", t);
        let _ = hand_encode(&mut bbuf, &names, t);
    }
    if fbuf.as_bytes() != bbuf.as_bytes() {
        eprintln!("ilp_encode_trade: the derived and hand-written encoders disagree; not measured");
        return;
    }
    h.pair_sync(
        "ilp_encode_trade",
        ENCODE_ROWS as u64,
        || {
            fbuf.clear();
            for t in &rows {
                let _ = encode_row(&mut fbuf, "trades", std::hint::black_box(t));
            }
            std::hint::black_box(fbuf.len());
        },
        || {
            bbuf.clear();
            for t in &rows {
                let _ = hand_encode(&mut bbuf, &names, std::hint::black_box(t));
            }
            std::hint::black_box(bbuf.len());
        },
    );
}

fn key_pair(h: &mut Harness) {
    let tokens: Vec<String> = (0..1_000)
        .map(|i| format!("So1anaMint{i:06}TokenAddressXXXXXXXXXXXXXX"))
        .collect();
    h.pair_sync(
        "key_encode",
        tokens.len() as u64,
        || {
            for t in &tokens {
                let mut key = String::new();
                let _ = dal::key::encode_key::<Price>(std::hint::black_box(t), &mut key);
                std::hint::black_box(key);
            }
        },
        || {
            for t in &tokens {
                std::hint::black_box(format!("price:{}", std::hint::black_box(t)));
            }
        },
    );
}

async fn ingest_pair(h: &mut Harness) {
    if !h.wants("ilp_ingest") {
        return;
    }
    let Some(options) = QuestDbOptions::from_env() else {
        h.skip(
            "ilp_ingest",
            "set QDB_CLIENT_CONF and QDB_PG_URL to measure against QuestDB",
        );
        return;
    };
    let conf = options.client_conf.clone();
    let suffix = format!("bench_{}", std::process::id());
    let db = match QuestDb::connect(options.namespace(suffix.clone())) {
        Ok(db) => db,
        Err(e) => return h.skip("ilp_ingest", &e.to_string()),
    };
    if let Err(e) = db.create_table::<Trade>().await {
        return h.skip("ilp_ingest", &format!("cannot create the table: {e}"));
    }
    // The baseline's table: same DDL, another name.
    let raw_table: &'static str = Box::leak(format!("trades_raw_{suffix}").into_boxed_str());
    let raw_ddl = match ddl::create_table_sql(<Trade as dal::Entity>::META, raw_table) {
        Ok(sql) => sql,
        Err(e) => return h.skip("ilp_ingest", &e.to_string()),
    };
    if let Err(e) = db.execute(&raw_ddl).await {
        return h.skip("ilp_ingest", &format!("cannot create the raw table: {e}"));
    }
    let raw_conf = if conf.contains("protocol_version") {
        conf.clone()
    } else {
        format!("{}protocol_version=3;", with_semicolon(&conf))
    };
    let sender = match Sender::from_conf(&raw_conf) {
        Ok(s) => Arc::new(std::sync::Mutex::new(Some(s))),
        Err(e) => return h.skip("ilp_ingest", &format!("raw sender: {e}")),
    };

    let repo: Repository<Trade, QuestDb> = Repository::new(db.clone());
    // Fresh timestamps per call so neither side measures dedup replacing its own rows.
    let clock = Arc::new(AtomicI64::new(1_700_000_000_000_000));
    let raw_bytes = Arc::new(AtomicU64::new(0));
    let raw_rows = Arc::new(AtomicU64::new(0));
    let framework_rows = Arc::new(AtomicU64::new(0));
    let bytes_before = db.writer().stats().bytes_sent;
    let wait_sql = format!("SELECT wait_wal_table('{raw_table}')");
    h.pair(
        "ilp_ingest",
        INGEST_ROWS as u64,
        || {
            let (repo, clock, counted) = (repo.clone(), clock.clone(), framework_rows.clone());
            async move {
                let base = clock.fetch_add(INGEST_ROWS as i64 * 10, Ordering::Relaxed);
                let rows: Vec<Trade> = (0..INGEST_ROWS as i64).map(|i| trade(i, base)).collect();
                for chunk in rows.chunks(RAW_FLUSH_ROWS) {
                    if let Err(e) = repo.append_all(chunk).await {
                        eprintln!("ilp_ingest: append_all failed: {e}");
                    }
                }
                if let Err(e) = repo.flush().await {
                    eprintln!("ilp_ingest: flush failed: {e}");
                }
                counted.fetch_add(INGEST_ROWS as u64, Ordering::Relaxed);
            }
        },
        || {
            let (sender, clock, bytes, rows_done) = (
                sender.clone(),
                clock.clone(),
                raw_bytes.clone(),
                raw_rows.clone(),
            );
            let (db, wait_sql) = (db.clone(), wait_sql.clone());
            async move {
                let base = clock.fetch_add(INGEST_ROWS as i64 * 10, Ordering::Relaxed);
                let sent = tokio::task::spawn_blocking(move || {
                    let names = Names::new(raw_table);
                    let mut guard = sender.lock().unwrap_or_else(|p| p.into_inner());
                    let Some(sender) = guard.as_mut() else {
                        return 0;
                    };
                    let mut buf = sender.new_buffer();
                    let mut sent = 0u64;
                    for i in 0..INGEST_ROWS as i64 {
                        let t = trade(i, base);
                        if hand_encode(&mut buf, &names, &t).is_err() {
                            continue;
                        }
                        if buf.row_count() >= RAW_FLUSH_ROWS {
                            sent += buf.len() as u64;
                            if let Err(e) = sender.flush(&mut buf) {
                                eprintln!("ilp_ingest: raw flush failed: {e}");
                                buf.clear();
                            }
                        }
                    }
                    if !buf.is_empty() {
                        sent += buf.len() as u64;
                        if let Err(e) = sender.flush(&mut buf) {
                            eprintln!("ilp_ingest: raw flush failed: {e}");
                        }
                    }
                    sent
                })
                .await
                .unwrap_or(0);
                if let Err(e) = db.execute(&wait_sql).await {
                    eprintln!("ilp_ingest: wait_wal_table failed: {e}");
                }
                bytes.fetch_add(sent, Ordering::Relaxed);
                rows_done.fetch_add(INGEST_ROWS as u64, Ordering::Relaxed);
            }
        },
    )
    .await;
    let f_bytes = db.writer().stats().bytes_sent - bytes_before;
    let f_rows = framework_rows.load(Ordering::Relaxed).max(1);
    let r_rows = raw_rows.load(Ordering::Relaxed).max(1);
    println!(
        "# ilp_ingest bytes/row: framework {:.1} baseline {:.1}",
        f_bytes as f64 / f_rows as f64,
        raw_bytes.load(Ordering::Relaxed) as f64 / r_rows as f64
    );
    let _ = db.drop_table::<Trade>().await;
    let _ = db
        .execute(&format!("DROP TABLE IF EXISTS \"{raw_table}\""))
        .await;
}

fn with_semicolon(conf: &str) -> String {
    let c = conf.trim();
    if c.ends_with(';') {
        c.to_owned()
    } else {
        format!("{c};")
    }
}

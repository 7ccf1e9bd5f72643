//! A time series' identity on Postgres is (ids, timestamp): the same id at two timestamps is two
//! rows, the same id at the same timestamp is one row (the later one), through every append path
//! (single row, `UNNEST`, binary `COPY`, `COPY` through the stage) and inside a transaction. An
//! entity with ids and a timestamp used as a keyed record lives in a table keyed by its ids
//! alone; each role refuses a table made for the other with a configuration error.

mod postgres_common;

use chrono::{DateTime, Utc};
use dal::{
    Backend, Entity, Error, RangeQuery, RecordStore, Repository, TimeSeriesStore, Transaction,
};
use dal_backends::postgres::{PgTx, Postgres};
use postgres_common::{TestPg, connect};

#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "fills")]
struct Fill {
    #[entity(id)]
    id: i64,
    #[entity(timestamp)]
    ts: DateTime<Utc>,
    #[entity(symbol)]
    venue: String,
    price: f64,
    /// Makes rows ~1 KiB, so that a thousand of them take the COPY path (>= 1 MiB) and four
    /// thousand the staged COPY (>= 4 MiB).
    pad: String,
}

fn at(second: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + second, 0).expect("timestamp")
}

fn fill(id: i64, second: i64, price: f64) -> Fill {
    Fill {
        id,
        ts: at(second),
        venue: format!("v{}", id % 3),
        price,
        pad: "p".repeat(1_000),
    }
}

async fn setup(prefix: &str) -> Option<(TestPg, Repository<Fill, Postgres>)> {
    let t = connect(prefix, |o| o).await?;
    t.pg.create_table::<Fill>().await.expect("fills");
    let repo = Repository::new(t.pg.clone());
    Some((t, repo))
}

/// Every stored row as (id, second, price), ordered by id then time.
async fn rows(repo: &Repository<Fill, Postgres>) -> Vec<(i64, i64, f64)> {
    let mut out: Vec<(i64, i64, f64)> = repo
        .range(&RangeQuery::new(at(-1_000_000), at(1_000_000)))
        .await
        .expect("range")
        .into_iter()
        .map(|f| (f.id, (f.ts - at(0)).num_seconds(), f.price))
        .collect();
    out.sort_by_key(|a| (a.0, a.1));
    out
}

#[tokio::test]
async fn the_same_id_at_two_timestamps_is_two_rows_and_at_one_timestamp_one_row() {
    let Some((t, repo)) = setup("pgk_single").await else {
        return;
    };
    assert!(t.pg.capabilities().time_series_dedup);
    repo.append(&fill(1, 0, 10.0)).await.expect("append");
    repo.append(&fill(1, 1, 11.0)).await.expect("append");
    assert_eq!(
        rows(&repo).await,
        [(1, 0, 10.0), (1, 1, 11.0)],
        "a new timestamp is a new row"
    );
    repo.append(&fill(1, 1, 12.0)).await.expect("append");
    assert_eq!(
        rows(&repo).await,
        [(1, 0, 10.0), (1, 1, 12.0)],
        "the same id and timestamp: the later row wins"
    );
    assert_eq!(t.count("fills").await, 2);
    t.finish().await;
}

#[tokio::test]
async fn unnest_batches_keep_distinct_timestamps_and_replace_equal_ones() {
    let Some((t, repo)) = setup("pgk_unnest").await else {
        return;
    };
    // Ids 0..5 at two timestamps in one small batch: ten rows.
    let batch: Vec<Fill> = (0..5)
        .flat_map(|id| [fill(id, 0, 1.0), fill(id, 1, 1.0)])
        .collect();
    assert!(repo.append_all(&batch).await.expect("batch").is_complete());
    assert_eq!(t.count("fills").await, 10);
    // An existing (id, ts) again, a new timestamp, and one (id, ts) twice: the last one wins.
    let batch = [
        fill(0, 0, 2.0),
        fill(0, 2, 2.0),
        fill(1, 1, 7.0),
        fill(1, 1, 8.0),
    ];
    let report = repo.append_all(&batch).await.expect("batch");
    assert_eq!(report.written, 4, "a replaced row counts as written");
    let got = rows(&repo).await;
    assert_eq!(got.len(), 11);
    assert!(got.contains(&(0, 0, 2.0)) && got.contains(&(0, 2, 2.0)));
    assert!(got.contains(&(1, 1, 8.0)) && got.contains(&(1, 0, 1.0)));
    t.finish().await;
}

#[tokio::test]
async fn copy_batches_keep_distinct_timestamps_and_replace_equal_ones() {
    let Some((t, repo)) = setup("pgk_copy").await else {
        return;
    };
    // 2,000 rows (~2 MiB, binary COPY straight into the table): ids 0..1000 at two timestamps.
    let first: Vec<Fill> = (0..1_000)
        .flat_map(|id| [fill(id, 0, 1.0), fill(id, 1, 1.0)])
        .collect();
    assert!(repo.append_all(&first).await.expect("copy").is_complete());
    assert_eq!(t.count("fills").await, 2_000);
    // The same 2,000 (id, ts) with new prices plus 2,000 new timestamps (~4 MiB): the COPY meets
    // existing keys and the batch is upserted through the stage.
    let second: Vec<Fill> = (0..1_000)
        .flat_map(|id| {
            [
                fill(id, 0, 2.0),
                fill(id, 1, 2.0),
                fill(id, 2, 2.0),
                fill(id, 3, 2.0),
            ]
        })
        .collect();
    assert!(
        repo.append_all(&second)
            .await
            .expect("staged")
            .is_complete()
    );
    assert_eq!(t.count("fills").await, 4_000);
    let got = rows(&repo).await;
    assert!(got.iter().all(|r| r.2 == 2.0), "every row replaced or new");
    // Once more through the stage (the entity is known to meet existing keys now), with one
    // (id, ts) repeated at the end: the last occurrence wins.
    let mut third: Vec<Fill> = (0..1_000)
        .flat_map(|id| [fill(id, 0, 3.0), fill(id, 4, 3.0)])
        .collect();
    third.extend((0..2_000).map(|i| fill(5_000 + i, 0, 3.0)));
    third.push(fill(7, 4, 9.0));
    let report = repo.append_all(&third).await.expect("third");
    assert!(report.is_complete(), "{:?}", report.failed);
    assert_eq!(t.count("fills").await, 4_000 + 1_000 + 2_000);
    let got = rows(&repo).await;
    assert!(got.contains(&(7, 4, 9.0)) && got.contains(&(7, 3, 2.0)));
    assert!(got.contains(&(999, 0, 3.0)) && got.contains(&(999, 1, 2.0)));
    t.finish().await;
}

#[tokio::test]
async fn appends_in_a_transaction_follow_the_same_rule() {
    let Some((t, repo)) = setup("pgk_tx").await else {
        return;
    };
    let tx: PgTx = t.pg.begin().await.expect("begin");
    let in_tx: Repository<Fill, PgTx> = Repository::new(tx.clone());
    in_tx.append(&fill(1, 0, 1.0)).await.expect("append");
    in_tx.append(&fill(1, 5, 1.0)).await.expect("append");
    in_tx.append(&fill(1, 5, 2.0)).await.expect("append");
    let batch: Vec<Fill> = (0..100).map(|s| fill(2, s, 1.0)).collect();
    assert!(in_tx.append_all(&batch).await.expect("batch").is_complete());
    tx.commit().await.expect("commit");
    let got = rows(&repo).await;
    assert_eq!(got.len(), 102);
    assert_eq!(&got[..2], [(1, 0, 1.0), (1, 5, 2.0)]);
    t.finish().await;
}

fn assert_config(e: &Error, says: &str) {
    assert!(
        matches!(e, Error::Config { .. }) && !e.is_transient() && e.to_string().contains(says),
        "expected a configuration error saying {says:?}, got {e:?}"
    );
}

#[tokio::test]
async fn each_role_refuses_a_table_made_for_the_other() {
    let Some((t, series)) = setup("pgk_roles").await else {
        return;
    };
    // A time-series table (the natural role of an entity with a timestamp): saving a record
    // there would add rows instead of replacing one.
    let e = series.save(&fill(1, 0, 1.0)).await.expect_err("save");
    assert_config(&e, "create_record_table");
    let e = series
        .save_all(&[fill(1, 0, 1.0)])
        .await
        .expect_err("save_all");
    assert_config(&e, "(id, ts)");
    assert_eq!(t.count("fills").await, 0, "nothing written");
    t.finish().await;

    // A record table (keyed by the id alone): saves replace by id, appends are refused (they
    // would replace the row of an earlier timestamp).
    let Some(t) = connect("pgk_records", |o| o).await else {
        return;
    };
    t.pg.create_record_table::<Fill>()
        .await
        .expect("record table");
    let records: Repository<Fill, Postgres> = Repository::new(t.pg.clone());
    records.save(&fill(1, 0, 1.0)).await.expect("save");
    records.save(&fill(1, 9, 2.0)).await.expect("save again");
    assert_eq!(
        records.get(&1).await.expect("get").map(|f| (f.ts, f.price)),
        Some((at(9), 2.0))
    );
    let large: Vec<Fill> = (0..2_000).map(|i| fill(i, i, 3.0)).collect();
    assert!(records.save_all(&large).await.expect("copy").is_complete());
    assert_eq!(t.count("fills").await, 2_000);
    let e = records.append(&fill(1, 10, 1.0)).await.expect_err("append");
    assert_config(&e, "PRIMARY KEY (id, ts)");
    let e = records
        .append_all(&large)
        .await
        .expect_err("append_all (COPY)");
    assert_config(&e, "record table");
    assert_eq!(t.count("fills").await, 2_000);
    t.finish().await;
}

#[tokio::test]
async fn a_series_keyed_by_its_id_alone_is_refused_before_it_loses_rows() {
    // The layout of the trading migrations before 20251101000003 (and of create_table before
    // the fix): a time series with PRIMARY KEY (id).
    let Some(t) = connect("pgk_old", |o| o).await else {
        return;
    };
    t.sql(
        "CREATE TABLE fills (id BIGINT PRIMARY KEY, ts TIMESTAMPTZ NOT NULL, \
         venue TEXT COLLATE \"C\" NOT NULL, price DOUBLE PRECISION NOT NULL, pad TEXT NOT NULL)",
    )
    .await;
    let repo: Repository<Fill, Postgres> = Repository::new(t.pg.clone());
    let e = repo.append(&fill(1, 0, 1.0)).await.expect_err("append");
    assert_config(&e, "ALTER TABLE fills");
    assert_eq!(t.count("fills").await, 0);
    // Re-keyed as dal derives it, the same handle appends (the key is read again after DDL).
    t.sql("ALTER TABLE fills DROP CONSTRAINT fills_pkey, ADD PRIMARY KEY (id, ts)")
        .await;
    t.pg.create_table::<Fill>()
        .await
        .expect("create_table: exists");
    repo.append(&fill(1, 0, 1.0)).await.expect("append");
    repo.append(&fill(1, 1, 1.0)).await.expect("append");
    assert_eq!(t.count("fills").await, 2);
    t.finish().await;
}

#[tokio::test]
async fn a_table_without_the_key_writes_conflict_on_is_a_configuration_error() {
    let Some(t) = connect("pgk_nokey", |o| o).await else {
        return;
    };
    t.sql(
        "CREATE TABLE fills (id BIGINT NOT NULL, ts TIMESTAMPTZ NOT NULL, \
         venue TEXT COLLATE \"C\" NOT NULL, price DOUBLE PRECISION NOT NULL, pad TEXT NOT NULL)",
    )
    .await;
    let repo: Repository<Fill, Postgres> = Repository::new(t.pg.clone());
    let e = repo.append(&fill(1, 0, 1.0)).await.expect_err("no key");
    assert_config(&e, "no unique key on (id, ts)");
    let e = repo.save(&fill(1, 0, 1.0)).await.expect_err("no key");
    assert_config(&e, "no unique key on (id)");
    // A bulk COPY would have added duplicates without a key to conflict on: refused too.
    let large: Vec<Fill> = (0..2_000).map(|i| fill(i % 10, 0, 1.0)).collect();
    let e = repo.append_all(&large).await.expect_err("no key");
    assert_config(&e, "PRIMARY KEY (id, ts)");
    assert_eq!(t.count("fills").await, 0);
    // A unique index (not a primary key) on (id, ts) is a key dal can upsert on.
    t.sql("CREATE UNIQUE INDEX fills_key ON fills (ts, id)")
        .await;
    t.pg.create_table::<Fill>()
        .await
        .expect("create_table: exists");
    assert!(
        repo.append_all(&large)
            .await
            .expect("append_all")
            .is_complete()
    );
    assert_eq!(t.count("fills").await, 10);
    t.finish().await;
}

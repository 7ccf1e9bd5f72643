//! Postgres batches against the real server: per-item outcome on both write paths (binary COPY
//! for large batches, UNNEST for small ones), server-side rejections isolated by bisection,
//! upserts of existing keys, repeated keys, and batches rejected as a whole leaving nothing.

mod postgres_common;

use chrono::{DateTime, Utc};
use dal::{
    Entity, Error, RecordStore, Repository, TimeSeriesStore, Transaction, TransactionalBackend,
};
use dal_backends::postgres::{PgTx, Postgres};
use postgres_common::{TestPg, connect};

#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "items")]
struct Item {
    #[entity(id)]
    id: i64,
    #[entity(max_len = 8)]
    code: String,
    qty: i32,
    note: Option<String>,
    /// Makes rows large enough (~270 B) that LARGE rows take both COPY paths (>= 4 MiB).
    pad: String,
}

/// A time series without ids: every append is a new row.
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "events")]
struct Event {
    #[entity(timestamp)]
    ts: DateTime<Utc>,
    #[entity(symbol)]
    kind: String,
    value: f64,
}

/// Enough rows to encode past the backend's COPY thresholds (1 MiB direct, 4 MiB staged).
const LARGE: i64 = 20_000;

fn item(id: i64) -> Item {
    Item {
        id,
        code: format!("c{}", id % 1000),
        qty: 1,
        note: None,
        pad: "p".repeat(220),
    }
}

async fn setup(prefix: &str) -> Option<TestPg> {
    let t = connect(prefix, |o| o).await?;
    t.pg.create_table::<Item>().await.expect("items");
    t.pg.create_table::<Event>().await.expect("events");
    // A rule only the server knows: bisection has to find the rows it rejects.
    t.sql("ALTER TABLE items ADD CONSTRAINT qty_non_negative CHECK (qty >= 0)")
        .await;
    Some(t)
}

/// Items 0..n with four bad ones: too long a code, a NUL, two negative quantities.
fn batch_with_bad_rows(n: i64, bad: [usize; 4]) -> Vec<Item> {
    let mut rows: Vec<Item> = (0..n).map(item).collect();
    rows[bad[0]].code = "much too long".to_owned();
    rows[bad[1]].note = Some("nul\0inside".to_owned());
    rows[bad[2]].qty = -1;
    rows[bad[3]].qty = -5;
    rows
}

async fn check_partial_failure(t: &TestPg, n: i64, bad: [usize; 4]) {
    let repo: Repository<Item, Postgres> = Repository::new(t.pg.clone());
    let rows = batch_with_bad_rows(n, bad);
    let report = repo.save_all(&rows).await.expect("save_all");
    let failed: Vec<usize> = report.failed.iter().map(|(i, _)| *i).collect();
    assert_eq!(failed, bad, "every rejected item is reported, ascending");
    assert_eq!(report.written, n as usize - 4);
    assert!(
        matches!(
            &report.failed[0].1,
            Error::Validation {
                entity: "Item",
                field: Some("code"),
                ..
            }
        ),
        "{:?}",
        report.failed[0].1
    );
    assert!(
        matches!(
            &report.failed[1].1,
            Error::Validation {
                entity: "Item",
                field: Some("note"),
                ..
            }
        ),
        "{:?}",
        report.failed[1].1
    );
    for (_, e) in &report.failed[2..] {
        assert!(
            matches!(e, Error::Validation { entity: "Item", .. })
                && e.to_string().contains("qty_non_negative"),
            "the server's rejection names the entity and the constraint: {e}"
        );
    }
    assert_eq!(t.count("items").await, n - 4);
    for i in bad {
        assert_eq!(repo.get(&(i as i64)).await.expect("get"), None);
    }
    let good = (0..n as usize)
        .find(|i| !bad.contains(i))
        .expect("a good row");
    assert_eq!(
        repo.get(&(good as i64)).await.expect("get"),
        Some(rows[good].clone())
    );
}

#[tokio::test]
async fn large_batch_reports_rejected_rows_and_writes_the_rest() {
    let Some(t) = setup("pgb_large").await else {
        return;
    };
    check_partial_failure(&t, LARGE, [10, 20, 15_000, 19_999]).await;
    t.finish().await;
}

#[tokio::test]
async fn small_batch_reports_rejected_rows_and_writes_the_rest() {
    let Some(t) = setup("pgb_small").await else {
        return;
    };
    check_partial_failure(&t, 10, [0, 3, 4, 9]).await;
    t.finish().await;
}

#[tokio::test]
async fn upserts_update_existing_keys_and_the_last_repeated_key_wins() {
    let Some(t) = setup("pgb_upsert").await else {
        return;
    };
    let repo: Repository<Item, Postgres> = Repository::new(t.pg.clone());
    let first: Vec<Item> = (0..LARGE).map(item).collect();
    assert!(repo.save_all(&first).await.expect("first").is_complete());
    // Same keys again (the COPY straight into the table meets existing keys, and the batch is
    // upserted through the stage instead), plus 1,000 new keys, one row the server rejects.
    let mut second: Vec<Item> = (0..LARGE + 1_000)
        .map(|i| Item { qty: 2, ..item(i) })
        .collect();
    second[77].qty = -1;
    let report = repo.save_all(&second).await.expect("second");
    let failed: Vec<usize> = report.failed.iter().map(|(i, _)| *i).collect();
    assert_eq!(failed, [77]);
    assert_eq!(t.count("items").await, LARGE + 1_000);
    let qty = |id: i64| {
        let repo = repo.clone();
        async move { repo.get(&id).await.expect("get").map(|i| i.qty) }
    };
    assert_eq!(qty(77).await, Some(1), "rejected: unchanged");
    assert_eq!(qty(LARGE - 1).await, Some(2));
    // Once more (now straight through the stage), with key 5 twice more at the end.
    let mut third: Vec<Item> = (0..LARGE).map(|i| Item { qty: 3, ..item(i) }).collect();
    third.push(Item {
        qty: 998,
        ..item(5)
    });
    third.push(Item {
        qty: 999,
        ..item(5)
    });
    let report = repo.save_all(&third).await.expect("third");
    assert!(report.is_complete(), "{:?}", report.failed);
    assert_eq!(
        report.written,
        LARGE as usize + 2,
        "repeated keys count as written"
    );
    assert_eq!(qty(5).await, Some(999));
    assert_eq!(qty(LARGE - 1).await, Some(3));
    // And a clean one, all through the stage.
    let fourth: Vec<Item> = (0..LARGE).map(|i| Item { qty: 4, ..item(i) }).collect();
    assert!(repo.save_all(&fourth).await.expect("fourth").is_complete());
    assert_eq!(qty(5).await, Some(4));
    assert_eq!(t.count("items").await, LARGE + 1_000);
    // Small batch with a repeated key (UNNEST path).
    let small = [Item { qty: 7, ..item(1) }, Item { qty: 8, ..item(1) }];
    assert!(repo.save_all(&small).await.expect("small").is_complete());
    assert_eq!(repo.get(&1).await.expect("get").map(|i| i.qty), Some(8));
    t.finish().await;
}

#[tokio::test]
async fn a_batch_rejected_as_a_whole_leaves_nothing() {
    let Some(t) = setup("pgb_whole").await else {
        return;
    };
    // An error that is not about a row (SQLSTATE class P0): the batch fails as a whole.
    t.sql(
        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN
             IF NEW.qty = 666 THEN RAISE EXCEPTION 'refused by trigger'; END IF;
             RETURN NEW;
         END $$ LANGUAGE plpgsql;
         CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .await;
    let repo: Repository<Item, Postgres> = Repository::new(t.pg.clone());
    for n in [LARGE, 10] {
        let mut rows: Vec<Item> = (0..n).map(item).collect();
        rows[n as usize - 2].qty = 666;
        let e = repo
            .save_all(&rows)
            .await
            .expect_err("the batch is refused");
        assert!(e.to_string().contains("refused by trigger"), "{e}");
        assert_eq!(
            t.count("items").await,
            0,
            "nothing of a {n}-row batch is written"
        );
    }
    t.finish().await;
}

#[tokio::test]
async fn batches_inside_a_transaction_keep_it_usable() {
    let Some(t) = setup("pgb_tx").await else {
        return;
    };
    let tx: PgTx = t.pg.begin().await.expect("begin");
    let items: Repository<Item, PgTx> = Repository::new(tx.clone());
    for n in [10, LARGE] {
        let rows = batch_with_bad_rows(n, [1, 2, 3, 4]);
        let report = items.save_all(&rows).await.expect("save_all in tx");
        assert_eq!(report.failed.len(), 4);
        // Still usable after the server rejected rows inside it.
        items
            .save(&item(1_000_000 + n))
            .await
            .expect("save after the batch");
    }
    assert_eq!(t.count("items").await, 0, "invisible before commit");
    tx.commit().await.expect("commit");
    // Ids 0..LARGE (the second batch upserts the first's), minus the 4 bad ones, plus 2 saves.
    assert_eq!(t.count("items").await, LARGE - 4 + 2);
    t.finish().await;
}

#[tokio::test]
async fn append_all_without_ids_inserts_every_row() {
    let Some(t) = setup("pgb_events").await else {
        return;
    };
    let events: Repository<Event, Postgres> = Repository::new(t.pg.clone());
    let at = DateTime::from_timestamp(1_700_000_000, 0).expect("ts");
    let mut rows: Vec<Event> = (0..40_000)
        .map(|i| Event {
            ts: at,
            kind: "fill".to_owned(),
            value: f64::from(i),
        })
        .collect();
    rows[7].kind = "bad\0kind".to_owned();
    let report = events.append_all(&rows).await.expect("append_all");
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, 7);
    // The same rows again: without ids nothing deduplicates.
    events.append_all(&rows[..10]).await.expect("again");
    assert_eq!(t.count("events").await, 39_999 + 9);
    let nested = t.pg.begin().await.expect("begin");
    let sp = nested.begin().await.expect("savepoint");
    Repository::<Event, PgTx>::new(sp.clone())
        .append_all(&rows[20..30])
        .await
        .expect("append in savepoint");
    sp.rollback().await.expect("rollback savepoint");
    nested.commit().await.expect("commit");
    assert_eq!(t.count("events").await, 39_999 + 9);
    t.finish().await;
}

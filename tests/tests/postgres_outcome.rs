//! Writes whose reply is lost: a proxy in front of the server forwards a `COMMIT` (or the
//! statement, or the end of a `COPY`, of an insert that is not repeated), lets the server finish
//! it, and cuts the connection before the reply reaches the client. dal then reports
//! `OutcomeUnknown` (not transient: a blind retry could apply the writes twice) and the server
//! really has the data. A connection lost before anything could be committed stays a transient
//! `Unavailable`, with nothing stored.

mod postgres_common;

use chrono::{DateTime, Utc};
use dal::{Entity, Error, RecordStore, Repository, RetryPolicy, TimeSeriesStore, Transaction};
use dal_backends::postgres::{PgTx, Postgres, PostgresOptions};
use postgres_common::proxy::{self, Cut, Proxy};
use postgres_common::{TestPg, connect};

#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "orders")]
struct Order {
    #[entity(id)]
    id: i64,
    qty: i64,
}

/// A time series without ids: an append is a plain insert, never repeated by dal.
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "events")]
struct Event {
    #[entity(timestamp)]
    ts: DateTime<Utc>,
    #[entity(symbol)]
    kind: String,
    value: f64,
}

fn event(i: i64) -> Event {
    Event {
        ts: DateTime::from_timestamp(1_700_000_000 + i, 0).expect("ts"),
        kind: format!("k{}", i % 5),
        value: i as f64,
    }
}

/// The test's schema and tables, and a second backend on the same schema through a proxy.
async fn setup(prefix: &str) -> Option<(TestPg, Proxy, Postgres)> {
    let t = connect(prefix, |o| o).await?;
    t.pg.create_table::<Order>().await.expect("orders");
    t.pg.create_table::<Event>().await.expect("events");
    let url = dal_tests::store_url("DATABASE_URL")?;
    let proxy = Proxy::start(proxy::upstream(&url).await).await;
    let through = Postgres::connect_with(
        PostgresOptions::new(proxy.url(&url))
            .schema(t.schema.clone())
            .max_connections(2),
    )
    .await
    .expect("connect through the proxy");
    Some((t, proxy, through))
}

fn assert_unknown(e: &Error, operation: &str) {
    match e {
        Error::OutcomeUnknown { operation: op, .. } if op.contains(operation) => {}
        other => panic!("expected OutcomeUnknown for {operation}, got {other:?}"),
    }
    assert!(
        !e.is_transient(),
        "an unknown outcome is not retried blindly"
    );
}

#[tokio::test]
async fn a_commit_whose_reply_is_lost_has_an_unknown_outcome_and_is_committed() {
    let Some((t, proxy, through)) = setup("pgo_commit").await else {
        return;
    };
    let tx: PgTx = through.begin().await.expect("begin");
    let orders: Repository<Order, PgTx> = Repository::new(tx.clone());
    orders.save(&Order { id: 1, qty: 10 }).await.expect("save");
    orders.save(&Order { id: 2, qty: 20 }).await.expect("save");
    proxy.arm(Cut::Commit);
    let e = tx.commit().await.expect_err("the reply to COMMIT is lost");
    assert_eq!(proxy.cuts(), 1, "the proxy cut at the COMMIT");
    assert_unknown(&e, "commit");
    // The retry policy hands it back at once instead of running the transaction again.
    let mut attempts = 0;
    let retried: Result<(), Error> = RetryPolicy::default()
        .run(|| {
            attempts += 1;
            let e = Error::outcome_unknown("postgres", "commit", "lost");
            async move { Err(e) }
        })
        .await;
    assert!(retried.is_err());
    assert_eq!(attempts, 1);
    // The server did commit.
    assert_eq!(t.count("orders").await, 2);
    // The backend goes on with a fresh connection.
    let repo: Repository<Order, Postgres> = Repository::new(through.clone());
    repo.save(&Order { id: 3, qty: 30 })
        .await
        .expect("save after");
    assert_eq!(t.count("orders").await, 3);
    through.close().await;
    t.finish().await;
}

#[tokio::test]
async fn a_connection_lost_before_commit_is_unavailable_and_stores_nothing() {
    let Some((t, proxy, through)) = setup("pgo_before").await else {
        return;
    };
    let tx: PgTx = through.begin().await.expect("begin");
    let orders: Repository<Order, PgTx> = Repository::new(tx.clone());
    orders.save(&Order { id: 1, qty: 10 }).await.expect("save");
    // The second statement's reply is lost: the transaction dies with its connection.
    proxy.arm(Cut::Statement("DELETE FROM \"orders\"".to_owned()));
    let e = orders.delete(&1).await.expect_err("connection lost");
    assert_eq!(proxy.cuts(), 1);
    assert!(
        matches!(e, Error::Unavailable { .. }) && e.is_transient(),
        "{e:?}"
    );
    // COMMIT is not even sent: nothing could be committed, so this is transient too.
    let e = tx.commit().await.expect_err("the transaction is gone");
    assert!(
        matches!(e, Error::Unavailable { .. }) && e.is_transient(),
        "{e:?}"
    );
    assert_eq!(t.count("orders").await, 0);
    through.close().await;
    t.finish().await;
}

#[tokio::test]
async fn an_append_without_ids_whose_reply_is_lost_has_an_unknown_outcome() {
    let Some((t, proxy, through)) = setup("pgo_append").await else {
        return;
    };
    let events: Repository<Event, Postgres> = Repository::new(through.clone());
    proxy.arm(Cut::Statement("INSERT INTO \"events\"".to_owned()));
    let e = events.append(&event(1)).await.expect_err("reply lost");
    assert_eq!(proxy.cuts(), 1);
    assert_unknown(&e, "append of Event");
    assert_eq!(t.count("events").await, 1, "stored once, not repeated");
    through.close().await;
    t.finish().await;
}

#[tokio::test]
async fn an_append_all_without_ids_whose_reply_is_lost_has_an_unknown_outcome() {
    let Some((t, proxy, through)) = setup("pgo_batch").await else {
        return;
    };
    let events: Repository<Event, Postgres> = Repository::new(through.clone());
    // A small batch: one INSERT .. SELECT FROM UNNEST statement.
    proxy.arm(Cut::Statement("UNNEST".to_owned()));
    let small: Vec<Event> = (0..10).map(event).collect();
    let e = events.append_all(&small).await.expect_err("reply lost");
    assert_unknown(&e, "append_all of Event");
    assert_eq!(t.count("events").await, 10);
    // A large batch: one binary COPY, cut after its end (CopyDone) reached the server.
    proxy.arm(Cut::CopyDone);
    let large: Vec<Event> = (0..40_000).map(event).collect();
    let e = events.append_all(&large).await.expect_err("reply lost");
    assert_unknown(&e, "append_all of Event");
    assert_eq!(proxy.cuts(), 2);
    assert_eq!(t.count("events").await, 40_010);
    // An upsert (a record save) is idempotent: dal repeats it on another connection, and the
    // caller sees success.
    let orders: Repository<Order, Postgres> = Repository::new(through.clone());
    proxy.arm(Cut::Statement("INSERT INTO \"orders\"".to_owned()));
    orders
        .save(&Order { id: 9, qty: 1 })
        .await
        .expect("retried");
    assert_eq!(proxy.cuts(), 3);
    assert_eq!(t.count("orders").await, 1);
    through.close().await;
    t.finish().await;
}

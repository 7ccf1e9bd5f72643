//! Postgres failures, simulated without touching the shared server: a closed port at start,
//! the backend's server connections terminated (`pg_terminate_backend`) while idle, mid-batch and
//! inside a transaction, and a closed pool. Failures are transient, the pool recovers, retried
//! upserts are idempotent and no batch is ever half-written.

mod postgres_common;

use std::time::Duration;

use dal::{Backend, Entity, Error, RecordStore, Repository, RetryPolicy, Transaction};
use dal_backends::postgres::{PgTx, Postgres, PostgresOptions};
use postgres_common::{TestPg, connect};

#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "orders")]
struct Order {
    #[entity(id)]
    id: i64,
    symbol: String,
    qty: i64,
}

fn order(id: i64) -> Order {
    Order {
        id,
        symbol: format!("SYM{}", id % 7),
        qty: id * 10,
    }
}

async fn setup(prefix: &str) -> Option<TestPg> {
    let t = connect(prefix, |o| o).await?;
    t.pg.create_table::<Order>().await.expect("orders");
    Some(t)
}

#[tokio::test]
async fn server_down_at_start_is_transient_and_hides_the_password() {
    // Port 1 on localhost: nothing listens, the connection is refused (postgres_connect.rs
    // checks what the error says and that it comes without waiting for the acquire timeout).
    let e = Postgres::connect_with(
        PostgresOptions::new("postgres://app:hunter2@127.0.0.1:1/test")
            .acquire_timeout(Duration::from_millis(300)),
    )
    .await
    .expect_err("nothing listens on port 1");
    assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
    assert!(e.is_transient());
    assert!(!format!("{e} {e:?}").contains("hunter2"));
}

#[tokio::test]
async fn debug_output_never_shows_the_password() {
    let Some(url) = dal_tests::store_url("DATABASE_URL") else {
        return;
    };
    // Trust auth ignores the password, so a URL with one still connects.
    let with_password = url.replacen("postgres://postgres@", "postgres://postgres:hunter2@", 1);
    let pg = Postgres::connect(&with_password).await.expect("connect");
    let shown = format!("{pg:?}");
    assert!(
        !shown.contains("hunter2") && shown.contains("***"),
        "{shown}"
    );
    pg.close().await;
}

#[tokio::test]
async fn terminated_idle_connections_recover_and_retried_upserts_are_idempotent() {
    let Some(t) = setup("pgf_idle").await else {
        return;
    };
    let repo: Repository<Order, Postgres> = Repository::new(t.pg.clone());
    // Open several connections so the pool holds more than one idle one.
    let warm: Vec<_> = (0..4)
        .map(|i| {
            let repo = repo.clone();
            tokio::spawn(async move { repo.save(&order(i)).await })
        })
        .collect();
    for w in warm {
        w.await.expect("task").expect("save");
    }
    assert!(t.kill_connections().await >= 1);

    // Every following operation succeeds or fails transiently; the pool recovers at once.
    let mut errors = Vec::new();
    for i in 0..20 {
        let r = if i % 2 == 0 {
            repo.get(&1).await.map(|_| ())
        } else {
            repo.save(&order(100)).await
        };
        if let Err(e) = r {
            assert!(
                e.is_transient(),
                "after a kill, errors are transient: {e:?}"
            );
            errors.push(e);
        }
    }
    assert!(
        errors.len() <= 1,
        "the pool recovers after at most one error: {errors:?}"
    );
    assert!(t.pg.health_check().await.is_ok());

    // A retried upsert (the policy re-runs it after each transient error) stores one row.
    t.kill_connections().await;
    let policy = RetryPolicy::default();
    let seven = order(7);
    for _ in 0..3 {
        policy
            .run(|| repo.save(&seven))
            .await
            .expect("retried save");
    }
    assert_eq!(repo.get(&7).await.expect("get"), Some(order(7)));
    let sevens: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE id = 7")
        .fetch_one(&t.admin)
        .await
        .expect("count");
    assert_eq!(sevens, 1);
    t.finish().await;
}

#[tokio::test]
async fn a_batch_killed_midway_is_all_or_nothing() {
    let Some(t) = setup("pgf_batch").await else {
        return;
    };
    let repo: Repository<Order, Postgres> = Repository::new(t.pg.clone());
    let rows: Vec<Order> = (0..50_000).map(order).collect();
    let writer = {
        let repo = repo.clone();
        let rows = rows.clone();
        tokio::spawn(async move { repo.save_all(&rows).await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    t.kill_connections().await;
    let result = writer.await.expect("task");
    let stored = t.count("orders").await;
    match result {
        Ok(report) => {
            assert!(report.is_complete());
            assert_eq!(
                stored, 50_000,
                "a successful batch (first try or retried) is complete"
            );
        }
        Err(e) => {
            assert!(e.is_transient(), "{e:?}");
            assert_eq!(stored, 0, "a failed batch leaves nothing");
        }
    }
    t.finish().await;
}

#[tokio::test]
async fn a_transaction_killed_before_commit_stores_nothing() {
    let Some(t) = setup("pgf_tx").await else {
        return;
    };
    let tx = t.pg.begin().await.expect("begin");
    Repository::<Order, PgTx>::new(tx.clone())
        .save(&order(1))
        .await
        .expect("save in tx");
    t.kill_connections().await;
    let e = tx
        .commit()
        .await
        .expect_err("the transaction's connection is gone");
    assert!(e.is_transient(), "{e:?}");
    assert_eq!(t.count("orders").await, 0);
    // The pool hands out fresh connections afterwards.
    let repo: Repository<Order, Postgres> = Repository::new(t.pg.clone());
    repo.save(&order(2)).await.expect("save after");
    assert_eq!(t.count("orders").await, 1);
    t.finish().await;
}

#[tokio::test]
async fn a_closed_pool_is_unavailable() {
    let Some(t) = setup("pgf_closed").await else {
        return;
    };
    t.pg.close().await;
    let e = t.pg.health_check().await.expect_err("closed");
    assert!(
        matches!(e, Error::Unavailable { .. }) && e.is_transient(),
        "{e:?}"
    );
    let e = Repository::<Order, Postgres>::new(t.pg.clone())
        .get(&1)
        .await
        .expect_err("closed");
    assert!(e.is_transient(), "{e:?}");
    t.finish().await;
}

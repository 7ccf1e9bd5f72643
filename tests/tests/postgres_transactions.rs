//! Postgres transactions against the real server: two entities in one transaction, rollback on
//! drop (and the connection goes back to the pool clean), nested savepoints, finished handles,
//! and SQLSTATEs mapped to the right error categories.

mod postgres_common;

use chrono::{DateTime, Utc};
use dal::{
    Entity, Error, RecordStore, Repository, TimeSeriesStore, Transaction, TransactionalBackend,
};
use dal_backends::postgres::{PgTx, Postgres};
use postgres_common::{TestPg, connect};

#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "accounts")]
struct Account {
    #[entity(id)]
    id: i64,
    owner: String,
    balance: i64,
    /// Read by a test trigger as the SQLSTATE to raise.
    note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "ledger")]
struct Entry {
    #[entity(id)]
    id: i64,
    #[entity(timestamp)]
    at: DateTime<Utc>,
    account: i64,
    amount: i64,
}

fn account(id: i64, balance: i64) -> Account {
    Account {
        id,
        owner: format!("owner{id}"),
        balance,
        note: None,
    }
}

fn entry(id: i64, account: i64, amount: i64) -> Entry {
    Entry {
        id,
        at: DateTime::from_timestamp(1_700_000_000 + id, 0).expect("ts"),
        account,
        amount,
    }
}

async fn setup(prefix: &str, max_connections: u32) -> Option<TestPg> {
    let t = connect(prefix, |o| o.max_connections(max_connections)).await?;
    t.pg.create_table::<Account>().await.expect("accounts");
    t.pg.create_table::<Entry>().await.expect("ledger");
    Some(t)
}

#[tokio::test]
async fn commit_spans_two_entities_and_drop_rolls_back() {
    // One connection: the dropped transaction's connection must come back clean.
    let Some(t) = setup("pgt_two", 1).await else {
        return;
    };
    let tx = t.pg.begin().await.expect("begin");
    Repository::<Account, PgTx>::new(tx.clone())
        .save(&account(1, 100))
        .await
        .expect("save");
    Repository::<Entry, PgTx>::new(tx.clone())
        .append(&entry(1, 1, 100))
        .await
        .expect("append");
    let other_clone = tx.clone();
    drop(tx);
    assert_eq!(t.count("accounts").await, 0, "not visible before commit");
    drop(other_clone); // the last clone: rolled back

    let accounts: Repository<Account, Postgres> = Repository::new(t.pg.clone());
    accounts
        .save(&account(2, 5))
        .await
        .expect("save on the pool");
    // Seen from another connection: the pooled connection is not inside a leftover transaction.
    assert_eq!(t.count("accounts").await, 1);
    assert_eq!(t.count("ledger").await, 0);

    let tx = t.pg.begin().await.expect("begin");
    Repository::<Account, PgTx>::new(tx.clone())
        .save(&account(3, 7))
        .await
        .expect("save");
    Repository::<Entry, PgTx>::new(tx.clone())
        .append(&entry(2, 3, 7))
        .await
        .expect("append");
    tx.commit().await.expect("commit");
    assert_eq!(t.count("accounts").await, 2);
    assert_eq!(t.count("ledger").await, 1);
    t.finish().await;
}

#[tokio::test]
async fn savepoints_roll_back_only_their_own_writes() {
    let Some(t) = setup("pgt_sp", 2).await else {
        return;
    };
    let tx = t.pg.begin().await.expect("begin");
    let repo = |b: &PgTx| Repository::<Account, PgTx>::new(b.clone());
    repo(&tx).save(&account(1, 1)).await.expect("A");

    let sp = tx.begin().await.expect("savepoint");
    repo(&sp).save(&account(2, 2)).await.expect("B");
    assert!(
        repo(&tx).get(&2).await.expect("get").is_some(),
        "the outer handle sees inside"
    );
    sp.rollback().await.expect("rollback B");

    let sp = tx.begin().await.expect("savepoint");
    repo(&sp).save(&account(3, 3)).await.expect("C");
    let inner = sp.begin().await.expect("nested savepoint");
    repo(&inner).save(&account(4, 4)).await.expect("D");
    inner.commit().await.expect("release D into C's savepoint");
    drop(sp); // C and D rolled back together

    let sp = tx.begin().await.expect("savepoint");
    repo(&sp).save(&account(5, 5)).await.expect("E");
    sp.commit().await.expect("release E");

    tx.commit().await.expect("commit");
    let mut ids: Vec<i64> = Vec::new();
    for id in 1..=5 {
        if Repository::<Account, Postgres>::new(t.pg.clone())
            .get(&id)
            .await
            .expect("get")
            .is_some()
        {
            ids.push(id);
        }
    }
    assert_eq!(ids, [1, 5]);
    t.finish().await;
}

#[tokio::test]
async fn a_finished_transaction_rejects_further_use() {
    let Some(t) = setup("pgt_done", 2).await else {
        return;
    };
    let tx = t.pg.begin().await.expect("begin");
    let keep = tx.clone();
    tx.commit().await.expect("commit");
    let e = Repository::<Account, PgTx>::new(keep.clone())
        .save(&account(1, 1))
        .await
        .expect_err("committed");
    assert!(
        matches!(e, Error::Validation { .. }) && e.to_string().contains("already committed"),
        "{e}"
    );
    assert!(keep.rollback().await.is_err());
    t.finish().await;
}

#[tokio::test]
async fn sqlstates_map_to_error_categories() {
    let Some(t) = setup("pgt_codes", 2).await else {
        return;
    };
    t.sql("CREATE UNIQUE INDEX accounts_owner ON accounts (owner)")
        .await;
    // Raises the SQLSTATE written in `note` (a way to produce any server error on demand).
    t.sql(
        "CREATE FUNCTION raise_note() RETURNS trigger AS $$ BEGIN
             IF NEW.note IS NOT NULL THEN RAISE EXCEPTION 'simulated %', NEW.note USING ERRCODE = NEW.note; END IF;
             RETURN NEW;
         END $$ LANGUAGE plpgsql;
         CREATE TRIGGER raise_note BEFORE INSERT OR UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION raise_note();",
    )
    .await;
    let repo: Repository<Account, Postgres> = Repository::new(t.pg.clone());
    repo.save(&account(1, 1)).await.expect("save");
    let dup = Account {
        owner: "owner1".to_owned(),
        ..account(2, 1)
    };
    let e = repo.save(&dup).await.expect_err("unique violation");
    assert!(
        matches!(
            e,
            Error::Conflict {
                entity: "Account",
                transient: false,
                ..
            }
        ),
        "{e:?}"
    );

    type Expect = fn(&Error) -> bool;
    let cases: [(&str, Expect); 5] = [
        ("40001", |e| {
            matches!(
                e,
                Error::Conflict {
                    transient: true,
                    ..
                }
            )
        }),
        ("40P01", |e| {
            matches!(
                e,
                Error::Conflict {
                    transient: true,
                    ..
                }
            )
        }),
        ("57014", |e| matches!(e, Error::Timeout { .. })),
        ("22012", |e| {
            matches!(
                e,
                Error::Validation {
                    entity: "Account",
                    ..
                }
            )
        }),
        ("23514", |e| {
            matches!(
                e,
                Error::Validation {
                    entity: "Account",
                    ..
                }
            )
        }),
    ];
    for (code, expected) in cases {
        let a = Account {
            note: Some(code.to_owned()),
            ..account(10, 1)
        };
        let e = repo.save(&a).await.expect_err(code);
        assert!(expected(&e), "{code}: {e:?}");
        // Inside a transaction the same error arrives, and rollback leaves a clean connection.
        let tx = t.pg.begin().await.expect("begin");
        let e = Repository::<Account, PgTx>::new(tx.clone())
            .save(&a)
            .await
            .expect_err(code);
        assert!(expected(&e), "{code} in a transaction: {e:?}");
        tx.rollback().await.expect("rollback");
    }
    assert!(repo.get(&1).await.expect("pool still fine").is_some());
    t.finish().await;
}

//! Cases for [`TransactionalBackend`]: commit, rollback, rollback on drop, atomicity across two
//! entities, reads of the transaction's own writes.
//!
//! Outside the transaction the cases only read (and write keys the transaction never touches),
//! so a backend with row locks never blocks them.

use super::assert_validation;
use crate::backend::{RecordBackend, Transaction, TransactionalBackend};
use crate::conformance::entities::{Pair, Record};
use crate::query::Filter;
use crate::repository::Repository;
use crate::store::{RecordStore, RecordStoreExt};

fn records<B: RecordBackend>(b: &B) -> Repository<Record, B> {
    Repository::new(b.clone())
}

fn pairs<B: RecordBackend>(b: &B) -> Repository<Pair, B> {
    Repository::new(b.clone())
}

async fn begin<B: TransactionalBackend>(b: &B) -> B::Tx {
    b.begin().await.expect("begin")
}

async fn get<B: RecordBackend>(b: &B, id: &str) -> Option<Record> {
    records(b)
        .get(&id.to_owned())
        .await
        .unwrap_or_else(|e| panic!("get {id:?}: {e}"))
}

fn pair(venue: &str, seq: i64) -> Pair {
    Pair {
        venue: venue.to_owned(),
        seq,
        value: seq as f64,
        label: None,
    }
}

/// Writes are visible outside after commit.
pub async fn commit_makes_writes_visible<B>(b: B)
where
    B: TransactionalBackend + RecordBackend,
    B::Tx: RecordBackend,
{
    let tx = begin(&b).await;
    records(&tx)
        .save(&Record::new("a", "n", 1))
        .await
        .expect("save in tx");
    records(&tx)
        .save(&Record::new("b", "n", 2))
        .await
        .expect("save in tx");
    tx.commit().await.expect("commit");
    assert!(get(&b, "a").await.is_some() && get(&b, "b").await.is_some());
}

/// Before commit, other readers do not see the transaction's writes.
pub async fn writes_are_invisible_until_commit<B>(b: B)
where
    B: TransactionalBackend + RecordBackend,
    B::Tx: RecordBackend,
{
    records(&b)
        .save(&Record::new("before", "old", 1))
        .await
        .expect("save");
    let tx = begin(&b).await;
    records(&tx)
        .save(&Record::new("new", "n", 1))
        .await
        .expect("save in tx");
    records(&tx)
        .save(&Record::new("before", "updated", 2))
        .await
        .expect("update in tx");
    assert_eq!(
        get(&b, "new").await,
        None,
        "uncommitted insert visible outside"
    );
    assert_eq!(
        get(&b, "before").await.map(|r| r.name),
        Some("old".to_owned()),
        "uncommitted update visible outside"
    );
    tx.commit().await.expect("commit");
    assert!(get(&b, "new").await.is_some());
    assert_eq!(
        get(&b, "before").await.map(|r| r.name),
        Some("updated".to_owned())
    );
}

/// After rollback, none of the writes is stored.
pub async fn rollback_discards_writes<B>(b: B)
where
    B: TransactionalBackend + RecordBackend,
    B::Tx: RecordBackend,
{
    records(&b)
        .save(&Record::new("kept", "old", 1))
        .await
        .expect("save");
    let tx = begin(&b).await;
    records(&tx)
        .save(&Record::new("a", "n", 1))
        .await
        .expect("save in tx");
    records(&tx)
        .save(&Record::new("kept", "changed", 2))
        .await
        .expect("update in tx");
    tx.rollback().await.expect("rollback");
    assert_eq!(get(&b, "a").await, None);
    assert_eq!(
        get(&b, "kept").await.map(|r| r.name),
        Some("old".to_owned())
    );
}

/// Dropping the transaction uncommitted rolls it back.
pub async fn drop_rolls_back<B>(b: B)
where
    B: TransactionalBackend + RecordBackend,
    B::Tx: RecordBackend,
{
    {
        let tx = begin(&b).await;
        records(&tx)
            .save(&Record::new("a", "n", 1))
            .await
            .expect("save in tx");
        drop(tx);
    }
    assert_eq!(get(&b, "a").await, None);
    // The backend stays usable after the implicit rollback.
    let tx = begin(&b).await;
    records(&tx)
        .save(&Record::new("b", "n", 2))
        .await
        .expect("save in a new tx");
    tx.commit().await.expect("commit");
    assert!(get(&b, "b").await.is_some());
    assert_eq!(get(&b, "a").await, None);
}

/// Dropping a clone of the handle does not end the transaction.
pub async fn dropping_one_clone_keeps_the_transaction<B>(b: B)
where
    B: TransactionalBackend + RecordBackend,
    B::Tx: RecordBackend,
{
    let tx = begin(&b).await;
    let repo = records(&tx); // holds a clone
    repo.save(&Record::new("a", "n", 1))
        .await
        .expect("save in tx");
    drop(repo);
    records(&tx)
        .save(&Record::new("b", "n", 2))
        .await
        .expect("save after dropping a clone");
    tx.commit().await.expect("commit");
    assert!(get(&b, "a").await.is_some() && get(&b, "b").await.is_some());
}

/// Writes to two entities commit together.
pub async fn multi_entity_commit_is_atomic<B>(b: B)
where
    B: TransactionalBackend + RecordBackend,
    B::Tx: RecordBackend,
{
    let tx = begin(&b).await;
    records(&tx)
        .save(&Record::new("a", "n", 1))
        .await
        .expect("save record in tx");
    pairs(&tx)
        .save(&pair("v", 1))
        .await
        .expect("save pair in tx");
    assert_eq!(get(&b, "a").await, None);
    assert_eq!(
        pairs(&b).get(&("v".to_owned(), 1)).await.expect("get pair"),
        None
    );
    tx.commit().await.expect("commit");
    assert!(get(&b, "a").await.is_some());
    assert!(
        pairs(&b)
            .get(&("v".to_owned(), 1))
            .await
            .expect("get pair")
            .is_some()
    );
}

/// Writes to two entities roll back together.
pub async fn multi_entity_rollback_is_atomic<B>(b: B)
where
    B: TransactionalBackend + RecordBackend,
    B::Tx: RecordBackend,
{
    pairs(&b).save(&pair("v", 0)).await.expect("save pair");
    let tx = begin(&b).await;
    records(&tx)
        .save(&Record::new("a", "n", 1))
        .await
        .expect("save record in tx");
    pairs(&tx)
        .save(&pair("v", 1))
        .await
        .expect("save pair in tx");
    assert!(
        pairs(&tx)
            .delete(&("v".to_owned(), 0))
            .await
            .expect("delete pair in tx")
    );
    tx.rollback().await.expect("rollback");
    assert_eq!(get(&b, "a").await, None);
    let all = pairs(&b).list_all(Filter::all()).await.expect("list pairs");
    assert_eq!(all, [pair("v", 0)]);
}

/// Inside the transaction, reads and listings see its own writes over the committed data.
pub async fn reads_inside_see_own_writes<B>(b: B)
where
    B: TransactionalBackend + RecordBackend,
    B::Tx: RecordBackend,
{
    records(&b)
        .save(&Record::new("a", "n", 1))
        .await
        .expect("save");
    records(&b)
        .save(&Record::new("c", "n", 3))
        .await
        .expect("save");
    let tx = begin(&b).await;
    let inside = records(&tx);
    inside
        .save(&Record::new("b", "n", 2))
        .await
        .expect("save in tx");
    inside
        .save(&Record::new("c", "changed", 3))
        .await
        .expect("update in tx");
    assert_eq!(
        inside
            .get(&"b".to_owned())
            .await
            .expect("get in tx")
            .map(|r| r.rank),
        Some(2)
    );
    let listed: Vec<(String, String)> = inside
        .list_all(Filter::all())
        .await
        .expect("list in tx")
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    let want: Vec<(String, String)> = [("a", "n"), ("b", "n"), ("c", "changed")]
        .iter()
        .map(|(i, n)| ((*i).to_owned(), (*n).to_owned()))
        .collect();
    assert_eq!(listed, want);
    tx.rollback().await.expect("rollback");
}

/// A delete inside a rolled-back transaction leaves the row.
pub async fn delete_inside_is_rolled_back<B>(b: B)
where
    B: TransactionalBackend + RecordBackend,
    B::Tx: RecordBackend,
{
    records(&b)
        .save(&Record::new("a", "n", 1))
        .await
        .expect("save");
    let tx = begin(&b).await;
    assert!(
        records(&tx)
            .delete(&"a".to_owned())
            .await
            .expect("delete in tx")
    );
    assert_eq!(
        records(&tx).get(&"a".to_owned()).await.expect("get in tx"),
        None
    );
    assert!(
        get(&b, "a").await.is_some(),
        "the delete is not visible outside yet"
    );
    tx.rollback().await.expect("rollback");
    assert!(get(&b, "a").await.is_some());
}

/// A rejected write inside a transaction is a typed error, and rolling back leaves nothing.
pub async fn failed_write_inside_then_rollback<B>(b: B)
where
    B: TransactionalBackend + RecordBackend,
    B::Tx: RecordBackend,
{
    let tx = begin(&b).await;
    records(&tx)
        .save(&Record::new("good", "n", 1))
        .await
        .expect("save in tx");
    let mut bad = Record::new("bad", "n", 2);
    bad.code = Some("x".repeat(17));
    assert_validation(
        records(&tx).save(&bad).await,
        "Record",
        Some("code"),
        "too long text in a transaction",
    );
    tx.rollback().await.expect("rollback");
    assert_eq!(get(&b, "good").await, None);
    assert_eq!(get(&b, "bad").await, None);
}

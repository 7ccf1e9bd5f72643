//! What only the memory backend offers: clone semantics, the injectable clock, injected faults,
//! simulated latency, nested transactions. (The shared semantics are pinned by the conformance
//! suite, run in `tests/tests/conformance_memory.rs`.)

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Fault, ManualClock, Memory, MemoryOptions, Op};
use crate::backend::{Backend, Transaction, TransactionalBackend};
use crate::error::Error;
use crate::query::{Cursor, Filter, ListQuery, RangeQuery};
use crate::repository::Repository;
use crate::store::{CacheStore, RecordStore, TimeSeriesStore};
use crate::value::Value;
use crate::{Entity, RecordStoreExt};

#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(crate = "crate", redis(ttl = "5s"))]
struct Item {
    #[entity(id)]
    id: String,
    qty: i64,
}

#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(crate = "crate")]
struct Event {
    #[entity(timestamp)]
    ts: DateTime<Utc>,
    #[entity(symbol)]
    kind: String,
}

fn item(id: &str, qty: i64) -> Item {
    Item {
        id: id.to_owned(),
        qty,
    }
}

fn items(m: &Memory) -> Repository<Item, Memory> {
    Repository::new(m.clone())
}

fn key(id: &str) -> String {
    id.to_owned()
}

#[tokio::test]
async fn clones_share_data_and_new_is_a_fresh_store() {
    let a = Memory::new();
    let b = a.clone();
    items(&a).save(&item("x", 1)).await.unwrap();
    assert_eq!(items(&b).get(&key("x")).await.unwrap(), Some(item("x", 1)));
    assert!(a.same_store(&b));
    let fresh = Memory::new();
    assert!(!fresh.same_store(&a));
    assert_eq!(items(&fresh).get(&key("x")).await.unwrap(), None);
    b.clear();
    assert_eq!(
        items(&a).get(&key("x")).await.unwrap(),
        None,
        "clear empties every clone"
    );
}

#[tokio::test]
async fn record_cache_and_series_tables_are_separate() {
    let m = Memory::new();
    items(&m).save(&item("x", 1)).await.unwrap();
    assert_eq!(
        items(&m).lookup(&key("x")).await.unwrap(),
        None,
        "save is not put"
    );
    items(&m).put(&item("y", 2)).await.unwrap();
    assert_eq!(
        items(&m).get(&key("y")).await.unwrap(),
        None,
        "put is not save"
    );
}

#[tokio::test]
async fn manual_clock_drives_ttl_expiry() {
    let clock = ManualClock::new();
    let m = Memory::with_clock(clock.clone());
    let repo = items(&m);
    repo.put(&item("default", 1)).await.unwrap(); // default TTL 5 s
    repo.put_with_ttl(&item("short", 2), Duration::from_millis(10))
        .await
        .unwrap();
    assert_eq!(
        repo.remaining_ttl(&key("default")).await.unwrap(),
        Some(Duration::from_secs(5))
    );
    clock.advance(Duration::from_millis(9));
    assert!(repo.lookup(&key("short")).await.unwrap().is_some());
    assert_eq!(
        repo.remaining_ttl(&key("short")).await.unwrap(),
        Some(Duration::from_millis(1))
    );
    clock.advance(Duration::from_millis(1));
    assert_eq!(
        repo.lookup(&key("short")).await.unwrap(),
        None,
        "expired exactly at its TTL"
    );
    assert_eq!(repo.remaining_ttl(&key("short")).await.unwrap(), None);
    clock.advance(Duration::from_secs(5));
    assert_eq!(repo.lookup(&key("default")).await.unwrap(), None);
    assert!(
        !repo.invalidate(&key("default")).await.unwrap(),
        "an expired entry does not exist"
    );
}

#[tokio::test(start_paused = true)]
async fn the_system_clock_follows_paused_tokio_time() {
    let m = Memory::new();
    let repo = items(&m);
    repo.put_with_ttl(&item("x", 1), Duration::from_secs(60))
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(59)).await;
    assert!(repo.lookup(&key("x")).await.unwrap().is_some());
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(repo.lookup(&key("x")).await.unwrap(), None);
}

#[tokio::test]
async fn faults_by_op_every_nth_call() {
    let m = Memory::new();
    let repo = items(&m);
    repo.save(&item("x", 1)).await.unwrap();
    m.inject(Fault::on(Op::Get).every(3));
    let outcomes: Vec<bool> = futures_outcomes(&repo, 6).await;
    assert_eq!(outcomes, [true, true, false, true, true, false]);
    repo.save(&item("y", 2))
        .await
        .expect("other operations are untouched");
    m.clear_faults();
    assert!(repo.get(&key("x")).await.is_ok());
}

async fn futures_outcomes(repo: &Repository<Item, Memory>, n: usize) -> Vec<bool> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(repo.get(&key("x")).await.is_ok());
    }
    out
}

#[tokio::test]
async fn transient_and_permanent_faults_are_classified() {
    let m = Memory::with_options(MemoryOptions::new().fault(Fault::on(Op::Save).times(1)));
    let repo = items(&m);
    let transient = repo.save(&item("x", 1)).await.unwrap_err();
    assert!(
        matches!(
            transient,
            Error::Unavailable {
                backend: "memory",
                ..
            }
        ),
        "{transient:?}"
    );
    assert!(transient.is_transient());
    assert_eq!(
        repo.get(&key("x")).await.unwrap(),
        None,
        "a failed save stores nothing"
    );
    repo.save(&item("x", 1))
        .await
        .expect("times(1): the retry succeeds");

    m.inject(Fault::on_ops([Op::Delete, Op::HealthCheck]).permanent());
    let permanent = repo.delete(&key("x")).await.unwrap_err();
    assert!(
        matches!(
            permanent,
            Error::Backend {
                transient: false,
                ..
            }
        ),
        "{permanent:?}"
    );
    assert!(!permanent.is_transient());
    assert!(m.health_check().await.is_err());
    assert!(
        repo.get(&key("x")).await.unwrap().is_some(),
        "the failed delete removed nothing"
    );
}

#[tokio::test]
async fn a_batch_item_fault_rejects_only_that_item() {
    let m = Memory::new();
    m.inject(Fault::on(Op::SaveAll).item(1).permanent());
    let repo = items(&m);
    let report = repo
        .save_all(&[item("a", 1), item("b", 2), item("c", 3)])
        .await
        .unwrap();
    assert_eq!(report.written, 2);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, 1);
    assert!(!report.failed[0].1.is_transient());
    let ids: Vec<String> = repo
        .list_all(Filter::all())
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(ids, ["a", "c"]);
}

#[tokio::test(start_paused = true)]
async fn latency_is_simulated_per_op() {
    let m = Memory::with_options(
        MemoryOptions::new()
            .latency_for(Op::Get, Duration::from_millis(50))
            .latency(Duration::from_millis(5)),
    );
    let repo = items(&m);
    let start = tokio::time::Instant::now();
    repo.save(&item("x", 1)).await.unwrap();
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(5),
        "the global delay"
    );
    let start = tokio::time::Instant::now();
    repo.get(&key("x")).await.unwrap();
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(50),
        "the per-op delay wins"
    );
    m.set_latency(Duration::ZERO);
    let start = tokio::time::Instant::now();
    repo.get(&key("x")).await.unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test]
async fn nested_transactions_are_savepoints() {
    let m = Memory::new();
    let tx = m.begin().await.unwrap();
    items(&m).save(&item("outside", 0)).await.unwrap();
    Repository::<Item, _>::new(tx.clone())
        .save(&item("parent", 1))
        .await
        .unwrap();

    let kept = tx.begin().await.unwrap();
    Repository::<Item, _>::new(kept.clone())
        .save(&item("kept", 2))
        .await
        .unwrap();
    let seen = Repository::<Item, _>::new(kept.clone())
        .get(&key("parent"))
        .await
        .unwrap();
    assert!(seen.is_some(), "a child sees its parent's writes");
    kept.commit().await.unwrap();

    let dropped = tx.begin().await.unwrap();
    Repository::<Item, _>::new(dropped.clone())
        .save(&item("dropped", 3))
        .await
        .unwrap();
    dropped.rollback().await.unwrap();

    let inside = Repository::<Item, _>::new(tx.clone());
    assert!(inside.get(&key("kept")).await.unwrap().is_some());
    assert_eq!(inside.get(&key("dropped")).await.unwrap(), None);
    assert_eq!(
        items(&m).get(&key("kept")).await.unwrap(),
        None,
        "not before the outer commit"
    );
    tx.commit().await.unwrap();
    let ids: Vec<String> = items(&m)
        .list_all(Filter::all())
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(ids, ["kept", "outside", "parent"]);
}

#[tokio::test]
async fn a_finished_transaction_refuses_further_use() {
    let m = Memory::new();
    let tx = m.begin().await.unwrap();
    let clone = tx.clone();
    tx.commit().await.unwrap();
    let err = Repository::<Item, _>::new(clone.clone())
        .save(&item("late", 1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Backend {
                transient: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("already committed"), "{err}");
    assert!(clone.begin().await.is_err());
    assert!(clone.clone().rollback().await.is_err());
    assert_eq!(items(&m).get(&key("late")).await.unwrap(), None);
}

#[tokio::test]
async fn a_failed_commit_rolls_back() {
    let m = Memory::new();
    m.inject(Fault::on(Op::Commit).times(1));
    let tx = m.begin().await.unwrap();
    Repository::<Item, _>::new(tx.clone())
        .save(&item("x", 1))
        .await
        .unwrap();
    let clone = tx.clone();
    let err = tx.commit().await.unwrap_err();
    assert!(err.is_transient());
    assert_eq!(items(&m).get(&key("x")).await.unwrap(), None);
    assert!(clone.commit().await.is_err(), "the transaction is over");
}

#[tokio::test]
async fn transactions_cover_time_series_and_cache() {
    let m = Memory::new();
    let tx = m.begin().await.unwrap();
    let ts = DateTime::from_timestamp(1_000, 0).unwrap();
    Repository::<Event, _>::new(tx.clone())
        .append(&Event {
            ts,
            kind: "k".into(),
        })
        .await
        .unwrap();
    Repository::<Item, _>::new(tx.clone())
        .put(&item("c", 1))
        .await
        .unwrap();
    let all = RangeQuery::new(DateTime::UNIX_EPOCH, ts + chrono::Duration::seconds(1));
    let events: Repository<Event, Memory> = Repository::new(m.clone());
    assert!(events.range(&all).await.unwrap().is_empty());
    assert_eq!(items(&m).lookup(&key("c")).await.unwrap(), None);
    tx.commit().await.unwrap();
    assert_eq!(events.range(&all).await.unwrap().len(), 1);
    assert!(items(&m).lookup(&key("c")).await.unwrap().is_some());
}

#[tokio::test]
async fn concurrent_commits_are_last_writer_wins() {
    let m = Memory::new();
    let first = m.begin().await.unwrap();
    let second = m.begin().await.unwrap();
    Repository::<Item, _>::new(first.clone())
        .save(&item("x", 1))
        .await
        .unwrap();
    Repository::<Item, _>::new(second.clone())
        .save(&item("x", 2))
        .await
        .unwrap();
    Repository::<Item, _>::new(second.clone())
        .save(&item("y", 2))
        .await
        .unwrap();
    first.commit().await.unwrap();
    second.commit().await.expect("no conflict detection");
    assert_eq!(
        items(&m).get(&key("x")).await.unwrap().map(|i| i.qty),
        Some(2)
    );
}

#[tokio::test]
async fn foreign_cursors_never_panic() {
    let m = Memory::new();
    let repo = items(&m);
    repo.save_all(&[item("a", 1), item("b", 2)]).await.unwrap();
    for cursor in [
        vec![],
        vec![Value::I64(5)],
        vec![Value::Text("a".into()), Value::Null],
    ] {
        let q = ListQuery::new(Filter::all(), 10).after(Some(Cursor::from_key_values(cursor)));
        assert!(repo.list(&q).await.is_ok());
    }
    let past_a = ListQuery::new(Filter::all(), 10).after(Some(Cursor::from_key_values(vec![
        Value::Text("a".into()),
        Value::Null,
    ])));
    let ids: Vec<String> = repo
        .list(&past_a)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(ids, ["b"], "a longer cursor is past its prefix");
}

#[tokio::test]
async fn the_backend_reports_its_capabilities() {
    let caps = Memory::new().capabilities();
    assert!(
        caps.transactions
            && caps.ttl_expiry
            && caps.limits.non_finite_floats
            && caps.limits.nul_in_text
    );
    assert!(caps.read_your_writes && caps.time_series_dedup);
    assert_eq!(caps.limits, crate::Limits::NONE);
    assert_eq!(<Memory as Backend>::NAME, "memory");
}

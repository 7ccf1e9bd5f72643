//! Cases for [`CacheBackend`]: put/lookup, default and explicit TTLs, expiry, remaining TTL,
//! invalidation, batches, key injectivity.
//!
//! The expiry case uses a short real TTL (300 ms) and sleeps, so it holds for real servers; the
//! memory backend's default clock follows real time too.

use std::time::Duration;

use super::records::{
    REMOVED_ROUTES, TRICKY_IDS, full_record, route_key, tricky_routes, without_removed,
};
use super::{assert_validation, skip};
use crate::backend::CacheBackend;
use crate::conformance::entities::{Pair, Record, Route};
use crate::error::Error;
use crate::repository::Repository;
use crate::store::CacheStore;

fn cache<B: CacheBackend>(b: &B) -> Repository<Record, B> {
    Repository::new(b.clone())
}

async fn lookup<B: CacheBackend>(b: &B, id: &str) -> Option<Record> {
    cache(b)
        .lookup(&id.to_owned())
        .await
        .unwrap_or_else(|e| panic!("lookup {id:?}: {e}"))
}

async fn ttl<B: CacheBackend>(b: &B, id: &str) -> Option<Duration> {
    cache(b)
        .remaining_ttl(&id.to_owned())
        .await
        .unwrap_or_else(|e| panic!("remaining_ttl {id:?}: {e}"))
}

const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// A cached entity reads back equal.
pub async fn put_then_lookup<B: CacheBackend>(b: B) {
    let r = full_record("a");
    cache(&b).put(&r).await.expect("put");
    assert_eq!(lookup(&b, "a").await, Some(r));
}

/// A key never put reads as `None`; so does its remaining TTL.
pub async fn lookup_missing_is_none<B: CacheBackend>(b: B) {
    assert_eq!(lookup(&b, "missing").await, None);
    assert_eq!(ttl(&b, "missing").await, None);
    cache(&b)
        .put(&Record::new("present", "n", 1))
        .await
        .expect("put");
    assert_eq!(lookup(&b, "presen").await, None, "keys match exactly");
}

/// A second put replaces both the value and the TTL.
pub async fn put_replaces_value_and_ttl<B: CacheBackend>(b: B) {
    let repo = cache(&b);
    repo.put_with_ttl(&Record::new("a", "first", 1), Duration::from_secs(3_600))
        .await
        .expect("put");
    repo.put_with_ttl(&Record::new("a", "second", 2), Duration::from_secs(10))
        .await
        .expect("put again");
    assert_eq!(
        lookup(&b, "a").await.map(|r| r.name),
        Some("second".to_owned())
    );
    let left = ttl(&b, "a").await;
    assert!(
        left.is_some_and(|d| d <= Duration::from_secs(10)),
        "the second TTL applies: {left:?}"
    );
}

/// `put` applies the entity's default TTL (`redis(ttl = "60s")` on [`Record`]).
pub async fn default_ttl_applies<B: CacheBackend>(b: B) {
    cache(&b).put(&Record::new("a", "n", 1)).await.expect("put");
    let left = ttl(&b, "a").await;
    assert!(
        left.is_some_and(|d| d <= DEFAULT_TTL && d > DEFAULT_TTL - Duration::from_secs(10)),
        "remaining TTL {left:?}, default {DEFAULT_TTL:?}"
    );
}

/// An entity without a default TTL ([`Pair`]) is cached without expiry.
pub async fn no_default_ttl_means_no_expiry<B: CacheBackend>(b: B) {
    let repo: Repository<Pair, B> = Repository::new(b.clone());
    let p = Pair {
        venue: "v".to_owned(),
        seq: 1,
        value: 1.5,
        label: None,
    };
    repo.put(&p).await.expect("put");
    let key = ("v".to_owned(), 1);
    assert_eq!(repo.lookup(&key).await.expect("lookup"), Some(p));
    assert_eq!(repo.remaining_ttl(&key).await.expect("remaining_ttl"), None);
}

/// After its TTL, an entry is gone: lookup, lookup_many, remaining_ttl and invalidate agree.
pub async fn explicit_ttl_expires<B: CacheBackend>(b: B) {
    if !b.capabilities().ttl_expiry {
        skip::<B>("explicit_ttl_expires", "ttl_expiry");
        return;
    }
    let repo = cache(&b);
    repo.put_with_ttl(&Record::new("short", "n", 1), Duration::from_millis(300))
        .await
        .expect("put");
    repo.put_with_ttl(&Record::new("long", "n", 2), Duration::from_secs(60))
        .await
        .expect("put");
    assert!(lookup(&b, "short").await.is_some(), "not expired yet");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(lookup(&b, "short").await, None, "expired");
    assert_eq!(ttl(&b, "short").await, None);
    let many = repo
        .lookup_many(&["short".to_owned(), "long".to_owned()])
        .await
        .expect("lookup_many");
    assert_eq!(
        many.iter().map(Option::is_some).collect::<Vec<_>>(),
        [false, true]
    );
    assert!(
        !repo
            .invalidate(&"short".to_owned())
            .await
            .expect("invalidate"),
        "an expired entry does not exist"
    );
}

/// `remaining_ttl` is at most the TTL given and counts down from it.
pub async fn remaining_ttl_counts_down<B: CacheBackend>(b: B) {
    cache(&b)
        .put_with_ttl(&Record::new("a", "n", 1), Duration::from_secs(30))
        .await
        .expect("put");
    let first = ttl(&b, "a").await.expect("a TTL");
    assert!(
        first <= Duration::from_secs(30) && first > Duration::from_secs(25),
        "{first:?}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = ttl(&b, "a").await.expect("a TTL");
    assert!(second <= first, "{second:?} after {first:?}");
}

/// `invalidate` removes the entry and says whether one existed.
pub async fn invalidate_returns_whether_it_existed<B: CacheBackend>(b: B) {
    let repo = cache(&b);
    repo.put(&Record::new("a", "n", 1)).await.expect("put");
    repo.put(&Record::new("b", "n", 2)).await.expect("put");
    assert!(repo.invalidate(&"a".to_owned()).await.expect("invalidate"));
    assert_eq!(lookup(&b, "a").await, None);
    assert!(
        !repo
            .invalidate(&"a".to_owned())
            .await
            .expect("invalidate again")
    );
    assert!(lookup(&b, "b").await.is_some(), "other entries stay");
}

/// `lookup_many` returns one slot per key, in request order, repeats included.
pub async fn lookup_many_keeps_order<B: CacheBackend>(b: B) {
    let repo = cache(&b);
    repo.put(&Record::new("a", "n", 1)).await.expect("put");
    repo.put(&Record::new("b", "n", 2)).await.expect("put");
    let keys: Vec<String> = ["b", "x", "a", "b"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let got: Vec<Option<i64>> = repo
        .lookup_many(&keys)
        .await
        .expect("lookup_many")
        .into_iter()
        .map(|r| r.map(|r| r.rank))
        .collect();
    assert_eq!(got, [Some(2), None, Some(1), Some(2)]);
    assert!(
        repo.lookup_many(&[])
            .await
            .expect("empty lookup_many")
            .is_empty()
    );
}

/// `put_all` caches every item with the default TTL.
pub async fn put_all_writes_every_item<B: CacheBackend>(b: B) {
    let rows: Vec<Record> = (0..20).map(|i| full_record(&format!("r{i:02}"))).collect();
    let report = cache(&b).put_all(&rows).await.expect("put_all");
    assert!(report.is_complete(), "{:?}", report.failed);
    assert_eq!(report.written, 20);
    let keys: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let got = cache(&b).lookup_many(&keys).await.expect("lookup_many");
    assert_eq!(got, rows.into_iter().map(Some).collect::<Vec<_>>());
    let left = ttl(&b, "r07").await;
    assert!(left.is_some_and(|d| d <= DEFAULT_TTL), "{left:?}");
}

/// One invalid item in `put_all` is reported by index; the others are cached.
pub async fn put_all_reports_partial_failure<B: CacheBackend>(b: B) {
    let mut bad = Record::new("bad", "n", 1);
    bad.code = Some("x".repeat(17));
    let batch = [Record::new("ok0", "n", 0), bad, Record::new("ok2", "n", 2)];
    let report = cache(&b).put_all(&batch).await.expect("put_all");
    let failed: Vec<usize> = report.failed.iter().map(|(i, _)| *i).collect();
    assert_eq!(failed, [1]);
    assert!(
        matches!(
            report.failed[0].1,
            Error::Validation {
                field: Some("code"),
                ..
            }
        ),
        "{:?}",
        report.failed[0].1
    );
    assert_eq!(report.written, 2);
    assert!(lookup(&b, "ok0").await.is_some() && lookup(&b, "ok2").await.is_some());
    assert_eq!(lookup(&b, "bad").await, None);
}

/// A zero TTL is a validation error and caches nothing.
pub async fn zero_ttl_rejected<B: CacheBackend>(b: B) {
    let r = Record::new("a", "n", 1);
    assert_validation(
        cache(&b).put_with_ttl(&r, Duration::ZERO).await,
        "Record",
        None,
        "zero TTL",
    );
    assert_eq!(lookup(&b, "a").await, None);
}

/// Cache keys that differ only by separators, escapes, braces or spaces never collide.
pub async fn cache_keys_never_collide<B: CacheBackend>(b: B) {
    let rows: Vec<Record> = TRICKY_IDS
        .iter()
        .enumerate()
        .map(|(i, id)| Record::new(*id, "n", i as i64))
        .collect();
    let report = cache(&b).put_all(&rows).await.expect("put_all");
    assert!(report.is_complete(), "{:?}", report.failed);
    for r in &rows {
        assert_eq!(
            lookup(&b, &r.id).await.map(|g| g.rank),
            Some(r.rank),
            "id {:?}",
            r.id
        );
    }
    assert!(
        cache(&b)
            .invalidate(&"{a}".to_owned())
            .await
            .expect("invalidate")
    );
    assert!(lookup(&b, "a{b}").await.is_some());
}

/// Cache keys of two text parts that differ only in where a separator, escape or brace sits
/// never collide: each entry reads back with its own value and the entity's default TTL, and
/// invalidating one leaves its look-alikes.
pub async fn cache_text_key_parts_never_collide<B: CacheBackend>(b: B) {
    let repo: Repository<Route, B> = Repository::new(b.clone());
    let routes = tricky_routes();
    let report = repo.put_all(&routes).await.expect("put_all");
    assert!(report.is_complete(), "{:?}", report.failed);
    let all: Vec<Option<Route>> = routes.iter().cloned().map(Some).collect();
    check_cached_routes(&repo, &all).await;
    for r in &routes {
        let key = route_key(r);
        let left = repo.remaining_ttl(&key).await.expect("remaining_ttl");
        assert!(
            left.is_some_and(|d| d <= ROUTE_TTL && d > ROUTE_TTL - Duration::from_secs(10)),
            "remaining TTL of {key:?}: {left:?}, default {ROUTE_TTL:?}"
        );
    }
    for (from, to) in REMOVED_ROUTES {
        let key = ((*from).to_owned(), (*to).to_owned());
        assert!(
            repo.invalidate(&key).await.expect("invalidate"),
            "invalidate {key:?} finds its entry"
        );
    }
    check_cached_routes(&repo, &without_removed(&routes)).await;
    for (from, to) in REMOVED_ROUTES {
        let key = ((*from).to_owned(), (*to).to_owned());
        assert!(
            !repo.invalidate(&key).await.expect("invalidate again"),
            "{key:?} was invalidated already"
        );
    }
}

/// The default TTL of [`Route`] (`redis(ttl = "90s")`).
const ROUTE_TTL: Duration = Duration::from_secs(90);

/// Asserts that each key of the tricky routes reads back as `expected` (same order) through
/// `lookup` and `lookup_many`.
async fn check_cached_routes<B: CacheBackend>(
    repo: &Repository<Route, B>,
    expected: &[Option<Route>],
) {
    let keys: Vec<(String, String)> = tricky_routes().iter().map(route_key).collect();
    for (key, want) in keys.iter().zip(expected) {
        let got = repo
            .lookup(key)
            .await
            .unwrap_or_else(|e| panic!("lookup {key:?}: {e}"));
        assert_eq!(got.as_ref(), want.as_ref(), "lookup {key:?}");
    }
    let many = repo.lookup_many(&keys).await.expect("lookup_many");
    assert_eq!(many, expected, "lookup_many of every key, in order");
}

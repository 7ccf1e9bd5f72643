//! Cases for [`RecordBackend`]: upsert, get, get_many, list with filters and keyset pagination,
//! delete, batches, edge values, concurrency.

use std::collections::HashSet;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::{assert_validation, at_micros, shuffled, skip};
use crate::backend::RecordBackend;
use crate::conformance::entities::{Level, Meta, Pair, Record, Route};
use crate::error::Error;
use crate::query::{Filter, ListQuery, MAX_PAGE_SIZE, Page};
use crate::repository::Repository;
use crate::store::{RecordStore, RecordStoreExt};

fn records<B: RecordBackend>(b: &B) -> Repository<Record, B> {
    Repository::new(b.clone())
}

fn pairs<B: RecordBackend>(b: &B) -> Repository<Pair, B> {
    Repository::new(b.clone())
}

/// A record with every optional field set.
pub fn full_record(id: &str) -> Record {
    Record {
        id: id.to_owned(),
        name: "full".to_owned(),
        rank: 42,
        code: Some("C-1".to_owned()),
        flag: Some(true),
        small: Some(-12),
        medium: Some(123_456),
        large: Some(-9_876_543_210),
        ratio32: Some(1.5),
        ratio: Some(-2.25),
        note: Some("a note".to_owned()),
        uid: Some(Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef)),
        at: Some(at_micros(123_456)),
        amount: Some(Decimal::new(12_345, 2)),
        meta: Some(Meta {
            tags: vec!["x".to_owned(), "y".to_owned()],
            depth: 3,
            label: Some("l".to_owned()),
        }),
        blob: Some(vec![0, 1, 2, 255]),
        level: Some(Level::High),
    }
}

async fn save_each<B: RecordBackend>(b: &B, rows: &[Record]) {
    let repo = records(b);
    for r in rows {
        repo.save(r)
            .await
            .unwrap_or_else(|e| panic!("save {:?}: {e}", r.id));
    }
}

async fn get_record<B: RecordBackend>(b: &B, id: &str) -> Option<Record> {
    records(b)
        .get(&id.to_owned())
        .await
        .unwrap_or_else(|e| panic!("get {id:?}: {e}"))
}

/// Every record matching `filter`, paging with `page_size`; checks the pages' shape.
async fn list_pages<B: RecordBackend>(
    b: &B,
    filter: Filter<Record>,
    page_size: usize,
) -> Vec<Vec<Record>> {
    let repo = records(b);
    let mut query = ListQuery::new(filter, page_size);
    let mut pages = Vec::new();
    loop {
        let Page { items, next } = repo.list(&query).await.expect("list");
        assert!(
            items.len() <= page_size,
            "a page of {} rows exceeds the page size {page_size}",
            items.len()
        );
        let last = next.is_none();
        assert!(
            last || items.len() == page_size,
            "a page before the last one has {} of {page_size} rows",
            items.len()
        );
        pages.push(items);
        if last {
            return pages;
        }
        assert!(pages.len() <= 10_000, "pagination does not end");
        query.after = next;
    }
}

async fn list_ids<B: RecordBackend>(b: &B, filter: Filter<Record>) -> Vec<String> {
    list_pages(b, filter, 1_000)
        .await
        .into_iter()
        .flatten()
        .map(|r| r.id)
        .collect()
}

fn sorted_by_bytes(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    v.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    v
}

/// Ids whose key-codec escaping matters: separators, escapes, braces, spaces, empty.
pub const TRICKY_IDS: &[&str] = &[
    "a:b", "a%3Ab", "a%b", "a{b}", "{a}", "a b", "a:", ":a", "", " ", "a::b", "a:b:", "%00", "%",
    "%25", "é", "🚀",
];

/// Two-text-part keys ([`Route`]) that render the same string under a broken key codec: without
/// escaping (`("a:b", "c")` vs `("a", "b:c")`), without escaping `%` (`"a%3Ab"` vs `"a:b"`,
/// `"%3A"` vs `":"`), or with braces moved across the separator. Empty parts sit on either side.
pub const TRICKY_ROUTES: &[(&str, &str)] = &[
    ("a:b", "c"),
    ("a", "b:c"),
    ("a%3Ab", "c"),
    ("a{", "}b"),
    ("a", "{}b"),
    ("", "x"),
    ("x", ""),
    ("", ""),
    ("%3A", "y"),
    (":", "y"),
];

/// The entries of [`TRICKY_ROUTES`] that the cases remove: one of each look-alike group, so
/// each removal has a look-alike left behind.
pub const REMOVED_ROUTES: &[(&str, &str)] = &[("a:b", "c"), ("a{", "}b"), ("", "x"), ("%3A", "y")];

/// [`TRICKY_ROUTES`] as entities, each with a note unique to its key.
pub fn tricky_routes() -> Vec<Route> {
    TRICKY_ROUTES
        .iter()
        .enumerate()
        .map(|(i, (from, to))| Route {
            from: (*from).to_owned(),
            to: (*to).to_owned(),
            note: Some(format!("route {i}")),
        })
        .collect()
}

/// The key of a [`Route`].
pub fn route_key(r: &Route) -> (String, String) {
    (r.from.clone(), r.to.clone())
}

/// A saved record reads back equal.
pub async fn save_then_get_round_trips<B: RecordBackend>(b: B) {
    let r = Record::new("a", "alpha", 1);
    records(&b).save(&r).await.expect("save");
    assert_eq!(get_record(&b, "a").await, Some(r));
}

/// Saving an existing key replaces the whole row (fields set to None are not merged back).
pub async fn upsert_replaces<B: RecordBackend>(b: B) {
    records(&b)
        .save(&full_record("a"))
        .await
        .expect("save full");
    let second = Record::new("a", "second", 7);
    records(&b).save(&second).await.expect("save replacement");
    assert_eq!(get_record(&b, "a").await, Some(second));
    assert_eq!(
        list_ids(&b, Filter::all()).await,
        ["a"],
        "an upsert must not add a row"
    );
}

/// A missing key reads as `None`, not an error.
pub async fn get_missing_is_none<B: RecordBackend>(b: B) {
    assert_eq!(get_record(&b, "missing").await, None);
    save_each(&b, &[Record::new("present", "p", 1)]).await;
    assert_eq!(get_record(&b, "missing").await, None);
    assert_eq!(
        get_record(&b, "presen").await,
        None,
        "keys match exactly, not by prefix"
    );
}

/// `get_many` returns one slot per requested key, in request order, repeats included.
pub async fn get_many_keeps_order_and_missing_slots<B: RecordBackend>(b: B) {
    let rows: Vec<Record> = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, id)| Record::new(*id, *id, i as i64))
        .collect();
    save_each(&b, &rows).await;
    let keys: Vec<String> = ["c", "x", "a", "c", "b"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let got = records(&b).get_many(&keys).await.expect("get_many");
    let ids: Vec<Option<String>> = got.into_iter().map(|r| r.map(|r| r.id)).collect();
    let want: Vec<Option<String>> = ["c", "", "a", "c", "b"]
        .iter()
        .map(|s| (!s.is_empty()).then(|| (*s).to_owned()))
        .collect();
    assert_eq!(ids, want);
    assert!(
        records(&b)
            .get_many(&[])
            .await
            .expect("empty get_many")
            .is_empty()
    );
}

/// `delete` says whether a row was removed, and the row is gone.
pub async fn delete_returns_whether_it_existed<B: RecordBackend>(b: B) {
    save_each(&b, &[Record::new("a", "a", 1), Record::new("b", "b", 2)]).await;
    let repo = records(&b);
    assert!(
        repo.delete(&"a".to_owned()).await.expect("delete"),
        "the row existed"
    );
    assert!(
        !repo.delete(&"a".to_owned()).await.expect("delete again"),
        "already deleted"
    );
    assert!(
        !repo
            .delete(&"never".to_owned())
            .await
            .expect("delete missing")
    );
    assert_eq!(get_record(&b, "a").await, None);
    assert!(get_record(&b, "b").await.is_some(), "other rows stay");
}

/// `list` returns rows in ascending key order whatever the insertion order.
pub async fn list_is_ascending_by_key<B: RecordBackend>(b: B) {
    let ids = ["m", "c", "x", "a", "k", "b"];
    let rows: Vec<Record> = ids.iter().map(|id| Record::new(*id, *id, 0)).collect();
    save_each(&b, &rows).await;
    let page = records(&b)
        .list(&ListQuery::new(Filter::all(), 100))
        .await
        .expect("list");
    let got: Vec<&str> = page.items.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(got, ["a", "b", "c", "k", "m", "x"]);
    assert!(
        page.next.is_none(),
        "one page holds everything: no next cursor"
    );
    let after_k = list_ids(&b, Record::ID.gt("k".to_owned())).await;
    assert_eq!(after_k, ["m", "x"], "a filter on the id column");
}

/// Text keys order by their UTF-8 bytes (Postgres `COLLATE "C"`), not by locale.
pub async fn list_orders_text_by_bytes<B: RecordBackend>(b: B) {
    let ids = ["b", "B", "a", "é", "Z", "0", "~", "ab", "", "a b"];
    let rows: Vec<Record> = ids.iter().map(|id| Record::new(*id, "n", 0)).collect();
    save_each(&b, &rows).await;
    assert_eq!(list_ids(&b, Filter::all()).await, sorted_by_bytes(&ids));
    // Small pages cross every boundary.
    let paged: Vec<String> = list_pages(&b, Filter::all(), 3)
        .await
        .into_iter()
        .flatten()
        .map(|r| r.id)
        .collect();
    assert_eq!(paged, sorted_by_bytes(&ids));
}

/// 25 rows in pages of 7: 4 pages (7, 7, 7, 4), every row once, in order.
pub async fn list_paginates_completely<B: RecordBackend>(b: B) {
    let rows: Vec<Record> = shuffled(25)
        .into_iter()
        .map(|i| Record::new(format!("r{i:02}"), "n", i as i64))
        .collect();
    save_each(&b, &rows).await;
    let pages = list_pages(&b, Filter::all(), 7).await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [7, 7, 7, 4]);
    let ids: Vec<String> = pages.into_iter().flatten().map(|r| r.id).collect();
    let want: Vec<String> = (0..25).map(|i| format!("r{i:02}")).collect();
    assert_eq!(ids, want, "no duplicate, no gap, ascending");
}

/// When the rows divide evenly into pages, the last full page has no `next`: no empty page.
pub async fn list_page_count_is_exact<B: RecordBackend>(b: B) {
    let rows: Vec<Record> = (0..21)
        .map(|i| Record::new(format!("r{i:02}"), "n", i))
        .collect();
    save_each(&b, &rows).await;
    let sizes: Vec<usize> = list_pages(&b, Filter::all(), 7)
        .await
        .iter()
        .map(Vec::len)
        .collect();
    assert_eq!(sizes, [7, 7, 7]);
    let one = records(&b)
        .list(&ListQuery::new(Record::ID.eq("r05".to_owned()), 1))
        .await
        .expect("list one");
    assert_eq!(one.items.len(), 1);
    assert!(one.next.is_none(), "the only matching row: no next page");
}

/// Page size 0 and sizes above the maximum are validation errors.
pub async fn list_rejects_bad_page_sizes<B: RecordBackend>(b: B) {
    save_each(&b, &[Record::new("a", "a", 1)]).await;
    let repo = records(&b);
    assert_validation(
        repo.list(&ListQuery::new(Filter::all(), 0)).await,
        "Record",
        None,
        "page size 0",
    );
    assert_validation(
        repo.list(&ListQuery::new(Filter::all(), MAX_PAGE_SIZE + 1))
            .await,
        "Record",
        None,
        "page size above the maximum",
    );
    assert_eq!(
        repo.list(&ListQuery::new(Filter::all(), MAX_PAGE_SIZE))
            .await
            .expect("maximum page size")
            .items
            .len(),
        1
    );
}

/// Listing a table with no rows gives an empty last page.
pub async fn list_of_empty_table_is_empty<B: RecordBackend>(b: B) {
    let page = records(&b)
        .list(&ListQuery::new(Filter::all(), 10))
        .await
        .expect("list");
    assert!(page.items.is_empty());
    assert!(page.next.is_none());
}

/// `eq` / `ne` on a text column.
pub async fn filter_eq_ne_on_text<B: RecordBackend>(b: B) {
    save_each(
        &b,
        &[
            Record::new("a", "x", 1),
            Record::new("b", "y", 2),
            Record::new("c", "x", 3),
            Record::new("d", "X", 4),
        ],
    )
    .await;
    assert_eq!(
        list_ids(&b, Record::NAME.eq("x".to_owned())).await,
        ["a", "c"],
        "eq is case-sensitive"
    );
    assert_eq!(
        list_ids(&b, Record::NAME.ne("x".to_owned())).await,
        ["b", "d"]
    );
    assert!(
        list_ids(&b, Record::NAME.eq("z".to_owned()))
            .await
            .is_empty()
    );
}

/// `lt` / `le` / `gt` / `ge` on an integer column, alone and combined.
pub async fn filter_ranges_on_integer<B: RecordBackend>(b: B) {
    let rows: Vec<Record> = (-2..=2)
        .map(|i| Record::new(format!("r{}", i + 2), "n", i))
        .collect();
    save_each(&b, &rows).await;
    assert_eq!(list_ids(&b, Record::RANK.lt(0)).await, ["r0", "r1"]);
    assert_eq!(list_ids(&b, Record::RANK.le(0)).await, ["r0", "r1", "r2"]);
    assert_eq!(list_ids(&b, Record::RANK.gt(0)).await, ["r3", "r4"]);
    assert_eq!(list_ids(&b, Record::RANK.ge(0)).await, ["r2", "r3", "r4"]);
    assert_eq!(
        list_ids(&b, Record::RANK.ge(-1).and(Record::RANK.lt(2))).await,
        ["r1", "r2", "r3"]
    );
    assert!(
        list_ids(&b, Record::RANK.gt(2).and(Record::RANK.lt(-2)))
            .await
            .is_empty()
    );
}

/// Range filters on nullable timestamp, decimal and float columns; NULL never matches a
/// comparison.
pub async fn filter_ranges_on_timestamp_decimal_float<B: RecordBackend>(b: B) {
    let mut rows = Vec::new();
    for i in 0..4i64 {
        let mut r = Record::new(format!("r{i}"), "n", i);
        r.at = Some(at_micros(i * 1_000_000));
        r.amount = Some(Decimal::new(i * 150, 2)); // 0.00, 1.50, 3.00, 4.50
        r.ratio = Some(i as f64 * 0.5 - 0.5); // -0.5, 0, 0.5, 1
        rows.push(r);
    }
    rows.push(Record::new("rnull", "n", 9)); // every optional field NULL
    save_each(&b, &rows).await;
    assert_eq!(
        list_ids(&b, Record::AT.lt(Some(at_micros(2_000_000)))).await,
        ["r0", "r1"]
    );
    assert_eq!(
        list_ids(&b, Record::AT.ge(Some(at_micros(2_000_000)))).await,
        ["r2", "r3"]
    );
    assert_eq!(
        list_ids(&b, Record::AMOUNT.gt(Some(Decimal::new(15, 1)))).await,
        ["r2", "r3"],
        "1.5 = 1.50"
    );
    assert_eq!(
        list_ids(&b, Record::AMOUNT.le(Some(Decimal::new(150, 2)))).await,
        ["r0", "r1"]
    );
    assert_eq!(
        list_ids(&b, Record::RATIO.le(Some(0.0))).await,
        ["r0", "r1"]
    );
    assert_eq!(
        list_ids(&b, Record::RATIO.ne(Some(0.0))).await,
        ["r0", "r2", "r3"],
        "ne never matches NULL"
    );
}

/// `IN` on text and integer columns; an empty `IN` matches nothing.
pub async fn filter_in_and_empty_in<B: RecordBackend>(b: B) {
    let rows: Vec<Record> = (0..5)
        .map(|i| Record::new(format!("r{i}"), ["x", "y", "z"][i % 3], i as i64))
        .collect();
    save_each(&b, &rows).await;
    assert_eq!(
        list_ids(&b, Record::RANK.is_in([1, 3, 99])).await,
        ["r1", "r3"]
    );
    assert_eq!(
        list_ids(&b, Record::NAME.is_in(["x".to_owned(), "z".to_owned()])).await,
        ["r0", "r2", "r3"]
    );
    assert!(
        list_ids(&b, Record::RANK.is_in([])).await.is_empty(),
        "empty IN matches nothing"
    );
    assert!(
        list_ids(
            &b,
            Record::NAME
                .is_in(Vec::<String>::new())
                .and(Record::RANK.ge(0))
        )
        .await
        .is_empty()
    );
}

/// `IS NULL` / `IS NOT NULL`.
pub async fn filter_is_null_and_is_not_null<B: RecordBackend>(b: B) {
    let mut with = Record::new("with", "n", 1);
    with.note = Some("text".to_owned());
    with.amount = Some(Decimal::ONE);
    let mut empty = Record::new("empty", "n", 2);
    empty.note = Some(String::new());
    let without = Record::new("without", "n", 3);
    save_each(&b, &[with, empty, without]).await;
    assert_eq!(list_ids(&b, Record::NOTE.is_null()).await, ["without"]);
    assert_eq!(
        list_ids(&b, Record::NOTE.is_not_null()).await,
        ["empty", "with"],
        "an empty string is not NULL"
    );
    assert_eq!(list_ids(&b, Record::AMOUNT.is_not_null()).await, ["with"]);
}

/// Filters on a text enum column compare its stored text.
pub async fn filter_on_text_enum<B: RecordBackend>(b: B) {
    let mut rows = Vec::new();
    for (id, level) in [
        ("a", Some(Level::High)),
        ("b", Some(Level::Low)),
        ("c", None),
        ("d", Some(Level::High)),
    ] {
        let mut r = Record::new(id, "n", 0);
        r.level = level;
        rows.push(r);
    }
    save_each(&b, &rows).await;
    assert_eq!(
        list_ids(&b, Record::LEVEL.eq(Some(Level::High))).await,
        ["a", "d"]
    );
    assert_eq!(
        list_ids(&b, Record::LEVEL.ne(Some(Level::High))).await,
        ["b"]
    );
    assert_eq!(list_ids(&b, Record::LEVEL.is_null()).await, ["c"]);
    assert_eq!(
        get_record(&b, "b").await.and_then(|r| r.level),
        Some(Level::Low)
    );
}

/// Keyset pagination over a filtered listing visits exactly the matching rows.
pub async fn filter_combined_with_pagination<B: RecordBackend>(b: B) {
    let rows: Vec<Record> = shuffled(30)
        .into_iter()
        .map(|i| Record::new(format!("r{i:02}"), "n", (i % 3) as i64))
        .collect();
    save_each(&b, &rows).await;
    let pages = list_pages(&b, Record::RANK.eq(1), 3).await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 3, 3, 1]);
    let ids: Vec<String> = pages.into_iter().flatten().map(|r| r.id).collect();
    let want: Vec<String> = (0..30)
        .filter(|i| i % 3 == 1)
        .map(|i| format!("r{i:02}"))
        .collect();
    assert_eq!(ids, want);
}

/// A composite key (text, i64) round-trips, orders part by part (numbers numerically) and
/// paginates.
pub async fn composite_key_round_trip_and_order<B: RecordBackend>(b: B) {
    let repo = pairs(&b);
    let keys = [
        ("b", -100),
        ("a", 10),
        ("a", -5),
        ("a", 2),
        ("", 0),
        ("a", i64::MIN),
    ];
    for (i, (venue, seq)) in keys.iter().enumerate() {
        let p = Pair {
            venue: (*venue).to_owned(),
            seq: *seq,
            value: i as f64,
            label: None,
        };
        repo.save(&p).await.expect("save pair");
    }
    let got = repo.get(&("a".to_owned(), 2)).await.expect("get pair");
    assert_eq!(got.map(|p| p.value), Some(3.0));
    assert_eq!(
        repo.get(&("a".to_owned(), 3))
            .await
            .expect("get missing pair"),
        None
    );
    let mut query = ListQuery::new(Filter::all(), 2);
    let mut order = Vec::new();
    loop {
        let page = repo.list(&query).await.expect("list pairs");
        order.extend(page.items.into_iter().map(|p| (p.venue, p.seq)));
        match page.next {
            Some(c) => query.after = Some(c),
            None => break,
        }
    }
    let want: Vec<(String, i64)> = [
        ("", 0),
        ("a", i64::MIN),
        ("a", -5),
        ("a", 2),
        ("a", 10),
        ("b", -100),
    ]
    .iter()
    .map(|(v, s)| ((*v).to_owned(), *s))
    .collect();
    assert_eq!(order, want);
    assert!(
        repo.delete(&("a".to_owned(), -5))
            .await
            .expect("delete pair")
    );
    assert_eq!(
        repo.get(&("a".to_owned(), -5))
            .await
            .expect("get deleted pair"),
        None
    );
    assert!(
        repo.get(&("a".to_owned(), 10))
            .await
            .expect("get sibling")
            .is_some()
    );
}

/// Composite keys whose parts contain separators and escapes never collide.
pub async fn composite_key_parts_never_collide<B: RecordBackend>(b: B) {
    let repo = pairs(&b);
    let venues = ["a:b", "a%3Ab", "a", "a:", "", "{a}", "%00", "a:1"];
    let mut n = 0.0;
    for venue in venues {
        for seq in [1, 2] {
            n += 1.0;
            let p = Pair {
                venue: venue.to_owned(),
                seq,
                value: n,
                label: Some(format!("{venue}/{seq}")),
            };
            repo.save(&p).await.expect("save pair");
        }
    }
    for venue in venues {
        for seq in [1, 2] {
            let got = repo.get(&(venue.to_owned(), seq)).await.expect("get pair");
            assert_eq!(
                got.and_then(|p| p.label),
                Some(format!("{venue}/{seq}")),
                "key ({venue:?}, {seq})"
            );
        }
    }
    let all = repo.list_all(Filter::all()).await.expect("list pairs");
    assert_eq!(all.len(), venues.len() * 2, "every key is a distinct row");
}

/// Keys of two text parts that differ only in where a separator, escape or brace sits are
/// distinct rows: each reads back with its own value, and deleting one leaves its look-alikes.
pub async fn text_key_parts_never_collide<B: RecordBackend>(b: B) {
    let repo: Repository<Route, B> = Repository::new(b.clone());
    let routes = tricky_routes();
    for r in &routes {
        repo.save(r)
            .await
            .unwrap_or_else(|e| panic!("save {:?}: {e}", route_key(r)));
    }
    let all: Vec<Option<Route>> = routes.iter().cloned().map(Some).collect();
    check_routes(&repo, &all).await;
    for (from, to) in REMOVED_ROUTES {
        let key = ((*from).to_owned(), (*to).to_owned());
        assert!(
            repo.delete(&key).await.expect("delete"),
            "delete {key:?} finds its row"
        );
    }
    check_routes(&repo, &without_removed(&routes)).await;
    for (from, to) in REMOVED_ROUTES {
        let key = ((*from).to_owned(), (*to).to_owned());
        assert!(
            !repo.delete(&key).await.expect("delete again"),
            "{key:?} was deleted already"
        );
    }
}

/// `routes` with the entries of [`REMOVED_ROUTES`] replaced by `None`.
pub fn without_removed(routes: &[Route]) -> Vec<Option<Route>> {
    routes
        .iter()
        .map(|r| {
            let removed = REMOVED_ROUTES.contains(&(r.from.as_str(), r.to.as_str()));
            (!removed).then(|| r.clone())
        })
        .collect()
}

/// Asserts that each key of [`TRICKY_ROUTES`] reads back as `expected` (same order) through
/// `get`, `get_many` and `list`.
async fn check_routes<B: RecordBackend>(repo: &Repository<Route, B>, expected: &[Option<Route>]) {
    let keys: Vec<(String, String)> = tricky_routes().iter().map(route_key).collect();
    for (key, want) in keys.iter().zip(expected) {
        let got = repo
            .get(key)
            .await
            .unwrap_or_else(|e| panic!("get {key:?}: {e}"));
        assert_eq!(got.as_ref(), want.as_ref(), "get {key:?}");
    }
    let many = repo.get_many(&keys).await.expect("get_many");
    assert_eq!(many, expected, "get_many of every key, in order");
    let mut listed: Vec<(String, String)> = repo
        .list_all(Filter::all())
        .await
        .expect("list routes")
        .iter()
        .map(route_key)
        .collect();
    listed.sort_unstable();
    let mut want: Vec<(String, String)> = expected.iter().flatten().map(route_key).collect();
    want.sort_unstable();
    assert_eq!(listed, want, "every key is one distinct row");
}

/// A record with every optional field `None` reads back with every field `None`.
pub async fn option_all_none_round_trip<B: RecordBackend>(b: B) {
    let r = Record::new("none", "n", 0);
    save_each(&b, std::slice::from_ref(&r)).await;
    assert_eq!(get_record(&b, "none").await, Some(r));
}

/// A record with every optional field `Some` reads back equal.
pub async fn option_all_some_round_trip<B: RecordBackend>(b: B) {
    let r = full_record("full");
    save_each(&b, std::slice::from_ref(&r)).await;
    assert_eq!(get_record(&b, "full").await, Some(r));
}

/// For each storage class alone: `Some` stays `Some(value)` while the others stay `None`.
pub async fn option_each_type_alone_round_trips<B: RecordBackend>(b: B) {
    let full = full_record("x");
    let mut rows = Vec::new();
    let mut add = |name: &str, set: &dyn Fn(&mut Record)| {
        let mut r = Record::new(format!("only_{name}"), name, 0);
        set(&mut r);
        rows.push(r);
    };
    add("code", &|r| r.code = full.code.clone());
    add("flag", &|r| r.flag = Some(false));
    add("small", &|r| r.small = full.small);
    add("medium", &|r| r.medium = full.medium);
    add("large", &|r| r.large = full.large);
    add("ratio32", &|r| r.ratio32 = full.ratio32);
    add("ratio", &|r| r.ratio = full.ratio);
    add("note", &|r| r.note = full.note.clone());
    add("uid", &|r| r.uid = full.uid);
    add("at", &|r| r.at = full.at);
    add("amount", &|r| r.amount = full.amount);
    add("meta", &|r| r.meta = full.meta.clone());
    add("blob", &|r| r.blob = full.blob.clone());
    add("level", &|r| r.level = Some(Level::Medium));
    save_each(&b, &rows).await;
    for r in &rows {
        assert_eq!(get_record(&b, &r.id).await.as_ref(), Some(r), "{}", r.id);
    }
}

/// NaN and ±infinity round-trip where the backend declares `nan_and_infinity`; elsewhere they
/// are rejected with a typed error or read back unchanged or as NULL, never misread.
pub async fn nan_and_infinity<B: RecordBackend>(b: B) {
    let caps = b.capabilities();
    let mut nan = Record::new("nan", "n", 0);
    nan.ratio = Some(f64::NAN);
    nan.ratio32 = Some(f32::NAN);
    let mut inf = Record::new("inf", "n", 0);
    inf.ratio = Some(f64::INFINITY);
    inf.ratio32 = Some(f32::NEG_INFINITY);
    let mut neg = Record::new("neg", "n", 0);
    neg.ratio = Some(f64::NEG_INFINITY);
    neg.ratio32 = Some(f32::INFINITY);
    let repo = records(&b);
    if caps.limits.non_finite_floats {
        save_each(&b, &[nan, inf.clone(), neg.clone()]).await;
        let got = get_record(&b, "nan").await.expect("nan row");
        assert!(
            got.ratio.is_some_and(f64::is_nan) && got.ratio32.is_some_and(f32::is_nan),
            "{got:?}"
        );
        assert_eq!(get_record(&b, "inf").await, Some(inf));
        assert_eq!(get_record(&b, "neg").await, Some(neg));
        // Floats order by IEEE total order: NaN above every number.
        assert_eq!(
            list_ids(&b, Record::RATIO.gt(Some(f64::MAX))).await,
            ["inf", "nan"]
        );
    } else {
        skip::<B>(
            "nan_and_infinity",
            "nan_and_infinity (checking rejection or NULL instead)",
        );
        for r in [nan, inf, neg] {
            match repo.save(&r).await {
                Err(Error::Validation { .. } | Error::Codec { .. }) => {
                    assert_eq!(
                        get_record(&b, &r.id).await,
                        None,
                        "a rejected row is not stored"
                    );
                }
                Err(e) => panic!("{}: untyped error for a non-finite float: {e}", r.id),
                Ok(()) => {
                    let got = get_record(&b, &r.id).await.expect("stored row");
                    let same = got.ratio.is_none()
                        || got.ratio.map(f64::to_bits) == r.ratio.map(f64::to_bits);
                    assert!(same, "{}: stored {:?}, read {:?}", r.id, r.ratio, got.ratio);
                }
            }
        }
    }
}

/// Unicode, emoji (with joiners) and combining characters round-trip and compare exactly.
pub async fn unicode_and_emoji_text<B: RecordBackend>(b: B) {
    let mut r = Record::new("ünï-🚀", "日本語テキスト", 1);
    r.note = Some("family 👩\u{200d}👩\u{200d}👧, e\u{301} vs é, ∑ ≠ ∞, עברית".to_owned());
    r.code = Some("🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀".to_owned()); // 16 characters, 64 bytes
    let plain = Record::new("plain", "e\u{301}", 2);
    save_each(&b, &[r.clone(), plain]).await;
    assert_eq!(get_record(&b, "ünï-🚀").await, Some(r));
    assert_eq!(
        list_ids(&b, Record::NAME.eq("日本語テキスト".to_owned())).await,
        ["ünï-🚀"]
    );
    assert!(
        list_ids(&b, Record::NAME.eq("é".to_owned()))
            .await
            .is_empty(),
        "no Unicode normalization"
    );
}

/// Empty strings are values, distinct from NULL, in ids and fields.
pub async fn empty_strings_are_not_null<B: RecordBackend>(b: B) {
    let mut r = Record::new("", "", 0);
    r.note = Some(String::new());
    r.code = Some(String::new());
    save_each(&b, std::slice::from_ref(&r)).await;
    assert_eq!(get_record(&b, "").await, Some(r));
    assert!(list_ids(&b, Record::NOTE.is_null()).await.is_empty());
    assert_eq!(list_ids(&b, Record::NAME.eq(String::new())).await, [""]);
}

/// Ids that differ only by separators, escapes, braces or spaces are distinct rows.
pub async fn separator_ids_never_collide<B: RecordBackend>(b: B) {
    let rows: Vec<Record> = TRICKY_IDS
        .iter()
        .enumerate()
        .map(|(i, id)| Record::new(*id, format!("n{i}"), i as i64))
        .collect();
    save_each(&b, &rows).await;
    for r in &rows {
        assert_eq!(
            get_record(&b, &r.id).await.map(|g| g.rank),
            Some(r.rank),
            "id {:?}",
            r.id
        );
    }
    assert_eq!(
        list_ids(&b, Filter::all()).await,
        sorted_by_bytes(TRICKY_IDS)
    );
    assert!(records(&b).delete(&"a:b".to_owned()).await.expect("delete"));
    assert!(
        get_record(&b, "a%3Ab").await.is_some(),
        "deleting one id leaves its look-alikes"
    );
}

/// NUL in text round-trips with `nul_in_text`; otherwise it is a validation error naming the
/// field, nothing is stored, and in a batch only that item is rejected.
pub async fn nul_in_text<B: RecordBackend>(b: B) {
    let mut r = Record::new("nul", "n", 0);
    r.note = Some("a\0b".to_owned());
    if b.capabilities().limits.nul_in_text {
        save_each(&b, std::slice::from_ref(&r)).await;
        assert_eq!(get_record(&b, "nul").await, Some(r));
        return;
    }
    skip::<B>(
        "nul_in_text",
        "nul_in_text (checking the rejection instead)",
    );
    assert_validation(
        records(&b).save(&r).await,
        "Record",
        Some("note"),
        "NUL in text",
    );
    assert_eq!(get_record(&b, "nul").await, None, "nothing stored");
    let batch = [Record::new("ok0", "n", 0), r, Record::new("ok2", "n", 2)];
    let report = records(&b).save_all(&batch).await.expect("save_all");
    let failed: Vec<usize> = report.failed.iter().map(|(i, _)| *i).collect();
    assert_eq!(failed, [1]);
    assert_eq!(list_ids(&b, Filter::all()).await, ["ok0", "ok2"]);
}

/// The extremes of every integer width round-trip and compare.
pub async fn extreme_integers<B: RecordBackend>(b: B) {
    let mut lo = Record::new("lo", "n", i64::MIN);
    lo.small = Some(i16::MIN);
    lo.medium = Some(i32::MIN);
    lo.large = Some(i64::MIN);
    let mut hi = Record::new("hi", "n", i64::MAX);
    hi.small = Some(i16::MAX);
    hi.medium = Some(i32::MAX);
    hi.large = Some(i64::MAX);
    save_each(&b, &[lo.clone(), hi.clone()]).await;
    assert_eq!(get_record(&b, "lo").await, Some(lo));
    assert_eq!(get_record(&b, "hi").await, Some(hi));
    assert_eq!(list_ids(&b, Record::RANK.ge(i64::MAX)).await, ["hi"]);
    assert_eq!(list_ids(&b, Record::RANK.le(i64::MIN)).await, ["lo"]);
}

/// The largest, smallest and smallest positive normal floats round-trip bit for bit.
pub async fn extreme_floats<B: RecordBackend>(b: B) {
    let values = [
        (f64::MAX, f32::MAX),
        (f64::MIN, f32::MIN),
        (f64::MIN_POSITIVE, f32::MIN_POSITIVE),
        (f64::EPSILON, f32::EPSILON),
        (0.1, 0.1),
    ];
    let rows: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, (d, s))| {
            let mut r = Record::new(format!("f{i}"), "n", 0);
            r.ratio = Some(*d);
            r.ratio32 = Some(*s);
            r
        })
        .collect();
    save_each(&b, &rows).await;
    for r in &rows {
        let got = get_record(&b, &r.id).await.expect("row");
        assert_eq!(
            got.ratio.map(f64::to_bits),
            r.ratio.map(f64::to_bits),
            "{}: f64 {:?} read as {:?}",
            r.id,
            r.ratio,
            got.ratio
        );
        assert_eq!(
            got.ratio32.map(f32::to_bits),
            r.ratio32.map(f32::to_bits),
            "{}: f32 {:?} read as {:?}",
            r.id,
            r.ratio32,
            got.ratio32
        );
    }
}

/// Dates far in the past and future (years 1 and 9999), and around the epoch, at microsecond
/// precision.
pub async fn extreme_dates<B: RecordBackend>(b: B) {
    let parse = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    };
    let dates = [
        ("d0", parse("0001-01-01T00:00:00Z")),
        ("d1", parse("1969-12-31T23:59:59.999999Z")),
        ("d2", DateTime::UNIX_EPOCH),
        ("d3", parse("2038-01-19T03:14:08.000001Z")),
        ("d4", parse("9999-12-31T23:59:59.999999Z")),
    ];
    let rows: Vec<Record> = dates
        .iter()
        .map(|(id, d)| {
            let mut r = Record::new(*id, "n", 0);
            r.at = Some(*d);
            r
        })
        .collect();
    save_each(&b, &rows).await;
    for r in &rows {
        assert_eq!(
            get_record(&b, &r.id).await.and_then(|g| g.at),
            r.at,
            "{}",
            r.id
        );
    }
    assert_eq!(
        list_ids(&b, Record::AT.lt(Some(DateTime::UNIX_EPOCH))).await,
        ["d0", "d1"]
    );
}

/// Decimals with 28 significant digits, the extremes and trailing zeros keep their value.
pub async fn decimal_precision<B: RecordBackend>(b: B) {
    let values = [
        Decimal::MAX,
        Decimal::MIN,
        Decimal::new(1, 28),
        Decimal::from_str("0.1234567890123456789012345678").unwrap_or_default(),
        Decimal::from_str("-1234567890123456.789012345678").unwrap_or_default(),
        Decimal::from_str("1.50").unwrap_or_default(),
        Decimal::ZERO,
    ];
    let rows: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut r = Record::new(format!("m{i}"), "n", 0);
            r.amount = Some(*v);
            r
        })
        .collect();
    save_each(&b, &rows).await;
    for r in &rows {
        assert_eq!(
            get_record(&b, &r.id).await.and_then(|g| g.amount),
            r.amount,
            "{}",
            r.id
        );
    }
}

/// A 100,000-character text field round-trips.
pub async fn long_text<B: RecordBackend>(b: B) {
    let mut r = Record::new("long", "n", 0);
    r.note = Some("aé🚀 ".repeat(25_000));
    save_each(&b, std::slice::from_ref(&r)).await;
    assert_eq!(get_record(&b, "long").await, Some(r));
}

/// A JSON field with quotes, backslashes, control characters and unicode round-trips.
pub async fn json_round_trip<B: RecordBackend>(b: B) {
    let mut r = Record::new("json", "n", 0);
    r.meta = Some(Meta {
        tags: vec![
            "quote\"".into(),
            "back\\slash".into(),
            "line\nbreak\ttab".into(),
            "🚀é".into(),
            String::new(),
        ],
        depth: i64::MIN,
        label: None,
    });
    let mut empty = Record::new("json_empty", "n", 0);
    empty.meta = Some(Meta {
        tags: Vec::new(),
        depth: 0,
        label: Some(String::new()),
    });
    save_each(&b, &[r.clone(), empty.clone()]).await;
    assert_eq!(get_record(&b, "json").await, Some(r));
    assert_eq!(get_record(&b, "json_empty").await, Some(empty));
}

/// Bytes round-trip: every byte value, and an empty vector that is not NULL.
pub async fn bytes_round_trip<B: RecordBackend>(b: B) {
    let mut all = Record::new("all", "n", 0);
    all.blob = Some((0..=255u8).collect());
    let mut empty = Record::new("empty", "n", 0);
    empty.blob = Some(Vec::new());
    save_each(&b, &[all.clone(), empty.clone()]).await;
    assert_eq!(get_record(&b, "all").await, Some(all));
    assert_eq!(
        get_record(&b, "empty").await.and_then(|r| r.blob),
        Some(Vec::new())
    );
}

/// `save_all` writes every item and reports them.
pub async fn save_all_writes_every_item<B: RecordBackend>(b: B) {
    let rows: Vec<Record> = (0..50).map(|i| full_record(&format!("r{i:02}"))).collect();
    let report = records(&b).save_all(&rows).await.expect("save_all");
    assert!(report.is_complete(), "{:?}", report.failed);
    assert_eq!(report.written, 50);
    let all = records(&b).list_all(Filter::all()).await.expect("list_all");
    assert_eq!(all, rows);
}

/// An empty batch writes nothing and succeeds.
pub async fn save_all_empty_batch<B: RecordBackend>(b: B) {
    let report = records(&b).save_all(&[]).await.expect("empty save_all");
    assert_eq!(report.written, 0);
    assert!(report.is_complete());
}

/// Two items with the same key in one batch: the later one wins.
pub async fn save_all_duplicate_keys_last_wins<B: RecordBackend>(b: B) {
    let batch = [
        Record::new("a", "first", 1),
        Record::new("b", "b", 2),
        Record::new("a", "last", 3),
    ];
    let report = records(&b).save_all(&batch).await.expect("save_all");
    assert!(report.is_complete(), "{:?}", report.failed);
    assert_eq!(
        get_record(&b, "a").await.map(|r| r.name),
        Some("last".to_owned())
    );
    assert_eq!(list_ids(&b, Filter::all()).await, ["a", "b"]);
}

/// One invalid item (text over `max_len`) is reported by index; every other item is written.
pub async fn save_all_reports_partial_failure<B: RecordBackend>(b: B) {
    let mut bad = Record::new("bad", "n", 2);
    bad.code = Some("x".repeat(17));
    let batch = [
        Record::new("ok0", "n", 0),
        Record::new("ok1", "n", 1),
        bad,
        Record::new("ok3", "n", 3),
    ];
    let report = records(&b).save_all(&batch).await.expect("save_all");
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    let (index, error) = &report.failed[0];
    assert_eq!(*index, 2);
    assert!(
        matches!(
            error,
            Error::Validation {
                entity: "Record",
                field: Some("code"),
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(report.written, 3);
    assert_eq!(list_ids(&b, Filter::all()).await, ["ok0", "ok1", "ok3"]);
}

/// Text over `max_len` characters is rejected and nothing is stored; exactly `max_len`
/// multi-byte characters are accepted.
pub async fn save_rejects_too_long_text<B: RecordBackend>(b: B) {
    let mut bad = Record::new("bad", "n", 0);
    bad.code = Some("é".repeat(17));
    assert_validation(
        records(&b).save(&bad).await,
        "Record",
        Some("code"),
        "17 characters in a max_len = 16 field",
    );
    assert_eq!(get_record(&b, "bad").await, None, "nothing stored");
    let mut edge = Record::new("edge", "n", 0);
    edge.code = Some("é".repeat(16));
    save_each(&b, std::slice::from_ref(&edge)).await;
    assert_eq!(get_record(&b, "edge").await, Some(edge));
}

/// 16 tasks x 50 upserts, each on its own keys and on one shared key: no lost update on
/// distinct keys, and the shared key holds one of the written values.
pub async fn concurrent_upserts<B: RecordBackend>(b: B) {
    let mut tasks = Vec::new();
    for t in 0..16i64 {
        let repo = records(&b);
        tasks.push(tokio::spawn(async move {
            for i in 0..50i64 {
                repo.save(&Record::new(
                    format!("t{t:02}_{i:02}"),
                    "own",
                    t * 1_000 + i,
                ))
                .await?;
                repo.save(&Record::new("shared", "shared", t * 1_000 + i))
                    .await?;
            }
            Ok::<_, Error>(())
        }));
    }
    for task in tasks {
        task.await.expect("task panicked").expect("upsert failed");
    }
    let all = records(&b).list_all(Filter::all()).await.expect("list_all");
    assert_eq!(all.len(), 16 * 50 + 1);
    let mut seen = HashSet::new();
    for r in all.iter().filter(|r| r.id != "shared") {
        let (t, i) = (r.rank / 1_000, r.rank % 1_000);
        assert_eq!(
            r.id,
            format!("t{t:02}_{i:02}"),
            "a row holds another key's value"
        );
        assert!(seen.insert(r.id.clone()));
    }
    let shared = get_record(&b, "shared").await.expect("shared row");
    assert!(
        (0..16).contains(&(shared.rank / 1_000)) && (0..50).contains(&(shared.rank % 1_000)),
        "{shared:?}"
    );
}

/// Deleted rows disappear from listings.
pub async fn delete_then_list_excludes<B: RecordBackend>(b: B) {
    let rows: Vec<Record> = (0..5)
        .map(|i| Record::new(format!("r{i}"), "n", i))
        .collect();
    save_each(&b, &rows).await;
    for id in ["r1", "r3"] {
        assert!(records(&b).delete(&id.to_owned()).await.expect("delete"));
    }
    assert_eq!(list_ids(&b, Filter::all()).await, ["r0", "r2", "r4"]);
    assert_eq!(list_ids(&b, Record::RANK.ge(1)).await, ["r2", "r4"]);
}

/// The extension trait: `get_required` gives `NotFound` naming the entity; `list_all` pages
/// through more than one page of 1,000.
pub async fn extension_get_required_and_list_all<B: RecordBackend>(b: B) {
    let repo = records(&b);
    match repo.get_required(&"missing".to_owned()).await {
        Err(Error::NotFound {
            entity: "Record",
            key,
        }) => assert!(key.contains("missing"), "{key}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    let rows: Vec<Record> = (0..1_500)
        .map(|i| Record::new(format!("r{i:04}"), "n", i))
        .collect();
    let report = repo.save_all(&rows).await.expect("save_all");
    assert!(report.is_complete());
    let all = repo.list_all(Filter::all()).await.expect("list_all");
    assert_eq!(all, rows);
    assert_eq!(
        repo.get_required(&"r0042".to_owned())
            .await
            .expect("present")
            .rank,
        42
    );
}

//! Cases for [`TimeSeriesBackend`]: append, append_all, range boundaries, order, limit, filters,
//! latest per symbol, flush.
//!
//! Every case flushes before it reads, so backends without `read_your_writes` pass too, and
//! gives every row its own (id, timestamp), so DEDUP does not merge rows unless a case means it.

use super::{at, at_micros, skip};
use crate::backend::TimeSeriesBackend;
use crate::conformance::entities::Tick;
use crate::error::Error;
use crate::query::{Filter, RangeQuery};
use crate::repository::Repository;
use crate::store::TimeSeriesStore;

fn ticks<B: TimeSeriesBackend>(b: &B) -> Repository<Tick, B> {
    Repository::new(b.clone())
}

/// A tick at `T0 + secs` with no optional field set.
pub fn tick(id: i64, secs: i64, symbol: &str, value: f64) -> Tick {
    Tick {
        id,
        ts: at(secs),
        symbol: symbol.to_owned(),
        value,
        qty: None,
        price: None,
        note: None,
    }
}

async fn append_flushed<B: TimeSeriesBackend>(b: &B, rows: &[Tick]) {
    let repo = ticks(b);
    for r in rows {
        repo.append(r)
            .await
            .unwrap_or_else(|e| panic!("append id {}: {e}", r.id));
    }
    repo.flush().await.expect("flush");
}

async fn range_ids<B: TimeSeriesBackend>(b: &B, query: &RangeQuery<Tick>) -> Vec<i64> {
    ticks(b)
        .range(query)
        .await
        .expect("range")
        .into_iter()
        .map(|t| t.id)
        .collect()
}

fn everything() -> RangeQuery<Tick> {
    RangeQuery::new(at(-1_000_000), at(1_000_000))
}

/// Appended rows, with optional fields set and unset, read back equal and in time order.
pub async fn append_then_range_round_trips<B: TimeSeriesBackend>(b: B) {
    let mut full = tick(1, 10, "SOL", 101.25);
    full.qty = Some(-7);
    full.price = Some(0.5);
    full.note = Some("filled".to_owned());
    let mut partial = tick(2, 5, "BTC", -3.5);
    partial.note = Some(String::new());
    let bare = tick(3, 20, "SOL", 0.0);
    append_flushed(&b, &[full.clone(), partial.clone(), bare.clone()]).await;
    let got = ticks(&b).range(&everything()).await.expect("range");
    assert_eq!(got, [partial, full, bare]);
}

/// `start <= ts < end`, to the microsecond.
pub async fn range_is_inclusive_start_exclusive_end<B: TimeSeriesBackend>(b: B) {
    let rows: Vec<Tick> = (0..5).map(|i| tick(i, i, "A", i as f64)).collect();
    append_flushed(&b, &rows).await;
    let mut edge = tick(10, 0, "A", 0.0);
    edge.ts = at_micros(3_000_000 - 1);
    append_flushed(&b, &[edge]).await;
    assert_eq!(
        range_ids(&b, &RangeQuery::new(at(1), at(3))).await,
        [1, 2, 10],
        "start included, end excluded, end - 1us included"
    );
    assert_eq!(
        range_ids(&b, &RangeQuery::new(at_micros(1_000_001), at(4))).await,
        [2, 10, 3],
        "start + 1us excludes the row at start"
    );
    assert_eq!(
        range_ids(&b, &RangeQuery::new(at(4), at_micros(4_000_001))).await,
        [4]
    );
}

/// `newest_first` returns the same rows in descending timestamp order.
pub async fn range_orders_descending<B: TimeSeriesBackend>(b: B) {
    let order = [3, 0, 4, 1, 2];
    let rows: Vec<Tick> = order.iter().map(|&i| tick(i, i * 60, "A", 1.0)).collect();
    append_flushed(&b, &rows).await;
    assert_eq!(range_ids(&b, &everything()).await, [0, 1, 2, 3, 4]);
    assert_eq!(
        range_ids(&b, &everything().newest_first()).await,
        [4, 3, 2, 1, 0]
    );
}

/// `limit` keeps the first rows in the requested order.
pub async fn range_limit<B: TimeSeriesBackend>(b: B) {
    let rows: Vec<Tick> = (0..10).map(|i| tick(i, i, "A", 1.0)).collect();
    append_flushed(&b, &rows).await;
    assert_eq!(range_ids(&b, &everything().limit(3)).await, [0, 1, 2]);
    assert_eq!(
        range_ids(&b, &everything().newest_first().limit(3)).await,
        [9, 8, 7]
    );
    assert_eq!(range_ids(&b, &everything().limit(100)).await.len(), 10);
    let filtered = everything().filter(Tick::ID.ge(5)).limit(2);
    assert_eq!(
        range_ids(&b, &filtered).await,
        [5, 6],
        "limit applies after the filter"
    );
}

/// Filters on the symbol: `eq`, `ne`, `IN`.
pub async fn range_filters_by_symbol<B: TimeSeriesBackend>(b: B) {
    let symbols = ["A", "B", "C", "A", "B", "A"];
    let rows: Vec<Tick> = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| tick(i as i64, i as i64, s, 1.0))
        .collect();
    append_flushed(&b, &rows).await;
    assert_eq!(
        range_ids(&b, &everything().filter(Tick::SYMBOL.eq("A".to_owned()))).await,
        [0, 3, 5]
    );
    assert_eq!(
        range_ids(&b, &everything().filter(Tick::SYMBOL.ne("A".to_owned()))).await,
        [1, 2, 4]
    );
    let in_ac = Tick::SYMBOL.is_in(["A".to_owned(), "C".to_owned()]);
    assert_eq!(
        range_ids(&b, &everything().filter(in_ac)).await,
        [0, 2, 3, 5]
    );
    assert!(
        range_ids(&b, &everything().filter(Tick::SYMBOL.eq("Z".to_owned())))
            .await
            .is_empty()
    );
}

/// Filters on optional columns: NULL tests and comparisons.
pub async fn range_filters_on_options<B: TimeSeriesBackend>(b: B) {
    let mut rows = Vec::new();
    for i in 0..6 {
        let mut t = tick(i, i, "A", i as f64);
        if i % 2 == 0 {
            t.qty = Some(i * 10);
            t.price = Some(i as f64 / 2.0);
            t.note = Some(format!("n{i}"));
        }
        rows.push(t);
    }
    append_flushed(&b, &rows).await;
    assert_eq!(
        range_ids(&b, &everything().filter(Tick::QTY.is_null())).await,
        [1, 3, 5]
    );
    assert_eq!(
        range_ids(&b, &everything().filter(Tick::QTY.ge(Some(20)))).await,
        [2, 4]
    );
    assert_eq!(
        range_ids(&b, &everything().filter(Tick::PRICE.lt(Some(1.5)))).await,
        [0, 2]
    );
    assert_eq!(
        range_ids(
            &b,
            &everything().filter(Tick::NOTE.eq(Some("n4".to_owned())))
        )
        .await,
        [4]
    );
    assert_eq!(
        range_ids(
            &b,
            &everything().filter(Tick::VALUE.gt(2.5).and(Tick::NOTE.is_not_null()))
        )
        .await,
        [4]
    );
}

/// An empty table, an empty window and a reversed window all give no rows, not an error.
pub async fn empty_and_reversed_ranges<B: TimeSeriesBackend>(b: B) {
    assert!(range_ids(&b, &everything()).await.is_empty(), "empty table");
    append_flushed(&b, &[tick(1, 5, "A", 1.0)]).await;
    assert!(
        range_ids(&b, &RangeQuery::new(at(5), at(5)))
            .await
            .is_empty(),
        "start == end"
    );
    assert!(
        range_ids(&b, &RangeQuery::new(at(6), at(4)))
            .await
            .is_empty(),
        "start > end"
    );
    assert!(
        range_ids(&b, &RangeQuery::new(at(6), at(100)))
            .await
            .is_empty(),
        "after every row"
    );
}

/// `latest` gives the newest row per symbol, ordered by symbol.
pub async fn latest_per_symbol<B: TimeSeriesBackend>(b: B) {
    let rows = [
        tick(1, 1, "A", 1.0),
        tick(2, 2, "B", 2.0),
        tick(3, 5, "A", 3.0),
        tick(4, 3, "A", 4.0),
        tick(5, 4, "B", 5.0),
        tick(6, 6, "C", 6.0),
    ];
    append_flushed(&b, &rows).await;
    let latest = ticks(&b)
        .latest(Tick::SYMBOL, &Filter::all())
        .await
        .expect("latest");
    let got: Vec<(String, i64)> = latest.into_iter().map(|t| (t.symbol, t.id)).collect();
    assert_eq!(
        got,
        [
            ("A".to_owned(), 3),
            ("B".to_owned(), 5),
            ("C".to_owned(), 6)
        ]
    );
}

/// `latest` considers only rows matching the filter; a symbol with none is absent.
pub async fn latest_respects_filter<B: TimeSeriesBackend>(b: B) {
    let rows = [
        tick(1, 1, "A", 10.0),
        tick(2, 2, "A", 90.0),
        tick(3, 3, "B", 95.0),
        tick(4, 4, "C", 20.0),
        tick(5, 5, "C", 30.0),
    ];
    append_flushed(&b, &rows).await;
    let latest = ticks(&b)
        .latest(Tick::SYMBOL, &Tick::VALUE.lt(50.0))
        .await
        .expect("latest");
    let got: Vec<i64> = latest.into_iter().map(|t| t.id).collect();
    assert_eq!(got, [1, 5]);
}

/// `append_all` writes a batch (out of time order) and reports every item written.
pub async fn append_all_batch<B: TimeSeriesBackend>(b: B) {
    let rows: Vec<Tick> = super::shuffled(100)
        .into_iter()
        .map(|i| tick(i as i64, i as i64, "A", i as f64))
        .collect();
    let report = ticks(&b).append_all(&rows).await.expect("append_all");
    assert!(report.is_complete(), "{:?}", report.failed);
    assert_eq!(report.written, 100);
    ticks(&b).flush().await.expect("flush");
    assert_eq!(
        range_ids(&b, &everything()).await,
        (0..100).collect::<Vec<i64>>()
    );
}

/// An empty batch succeeds and writes nothing.
pub async fn append_all_empty_batch<B: TimeSeriesBackend>(b: B) {
    let report = ticks(&b).append_all(&[]).await.expect("append_all");
    assert_eq!(report.written, 0);
    ticks(&b).flush().await.expect("flush");
    assert!(range_ids(&b, &everything()).await.is_empty());
}

/// After `flush` returns, every row appended before it is visible.
pub async fn flush_makes_appends_visible<B: TimeSeriesBackend>(b: B) {
    let repo = ticks(&b);
    for i in 0..10 {
        repo.append(&tick(i, i, "A", 1.0)).await.expect("append");
    }
    repo.flush().await.expect("flush");
    assert_eq!(range_ids(&b, &everything()).await.len(), 10);
    repo.flush()
        .await
        .expect("a second flush with nothing pending");
    if b.capabilities().read_your_writes {
        repo.append(&tick(10, 10, "A", 1.0)).await.expect("append");
        assert_eq!(
            range_ids(&b, &everything()).await.len(),
            11,
            "read_your_writes: visible without flush"
        );
    }
}

/// Two appends with the same id and timestamp: one row (the later) with `time_series_dedup`,
/// two rows without.
pub async fn same_id_and_timestamp<B: TimeSeriesBackend>(b: B) {
    append_flushed(&b, &[tick(1, 7, "A", 1.0)]).await;
    append_flushed(&b, &[tick(1, 7, "A", 2.0)]).await;
    let got = ticks(&b).range(&everything()).await.expect("range");
    if b.capabilities().time_series_dedup {
        let values: Vec<f64> = got.iter().map(|t| t.value).collect();
        assert_eq!(values, [2.0], "DEDUP keeps the later row");
        // Within one batch too, the later row wins.
        append_flushed(&b, &[tick(2, 8, "A", 3.0), tick(2, 8, "A", 4.0)]).await;
        let got = ticks(&b)
            .range(&everything().filter(Tick::ID.eq(2)))
            .await
            .expect("range");
        let values: Vec<f64> = got.iter().map(|t| t.value).collect();
        assert_eq!(values, [4.0], "DEDUP in one batch keeps the later row");
    } else {
        skip::<B>(
            "same_id_and_timestamp",
            "time_series_dedup (checking both rows are kept)",
        );
        assert_eq!(got.len(), 2, "without dedup every append is a row");
    }
}

/// A row's identity is (ids, timestamp) on every backend: the same id at distinct timestamps is
/// distinct rows, never an overwrite (a Postgres table keyed by the id alone lost them).
pub async fn same_id_at_distinct_timestamps_are_distinct_rows<B: TimeSeriesBackend>(b: B) {
    append_flushed(&b, &[tick(1, 7, "A", 1.0)]).await;
    append_flushed(&b, &[tick(1, 8, "A", 2.0)]).await;
    append_flushed(&b, &[tick(1, 9, "A", 3.0), tick(1, 10, "A", 4.0)]).await;
    let got = ticks(&b).range(&everything()).await.expect("range");
    let values: Vec<(i64, f64)> = got.iter().map(|t| (t.id, t.value)).collect();
    assert_eq!(values, [(1, 1.0), (1, 2.0), (1, 3.0), (1, 4.0)]);
}

/// Symbols and text with spaces, commas, equals signs, quotes, backslashes, newlines and unicode.
pub async fn unicode_symbols_and_text<B: TimeSeriesBackend>(b: B) {
    let mut t = tick(1, 1, "SOL/USDC 🚀, x=y", 1.0);
    t.note = Some("é \"quoted\" back\\slash\nline, a=b".to_owned());
    let plain = tick(2, 2, "plain", 2.0);
    append_flushed(&b, &[t.clone(), plain]).await;
    let got = ticks(&b)
        .range(&everything().filter(Tick::SYMBOL.eq(t.symbol.clone())))
        .await
        .expect("range");
    assert_eq!(got, [t]);
}

/// 8 tasks x 25 appends: every row is stored once.
pub async fn concurrent_appends<B: TimeSeriesBackend>(b: B) {
    let mut tasks = Vec::new();
    for task in 0..8i64 {
        let repo = ticks(&b);
        tasks.push(tokio::spawn(async move {
            for i in 0..25i64 {
                let id = task * 100 + i;
                repo.append(&tick(id, id, "A", 1.0)).await?;
            }
            Ok::<_, Error>(())
        }));
    }
    for t in tasks {
        t.await.expect("task panicked").expect("append failed");
    }
    ticks(&b).flush().await.expect("flush");
    let mut ids = range_ids(&b, &everything()).await;
    ids.sort_unstable();
    let want: Vec<i64> = (0..8)
        .flat_map(|t| (0..25).map(move |i| t * 100 + i))
        .collect();
    assert_eq!(ids, want);
}

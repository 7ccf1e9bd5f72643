//! Cases for [`MetricsBackend`]: quantiles against `percentile_cont`, summaries, downsampling,
//! NULL handling, windows and validation.
//!
//! Quantiles are compared with the tolerance the backend declares in
//! [`crate::Capabilities::quantiles`]; sums and means use values whose float sums are exact.

use std::time::Duration;

use super::time_series::tick;
use super::{assert_validation, at, at_micros, close, shuffled, skip};
use crate::backend::{MetricsBackend, QuantileAccuracy, TimeSeriesBackend};
use crate::conformance::entities::Tick;
use crate::query::{Aggregate, Bucket, MetricQuery, Summary, bucket_start, percentile_cont};
use crate::repository::Repository;
use crate::store::{MetricsStore, TimeSeriesStore};

fn ticks<B: TimeSeriesBackend>(b: &B) -> Repository<Tick, B> {
    Repository::new(b.clone())
}

async fn append_flushed<B: TimeSeriesBackend>(b: &B, rows: &[Tick]) {
    let report = ticks(b).append_all(rows).await.expect("append_all");
    assert!(report.is_complete(), "{:?}", report.failed);
    ticks(b).flush().await.expect("flush");
}

fn window() -> MetricQuery<Tick> {
    MetricQuery::new(Tick::VALUE, at(-1_000_000), at(1_000_000))
}

/// The tolerance for quantiles the backend declares.
fn tolerance<B: MetricsBackend>(b: &B) -> f64 {
    match b.capabilities().quantiles {
        QuantileAccuracy::Exact => 1e-9,
        QuantileAccuracy::Approximate { relative_error } => relative_error.max(1e-9),
    }
}

async fn summary<B: MetricsBackend + TimeSeriesBackend>(b: &B, q: &MetricQuery<Tick>) -> Summary {
    ticks(b).summary(q).await.expect("summary")
}

/// p0, p50, p95, p99 and p100 of 1..=100 (appended out of order) equal `percentile_cont`.
pub async fn quantiles_match_percentile_cont<B: MetricsBackend + TimeSeriesBackend>(b: B) {
    let rows: Vec<Tick> = shuffled(100)
        .into_iter()
        .map(|i| tick(i as i64, i as i64, "A", (i + 1) as f64))
        .collect();
    append_flushed(&b, &rows).await;
    let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
    let tol = tolerance(&b);
    for p in [0.0, 0.5, 0.95, 0.99, 1.0] {
        let want = percentile_cont(&sorted, p).unwrap_or(f64::NAN);
        let got = ticks(&b).quantile(&window(), p).await.expect("quantile");
        assert!(
            got.is_some_and(|g| close(g, want, tol)),
            "p{p}: got {got:?}, want {want} (tolerance {tol})"
        );
    }
}

/// `p` outside `0..=1` (and NaN) is a validation error.
pub async fn quantile_outside_unit_interval_rejected<B: MetricsBackend + TimeSeriesBackend>(b: B) {
    append_flushed(&b, &[tick(1, 1, "A", 1.0)]).await;
    for p in [-0.01, 1.01, f64::NAN, f64::INFINITY] {
        assert_validation(
            ticks(&b).quantile(&window(), p).await,
            "Tick",
            None,
            &format!("quantile {p}"),
        );
    }
}

/// A window without rows: quantile `None`, summary count 0 with no min/max/mean/sum, no buckets.
pub async fn empty_window<B: MetricsBackend + TimeSeriesBackend>(b: B) {
    assert_eq!(
        ticks(&b).quantile(&window(), 0.5).await.expect("quantile"),
        None,
        "empty table"
    );
    append_flushed(&b, &[tick(1, 100, "A", 1.0)]).await;
    let q = MetricQuery::new(Tick::VALUE, at(0), at(100));
    assert_eq!(ticks(&b).quantile(&q, 0.5).await.expect("quantile"), None);
    assert_eq!(summary(&b, &q).await, Summary::default());
    let buckets = ticks(&b)
        .downsample(&q, Duration::from_secs(60), Aggregate::Sum)
        .await
        .expect("downsample");
    assert!(buckets.is_empty(), "{buckets:?}");
}

/// count / min / max / mean / sum of a window.
pub async fn summary_of_window<B: MetricsBackend + TimeSeriesBackend>(b: B) {
    let values = [1.5, -2.0, 4.0, 0.5];
    let rows: Vec<Tick> = values
        .iter()
        .enumerate()
        .map(|(i, v)| tick(i as i64, i as i64, "A", *v))
        .collect();
    append_flushed(&b, &rows).await;
    let s = summary(&b, &window()).await;
    assert_eq!(
        s,
        Summary {
            count: 4,
            min: Some(-2.0),
            max: Some(4.0),
            mean: Some(1.0),
            sum: Some(4.0)
        }
    );
}

/// NULLs of the aggregated column are ignored by every aggregate.
pub async fn nulls_are_ignored<B: MetricsBackend + TimeSeriesBackend>(b: B) {
    let prices = [Some(1.0), None, Some(3.0), None, Some(5.0)];
    let rows: Vec<Tick> = prices
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut t = tick(i as i64, i as i64, "A", 0.0);
            t.price = *p;
            t
        })
        .collect();
    append_flushed(&b, &rows).await;
    let q = MetricQuery::new(Tick::PRICE, at(-10), at(10));
    assert_eq!(
        summary(&b, &q).await,
        Summary {
            count: 3,
            min: Some(1.0),
            max: Some(5.0),
            mean: Some(3.0),
            sum: Some(9.0)
        }
    );
    let median = ticks(&b).quantile(&q, 0.5).await.expect("quantile");
    assert!(
        median.is_some_and(|m| close(m, 3.0, tolerance(&b))),
        "median {median:?}"
    );
    let buckets = ticks(&b)
        .downsample(&q, Duration::from_secs(3600), Aggregate::Count)
        .await
        .expect("downsample");
    let counts: Vec<u64> = buckets.iter().map(|b| b.count).collect();
    assert_eq!(counts, [3]);
}

/// Metric windows include their start and exclude their end.
pub async fn window_bounds<B: MetricsBackend + TimeSeriesBackend>(b: B) {
    let rows: Vec<Tick> = (0..10).map(|i| tick(i, i, "A", i as f64)).collect();
    append_flushed(&b, &rows).await;
    let q = MetricQuery::new(Tick::VALUE, at(2), at(5));
    let s = summary(&b, &q).await;
    assert_eq!((s.count, s.min, s.max), (3, Some(2.0), Some(4.0)));
    let q = MetricQuery::new(Tick::VALUE, at_micros(2_000_001), at_micros(5_000_001));
    let s = summary(&b, &q).await;
    assert_eq!((s.count, s.min, s.max), (3, Some(3.0), Some(5.0)));
}

/// Aggregates consider only rows matching the filter.
pub async fn metrics_respect_filter<B: MetricsBackend + TimeSeriesBackend>(b: B) {
    let mut rows: Vec<Tick> = (0..10).map(|i| tick(i, i, "A", (i + 1) as f64)).collect();
    rows.extend((10..20).map(|i| tick(i, i, "B", 100.0 + i as f64)));
    append_flushed(&b, &rows).await;
    let only_a = window().filter(Tick::SYMBOL.eq("A".to_owned()));
    let s = summary(&b, &only_a).await;
    assert_eq!(
        (s.count, s.min, s.max, s.sum),
        (10, Some(1.0), Some(10.0), Some(55.0))
    );
    let p50 = ticks(&b).quantile(&only_a, 0.5).await.expect("quantile");
    assert!(
        p50.is_some_and(|m| close(m, 5.5, tolerance(&b))),
        "p50 {p50:?}"
    );
    let all = summary(&b, &window()).await;
    assert_eq!(all.count, 20);
}

/// Aggregates over an integer column.
pub async fn integer_column<B: MetricsBackend + TimeSeriesBackend>(b: B) {
    let qty = [3i64, -1, 10, 4];
    let rows: Vec<Tick> = qty
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let mut t = tick(i as i64, i as i64, "A", 0.0);
            t.qty = Some(*q);
            t
        })
        .collect();
    append_flushed(&b, &rows).await;
    let q = MetricQuery::new(Tick::QTY, at(-10), at(10));
    assert_eq!(
        summary(&b, &q).await,
        Summary {
            count: 4,
            min: Some(-1.0),
            max: Some(10.0),
            mean: Some(4.0),
            sum: Some(16.0)
        }
    );
    let p50 = ticks(&b).quantile(&q, 0.5).await.expect("quantile");
    assert!(
        p50.is_some_and(|m| close(m, 3.5, tolerance(&b))),
        "p50 {p50:?}"
    );
}

/// Buckets start at multiples of the width since the Unix epoch, whatever the window start;
/// ascending; empty buckets omitted.
pub async fn downsample_buckets_are_aligned<B: MetricsBackend + TimeSeriesBackend>(b: B) {
    let secs = [30, 45, 59, 60, 61, 150, 299];
    let rows: Vec<Tick> = secs.iter().map(|s| tick(*s, *s, "A", 1.0)).collect();
    append_flushed(&b, &rows).await;
    // The window starts mid-bucket and ends before the last row.
    let q = MetricQuery::new(Tick::VALUE, at(30), at(290));
    let width = Duration::from_secs(60);
    let buckets = ticks(&b)
        .downsample(&q, width, Aggregate::Count)
        .await
        .expect("downsample");
    let got: Vec<(i64, u64)> = buckets
        .iter()
        .map(|b| (b.start.timestamp() - super::T0_SECS, b.count))
        .collect();
    assert_eq!(
        got,
        [(0, 3), (60, 2), (120, 1)],
        "bucket 180..240 is empty and omitted"
    );
    for bucket in &buckets {
        assert_eq!(
            bucket_start("Tick", bucket.start, width).ok(),
            Some(bucket.start)
        );
        assert_eq!(bucket.value, bucket.count as f64);
    }
}

/// Every aggregate per bucket.
pub async fn downsample_aggregates<B: MetricsBackend + TimeSeriesBackend>(b: B) {
    // Bucket 0: 1, 2, 6; bucket 10 s: -4, 0.5.
    let points = [(0, 1.0), (3, 2.0), (9, 6.0), (10, -4.0), (19, 0.5)];
    let rows: Vec<Tick> = points.iter().map(|(s, v)| tick(*s, *s, "A", *v)).collect();
    append_flushed(&b, &rows).await;
    let width = Duration::from_secs(10);
    let expect = [
        (Aggregate::Count, [3.0, 2.0]),
        (Aggregate::Min, [1.0, -4.0]),
        (Aggregate::Max, [6.0, 0.5]),
        (Aggregate::Sum, [9.0, -3.5]),
        (Aggregate::Mean, [3.0, -1.75]),
    ];
    for (aggregate, values) in expect {
        let buckets = ticks(&b)
            .downsample(&window(), width, aggregate)
            .await
            .expect("downsample");
        let want = [
            Bucket {
                start: at(0),
                value: values[0],
                count: 3,
            },
            Bucket {
                start: at(10),
                value: values[1],
                count: 2,
            },
        ];
        assert_eq!(buckets, want, "{aggregate:?}");
    }
    let bad = ticks(&b)
        .downsample(&window(), Duration::ZERO, Aggregate::Sum)
        .await;
    assert_validation(bad, "Tick", None, "zero bucket width");
}

/// Aggregates over a text column are validation errors naming the column.
pub async fn non_numeric_column_rejected<B: MetricsBackend + TimeSeriesBackend>(b: B) {
    append_flushed(&b, &[tick(1, 1, "A", 1.0)]).await;
    let note = MetricQuery::new(Tick::NOTE, at(-10), at(10));
    assert_validation(
        ticks(&b).summary(&note).await,
        "Tick",
        Some("note"),
        "summary of a text column",
    );
    let symbol = MetricQuery::new(Tick::SYMBOL, at(-10), at(10));
    assert_validation(
        ticks(&b).quantile(&symbol, 0.5).await,
        "Tick",
        Some("symbol"),
        "quantile of a text column",
    );
    let buckets = ticks(&b)
        .downsample(&note, Duration::from_secs(1), Aggregate::Count)
        .await;
    assert_validation(buckets, "Tick", Some("note"), "downsample of a text column");
}

/// A window that ends before it starts is a validation error.
pub async fn reversed_window_rejected<B: MetricsBackend + TimeSeriesBackend>(b: B) {
    let q = MetricQuery::new(Tick::VALUE, at(10), at(5));
    assert_validation(ticks(&b).summary(&q).await, "Tick", None, "reversed window");
    assert_validation(
        ticks(&b).quantile(&q, 0.5).await,
        "Tick",
        None,
        "reversed window",
    );
}

/// With `nan_and_infinity`, NaN is a value above every number (as Postgres orders floats): it
/// counts, it is the max, and the minimum and low quantiles are unaffected.
pub async fn nan_in_metrics<B: MetricsBackend + TimeSeriesBackend>(b: B) {
    if !b.capabilities().limits.non_finite_floats {
        skip::<B>("nan_in_metrics", "nan_and_infinity");
        return;
    }
    let rows = [
        tick(1, 1, "A", 1.0),
        tick(2, 2, "A", f64::NAN),
        tick(3, 3, "A", 2.0),
    ];
    append_flushed(&b, &rows).await;
    let s = summary(&b, &window()).await;
    assert_eq!((s.count, s.min), (3, Some(1.0)), "{s:?}");
    assert!(s.max.is_some_and(f64::is_nan), "max {:?}", s.max);
    let p0 = ticks(&b).quantile(&window(), 0.0).await.expect("quantile");
    assert_eq!(p0, Some(1.0));
    let p50 = ticks(&b).quantile(&window(), 0.5).await.expect("quantile");
    assert_eq!(
        p50,
        Some(2.0),
        "NaN sorts last: the median of (1, 2, NaN) is 2"
    );
}

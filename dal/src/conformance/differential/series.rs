//! Operation sequences over a time series, and over its metrics.

use std::time::Duration;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::sample::Index;

use super::Shape;
use super::compare::with_first_batch;
use super::compare::{
    FilterPick, as_stored, as_stored_filter, as_stored_ts, build_filter, check_batch, check_write,
    close, difference, read_failed, row_of, same_multiset, same_row, same_value,
};
use super::records::filter_pick;
use super::values::base;
use crate::backend::{Capabilities, MetricsBackend, TimeSeriesBackend};
use crate::entity::{FieldKind, FieldMeta, TimeSeries};
use crate::error::Error;
use crate::memory::Memory;
use crate::query::{Aggregate, AnyColumn, Column, MetricQuery, RangeQuery};
use crate::repository::Repository;
use crate::store::{MetricsStore, TimeSeriesStore};

/// A window bound: near a row seen so far, near the base instant, or an extreme.
#[derive(Debug, Clone)]
pub(super) enum TsPick {
    Seen(Index, i64),
    Base(i64),
    Min,
    Max,
}

impl TsPick {
    fn at<T: TimeSeries>(&self, seen: &[T]) -> DateTime<Utc> {
        match self {
            TsPick::Seen(i, nanos) if !seen.is_empty() => {
                let ts = i.get(seen).timestamp();
                ts.checked_add_signed(chrono::Duration::nanoseconds(*nanos))
                    .unwrap_or(ts)
            }
            TsPick::Seen(_, _) | TsPick::Base(_) => {
                let secs = if let TsPick::Base(s) = self { *s } else { 0 };
                base() + chrono::Duration::seconds(secs)
            }
            TsPick::Min => DateTime::<Utc>::MIN_UTC,
            TsPick::Max => DateTime::<Utc>::MAX_UTC,
        }
    }
}

fn ts_pick() -> impl Strategy<Value = TsPick> {
    prop_oneof![
        4 => (any::<Index>(), prop::sample::select(vec![-1_000i64, -1, 0, 1, 1_000]))
            .prop_map(|(i, n)| TsPick::Seen(i, n)),
        2 => (-5i64..45).prop_map(TsPick::Base),
        1 => Just(TsPick::Min),
        1 => Just(TsPick::Max),
    ]
}

/// One operation of a time-series sequence.
#[derive(Debug, Clone)]
pub(super) enum SeriesOp<T> {
    Append(T),
    AppendAll(Vec<T>),
    Range {
        start: TsPick,
        end: TsPick,
        newest_first: bool,
        limit: Option<usize>,
        filter: Option<FilterPick>,
    },
    Latest {
        by: Index,
        filter: Option<FilterPick>,
    },
    Flush,
}

pub(super) fn sequence<T: Shape + TimeSeries>(max_ops: usize) -> BoxedStrategy<Vec<SeriesOp<T>>> {
    let op = prop_oneof![
        3 => T::strategy().prop_map(SeriesOp::Append),
        2 => proptest::collection::vec(T::strategy(), 0..8).prop_map(SeriesOp::AppendAll),
        3 => (ts_pick(), ts_pick(), any::<bool>(), proptest::option::of(1usize..6), filter_pick())
            .prop_map(|(start, end, newest_first, limit, filter)| SeriesOp::Range {
                start, end, newest_first, limit, filter,
            }),
        1 => (any::<Index>(), filter_pick()).prop_map(|(by, filter)| SeriesOp::Latest { by, filter }),
        1 => Just(SeriesOp::Flush),
    ];
    with_first_batch(T::strategy(), op, 1..10, max_ops, SeriesOp::AppendAll)
}

/// Columns `latest` may group by: exact, comparable kinds.
fn latest_columns<T: TimeSeries>() -> Vec<&'static FieldMeta> {
    T::META
        .fields
        .iter()
        .filter(|f| {
            !f.timestamp
                && matches!(
                    f.kind,
                    FieldKind::Text
                        | FieldKind::I16
                        | FieldKind::I32
                        | FieldKind::I64
                        | FieldKind::Bool
                        | FieldKind::Uuid
                )
        })
        .collect()
}

/// An untyped column handle for a field of `T` (the suite picks columns at run time).
fn any_column<T: TimeSeries>(field: &'static FieldMeta) -> AnyColumn<T> {
    Column::<T, bool>::__new(field).into()
}

/// Applies a write to the backend, checks the outcome against the limits, and mirrors what was
/// accepted into the reference.
async fn write<T: Shape + TimeSeries, B: TimeSeriesBackend>(
    b: &Repository<T, B>,
    m: &Repository<T, Memory>,
    caps: &Capabilities,
    rows: &[T],
    batch: bool,
) -> Result<(), String> {
    if batch {
        let report = b.append_all(rows).await;
        let kept = check_batch("append_all", rows, caps, report)?;
        m.append_all(&kept)
            .await
            .map_err(|e| format!("the reference refused it: {e}"))?;
    } else {
        for row in rows {
            let expected = caps.limits.check(row);
            let got = b.append(row).await;
            if check_write("append", row, &expected, &got)? {
                m.append(&as_stored(row, caps))
                    .await
                    .map_err(|e| format!("the reference refused it: {e}"))?;
            }
        }
    }
    Ok(())
}

/// Compares two range results: the same timestamps in the same order, and the same rows at each
/// timestamp in any order (ties have no order). With a limit, the last timestamp's rows may be
/// any of the reference's rows at that timestamp.
fn same_range<T: TimeSeries>(got: &[T], want: &[T], all: &[T], limited: bool) -> bool {
    let ts = |rows: &[T]| rows.iter().map(TimeSeries::timestamp).collect::<Vec<_>>();
    if ts(got) != ts(want) {
        return false;
    }
    let mut start = 0;
    while start < got.len() {
        let t = got[start].timestamp();
        let end = start
            + got[start..]
                .iter()
                .take_while(|r| r.timestamp() == t)
                .count();
        let ok = if limited && end == got.len() {
            got[start..end]
                .iter()
                .all(|g| all.iter().any(|a| a.timestamp() == t && same_row(g, a)))
        } else {
            same_multiset(&got[start..end], &want[start..end])
        };
        if !ok {
            return false;
        }
        start = end;
    }
    true
}

async fn flush_for_read<T: TimeSeries, B: TimeSeriesBackend>(
    b: &Repository<T, B>,
    caps: &Capabilities,
) -> Result<(), String> {
    if caps.read_your_writes {
        return Ok(());
    }
    b.flush()
        .await
        .map_err(|e| format!("flush failed: `{e}` ({e:?})"))
}

pub(super) async fn run<T: Shape + TimeSeries, B: TimeSeriesBackend>(
    backend: B,
    reference: Memory,
    ops: Vec<SeriesOp<T>>,
) -> Result<(), String> {
    let caps = backend.capabilities();
    let b: Repository<T, B> = Repository::new(backend);
    let m: Repository<T, Memory> = Repository::new(reference);
    let mut seen: Vec<T> = Vec::new();
    for (n, op) in ops.iter().enumerate() {
        let at = |s: String| format!("operation {n}: {s}");
        match op {
            SeriesOp::Append(row) => {
                seen.push(row.clone());
                write(&b, &m, &caps, std::slice::from_ref(row), false)
                    .await
                    .map_err(at)?;
            }
            SeriesOp::AppendAll(rows) => {
                seen.extend(rows.iter().cloned());
                write(&b, &m, &caps, rows, true).await.map_err(at)?;
            }
            SeriesOp::Range {
                start,
                end,
                newest_first,
                limit,
                filter,
            } => {
                flush_for_read(&b, &caps).await.map_err(at)?;
                let filter = build_filter(filter, &seen);
                let (start, end) = (start.at(&seen), end.at(&seen));
                let mut reference =
                    RangeQuery::new(as_stored_ts(start, &caps), as_stored_ts(end, &caps))
                        .filter(as_stored_filter(&filter, &caps));
                let mut query = RangeQuery::new(start, end).filter(filter);
                if *newest_first {
                    query = query.newest_first();
                    reference = reference.newest_first();
                }
                let unlimited = reference.clone();
                if let Some(limit) = limit {
                    query = query.limit(*limit);
                    reference = reference.limit(*limit);
                }
                let want = m.range(&reference).await.map_err(|e| at(e.to_string()))?;
                let all = m.range(&unlimited).await.map_err(|e| at(e.to_string()))?;
                let got = b
                    .range(&query)
                    .await
                    .map_err(|e| at(read_failed("range", &e)))?;
                if !same_range(&got, &want, &all, limit.is_some()) {
                    return Err(at(format!(
                        "range({query:?}) returned {}",
                        difference(&got, &want)
                    )));
                }
            }
            SeriesOp::Latest { by, filter } => {
                let columns = latest_columns::<T>();
                if columns.is_empty() {
                    continue;
                }
                flush_for_read(&b, &caps).await.map_err(at)?;
                let field = by.get(&columns);
                let filter = build_filter(filter, &seen);
                let want = m
                    .latest(any_column(field), &as_stored_filter(&filter, &caps))
                    .await
                    .map_err(|e| at(e.to_string()))?;
                let got = b
                    .latest(any_column(field), &filter)
                    .await
                    .map_err(|e| at(read_failed("latest", &e)))?;
                let key = |r: &T| (row_of(r)[field.index].clone(), r.timestamp());
                let same = got.len() == want.len()
                    && got.iter().zip(&want).all(|(g, w)| {
                        let (gk, gt) = key(g);
                        let (wk, wt) = key(w);
                        same_value(&gk, &wk) && gt == wt
                    });
                if !same {
                    let got_rows: Vec<_> = got.iter().map(row_of).collect();
                    return Err(at(format!(
                        "latest(by {}, {:?}) returned\n{got_rows:#?}\nthe reference\n{want:#?}",
                        field.name,
                        filter.conditions()
                    )));
                }
            }
            SeriesOp::Flush => b
                .flush()
                .await
                .map_err(|e| at(format!("flush failed: `{e}` ({e:?})")))?,
        }
    }
    flush_for_read(&b, &caps).await?;
    let everything = RangeQuery::new(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    let reference = RangeQuery::new(
        as_stored_ts(DateTime::<Utc>::MIN_UTC, &caps),
        as_stored_ts(DateTime::<Utc>::MAX_UTC, &caps),
    );
    let want = m.range(&reference).await.map_err(|e| e.to_string())?;
    let got = b
        .range(&everything)
        .await
        .map_err(|e| read_failed("range over everything", &e))?;
    if !same_range(&got, &want, &want, false) {
        return Err(format!(
            "at the end, range over everything returned {}",
            difference(&got, &want)
        ));
    }
    Ok(())
}

/// One operation of a metrics sequence.
#[derive(Debug, Clone)]
pub(super) enum MetricOp<T> {
    Append(Vec<T>),
    Quantile {
        column: Index,
        p: f64,
        window: (TsPick, TsPick),
        filter: Option<FilterPick>,
    },
    Summary {
        column: Index,
        window: (TsPick, TsPick),
        filter: Option<FilterPick>,
    },
    Downsample {
        column: Index,
        window: (TsPick, TsPick),
        width_secs: u64,
        aggregate: u8,
    },
}

pub(super) fn metric_sequence<T: Shape + TimeSeries>(
    max_ops: usize,
) -> BoxedStrategy<Vec<MetricOp<T>>> {
    let window = || (ts_pick(), ts_pick());
    let p = prop_oneof![
        4 => prop::sample::select(vec![0.0, 0.5, 0.95, 0.99, 1.0]),
        2 => 0.0f64..=1.0,
        1 => prop::sample::select(vec![-0.1, 1.5, f64::NAN]),
    ];
    let op = prop_oneof![
        2 => proptest::collection::vec(T::strategy(), 0..8).prop_map(MetricOp::Append),
        2 => (any::<Index>(), p, window(), filter_pick())
            .prop_map(|(column, p, window, filter)| MetricOp::Quantile { column, p, window, filter }),
        2 => (any::<Index>(), window(), filter_pick())
            .prop_map(|(column, window, filter)| MetricOp::Summary { column, window, filter }),
        2 => (any::<Index>(), window(), prop::sample::select(vec![1u64, 7, 60, 3600]), 0u8..5)
            .prop_map(|(column, window, width_secs, aggregate)| MetricOp::Downsample {
                column, window, width_secs, aggregate,
            }),
    ];
    with_first_batch(T::strategy(), op, 1..10, max_ops, MetricOp::Append)
}

fn numeric_columns<T: TimeSeries>() -> Vec<&'static FieldMeta> {
    T::META
        .fields
        .iter()
        .filter(|f| f.kind.is_numeric() && !f.id)
        .collect()
}

fn same_opt_f64(a: Option<f64>, b: Option<f64>, tolerance: f64) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => {
            close(x, y) || (x.is_finite() && y.is_finite() && (x - y).abs() <= tolerance)
        }
        (None, None) => true,
        _ => false,
    }
}

/// Both succeeded, or both failed with the same category (a validation error for a bad `p`).
fn same_failure(got: &Error, want: &Error) -> bool {
    std::mem::discriminant(got) == std::mem::discriminant(want)
}

pub(super) async fn run_metrics<T: Shape + TimeSeries, B: TimeSeriesBackend + MetricsBackend>(
    backend: B,
    reference: Memory,
    ops: Vec<MetricOp<T>>,
) -> Result<(), String> {
    let caps = backend.capabilities();
    let b: Repository<T, B> = Repository::new(backend);
    let m: Repository<T, Memory> = Repository::new(reference);
    let mut seen: Vec<T> = Vec::new();
    let columns = numeric_columns::<T>();
    if columns.is_empty() {
        return Ok(());
    }
    let quantile_tolerance = match caps.quantiles {
        crate::backend::QuantileAccuracy::Exact => 0.0,
        crate::backend::QuantileAccuracy::Approximate { relative_error } => relative_error,
    };
    for (n, op) in ops.iter().enumerate() {
        let at = |s: String| format!("operation {n}: {s}");
        // The backend's query, and the reference's with timestamps as the store truncates them.
        let query = |column: &Index, window: &(TsPick, TsPick), filter: &Option<FilterPick>| {
            let field = column.get(&columns);
            let (start, end) = (window.0.at(&seen), window.1.at(&seen));
            let filter = build_filter(filter, &seen);
            let reference = MetricQuery::new(
                any_column::<T>(field),
                as_stored_ts(start, &caps),
                as_stored_ts(end, &caps),
            )
            .filter(as_stored_filter(&filter, &caps));
            (
                MetricQuery::new(any_column::<T>(field), start, end).filter(filter),
                reference,
            )
        };
        match op {
            MetricOp::Append(rows) => {
                seen.extend(rows.iter().cloned());
                write(&b, &m, &caps, rows, true).await.map_err(at)?;
            }
            MetricOp::Quantile {
                column,
                p,
                window,
                filter,
            } => {
                flush_for_read(&b, &caps).await.map_err(at)?;
                let (q, r) = query(column, window, filter);
                // The caller's window is validated as given; the store then sees it truncated.
                let want = match q.validate() {
                    Err(e) => Err(e),
                    Ok(()) => m.quantile(&r, *p).await,
                };
                let got = b.quantile(&q, *p).await;
                let ok = match (&got, &want) {
                    (Ok(g), Ok(w)) => match (g, w) {
                        (Some(g), Some(w)) if quantile_tolerance > 0.0 => {
                            close(*g, *w) || (g - w).abs() <= quantile_tolerance * w.abs()
                        }
                        _ => same_opt_f64(*g, *w, 0.0),
                    },
                    (Err(g), Err(w)) => same_failure(g, w),
                    _ => false,
                };
                if !ok {
                    return Err(at(format!(
                        "quantile({q:?}, {p}) returned {got:?}, the reference {want:?}"
                    )));
                }
            }
            MetricOp::Summary {
                column,
                window,
                filter,
            } => {
                flush_for_read(&b, &caps).await.map_err(at)?;
                let (q, r) = query(column, window, filter);
                let want = match q.validate() {
                    Err(e) => Err(e),
                    Ok(()) => m.summary(&r).await,
                };
                let got = b.summary(&q).await;
                let ok = match (&got, &want) {
                    (Ok(g), Ok(w)) => {
                        g.count == w.count
                            && same_opt_f64(g.min, w.min, 0.0)
                            && same_opt_f64(g.max, w.max, 0.0)
                            && same_opt_f64(g.mean, w.mean, 0.0)
                            && same_opt_f64(g.sum, w.sum, 0.0)
                    }
                    (Err(g), Err(w)) => same_failure(g, w),
                    _ => false,
                };
                if !ok {
                    return Err(at(format!(
                        "summary({q:?}) returned {got:?}, the reference {want:?}"
                    )));
                }
            }
            MetricOp::Downsample {
                column,
                window,
                width_secs,
                aggregate,
            } => {
                flush_for_read(&b, &caps).await.map_err(at)?;
                let (q, r) = query(column, window, &None);
                let aggregate = [
                    Aggregate::Count,
                    Aggregate::Min,
                    Aggregate::Max,
                    Aggregate::Mean,
                    Aggregate::Sum,
                ][usize::from(*aggregate % 5)];
                let width = Duration::from_secs(*width_secs);
                let want = match q.validate() {
                    Err(e) => Err(e),
                    Ok(()) => m.downsample(&r, width, aggregate).await,
                };
                let got = b.downsample(&q, width, aggregate).await;
                let ok = match (&got, &want) {
                    (Ok(g), Ok(w)) => {
                        g.len() == w.len()
                            && g.iter().zip(w).all(|(g, w)| {
                                g.start == w.start
                                    && g.count == w.count
                                    && same_opt_f64(Some(g.value), Some(w.value), 0.0)
                            })
                    }
                    (Err(g), Err(w)) => same_failure(g, w),
                    _ => false,
                };
                if !ok {
                    return Err(at(format!(
                        "downsample({q:?}, {width:?}, {aggregate:?}) returned {got:?}, the reference {want:?}"
                    )));
                }
            }
        }
    }
    Ok(())
}

//! The backend traits of the memory backend, written once over [`Access`] and implemented for
//! both [`Memory`] and [`Tx`].
//!
//! Every operation first pays its simulated latency and checks injected faults, then encodes
//! outside the lock, touches the tables inside it as briefly as possible (cloning `Arc` rows
//! out), and decodes outside it again.

use std::any::TypeId;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::faults::Op;
use super::tables::{Kind, Row, TableRef, Tables, Write};
use super::{Access, Memory, NAME, Tx};
use crate::backend::{
    Backend, CacheBackend, Capabilities, MetricsBackend, QuantileAccuracy, RecordBackend,
    TimeSeriesBackend, TransactionalBackend,
};
use crate::entity::{Entity, EntityMeta, Keyed, TimeSeries};
use crate::error::{Error, Result};
use crate::key::encode_key;
use crate::query::{
    Accumulator, Aggregate, AnyColumn, BatchReport, Bucket, Cursor, Downsampler, Filter, ListQuery,
    MetricQuery, Order, Page, RangeQuery, Summary, bucket_start, check_quantile, cmp_nan_last,
};
use crate::value::{RowCapture, RowDecoder, Value};

/// What the memory backend (and its transactions) can do.
pub(crate) fn capabilities() -> Capabilities {
    let mut caps = Capabilities::none();
    caps.transactions = true;
    caps.quantiles = QuantileAccuracy::Exact;
    caps.ttl_expiry = true;
    caps.limits.non_finite_floats = true;
    caps.limits.nul_in_text = true;
    caps.read_your_writes = true;
    caps.time_series_dedup = true;
    caps.timestamp_precision = Duration::from_nanos(1);
    caps
}

// ---- codec -------------------------------------------------------------------------------------

/// Captures an entity as a row and checks what the memory store enforces itself (`max_len`,
/// declared decimal scales, which it applies as every backend does).
fn capture<T: Entity>(entity: &T) -> Result<Row> {
    let meta = T::META;
    let mut capture = RowCapture(Vec::with_capacity(meta.fields.len()));
    entity.encode(&mut capture)?;
    check_row(meta, &mut capture.0)?;
    Ok(Arc::from(capture.0))
}

fn check_row(meta: &'static EntityMeta, row: &mut [Value]) -> Result<()> {
    if row.len() != meta.fields.len() {
        return Err(Error::invalid(
            meta.name,
            format_args!(
                "encode visited {} fields but the entity declares {}",
                row.len(),
                meta.fields.len()
            ),
        ));
    }
    for field in meta.fields {
        match row.get_mut(field.index) {
            Some(Value::Text(text)) if field.max_len.is_some() => field.check_max_len(text)?,
            Some(Value::Decimal(d)) => *d = field.fit_decimal(d)?,
            _ => {}
        }
    }
    Ok(())
}

fn decode<T: Entity>(row: &[Value]) -> Result<T> {
    T::decode(&mut RowDecoder::new(row))
}

thread_local! {
    /// Scratch for rendering keys, so a lookup allocates no key and a write allocates the key
    /// once at its exact length.
    static KEY_BUF: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Renders `key` into a reused buffer and hands it to `f`.
fn with_key<T: Keyed, R>(key: &T::Key, f: impl FnOnce(&str) -> R) -> Result<R> {
    KEY_BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            let rendered = encode_key::<T>(key, &mut buf).map(|()| f(&buf));
            // Do not keep a huge buffer alive for the thread's lifetime.
            if buf.capacity() > 4_096 {
                *buf = String::new();
            }
            rendered
        }
        // Only if `f` rendered a key itself; stay correct rather than panic.
        Err(_) => {
            let mut own = String::new();
            encode_key::<T>(key, &mut own)?;
            Ok(f(&own))
        }
    })
}

/// The key as an owned string.
fn key_of<T: Keyed>(key: &T::Key) -> Result<String> {
    with_key::<T, _>(key, str::to_owned)
}

fn entity_key<T: Keyed>(entity: &T) -> Result<String> {
    key_of::<T>(&entity.key())
}

/// Compares the id values of `a` and `b` lexicographically ([`Value::total_cmp`] per part).
fn cmp_ids(ids: &[usize], a: &[Value], b: &[Value]) -> Ordering {
    for &i in ids {
        let ord = match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) => x.total_cmp(y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Compares the id values of `row` with a cursor's key values.
fn cmp_cursor(ids: &[usize], row: &[Value], cursor: &[Value]) -> Ordering {
    for (n, &i) in ids.iter().enumerate() {
        let ord = match (row.get(i), cursor.get(n)) {
            (Some(x), Some(y)) => x.total_cmp(y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    // A cursor with more parts than the key is past every row with that prefix.
    ids.len().cmp(&cursor.len())
}

/// A `Value` ordered by [`Value::total_cmp`], for grouping.
struct Ordered<'a>(&'a Value);

impl PartialEq for Ordered<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(other.0) == Ordering::Equal
    }
}
impl Eq for Ordered<'_> {}
impl PartialOrd for Ordered<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ordered<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(other.0)
    }
}

async fn enter<A: Access>(a: &A, op: Op) -> Result<()> {
    a.root().faults().enter(op).await
}

// ---- records -----------------------------------------------------------------------------------

async fn save<A: Access, T: Keyed>(a: &A, entity: &T) -> Result<()> {
    enter(a, Op::Save).await?;
    let row = capture(entity)?;
    let key = entity_key(entity)?;
    a.apply(TableRef::of::<T>(Kind::Records), [Write::Save { key, row }])?;
    Ok(())
}

async fn save_all<A: Access, T: Keyed>(a: &A, entities: &[T]) -> Result<BatchReport> {
    enter(a, Op::SaveAll).await?;
    let faults = a.root().faults();
    let mut report = BatchReport::default();
    let mut writes = Vec::with_capacity(entities.len());
    for (index, entity) in entities.iter().enumerate() {
        let write = match faults.item(Op::SaveAll, index) {
            Some(e) => Err(e),
            None => capture(entity).and_then(|row| {
                Ok(Write::Save {
                    key: entity_key(entity)?,
                    row,
                })
            }),
        };
        match write {
            Ok(w) => writes.push(w),
            Err(e) => report.failed.push((index, e)),
        }
    }
    report.written = writes.len();
    if !writes.is_empty() {
        a.apply(TableRef::of::<T>(Kind::Records), writes)?;
    }
    Ok(report)
}

async fn get<A: Access, T: Keyed>(a: &A, key: &T::Key) -> Result<Option<T>> {
    enter(a, Op::Get).await?;
    let table = TableRef::of::<T>(Kind::Records);
    let row = with_key::<T, _>(key, |key| {
        a.read(table, |t| {
            t.records
                .get(&table.id)
                .and_then(|t| t.rows.get(key))
                .cloned()
        })
    })??;
    row.map(|r| decode(&r)).transpose()
}

async fn get_many<A: Access, T: Keyed>(a: &A, keys: &[T::Key]) -> Result<Vec<Option<T>>> {
    enter(a, Op::GetMany).await?;
    let keys = keys.iter().map(key_of::<T>).collect::<Result<Vec<_>>>()?;
    let table = TableRef::of::<T>(Kind::Records);
    let rows = a.read(table, |t| {
        let rows = t.records.get(&table.id);
        keys.iter()
            .map(|k| rows.and_then(|t| t.rows.get(k)).cloned())
            .collect::<Vec<_>>()
    })?;
    rows.into_iter()
        .map(|r| r.map(|r| decode(&r)).transpose())
        .collect()
}

async fn list<A: Access, T: Keyed>(a: &A, query: &ListQuery<T>) -> Result<Page<T>> {
    enter(a, Op::List).await?;
    query.validate(T::META.name)?;
    let ids = T::META.id_fields;
    let after = query.after.as_ref().map(Cursor::key_values);
    let limit = query.limit;
    let table = TableRef::of::<T>(Kind::Records);
    let (page, more) = a.read(table, |t| {
        let Some(t) = t.records.get(&table.id) else {
            return (Vec::new(), false);
        };
        let mut hits: Vec<&Row> = t
            .rows
            .values()
            .filter(|r| after.is_none_or(|c| cmp_cursor(ids, r, c) == Ordering::Greater))
            .filter(|r| query.filter.matches(r))
            .collect();
        let more = hits.len() > limit;
        if more {
            // Only the first `limit` rows need sorting.
            hits.select_nth_unstable_by(limit, |x, y| cmp_ids(ids, x, y));
            hits.truncate(limit);
        }
        hits.sort_unstable_by(|x, y| cmp_ids(ids, x, y));
        (hits.into_iter().cloned().collect::<Vec<Row>>(), more)
    })?;
    let next = match (more, page.last()) {
        (true, Some(last)) => Some(Cursor::from_key_values(
            ids.iter()
                .map(|&i| last.get(i).cloned().unwrap_or(Value::Null))
                .collect(),
        )),
        _ => None,
    };
    let items = page.iter().map(|r| decode(r)).collect::<Result<Vec<T>>>()?;
    Ok(Page { items, next })
}

async fn delete<A: Access, T: Keyed>(a: &A, key: &T::Key) -> Result<bool> {
    enter(a, Op::Delete).await?;
    let key = key_of::<T>(key)?;
    a.apply(TableRef::of::<T>(Kind::Records), [Write::Delete { key }])
}

// ---- time series -------------------------------------------------------------------------------

async fn append<A: Access, T: TimeSeries>(a: &A, row: &T) -> Result<()> {
    enter(a, Op::Append).await?;
    let ts = row.timestamp();
    let row = capture(row)?;
    let ids = T::META.id_fields;
    a.apply(
        TableRef::of::<T>(Kind::Series),
        [Write::Append { ids, ts, row }],
    )?;
    Ok(())
}

async fn append_all<A: Access, T: TimeSeries>(a: &A, rows: &[T]) -> Result<BatchReport> {
    enter(a, Op::AppendAll).await?;
    let faults = a.root().faults();
    let mut report = BatchReport::default();
    let mut accepted = Vec::with_capacity(rows.len());
    for (index, entity) in rows.iter().enumerate() {
        let row = match faults.item(Op::AppendAll, index) {
            Some(e) => Err(e),
            None => capture(entity),
        };
        match row {
            Ok(row) => accepted.push((entity.timestamp(), row)),
            Err(e) => report.failed.push((index, e)),
        }
    }
    report.written = accepted.len();
    if !accepted.is_empty() {
        a.apply(
            TableRef::of::<T>(Kind::Series),
            [Write::AppendMany {
                ids: T::META.id_fields,
                rows: accepted,
            }],
        )?;
    }
    Ok(report)
}

async fn range<A: Access, T: TimeSeries>(a: &A, query: &RangeQuery<T>) -> Result<Vec<T>> {
    enter(a, Op::Range).await?;
    let table = TableRef::of::<T>(Kind::Series);
    let limit = query.limit.unwrap_or(usize::MAX);
    let rows = a.read(table, |t| {
        let Some(t) = t.series.get(&table.id) else {
            return Vec::new();
        };
        let window = t.window(query.start, query.end);
        let matching = |(_, r): &&(DateTime<Utc>, Row)| query.filter.matches(r);
        match query.order {
            Order::Asc => window
                .iter()
                .filter(matching)
                .take(limit)
                .map(|(_, r)| r.clone())
                .collect::<Vec<Row>>(),
            Order::Desc => window
                .iter()
                .rev()
                .filter(matching)
                .take(limit)
                .map(|(_, r)| r.clone())
                .collect(),
        }
    })?;
    rows.iter().map(|r| decode(r)).collect()
}

async fn latest<A: Access, T: TimeSeries>(
    a: &A,
    by: AnyColumn<T>,
    filter: &Filter<T>,
) -> Result<Vec<T>> {
    enter(a, Op::Latest).await?;
    let by = by.field().index;
    let table = TableRef::of::<T>(Kind::Series);
    let rows = a.read(table, |t| {
        let Some(t) = t.series.get(&table.id) else {
            return Vec::new();
        };
        let mut newest: BTreeMap<Ordered<'_>, &Row> = BTreeMap::new();
        // Newest first: the first row seen per group wins (among equal timestamps, the last
        // appended).
        for (_, row) in t.rows.iter().rev() {
            if let Some(v) = row.get(by)
                && filter.matches(row)
            {
                newest.entry(Ordered(v)).or_insert(row);
            }
        }
        newest.into_values().cloned().collect::<Vec<Row>>()
    })?;
    rows.iter().map(|r| decode(r)).collect()
}

// ---- metrics -----------------------------------------------------------------------------------

/// Hands `f` the timestamp and value of every non-NULL value of the query's column in its
/// window, in time order (under the read lock: `f` only does arithmetic).
fn for_each_value<A: Access, T: TimeSeries>(
    a: &A,
    query: &MetricQuery<T>,
    mut f: impl FnMut(DateTime<Utc>, f64) -> Result<()>,
) -> Result<()> {
    query.validate()?;
    let column = query.value.field().index;
    let table = TableRef::of::<T>(Kind::Series);
    a.read(table, |t| {
        let Some(t) = t.series.get(&table.id) else {
            return Ok(());
        };
        t.window(query.start, query.end)
            .iter()
            .filter(|(_, r)| query.filter.matches(r))
            .filter_map(|(ts, r)| r.get(column).and_then(Value::as_f64).map(|v| (*ts, v)))
            .try_for_each(|(ts, v)| f(ts, v))
    })?
}

async fn quantile<A: Access, T: TimeSeries>(
    a: &A,
    query: &MetricQuery<T>,
    p: f64,
) -> Result<Option<f64>> {
    enter(a, Op::Quantile).await?;
    check_quantile(T::META.name, p)?;
    let mut values = Vec::new();
    for_each_value(a, query, |_, v| {
        values.push(v);
        Ok(())
    })?;
    Ok(select_percentile_cont(&mut values, p))
}

/// [`crate::query::percentile_cont`] without a full sort: selects the two neighbouring ranks it interpolates
/// between (O(n) instead of O(n log n)), with NaN above every number. Reorders `values`.
fn select_percentile_cont(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    // The same rank arithmetic as `percentile_cont`, so results are bit-for-bit the same.
    let rank = p * (values.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let frac = rank - lo as f64;
    let (_, &mut low, upper) = values.select_nth_unstable_by(lo, |x, y| cmp_nan_last(*x, *y));
    if hi == lo {
        // An exact rank is the value itself, as in Postgres (interpolating would turn an
        // infinity into NaN: inf + (inf - inf) * 0).
        return Some(low);
    }
    // Everything above rank `lo` is in `upper`; the next rank is its least element.
    let high = upper
        .iter()
        .copied()
        .min_by(|x, y| cmp_nan_last(*x, *y))
        .unwrap_or(low);
    Some(low + (high - low) * frac)
}

async fn summary<A: Access, T: TimeSeries>(a: &A, query: &MetricQuery<T>) -> Result<Summary> {
    enter(a, Op::Summary).await?;
    let mut acc: Option<Accumulator> = None;
    for_each_value(a, query, |_, v| {
        Accumulator::push(&mut acc, v);
        Ok(())
    })?;
    Ok(Accumulator::summary(acc))
}

async fn downsample<A: Access, T: TimeSeries>(
    a: &A,
    query: &MetricQuery<T>,
    width: Duration,
    aggregate: Aggregate,
) -> Result<Vec<Bucket>> {
    enter(a, Op::Downsample).await?;
    let entity = T::META.name;
    bucket_start(entity, query.start, width)?;
    let mut buckets = Downsampler::new(entity, width)?;
    // Values come in time order, so buckets come in ascending order too.
    for_each_value(a, query, |ts, v| buckets.add(ts, v))?;
    Ok(buckets.finish(aggregate))
}

// ---- cache -------------------------------------------------------------------------------------

fn check_ttl<T: Entity>(ttl: Option<Duration>) -> Result<()> {
    match ttl {
        Some(d) if d.is_zero() => Err(Error::invalid(
            T::META.name,
            "a TTL of zero would expire at once: give a positive TTL or none",
        )),
        _ => Ok(()),
    }
}

fn cache_write<A: Access, T: Keyed>(a: &A, entity: &T, ttl: Option<Duration>) -> Result<Write> {
    let row = capture(entity)?;
    let key = entity_key(entity)?;
    let now = a.root().clock().now();
    // A TTL past the end of the clock's range never expires.
    let expires = ttl.and_then(|d| now.checked_add(d));
    Ok(Write::Put {
        key,
        row,
        expires,
        now,
    })
}

async fn put<A: Access, T: Keyed>(a: &A, entity: &T, ttl: Option<Duration>) -> Result<()> {
    enter(a, Op::Put).await?;
    check_ttl::<T>(ttl)?;
    let write = cache_write(a, entity, ttl)?;
    a.apply(TableRef::of::<T>(Kind::Cache), [write])?;
    Ok(())
}

async fn put_all<A: Access, T: Keyed>(
    a: &A,
    entities: &[T],
    ttl: Option<Duration>,
) -> Result<BatchReport> {
    enter(a, Op::PutAll).await?;
    check_ttl::<T>(ttl)?;
    let faults = a.root().faults();
    let mut report = BatchReport::default();
    let mut writes = Vec::with_capacity(entities.len());
    for (index, entity) in entities.iter().enumerate() {
        let write = match faults.item(Op::PutAll, index) {
            Some(e) => Err(e),
            None => cache_write(a, entity, ttl),
        };
        match write {
            Ok(w) => writes.push(w),
            Err(e) => report.failed.push((index, e)),
        }
    }
    report.written = writes.len();
    if !writes.is_empty() {
        a.apply(TableRef::of::<T>(Kind::Cache), writes)?;
    }
    Ok(report)
}

/// A live cache entry: its row and remaining TTL.
type Live = (Row, Option<Duration>);

/// The live cache entry of `T` under `key`.
fn live_entry(t: &Tables, id: TypeId, key: &str, now: Instant) -> Option<Live> {
    let entry = t.cache.get(&id)?.entries.get(key)?;
    entry
        .live(now)
        .then(|| (entry.row.clone(), entry.expires.map(|at| at - now)))
}

/// The live cache entry of `T` under `key`, read through `a`.
fn lookup_one<A: Access, T: Keyed>(a: &A, key: &T::Key) -> Result<Option<Live>> {
    let now = a.root().clock().now();
    let table = TableRef::of::<T>(Kind::Cache);
    with_key::<T, _>(key, |key| {
        a.read(table, |t| live_entry(t, table.id, key, now))
    })?
}

async fn lookup<A: Access, T: Keyed>(a: &A, key: &T::Key) -> Result<Option<T>> {
    enter(a, Op::Lookup).await?;
    match lookup_one::<A, T>(a, key)? {
        Some((row, _)) => decode(&row).map(Some),
        None => Ok(None),
    }
}

async fn lookup_many<A: Access, T: Keyed>(a: &A, keys: &[T::Key]) -> Result<Vec<Option<T>>> {
    enter(a, Op::LookupMany).await?;
    let keys = keys.iter().map(key_of::<T>).collect::<Result<Vec<_>>>()?;
    let now = a.root().clock().now();
    let table = TableRef::of::<T>(Kind::Cache);
    let rows = a.read(table, |t| {
        keys.iter()
            .map(|k| live_entry(t, table.id, k, now))
            .collect::<Vec<_>>()
    })?;
    rows.into_iter()
        .map(|r| r.map(|(row, _)| decode(&row)).transpose())
        .collect()
}

async fn invalidate<A: Access, T: Keyed>(a: &A, key: &T::Key) -> Result<bool> {
    enter(a, Op::Invalidate).await?;
    let key = key_of::<T>(key)?;
    let now = a.root().clock().now();
    a.apply(
        TableRef::of::<T>(Kind::Cache),
        [Write::Invalidate { key, now }],
    )
}

async fn remaining_ttl<A: Access, T: Keyed>(a: &A, key: &T::Key) -> Result<Option<Duration>> {
    enter(a, Op::RemainingTtl).await?;
    Ok(lookup_one::<A, T>(a, key)?.and_then(|(_, ttl)| ttl))
}

// ---- trait impls -------------------------------------------------------------------------------

/// The backend traits, forwarding to the generic operations above; shared by `Memory` and `Tx`.
macro_rules! backend_traits {
    ($ty:ty) => {
        impl RecordBackend for $ty {
            async fn save<T: Keyed>(&self, entity: &T) -> Result<()> {
                save(self, entity).await
            }
            async fn save_all<T: Keyed>(&self, entities: &[T]) -> Result<BatchReport> {
                save_all(self, entities).await
            }
            async fn get<T: Keyed>(&self, key: &T::Key) -> Result<Option<T>> {
                get(self, key).await
            }
            async fn get_many<T: Keyed>(&self, keys: &[T::Key]) -> Result<Vec<Option<T>>> {
                get_many(self, keys).await
            }
            async fn list<T: Keyed>(&self, query: &ListQuery<T>) -> Result<Page<T>> {
                list(self, query).await
            }
            async fn delete<T: Keyed>(&self, key: &T::Key) -> Result<bool> {
                delete::<_, T>(self, key).await
            }
        }

        impl TimeSeriesBackend for $ty {
            async fn append<T: TimeSeries>(&self, row: &T) -> Result<()> {
                append(self, row).await
            }
            async fn append_all<T: TimeSeries>(&self, rows: &[T]) -> Result<BatchReport> {
                append_all(self, rows).await
            }
            async fn range<T: TimeSeries>(&self, query: &RangeQuery<T>) -> Result<Vec<T>> {
                range(self, query).await
            }
            async fn latest<T: TimeSeries>(
                &self,
                by: AnyColumn<T>,
                filter: &Filter<T>,
            ) -> Result<Vec<T>> {
                latest(self, by, filter).await
            }
            async fn flush(&self) -> Result<()> {
                // Every write is visible when its call returns.
                enter(self, Op::Flush).await
            }
        }

        impl MetricsBackend for $ty {
            async fn quantile<T: TimeSeries>(
                &self,
                query: &MetricQuery<T>,
                p: f64,
            ) -> Result<Option<f64>> {
                quantile(self, query, p).await
            }
            async fn summary<T: TimeSeries>(&self, query: &MetricQuery<T>) -> Result<Summary> {
                summary(self, query).await
            }
            async fn downsample<T: TimeSeries>(
                &self,
                query: &MetricQuery<T>,
                width: Duration,
                aggregate: Aggregate,
            ) -> Result<Vec<Bucket>> {
                downsample(self, query, width, aggregate).await
            }
        }

        impl CacheBackend for $ty {
            async fn put<T: Keyed>(&self, entity: &T, ttl: Option<Duration>) -> Result<()> {
                put(self, entity, ttl).await
            }
            async fn put_all<T: Keyed>(
                &self,
                entities: &[T],
                ttl: Option<Duration>,
            ) -> Result<BatchReport> {
                put_all(self, entities, ttl).await
            }
            async fn lookup<T: Keyed>(&self, key: &T::Key) -> Result<Option<T>> {
                lookup(self, key).await
            }
            async fn lookup_many<T: Keyed>(&self, keys: &[T::Key]) -> Result<Vec<Option<T>>> {
                lookup_many(self, keys).await
            }
            async fn invalidate<T: Keyed>(&self, key: &T::Key) -> Result<bool> {
                invalidate::<_, T>(self, key).await
            }
            async fn remaining_ttl<T: Keyed>(&self, key: &T::Key) -> Result<Option<Duration>> {
                remaining_ttl::<_, T>(self, key).await
            }
        }

        impl TransactionalBackend for $ty {
            type Tx = Tx;

            async fn begin(&self) -> Result<Tx> {
                enter(self, Op::Begin).await?;
                Tx::begin(self)
            }
        }
    };
}

backend_traits!(Memory);
backend_traits!(Tx);

impl Backend for Memory {
    const NAME: &'static str = NAME;

    fn capabilities(&self) -> Capabilities {
        capabilities()
    }

    async fn health_check(&self) -> Result<()> {
        enter(self, Op::HealthCheck).await
    }
}

#[cfg(test)]
mod tests {
    use super::{cmp_nan_last, select_percentile_cont};
    use crate::query::percentile_cont;

    /// The selection gives exactly what a full sort and `percentile_cont` give, NaN and
    /// infinities included.
    #[test]
    fn selected_quantiles_equal_sorted_quantiles() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let specials = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 0.0];
        for len in [1_usize, 2, 3, 10, 101, 1_000] {
            let values: Vec<f64> = (0..len)
                .map(|_| match next() % 20 {
                    0 => specials[(next() % 5) as usize],
                    n if n < 8 => (next() % 10) as f64, // many ties
                    _ => (next() % 1_000_000) as f64 / 7.0 - 50_000.0,
                })
                .collect();
            let mut sorted = values.clone();
            sorted.sort_unstable_by(|x, y| cmp_nan_last(*x, *y));
            for p in [0.0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0] {
                let want = percentile_cont(&sorted, p);
                let got = select_percentile_cont(&mut values.clone(), p);
                assert_eq!(
                    got.map(f64::to_bits),
                    want.map(f64::to_bits),
                    "len {len} p {p}: {got:?} vs {want:?}"
                );
            }
        }
        assert_eq!(select_percentile_cont(&mut [], 0.5), None);
    }
}

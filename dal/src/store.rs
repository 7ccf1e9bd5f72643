//! The four user-facing store traits, each a minimal contract, and their extension traits.
//!
//! `Repository<T, B>` implements each trait for every backend `B` that implements the matching
//! backend trait (see [`crate::backend`]), so application code is written against one bound:
//! `fn f(trades: &impl TimeSeriesStore<Trade>)`. No two traits share a method name, so a
//! repository that implements several never needs disambiguation.

use std::future::Future;
use std::time::Duration;

use crate::entity::{Keyed, TimeSeries};
use crate::error::{Error, Result};
use crate::query::{
    Aggregate, AnyColumn, BatchReport, Bucket, Filter, ListQuery, MetricQuery, Page, RangeQuery,
    Summary,
};

/// Keyed records (configuration, metadata): upsert, get, list with keyset pagination, delete.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a record store for `{T}`",
    note = "a Repository<T, B> is a RecordStore when T has #[entity(id)] fields and B implements RecordBackend (Memory, Postgres, Redis)"
)]
pub trait RecordStore<T: Keyed>: Send + Sync {
    /// Inserts the record, or replaces the stored record with the same key.
    fn save(&self, entity: &T) -> impl Future<Output = Result<()>> + Send;
    /// Upserts many records in as few round trips as the store allows; reports per-item failures.
    fn save_all(&self, entities: &[T]) -> impl Future<Output = Result<BatchReport>> + Send;
    /// The record with this key, if any.
    fn get(&self, key: &T::Key) -> impl Future<Output = Result<Option<T>>> + Send;
    /// One slot per key, in request order.
    fn get_many(&self, keys: &[T::Key]) -> impl Future<Output = Result<Vec<Option<T>>>> + Send;
    /// One page of records matching the query's filter, ascending by key.
    fn list(&self, query: &ListQuery<T>) -> impl Future<Output = Result<Page<T>>> + Send;
    /// Removes the record; whether one existed.
    fn delete(&self, key: &T::Key) -> impl Future<Output = Result<bool>> + Send;
}

/// Conveniences over [`RecordStore`], implemented for every record store.
pub trait RecordStoreExt<T: Keyed>: RecordStore<T> {
    /// The record with this key, or [`Error::NotFound`].
    fn get_required(&self, key: &T::Key) -> impl Future<Output = Result<T>> + Send {
        async move { self.get(key).await?.ok_or_else(|| not_found::<T>(key)) }
    }

    /// Every record matching `filter`, fetched page by page.
    fn list_all(&self, filter: Filter<T>) -> impl Future<Output = Result<Vec<T>>> + Send {
        async move {
            let mut out = Vec::new();
            let mut query = ListQuery::new(filter, LIST_ALL_PAGE);
            loop {
                let page = self.list(&query).await?;
                out.extend(page.items);
                match page.next {
                    Some(cursor) => query.after = Some(cursor),
                    None => return Ok(out),
                }
            }
        }
    }
}

impl<T: Keyed, S: RecordStore<T> + ?Sized> RecordStoreExt<T> for S {}

/// The page size of `list_all`.
pub(crate) const LIST_ALL_PAGE: usize = 1_000;

/// The error of `get_required` for a missing key.
pub(crate) fn not_found<T: Keyed>(key: &T::Key) -> Error {
    Error::NotFound {
        entity: T::META.name,
        key: format!("{key:?}"),
    }
}

/// Append-mostly rows with a designated timestamp (trades, positions, metrics, events).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a time-series store for `{T}`",
    note = "a Repository<T, B> is a TimeSeriesStore when T has an #[entity(timestamp)] field and B implements TimeSeriesBackend (Memory, Postgres, QuestDB)"
)]
pub trait TimeSeriesStore<T: TimeSeries>: Send + Sync {
    /// Appends one row.
    fn append(&self, row: &T) -> impl Future<Output = Result<()>> + Send;
    /// Appends many rows in as few round trips as the store allows; reports per-item failures.
    fn append_all(&self, rows: &[T]) -> impl Future<Output = Result<BatchReport>> + Send;
    /// Rows with `start <= ts < end` matching the filter, in timestamp order.
    fn range(&self, query: &RangeQuery<T>) -> impl Future<Output = Result<Vec<T>>> + Send;
    /// The newest row per distinct value of `by` among rows matching `filter`.
    fn latest(
        &self,
        by: impl Into<AnyColumn<T>> + Send,
        filter: &Filter<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send;
    /// Returns once every row appended before the call is stored and visible.
    fn flush(&self) -> impl Future<Output = Result<()>> + Send;
}

/// Aggregates over one numeric column of a time series (latency, slippage, MEV metrics).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a metrics store for `{T}`",
    note = "a Repository<T, B> is a MetricsStore when T has an #[entity(timestamp)] field and B implements MetricsBackend (Memory, Postgres, QuestDB)"
)]
pub trait MetricsStore<T: TimeSeries>: Send + Sync {
    /// The `p` quantile (0.0..=1.0) of the window; `None` when it holds no value.
    fn quantile(
        &self,
        query: &MetricQuery<T>,
        p: f64,
    ) -> impl Future<Output = Result<Option<f64>>> + Send;
    /// count/min/max/mean/sum of the window.
    fn summary(&self, query: &MetricQuery<T>) -> impl Future<Output = Result<Summary>> + Send;
    /// The window cut into buckets of `width`, one aggregate per non-empty bucket.
    fn downsample(
        &self,
        query: &MetricQuery<T>,
        width: Duration,
        aggregate: Aggregate,
    ) -> impl Future<Output = Result<Vec<Bucket>>> + Send;
}

/// A TTL cache of keyed entities (prices, pool state).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a cache for `{T}`",
    note = "a Repository<T, B> is a CacheStore when T has #[entity(id)] fields and B implements CacheBackend (Memory, Redis)"
)]
pub trait CacheStore<T: Keyed>: Send + Sync {
    /// Caches the entity with its default TTL (`redis(ttl = "..")`; none: no expiry).
    fn put(&self, entity: &T) -> impl Future<Output = Result<()>> + Send;
    /// Caches the entity with an explicit TTL.
    fn put_with_ttl(&self, entity: &T, ttl: Duration) -> impl Future<Output = Result<()>> + Send;
    /// Caches many entities with their default TTL, pipelined.
    fn put_all(&self, entities: &[T]) -> impl Future<Output = Result<BatchReport>> + Send;
    /// The cached entity, if present and not expired.
    fn lookup(&self, key: &T::Key) -> impl Future<Output = Result<Option<T>>> + Send;
    /// One slot per key, in request order, in one round trip.
    fn lookup_many(&self, keys: &[T::Key]) -> impl Future<Output = Result<Vec<Option<T>>>> + Send;
    /// Removes the entry; whether one existed.
    fn invalidate(&self, key: &T::Key) -> impl Future<Output = Result<bool>> + Send;
    /// Time left before the entry expires; `None` when missing or without expiry.
    fn remaining_ttl(&self, key: &T::Key) -> impl Future<Output = Result<Option<Duration>>> + Send;
}

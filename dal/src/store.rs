//! The four user-facing store traits, each a minimal contract, and their extension traits.
//!
//! `Repository<T, B>` implements each trait for every backend `B` that implements the matching
//! backend trait (see [`crate::backend`]), so application code is written against one bound:
//! `fn f(trades: &impl TimeSeriesStore<Trade>)`. No two traits share a method name, so a
//! repository that implements several never needs disambiguation.
//!
//! # Errors, on every method
//! Each method documents the errors particular to it. Beside those, any method may fail with
//! [`Error::Unavailable`] or [`Error::Timeout`] when the store cannot be reached or does not
//! answer in time (transient: the retry policy repeats the call), and with [`Error::Backend`] for
//! anything else the store reports, marked transient or not. A write whose connection is lost
//! after the store received it and before it answered is reported as [`Error::OutcomeUnknown`]
//! where the backend can detect that case: read its retry advice before you retry. A value a
//! store cannot hold ([`crate::Capabilities::limits`], a field's `max_len`, a declared decimal
//! precision and scale) is refused with [`Error::Validation`] naming entity and field before
//! anything of that row is stored.

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
    ///
    /// # Errors
    /// [`Error::Validation`] naming entity and field for a value the store cannot hold (then
    /// nothing is written; on Redis also an encoded value over `RedisOptions::max_value_bytes`),
    /// and the errors common to every method (see the [module docs](self)).
    fn save(&self, entity: &T) -> impl Future<Output = Result<()>> + Send;
    /// Upserts many records in as few round trips as the store allows; reports per-item failures.
    ///
    /// An item the store cannot hold is reported in [`BatchReport::failed`] (by index, with its
    /// [`Error::Validation`]) and the other items are written.
    ///
    /// # Errors
    /// An `Err` means the batch as a whole failed (the store could not be reached, the reply was
    /// lost): which items were written is then not known. Saves are upserts, so sending the
    /// whole batch again is safe. See the [module docs](self) for the common errors.
    fn save_all(&self, entities: &[T]) -> impl Future<Output = Result<BatchReport>> + Send;
    /// The record with this key, if any.
    ///
    /// # Errors
    /// [`Error::Codec`] naming the entity when the stored value cannot be read as `T` (Redis: a
    /// value of another entity or schema version under the key); [`Error::Validation`] when a
    /// key part cannot be rendered as a key (see [`crate::key::encode_key`]).
    fn get(&self, key: &T::Key) -> impl Future<Output = Result<Option<T>>> + Send;
    /// One slot per key, in request order.
    ///
    /// # Errors
    /// As [`RecordStore::get`]; one stored value that cannot be read fails the whole call.
    fn get_many(&self, keys: &[T::Key]) -> impl Future<Output = Result<Vec<Option<T>>>> + Send;
    /// One page of records matching the query's filter, ascending by key.
    ///
    /// # Errors
    /// [`Error::Validation`] when the page size is outside `1..=`[`crate::query::MAX_PAGE_SIZE`];
    /// [`Error::Codec`] as for [`RecordStore::get`].
    fn list(&self, query: &ListQuery<T>) -> impl Future<Output = Result<Page<T>>> + Send;
    /// Removes the record; whether one existed.
    ///
    /// # Errors
    /// [`Error::Validation`] when a key part cannot be rendered as a key; the common errors.
    fn delete(&self, key: &T::Key) -> impl Future<Output = Result<bool>> + Send;
}

/// Conveniences over [`RecordStore`], implemented for every record store.
pub trait RecordStoreExt<T: Keyed>: RecordStore<T> {
    /// The record with this key, or [`Error::NotFound`].
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is none; otherwise as [`RecordStore::get`].
    fn get_required(&self, key: &T::Key) -> impl Future<Output = Result<T>> + Send {
        async move { self.get(key).await?.ok_or_else(|| not_found::<T>(key)) }
    }

    /// Every record matching `filter`, fetched page by page (1,000 per page).
    ///
    /// Pages are separate reads: records saved or deleted meanwhile may be missed or seen.
    ///
    /// # Errors
    /// As [`RecordStore::list`]; the records of pages already read are dropped.
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
    /// Appends one row. A row with the same ids and the same timestamp as a stored row replaces
    /// it where [`crate::Capabilities::time_series_dedup`] says so.
    ///
    /// # Errors
    /// [`Error::Validation`] naming entity and field for a value outside the store's
    /// [`crate::Capabilities::limits`] (then nothing of the row is stored). A backend that
    /// buffers appends (QuestDB's batch writer) returns once the row is buffered: what the server
    /// does with it later is reported by [`TimeSeriesStore::flush`].
    fn append(&self, row: &T) -> impl Future<Output = Result<()>> + Send;
    /// Appends many rows in as few round trips as the store allows; reports per-item failures.
    ///
    /// A row the store cannot hold is reported in [`BatchReport::failed`] (by index, with its
    /// [`Error::Validation`]) and the other rows are appended.
    ///
    /// # Errors
    /// An `Err` means the batch as a whole failed: which rows were stored is then not known, and
    /// sending them again duplicates rows unless the store deduplicates them
    /// ([`crate::Capabilities::time_series_dedup`], rows with ids). See the
    /// [module docs](self) for the common errors.
    fn append_all(&self, rows: &[T]) -> impl Future<Output = Result<BatchReport>> + Send;
    /// Rows with `start <= ts < end` matching the filter, in timestamp order; empty when
    /// `end <= start`.
    ///
    /// The end is exclusive and no `DateTime<Utc>` is later than `DateTime::<Utc>::MAX_UTC`, so a
    /// row stamped exactly `MAX_UTC` (on a store whose [`crate::Limits::timestamp_max`] reaches
    /// it, Memory for one) is never returned by any range. Read such rows with
    /// [`TimeSeriesStore::latest`], or keep sentinel timestamps out of time series.
    ///
    /// # Errors
    /// [`Error::Codec`] naming entity and column when a stored row cannot be read as `T`.
    fn range(&self, query: &RangeQuery<T>) -> impl Future<Output = Result<Vec<T>>> + Send;
    /// The newest row per distinct value of `by` among rows matching `filter`, whatever its
    /// timestamp (including `DateTime::<Utc>::MAX_UTC`, which [`TimeSeriesStore::range`] cannot
    /// reach).
    ///
    /// # Errors
    /// [`Error::Codec`] as for [`TimeSeriesStore::range`].
    fn latest(
        &self,
        by: impl Into<AnyColumn<T>> + Send,
        filter: &Filter<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send;
    /// Returns once every row appended before the call is stored and visible. A no-op on stores
    /// where appends are visible when they return ([`crate::Capabilities::read_your_writes`]).
    ///
    /// # Errors
    /// On a buffering backend (QuestDB), the failure to deliver rows appended since the last
    /// flush: transient while the server is unreachable, permanent for rows the server refused.
    fn flush(&self) -> impl Future<Output = Result<()>> + Send;
}

/// Aggregates over one numeric column of a time series (latency, slippage, MEV metrics).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a metrics store for `{T}`",
    note = "a Repository<T, B> is a MetricsStore when T has an #[entity(timestamp)] field and B implements MetricsBackend (Memory, Postgres, QuestDB)"
)]
pub trait MetricsStore<T: TimeSeries>: Send + Sync {
    /// The `p` quantile (0.0..=1.0) of the window; `None` when it holds no value. Exact or
    /// approximate as [`crate::Capabilities::quantiles`] says.
    ///
    /// # Errors
    /// [`Error::Validation`] when `p` is outside `0.0..=1.0`, the column is not numeric, or the
    /// window ends before it starts.
    fn quantile(
        &self,
        query: &MetricQuery<T>,
        p: f64,
    ) -> impl Future<Output = Result<Option<f64>>> + Send;
    /// count/min/max/mean/sum of the window.
    ///
    /// `mean` and `sum` can differ between backends in the last bits: floating-point addition is
    /// not associative, and each store adds in its own order (Memory and Postgres convert each
    /// value to `f64` and add in timestamp order, rows with equal timestamps in any order on
    /// Postgres; QuestDB in scan order, possibly in parallel). Compare them across backends with
    /// a relative tolerance, not `==`.
    ///
    /// # Errors
    /// [`Error::Validation`] when the column is not numeric or the window ends before it starts.
    fn summary(&self, query: &MetricQuery<T>) -> impl Future<Output = Result<Summary>> + Send;
    /// The window cut into buckets of `width`, one aggregate per non-empty bucket. Means and
    /// sums per bucket can differ in the last bits between backends, as in
    /// [`MetricsStore::summary`].
    ///
    /// # Errors
    /// [`Error::Validation`] when `width` is not a positive whole number of microseconds, the
    /// column is not numeric, or the window ends before it starts.
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
    /// Caches the entity with its default TTL (`redis(ttl = "..")`; none: no expiry). Value and
    /// TTL are written together.
    ///
    /// # Errors
    /// [`Error::Validation`] naming entity and field for a value the store cannot hold (then
    /// nothing is written; on Redis also an encoded value over `RedisOptions::max_value_bytes`),
    /// and the common errors (see the [module docs](self)).
    fn put(&self, entity: &T) -> impl Future<Output = Result<()>> + Send;
    /// Caches the entity with an explicit TTL.
    ///
    /// # Errors
    /// As [`CacheStore::put`], and [`Error::Validation`] for a zero TTL (it would expire at once)
    /// or one the store cannot represent.
    fn put_with_ttl(&self, entity: &T, ttl: Duration) -> impl Future<Output = Result<()>> + Send;
    /// Caches many entities with their default TTL, pipelined.
    ///
    /// An entity the store cannot hold is reported in [`BatchReport::failed`] (by index, with
    /// its [`Error::Validation`]) and the others are written.
    ///
    /// # Errors
    /// An `Err` means the batch as a whole failed: which entries were written is then not known.
    /// Puts overwrite by key, so sending the whole batch again is safe.
    fn put_all(&self, entities: &[T]) -> impl Future<Output = Result<BatchReport>> + Send;
    /// The cached entity, if present and not expired.
    ///
    /// # Errors
    /// [`Error::Codec`] naming the entity when the stored value cannot be read as `T` (Redis: a
    /// value of another entity or schema version under the key: rewrite or invalidate it);
    /// [`Error::Validation`] when a key part cannot be rendered as a key.
    fn lookup(&self, key: &T::Key) -> impl Future<Output = Result<Option<T>>> + Send;
    /// One slot per key, in request order, in one round trip.
    ///
    /// # Errors
    /// As [`CacheStore::lookup`]; one stored value that cannot be read fails the whole call.
    fn lookup_many(&self, keys: &[T::Key]) -> impl Future<Output = Result<Vec<Option<T>>>> + Send;
    /// Removes the entry; whether one existed.
    ///
    /// # Errors
    /// [`Error::Validation`] when a key part cannot be rendered as a key; the common errors.
    fn invalidate(&self, key: &T::Key) -> impl Future<Output = Result<bool>> + Send;
    /// Time left before the entry expires; `None` when missing or without expiry.
    ///
    /// # Errors
    /// [`Error::Validation`] when a key part cannot be rendered as a key; the common errors.
    fn remaining_ttl(&self, key: &T::Key) -> impl Future<Output = Result<Option<Duration>>> + Send;
}

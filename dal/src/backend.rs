//! The implementor side: what a backend implements so that `Repository<T, B>` serves the store
//! traits for every entity `T`.
//!
//! A backend is a cheap `Clone` handle (a pool or a shared map inside). Each backend trait is
//! generic over the entity, so one `impl RecordBackend for MyStore` serves every `#[derive(Entity)]`
//! type. Blanket impls in [`crate::repository`] turn these into the user-facing store traits.
//! What varies in degree between backends is data: [`Capabilities`], read by the conformance suite.
//!
//! # Contract (all backend traits)
//! - Errors MUST be mapped into [`crate::Error`] categories: a lost connection or an unreachable
//!   server is [`Error::Unavailable`](crate::Error::Unavailable) (transient), a stored value that
//!   does not decode is [`Error::Codec`](crate::Error::Codec) naming entity and field.
//! - A method MUST NOT panic on any stored data or user input.
//! - Batch methods MUST NOT leave half of a rejected item written, and MUST report per-item
//!   failures in a [`BatchReport`] while keeping every accepted item.

use std::future::Future;
use std::time::Duration;

use crate::entity::{Keyed, TimeSeries};
use crate::error::Result;
pub use crate::limits::Limits;
use crate::query::{
    Aggregate, AnyColumn, BatchReport, Bucket, Filter, ListQuery, MetricQuery, Page, RangeQuery,
    Summary,
};

/// How exact a backend's quantiles are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QuantileAccuracy {
    /// Exactly Postgres' `percentile_cont` (linear interpolation between closest ranks).
    Exact,
    /// Within `relative_error` of the exact value (for example a sketch-based percentile).
    Approximate {
        /// Bound on `|approx - exact| / |exact|`.
        relative_error: f64,
    },
}

/// What a backend can do, as data. The conformance suite selects its cases from this.
///
/// Construct with [`Capabilities::none`] and set what the backend supports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Multi-entity transactions with rollback ([`TransactionalBackend`]).
    pub transactions: bool,
    /// Accuracy of [`MetricsBackend::quantile`].
    pub quantiles: QuantileAccuracy,
    /// Cache entries expire by themselves after their TTL.
    pub ttl_expiry: bool,
    /// A write is visible to reads as soon as the write call returns (otherwise only after
    /// [`TimeSeriesBackend::flush`]).
    pub read_your_writes: bool,
    /// Time-series appends with the same ids *and* the same timestamp replace each other, the
    /// later append winning (QuestDB's `DEDUP UPSERT KEYS(ts, ids..)`, Postgres' primary key on
    /// (ids.., ts)); otherwise every append is a new row. Rows with distinct timestamps are
    /// distinct rows on every backend, and a time series without ids never deduplicates.
    pub time_series_dedup: bool,
    /// Smallest timestamp step kept by the store. Finer timestamps are floored to it, in stored
    /// rows and in queries alike (range and window bounds, filter values): a bound of
    /// `12:00:22.000000001` on a microsecond store means `12:00:22.000000`.
    pub timestamp_precision: Duration,
    /// The values the store can hold; others are refused at write time.
    pub limits: Limits,
}

impl Capabilities {
    /// Nothing beyond the traits the backend implements; exact quantiles, microsecond timestamps,
    /// no limits on values ([`Limits::NONE`]).
    pub const fn none() -> Self {
        Capabilities {
            transactions: false,
            quantiles: QuantileAccuracy::Exact,
            ttl_expiry: false,
            read_your_writes: true,
            time_series_dedup: false,
            timestamp_precision: Duration::from_micros(1),
            limits: Limits::NONE,
        }
    }
}

/// A storage backend handle.
pub trait Backend: Clone + Send + Sync + 'static {
    /// Short name used in errors, logs and spans (`"postgres"`, `"redis"`, ...).
    const NAME: &'static str;

    /// What this backend can do.
    fn capabilities(&self) -> Capabilities;

    /// One cheap round trip to the store (`SELECT 1`, `PING`).
    ///
    /// # Errors
    /// [`crate::Error::Unavailable`] when the store cannot be reached.
    fn health_check(&self) -> impl Future<Output = Result<()>> + Send;
}

/// Keyed records: upsert, get, list, delete.
///
/// # Contract
/// - `save` is an upsert: saving an entity whose key exists replaces the stored row entirely.
/// - `get_many` returns one slot per requested key, in request order (`None` for missing).
/// - `list` returns rows matching the filter in ascending key order ([`crate::Value::total_cmp`]
///   per key part); paging with `next` visits every matching row exactly once when nothing changes
///   in between.
/// - `delete` returns whether a row was removed.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot store keyed records",
    label = "this backend does not implement RecordBackend",
    note = "use a backend that stores records: Memory, Postgres or Redis"
)]
#[allow(missing_docs)] // each method is documented on RecordStore
pub trait RecordBackend: Backend {
    fn save<T: Keyed>(&self, entity: &T) -> impl Future<Output = Result<()>> + Send;
    fn save_all<T: Keyed>(
        &self,
        entities: &[T],
    ) -> impl Future<Output = Result<BatchReport>> + Send;
    fn get<T: Keyed>(&self, key: &T::Key) -> impl Future<Output = Result<Option<T>>> + Send;
    fn get_many<T: Keyed>(
        &self,
        keys: &[T::Key],
    ) -> impl Future<Output = Result<Vec<Option<T>>>> + Send;
    fn list<T: Keyed>(&self, query: &ListQuery<T>) -> impl Future<Output = Result<Page<T>>> + Send;
    fn delete<T: Keyed>(&self, key: &T::Key) -> impl Future<Output = Result<bool>> + Send;
}

/// Append-mostly rows ordered by a designated timestamp.
///
/// # Contract
/// - `range` returns rows with `start <= ts < end` matching the filter, ordered by timestamp in
///   the requested direction, at most `limit`.
/// - `latest` returns, for every distinct value of `by` among rows matching the filter, the row
///   with the greatest timestamp; ordered by `by` ascending.
/// - After `flush` returns, every row appended before it is visible to reads.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot store time series",
    label = "this backend does not implement TimeSeriesBackend",
    note = "use a backend that stores time series: Memory, Postgres or QuestDB"
)]
#[allow(missing_docs)] // each method is documented on TimeSeriesStore
pub trait TimeSeriesBackend: Backend {
    fn append<T: TimeSeries>(&self, row: &T) -> impl Future<Output = Result<()>> + Send;
    fn append_all<T: TimeSeries>(
        &self,
        rows: &[T],
    ) -> impl Future<Output = Result<BatchReport>> + Send;
    fn range<T: TimeSeries>(
        &self,
        query: &RangeQuery<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send;
    fn latest<T: TimeSeries>(
        &self,
        by: AnyColumn<T>,
        filter: &Filter<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send;
    fn flush(&self) -> impl Future<Output = Result<()>> + Send;
}

/// Aggregates over a numeric column of a time series.
///
/// # Contract
/// - NULL values are ignored; an empty window gives `None` / count 0 / no buckets.
/// - `quantile(p)` follows [`Capabilities::quantiles`]; `p` outside `0..=1` is a validation error.
/// - `downsample` buckets start at multiples of the width since the Unix epoch
///   ([`crate::query::bucket_start`]), ascending, empty buckets omitted.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot compute metrics",
    label = "this backend does not implement MetricsBackend",
    note = "use a backend that aggregates time series: Memory, Postgres or QuestDB"
)]
#[allow(missing_docs)] // each method is documented on MetricsStore
pub trait MetricsBackend: Backend {
    fn quantile<T: TimeSeries>(
        &self,
        query: &MetricQuery<T>,
        p: f64,
    ) -> impl Future<Output = Result<Option<f64>>> + Send;
    fn summary<T: TimeSeries>(
        &self,
        query: &MetricQuery<T>,
    ) -> impl Future<Output = Result<Summary>> + Send;
    fn downsample<T: TimeSeries>(
        &self,
        query: &MetricQuery<T>,
        width: Duration,
        aggregate: Aggregate,
    ) -> impl Future<Output = Result<Vec<Bucket>>> + Send;
}

/// A TTL cache of keyed entities.
///
/// # Contract
/// - `put` writes value and TTL atomically; `ttl = None` means no expiry. A zero TTL is a
///   validation error.
/// - After the TTL has passed, `lookup` returns `None` (when [`Capabilities::ttl_expiry`]).
/// - `remaining_ttl` is `None` for a missing key or a key without expiry.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot serve as a TTL cache",
    label = "this backend does not implement CacheBackend",
    note = "use a backend with TTLs: Memory or Redis"
)]
#[allow(missing_docs)] // each method is documented on CacheStore
pub trait CacheBackend: Backend {
    fn put<T: Keyed>(
        &self,
        entity: &T,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<()>> + Send;
    fn put_all<T: Keyed>(
        &self,
        entities: &[T],
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<BatchReport>> + Send;
    fn lookup<T: Keyed>(&self, key: &T::Key) -> impl Future<Output = Result<Option<T>>> + Send;
    fn lookup_many<T: Keyed>(
        &self,
        keys: &[T::Key],
    ) -> impl Future<Output = Result<Vec<Option<T>>>> + Send;
    fn invalidate<T: Keyed>(&self, key: &T::Key) -> impl Future<Output = Result<bool>> + Send;
    fn remaining_ttl<T: Keyed>(
        &self,
        key: &T::Key,
    ) -> impl Future<Output = Result<Option<Duration>>> + Send;
}

/// A backend that can open transactions. The transaction handle is itself a backend, so
/// `Repository<T, B::Tx>` works inside it, across several entities.
///
/// # Contract
/// Writes through the transaction are invisible outside it until [`Transaction::commit`]; after
/// [`Transaction::rollback`], or when the last clone of the handle is dropped uncommitted, none
/// of them is stored.
pub trait TransactionalBackend: Backend {
    /// The transaction handle.
    type Tx: Transaction;

    /// Opens a transaction (or, on a transaction handle, a nested savepoint).
    ///
    /// # Errors
    /// As the backend's.
    fn begin(&self) -> impl Future<Output = Result<Self::Tx>> + Send;
}

/// An open transaction (see [`TransactionalBackend`]).
pub trait Transaction: Backend {
    /// Makes every write of the transaction visible, atomically.
    ///
    /// # Errors
    /// [`crate::Error::Conflict`] (transient) on a serialization failure; the transaction is
    /// rolled back.
    fn commit(self) -> impl Future<Output = Result<()>> + Send;

    /// Discards every write of the transaction.
    ///
    /// # Errors
    /// As the backend's.
    fn rollback(self) -> impl Future<Output = Result<()>> + Send;
}

//! `Repository<T, B>`: one entity type on one backend, serving every store trait the backend can.
//!
//! The store traits are implemented by blanket impls over the backend traits, so a new backend
//! gets repositories for every entity by implementing the backend traits alone. Each operation
//! runs in a `tracing` span with the backend, entity and operation names.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use tracing::Instrument;

use crate::backend::{Backend, CacheBackend, MetricsBackend, RecordBackend, TimeSeriesBackend};
use crate::entity::{Entity, Keyed, TimeSeries};
use crate::error::Result;
use crate::query::{
    Aggregate, AnyColumn, BatchReport, Bucket, Filter, ListQuery, MetricQuery, Page, RangeQuery,
    Summary,
};
use crate::store::{CacheStore, MetricsStore, RecordStore, TimeSeriesStore};

/// Entity `T` stored on backend `B`. Cheap to clone (it is the backend handle).
pub struct Repository<T, B> {
    backend: B,
    _entity: PhantomData<fn() -> T>,
}

impl<T: Entity, B: Backend> Repository<T, B> {
    /// A repository of `T` on `backend`.
    pub fn new(backend: B) -> Self {
        Repository {
            backend,
            _entity: PhantomData,
        }
    }

    /// The backend handle.
    pub fn backend(&self) -> &B {
        &self.backend
    }
}

impl<T, B: Clone> Clone for Repository<T, B> {
    fn clone(&self) -> Self {
        Repository {
            backend: self.backend.clone(),
            _entity: PhantomData,
        }
    }
}

impl<T: Entity, B: fmt::Debug> fmt::Debug for Repository<T, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repository")
            .field("entity", &T::META.name)
            .field("backend", &self.backend)
            .finish()
    }
}

macro_rules! span {
    ($b:ty, $t:ty, $op:literal) => {
        tracing::debug_span!(
            "dal",
            backend = <$b>::NAME,
            entity = <$t>::META.name,
            op = $op
        )
    };
    ($b:ty, $t:ty, $op:literal, $rows:expr) => {
        tracing::debug_span!(
            "dal",
            backend = <$b>::NAME,
            entity = <$t>::META.name,
            op = $op,
            rows = $rows
        )
    };
}

impl<T: Keyed, B: RecordBackend> RecordStore<T> for Repository<T, B> {
    async fn save(&self, entity: &T) -> Result<()> {
        self.backend
            .save(entity)
            .instrument(span!(B, T, "save"))
            .await
    }
    async fn save_all(&self, entities: &[T]) -> Result<BatchReport> {
        self.backend
            .save_all(entities)
            .instrument(span!(B, T, "save_all", entities.len()))
            .await
    }
    async fn get(&self, key: &T::Key) -> Result<Option<T>> {
        self.backend
            .get::<T>(key)
            .instrument(span!(B, T, "get"))
            .await
    }
    async fn get_many(&self, keys: &[T::Key]) -> Result<Vec<Option<T>>> {
        self.backend
            .get_many::<T>(keys)
            .instrument(span!(B, T, "get_many", keys.len()))
            .await
    }
    async fn list(&self, query: &ListQuery<T>) -> Result<Page<T>> {
        query.validate(T::META.name)?;
        self.backend
            .list(query)
            .instrument(span!(B, T, "list"))
            .await
    }
    async fn delete(&self, key: &T::Key) -> Result<bool> {
        self.backend
            .delete::<T>(key)
            .instrument(span!(B, T, "delete"))
            .await
    }
}

impl<T: TimeSeries, B: TimeSeriesBackend> TimeSeriesStore<T> for Repository<T, B> {
    async fn append(&self, row: &T) -> Result<()> {
        self.backend
            .append(row)
            .instrument(span!(B, T, "append"))
            .await
    }
    async fn append_all(&self, rows: &[T]) -> Result<BatchReport> {
        self.backend
            .append_all(rows)
            .instrument(span!(B, T, "append_all", rows.len()))
            .await
    }
    async fn range(&self, query: &RangeQuery<T>) -> Result<Vec<T>> {
        self.backend
            .range(query)
            .instrument(span!(B, T, "range"))
            .await
    }
    async fn latest(
        &self,
        by: impl Into<AnyColumn<T>> + Send,
        filter: &Filter<T>,
    ) -> Result<Vec<T>> {
        let by = by.into();
        self.backend
            .latest(by, filter)
            .instrument(span!(B, T, "latest"))
            .await
    }
    async fn flush(&self) -> Result<()> {
        self.backend.flush().instrument(span!(B, T, "flush")).await
    }
}

impl<T: TimeSeries, B: MetricsBackend> MetricsStore<T> for Repository<T, B> {
    async fn quantile(&self, query: &MetricQuery<T>, p: f64) -> Result<Option<f64>> {
        query.validate()?;
        crate::query::check_quantile(T::META.name, p)?;
        self.backend
            .quantile(query, p)
            .instrument(span!(B, T, "quantile"))
            .await
    }
    async fn summary(&self, query: &MetricQuery<T>) -> Result<Summary> {
        query.validate()?;
        self.backend
            .summary(query)
            .instrument(span!(B, T, "summary"))
            .await
    }
    async fn downsample(
        &self,
        query: &MetricQuery<T>,
        width: Duration,
        aggregate: Aggregate,
    ) -> Result<Vec<Bucket>> {
        query.validate()?;
        crate::query::bucket_start(T::META.name, query.start, width)?;
        self.backend
            .downsample(query, width, aggregate)
            .instrument(span!(B, T, "downsample"))
            .await
    }
}

fn check_ttl<T: Entity>(ttl: Option<Duration>) -> Result<()> {
    match ttl {
        Some(d) if d.is_zero() => Err(crate::Error::invalid(
            T::META.name,
            "a TTL of zero would expire at once: give a positive TTL or none",
        )),
        _ => Ok(()),
    }
}

impl<T: Keyed, B: CacheBackend> CacheStore<T> for Repository<T, B> {
    async fn put(&self, entity: &T) -> Result<()> {
        let ttl = T::META.default_ttl;
        self.backend
            .put(entity, ttl)
            .instrument(span!(B, T, "put"))
            .await
    }
    async fn put_with_ttl(&self, entity: &T, ttl: Duration) -> Result<()> {
        check_ttl::<T>(Some(ttl))?;
        self.backend
            .put(entity, Some(ttl))
            .instrument(span!(B, T, "put"))
            .await
    }
    async fn put_all(&self, entities: &[T]) -> Result<BatchReport> {
        let ttl = T::META.default_ttl;
        self.backend
            .put_all(entities, ttl)
            .instrument(span!(B, T, "put_all", entities.len()))
            .await
    }
    async fn lookup(&self, key: &T::Key) -> Result<Option<T>> {
        self.backend
            .lookup::<T>(key)
            .instrument(span!(B, T, "lookup"))
            .await
    }
    async fn lookup_many(&self, keys: &[T::Key]) -> Result<Vec<Option<T>>> {
        self.backend
            .lookup_many::<T>(keys)
            .instrument(span!(B, T, "lookup_many", keys.len()))
            .await
    }
    async fn invalidate(&self, key: &T::Key) -> Result<bool> {
        self.backend
            .invalidate::<T>(key)
            .instrument(span!(B, T, "invalidate"))
            .await
    }
    async fn remaining_ttl(&self, key: &T::Key) -> Result<Option<Duration>> {
        self.backend
            .remaining_ttl::<T>(key)
            .instrument(span!(B, T, "remaining_ttl"))
            .await
    }
}

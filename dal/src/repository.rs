//! `Repository<T, B>`: one entity type on one backend, serving every store trait the backend can.
//!
//! The store traits are implemented by blanket impls over the backend traits, so a new backend
//! gets repositories for every entity by implementing the backend traits alone. Each operation
//! runs in a `tracing` span with the backend, entity and operation names.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use std::future::Future;

use tracing::{Instrument, Span};

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

/// Runs `fut` in `span`, if a subscriber wants it. The span is not even built otherwise: with
/// the `log` fallback that sqlx switches on, building and entering a disabled span still cost a
/// few hundred instructions per call (records only reach `log` through a tracing subscriber).
async fn traced<F: Future>(span: Option<Span>, fut: F) -> F::Output {
    match span {
        Some(span) if !span.is_disabled() => fut.instrument(span).await,
        _ => fut.await,
    }
}

macro_rules! span {
    ($b:ty, $t:ty, $op:literal) => {
        tracing::enabled!(tracing::Level::DEBUG).then(|| {
            tracing::debug_span!(
                "dal",
                backend = <$b>::NAME,
                entity = <$t>::META.name,
                op = $op
            )
        })
    };
    ($b:ty, $t:ty, $op:literal, $rows:expr) => {
        tracing::enabled!(tracing::Level::DEBUG).then(|| {
            tracing::debug_span!(
                "dal",
                backend = <$b>::NAME,
                entity = <$t>::META.name,
                op = $op,
                rows = $rows
            )
        })
    };
}

impl<T: Keyed, B: RecordBackend> RecordStore<T> for Repository<T, B> {
    async fn save(&self, entity: &T) -> Result<()> {
        traced(span!(B, T, "save"), self.backend.save(entity)).await
    }
    async fn save_all(&self, entities: &[T]) -> Result<BatchReport> {
        traced(
            span!(B, T, "save_all", entities.len()),
            self.backend.save_all(entities),
        )
        .await
    }
    async fn get(&self, key: &T::Key) -> Result<Option<T>> {
        traced(span!(B, T, "get"), self.backend.get::<T>(key)).await
    }
    async fn get_many(&self, keys: &[T::Key]) -> Result<Vec<Option<T>>> {
        traced(
            span!(B, T, "get_many", keys.len()),
            self.backend.get_many::<T>(keys),
        )
        .await
    }
    async fn list(&self, query: &ListQuery<T>) -> Result<Page<T>> {
        query.validate(T::META.name)?;
        traced(span!(B, T, "list"), self.backend.list(query)).await
    }
    async fn delete(&self, key: &T::Key) -> Result<bool> {
        traced(span!(B, T, "delete"), self.backend.delete::<T>(key)).await
    }
}

impl<T: TimeSeries, B: TimeSeriesBackend> TimeSeriesStore<T> for Repository<T, B> {
    async fn append(&self, row: &T) -> Result<()> {
        traced(span!(B, T, "append"), self.backend.append(row)).await
    }
    async fn append_all(&self, rows: &[T]) -> Result<BatchReport> {
        traced(
            span!(B, T, "append_all", rows.len()),
            self.backend.append_all(rows),
        )
        .await
    }
    async fn range(&self, query: &RangeQuery<T>) -> Result<Vec<T>> {
        traced(span!(B, T, "range"), self.backend.range(query)).await
    }
    async fn latest(
        &self,
        by: impl Into<AnyColumn<T>> + Send,
        filter: &Filter<T>,
    ) -> Result<Vec<T>> {
        let by = by.into();
        traced(span!(B, T, "latest"), self.backend.latest(by, filter)).await
    }
    async fn flush(&self) -> Result<()> {
        traced(span!(B, T, "flush"), self.backend.flush()).await
    }
}

impl<T: TimeSeries, B: MetricsBackend> MetricsStore<T> for Repository<T, B> {
    async fn quantile(&self, query: &MetricQuery<T>, p: f64) -> Result<Option<f64>> {
        query.validate()?;
        crate::query::check_quantile(T::META.name, p)?;
        traced(span!(B, T, "quantile"), self.backend.quantile(query, p)).await
    }
    async fn summary(&self, query: &MetricQuery<T>) -> Result<Summary> {
        query.validate()?;
        traced(span!(B, T, "summary"), self.backend.summary(query)).await
    }
    async fn downsample(
        &self,
        query: &MetricQuery<T>,
        width: Duration,
        aggregate: Aggregate,
    ) -> Result<Vec<Bucket>> {
        query.validate()?;
        crate::query::bucket_start(T::META.name, query.start, width)?;
        traced(
            span!(B, T, "downsample"),
            self.backend.downsample(query, width, aggregate),
        )
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
        traced(span!(B, T, "put"), self.backend.put(entity, ttl)).await
    }
    async fn put_with_ttl(&self, entity: &T, ttl: Duration) -> Result<()> {
        check_ttl::<T>(Some(ttl))?;
        traced(span!(B, T, "put"), self.backend.put(entity, Some(ttl))).await
    }
    async fn put_all(&self, entities: &[T]) -> Result<BatchReport> {
        let ttl = T::META.default_ttl;
        traced(
            span!(B, T, "put_all", entities.len()),
            self.backend.put_all(entities, ttl),
        )
        .await
    }
    async fn lookup(&self, key: &T::Key) -> Result<Option<T>> {
        traced(span!(B, T, "lookup"), self.backend.lookup::<T>(key)).await
    }
    async fn lookup_many(&self, keys: &[T::Key]) -> Result<Vec<Option<T>>> {
        traced(
            span!(B, T, "lookup_many", keys.len()),
            self.backend.lookup_many::<T>(keys),
        )
        .await
    }
    async fn invalidate(&self, key: &T::Key) -> Result<bool> {
        traced(span!(B, T, "invalidate"), self.backend.invalidate::<T>(key)).await
    }
    async fn remaining_ttl(&self, key: &T::Key) -> Result<Option<Duration>> {
        traced(
            span!(B, T, "remaining_ttl"),
            self.backend.remaining_ttl::<T>(key),
        )
        .await
    }
}

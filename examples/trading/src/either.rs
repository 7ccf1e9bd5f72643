//! `Either<L, R>`: a backend chosen at run time between two backend types.
//!
//! The demo picks its stores from environment variables, but repositories are generic over one
//! backend type. Rather than monomorphizing the session for every combination, this backend
//! forwards each call to whichever side it holds; it implements a backend trait when both sides
//! do. It is written outside dal with the public backend traits only, as any downstream crate
//! could.

use std::time::Duration;

use dal::{
    Aggregate, AnyColumn, Backend, BatchReport, Bucket, CacheBackend, Capabilities, Filter, Keyed,
    ListQuery, MetricQuery, MetricsBackend, Page, RangeQuery, RecordBackend, Result, Summary,
    TimeSeries, TimeSeriesBackend,
};

/// One of two backends, chosen at run time.
#[derive(Debug, Clone)]
pub enum Either<L, R> {
    /// The first backend type.
    Left(L),
    /// The second backend type.
    Right(R),
}

/// Forwards one call to the side held.
macro_rules! forward {
    ($self:ident, $b:ident => $call:expr) => {
        match $self {
            Either::Left($b) => $call.await,
            Either::Right($b) => $call.await,
        }
    };
}

impl<L: Backend, R: Backend> Backend for Either<L, R> {
    // A constant cannot depend on the value: spans of an `Either` say "either", not the side.
    const NAME: &'static str = "either";

    fn capabilities(&self) -> Capabilities {
        match self {
            Either::Left(b) => b.capabilities(),
            Either::Right(b) => b.capabilities(),
        }
    }

    async fn health_check(&self) -> Result<()> {
        forward!(self, b => b.health_check())
    }
}

impl<L: RecordBackend, R: RecordBackend> RecordBackend for Either<L, R> {
    async fn save<T: Keyed>(&self, entity: &T) -> Result<()> {
        forward!(self, b => b.save(entity))
    }
    async fn save_all<T: Keyed>(&self, entities: &[T]) -> Result<BatchReport> {
        forward!(self, b => b.save_all(entities))
    }
    async fn get<T: Keyed>(&self, key: &T::Key) -> Result<Option<T>> {
        forward!(self, b => b.get::<T>(key))
    }
    async fn get_many<T: Keyed>(&self, keys: &[T::Key]) -> Result<Vec<Option<T>>> {
        forward!(self, b => b.get_many::<T>(keys))
    }
    async fn list<T: Keyed>(&self, query: &ListQuery<T>) -> Result<Page<T>> {
        forward!(self, b => b.list(query))
    }
    async fn delete<T: Keyed>(&self, key: &T::Key) -> Result<bool> {
        forward!(self, b => b.delete::<T>(key))
    }
}

impl<L: TimeSeriesBackend, R: TimeSeriesBackend> TimeSeriesBackend for Either<L, R> {
    async fn append<T: TimeSeries>(&self, row: &T) -> Result<()> {
        forward!(self, b => b.append(row))
    }
    async fn append_all<T: TimeSeries>(&self, rows: &[T]) -> Result<BatchReport> {
        forward!(self, b => b.append_all(rows))
    }
    async fn range<T: TimeSeries>(&self, query: &RangeQuery<T>) -> Result<Vec<T>> {
        forward!(self, b => b.range(query))
    }
    async fn latest<T: TimeSeries>(&self, by: AnyColumn<T>, filter: &Filter<T>) -> Result<Vec<T>> {
        forward!(self, b => b.latest(by, filter))
    }
    async fn flush(&self) -> Result<()> {
        forward!(self, b => b.flush())
    }
}

impl<L: MetricsBackend, R: MetricsBackend> MetricsBackend for Either<L, R> {
    async fn quantile<T: TimeSeries>(&self, query: &MetricQuery<T>, p: f64) -> Result<Option<f64>> {
        forward!(self, b => b.quantile(query, p))
    }
    async fn summary<T: TimeSeries>(&self, query: &MetricQuery<T>) -> Result<Summary> {
        forward!(self, b => b.summary(query))
    }
    async fn downsample<T: TimeSeries>(
        &self,
        query: &MetricQuery<T>,
        width: Duration,
        aggregate: Aggregate,
    ) -> Result<Vec<Bucket>> {
        forward!(self, b => b.downsample(query, width, aggregate))
    }
}

impl<L: CacheBackend, R: CacheBackend> CacheBackend for Either<L, R> {
    async fn put<T: Keyed>(&self, entity: &T, ttl: Option<Duration>) -> Result<()> {
        forward!(self, b => b.put(entity, ttl))
    }
    async fn put_all<T: Keyed>(
        &self,
        entities: &[T],
        ttl: Option<Duration>,
    ) -> Result<BatchReport> {
        forward!(self, b => b.put_all(entities, ttl))
    }
    async fn lookup<T: Keyed>(&self, key: &T::Key) -> Result<Option<T>> {
        forward!(self, b => b.lookup::<T>(key))
    }
    async fn lookup_many<T: Keyed>(&self, keys: &[T::Key]) -> Result<Vec<Option<T>>> {
        forward!(self, b => b.lookup_many::<T>(keys))
    }
    async fn invalidate<T: Keyed>(&self, key: &T::Key) -> Result<bool> {
        forward!(self, b => b.invalidate::<T>(key))
    }
    async fn remaining_ttl<T: Keyed>(&self, key: &T::Key) -> Result<Option<Duration>> {
        forward!(self, b => b.remaining_ttl::<T>(key))
    }
}

//! A backend that implements every backend trait (each operation answers "unsupported"), so a
//! stores/ case fails only because of the entity it is used with.

use std::future::Future;
use std::time::Duration;

use dal::{
    Aggregate, AnyColumn, Backend, BatchReport, Bucket, CacheBackend, Capabilities, Error, Filter,
    Keyed, ListQuery, MetricQuery, MetricsBackend, Page, RangeQuery, RecordBackend, Result,
    Summary, TimeSeries, TimeSeriesBackend,
};

#[derive(Clone, Debug)]
pub struct Every;

fn unsupported<T>(op: &str) -> impl Future<Output = Result<T>> + Send + use<T> {
    let err = Error::unsupported(Every::NAME, op);
    async move { Err(err) }
}

impl Backend for Every {
    const NAME: &'static str = "every";
    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
    }
    fn health_check(&self) -> impl Future<Output = Result<()>> + Send {
        unsupported("health_check")
    }
}

impl RecordBackend for Every {
    fn save<T: Keyed>(&self, _: &T) -> impl Future<Output = Result<()>> + Send {
        unsupported("save")
    }
    fn save_all<T: Keyed>(&self, _: &[T]) -> impl Future<Output = Result<BatchReport>> + Send {
        unsupported("save_all")
    }
    fn get<T: Keyed>(&self, _: &T::Key) -> impl Future<Output = Result<Option<T>>> + Send {
        unsupported("get")
    }
    fn get_many<T: Keyed>(
        &self,
        _: &[T::Key],
    ) -> impl Future<Output = Result<Vec<Option<T>>>> + Send {
        unsupported("get_many")
    }
    fn list<T: Keyed>(&self, _: &ListQuery<T>) -> impl Future<Output = Result<Page<T>>> + Send {
        unsupported("list")
    }
    fn delete<T: Keyed>(&self, _: &T::Key) -> impl Future<Output = Result<bool>> + Send {
        unsupported("delete")
    }
}

impl TimeSeriesBackend for Every {
    fn append<T: TimeSeries>(&self, _: &T) -> impl Future<Output = Result<()>> + Send {
        unsupported("append")
    }
    fn append_all<T: TimeSeries>(
        &self,
        _: &[T],
    ) -> impl Future<Output = Result<BatchReport>> + Send {
        unsupported("append_all")
    }
    fn range<T: TimeSeries>(&self, _: &RangeQuery<T>) -> impl Future<Output = Result<Vec<T>>> + Send {
        unsupported("range")
    }
    fn latest<T: TimeSeries>(
        &self,
        _: AnyColumn<T>,
        _: &Filter<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        unsupported("latest")
    }
    fn flush(&self) -> impl Future<Output = Result<()>> + Send {
        unsupported("flush")
    }
}

impl MetricsBackend for Every {
    fn quantile<T: TimeSeries>(
        &self,
        _: &MetricQuery<T>,
        _: f64,
    ) -> impl Future<Output = Result<Option<f64>>> + Send {
        unsupported("quantile")
    }
    fn summary<T: TimeSeries>(&self, _: &MetricQuery<T>) -> impl Future<Output = Result<Summary>> + Send {
        unsupported("summary")
    }
    fn downsample<T: TimeSeries>(
        &self,
        _: &MetricQuery<T>,
        _: Duration,
        _: Aggregate,
    ) -> impl Future<Output = Result<Vec<Bucket>>> + Send {
        unsupported("downsample")
    }
}

impl CacheBackend for Every {
    fn put<T: Keyed>(&self, _: &T, _: Option<Duration>) -> impl Future<Output = Result<()>> + Send {
        unsupported("put")
    }
    fn put_all<T: Keyed>(
        &self,
        _: &[T],
        _: Option<Duration>,
    ) -> impl Future<Output = Result<BatchReport>> + Send {
        unsupported("put_all")
    }
    fn lookup<T: Keyed>(&self, _: &T::Key) -> impl Future<Output = Result<Option<T>>> + Send {
        unsupported("lookup")
    }
    fn lookup_many<T: Keyed>(
        &self,
        _: &[T::Key],
    ) -> impl Future<Output = Result<Vec<Option<T>>>> + Send {
        unsupported("lookup_many")
    }
    fn invalidate<T: Keyed>(&self, _: &T::Key) -> impl Future<Output = Result<bool>> + Send {
        unsupported("invalidate")
    }
    fn remaining_ttl<T: Keyed>(
        &self,
        _: &T::Key,
    ) -> impl Future<Output = Result<Option<Duration>>> + Send {
        unsupported("remaining_ttl")
    }
}

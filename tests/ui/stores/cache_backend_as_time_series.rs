//! A backend that is only a cache cannot serve a time series, even for an entity that is one.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dal::{
    BatchReport, Backend, CacheBackend, Capabilities, Entity, Error, Keyed, Repository,
    Result, TimeSeriesStore,
};

#[derive(Clone)]
pub struct CacheOnly;

fn unsupported<T>(op: &str) -> impl Future<Output = Result<T>> + Send + use<T> {
    let err = Error::unsupported("cache-only", op);
    async move { Err(err) }
}

impl Backend for CacheOnly {
    const NAME: &'static str = "cache-only";
    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
    }
    fn health_check(&self) -> impl Future<Output = Result<()>> + Send {
        unsupported("health_check")
    }
}

impl CacheBackend for CacheOnly {
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

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id)]
    pub id: i64,
    #[entity(timestamp)]
    pub ts: DateTime<Utc>,
    pub price: f64,
}

fn needs_series<S: TimeSeriesStore<Trade>>(_: &S) {}

fn main() {
    let trades = Repository::<Trade, CacheOnly>::new(CacheOnly);
    needs_series(&trades);
}

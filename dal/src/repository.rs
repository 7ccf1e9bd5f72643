//! `Repository<T, B>`: one entity type on one backend, serving every store trait the backend can.
//!
//! The store traits are implemented by blanket impls over the backend traits, so a new backend
//! gets repositories for every entity by implementing the backend traits alone. Each operation
//! runs in a `tracing` span with the backend, entity and operation names.
//!
//! # Direct calls
//!
//! A call such as `prices.put(&price)` is resolved in three steps, through two `Deref`s:
//!
//! 1. the store trait's method, when the trait is in scope and `Repository<T, B>` implements it;
//! 2. the same method on [`StoreMethods`], which `Repository` dereferences to: it works without
//!    importing the trait, and exists only where the backend and entity can serve it;
//! 3. otherwise, a method of the same name whose `where` clause names the backend trait or entity
//!    role that is missing. The call then fails with that trait's one-sentence
//!    `#[diagnostic::on_unimplemented]` message (E0277, "`Postgres` cannot serve as a TTL
//!    cache"), once, instead of rustc's "the method exists but its trait bounds were not
//!    satisfied" (E0599). Its result type is an ordinary future, so the `.await` after it adds no
//!    second error (a bounded method returning `impl Future` would report the bound three times).
//!
//! Step 1 is what it was before these steps existed, so code that imports the traits resolves to
//! the same methods, and nothing becomes ambiguous.

use std::fmt;
use std::future::{Future, Ready, ready};
use std::marker::PhantomData;
use std::ops::Deref;
use std::time::Duration;

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
///
/// Its store methods come from the store traits ([`RecordStore`], [`TimeSeriesStore`],
/// [`MetricsStore`], [`CacheStore`]) for every backend that can serve them; they can also be
/// called without importing the traits, through [`StoreMethods`] (see the
/// [module docs](self#direct-calls)).
pub struct Repository<T, B> {
    methods: StoreMethods<T, B>,
}

/// The store methods of a [`Repository`], which dereferences to this type so that they can be
/// called without importing the store traits. Each one exists where the backend and entity can
/// serve it, and is the implementation behind the trait method of the same name.
pub struct StoreMethods<T, B> {
    backend: B,
    _entity: PhantomData<fn() -> T>,
    cannot_serve: CannotServe<T, B>,
}

/// The last step of a direct call (see the [module docs](self#direct-calls)): every store method
/// again, bounded on what is missing, so that a call on a repository that cannot serve it fails
/// with the backend trait's or entity role's own message. Never called in a program that
/// compiles; if reached by hand (`(**repo).put(..)`), each returns [`Error::Unsupported`].
///
/// [`Error::Unsupported`]: crate::Error::Unsupported
#[doc(hidden)]
pub struct CannotServe<T, B>(PhantomData<fn() -> (T, B)>);

impl<T: Entity, B: Backend> Repository<T, B> {
    /// A repository of `T` on `backend`.
    pub fn new(backend: B) -> Self {
        Repository {
            methods: StoreMethods {
                backend,
                _entity: PhantomData,
                cannot_serve: CannotServe(PhantomData),
            },
        }
    }

    /// The backend handle.
    pub fn backend(&self) -> &B {
        &self.methods.backend
    }
}

impl<T, B> Deref for Repository<T, B> {
    type Target = StoreMethods<T, B>;

    #[inline]
    fn deref(&self) -> &StoreMethods<T, B> {
        &self.methods
    }
}

#[doc(hidden)]
impl<T, B> Deref for StoreMethods<T, B> {
    type Target = CannotServe<T, B>;

    #[inline]
    fn deref(&self) -> &CannotServe<T, B> {
        &self.cannot_serve
    }
}

impl<T, B: Clone> Clone for Repository<T, B> {
    fn clone(&self) -> Self {
        Repository {
            methods: StoreMethods {
                backend: self.methods.backend.clone(),
                _entity: PhantomData,
                cannot_serve: CannotServe(PhantomData),
            },
        }
    }
}

impl<T: Entity, B: fmt::Debug> fmt::Debug for Repository<T, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repository")
            .field("entity", &T::META.name)
            .field("backend", &self.methods.backend)
            .finish()
    }
}

impl<T: Entity, B: fmt::Debug> fmt::Debug for StoreMethods<T, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreMethods")
            .field("entity", &T::META.name)
            .field("backend", &self.backend)
            .finish()
    }
}

impl<T, B> fmt::Debug for CannotServe<T, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CannotServe")
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

fn check_ttl<T: Entity>(ttl: Option<Duration>) -> Result<()> {
    match ttl {
        Some(d) if d.is_zero() => Err(crate::Error::invalid(
            T::META.name,
            "a TTL of zero would expire at once: give a positive TTL or none",
        )),
        _ => Ok(()),
    }
}

// --- step 2: the implementations, callable directly -------------------------------------------

impl<T: Keyed, B: RecordBackend> StoreMethods<T, B> {
    /// Inserts or replaces the record: [`RecordStore::save`].
    pub async fn save(&self, entity: &T) -> Result<()> {
        traced(span!(B, T, "save"), self.backend.save(entity)).await
    }

    /// Upserts many records, reporting per-item failures: [`RecordStore::save_all`].
    pub async fn save_all(&self, entities: &[T]) -> Result<BatchReport> {
        traced(
            span!(B, T, "save_all", entities.len()),
            self.backend.save_all(entities),
        )
        .await
    }

    /// The record with this key, if any: [`RecordStore::get`].
    pub async fn get(&self, key: &T::Key) -> Result<Option<T>> {
        traced(span!(B, T, "get"), self.backend.get::<T>(key)).await
    }

    /// One slot per key, in request order: [`RecordStore::get_many`].
    pub async fn get_many(&self, keys: &[T::Key]) -> Result<Vec<Option<T>>> {
        traced(
            span!(B, T, "get_many", keys.len()),
            self.backend.get_many::<T>(keys),
        )
        .await
    }

    /// One page of matching records, ascending by key: [`RecordStore::list`].
    pub async fn list(&self, query: &ListQuery<T>) -> Result<Page<T>> {
        query.validate(T::META.name)?;
        traced(span!(B, T, "list"), self.backend.list(query)).await
    }

    /// Removes the record; whether one existed: [`RecordStore::delete`].
    pub async fn delete(&self, key: &T::Key) -> Result<bool> {
        traced(span!(B, T, "delete"), self.backend.delete::<T>(key)).await
    }

    /// The record with this key, or `NotFound`: [`RecordStoreExt::get_required`](crate::RecordStoreExt::get_required).
    pub async fn get_required(&self, key: &T::Key) -> Result<T> {
        self.get(key)
            .await?
            .ok_or_else(|| crate::store::not_found::<T>(key))
    }

    /// Every matching record, page by page: [`RecordStoreExt::list_all`](crate::RecordStoreExt::list_all).
    pub async fn list_all(&self, filter: Filter<T>) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut query = ListQuery::new(filter, crate::store::LIST_ALL_PAGE);
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

impl<T: TimeSeries, B: TimeSeriesBackend> StoreMethods<T, B> {
    /// Appends one row: [`TimeSeriesStore::append`].
    pub async fn append(&self, row: &T) -> Result<()> {
        traced(span!(B, T, "append"), self.backend.append(row)).await
    }

    /// Appends many rows, reporting per-item failures: [`TimeSeriesStore::append_all`].
    pub async fn append_all(&self, rows: &[T]) -> Result<BatchReport> {
        traced(
            span!(B, T, "append_all", rows.len()),
            self.backend.append_all(rows),
        )
        .await
    }

    /// Rows with `start <= ts < end`, in timestamp order: [`TimeSeriesStore::range`].
    pub async fn range(&self, query: &RangeQuery<T>) -> Result<Vec<T>> {
        traced(span!(B, T, "range"), self.backend.range(query)).await
    }

    /// The newest row per distinct value of `by`: [`TimeSeriesStore::latest`].
    pub async fn latest(
        &self,
        by: impl Into<AnyColumn<T>> + Send,
        filter: &Filter<T>,
    ) -> Result<Vec<T>> {
        let by = by.into();
        traced(span!(B, T, "latest"), self.backend.latest(by, filter)).await
    }

    /// Returns once every row appended before is visible: [`TimeSeriesStore::flush`].
    pub async fn flush(&self) -> Result<()> {
        traced(span!(B, T, "flush"), self.backend.flush()).await
    }
}

impl<T: TimeSeries, B: MetricsBackend> StoreMethods<T, B> {
    /// The `p` quantile of the window: [`MetricsStore::quantile`].
    pub async fn quantile(&self, query: &MetricQuery<T>, p: f64) -> Result<Option<f64>> {
        query.validate()?;
        crate::query::check_quantile(T::META.name, p)?;
        traced(span!(B, T, "quantile"), self.backend.quantile(query, p)).await
    }

    /// count/min/max/mean/sum of the window: [`MetricsStore::summary`].
    pub async fn summary(&self, query: &MetricQuery<T>) -> Result<Summary> {
        query.validate()?;
        traced(span!(B, T, "summary"), self.backend.summary(query)).await
    }

    /// The window in buckets of `width`: [`MetricsStore::downsample`].
    pub async fn downsample(
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

impl<T: Keyed, B: CacheBackend> StoreMethods<T, B> {
    /// Caches the entity with its default TTL: [`CacheStore::put`].
    pub async fn put(&self, entity: &T) -> Result<()> {
        let ttl = T::META.default_ttl;
        traced(span!(B, T, "put"), self.backend.put(entity, ttl)).await
    }

    /// Caches the entity with an explicit TTL: [`CacheStore::put_with_ttl`].
    pub async fn put_with_ttl(&self, entity: &T, ttl: Duration) -> Result<()> {
        check_ttl::<T>(Some(ttl))?;
        traced(span!(B, T, "put"), self.backend.put(entity, Some(ttl))).await
    }

    /// Caches many entities with their default TTL: [`CacheStore::put_all`].
    pub async fn put_all(&self, entities: &[T]) -> Result<BatchReport> {
        let ttl = T::META.default_ttl;
        traced(
            span!(B, T, "put_all", entities.len()),
            self.backend.put_all(entities, ttl),
        )
        .await
    }

    /// The cached entity, if present and not expired: [`CacheStore::lookup`].
    pub async fn lookup(&self, key: &T::Key) -> Result<Option<T>> {
        traced(span!(B, T, "lookup"), self.backend.lookup::<T>(key)).await
    }

    /// One slot per key, in request order: [`CacheStore::lookup_many`].
    pub async fn lookup_many(&self, keys: &[T::Key]) -> Result<Vec<Option<T>>> {
        traced(
            span!(B, T, "lookup_many", keys.len()),
            self.backend.lookup_many::<T>(keys),
        )
        .await
    }

    /// Removes the entry; whether one existed: [`CacheStore::invalidate`].
    pub async fn invalidate(&self, key: &T::Key) -> Result<bool> {
        traced(span!(B, T, "invalidate"), self.backend.invalidate::<T>(key)).await
    }

    /// Time left before the entry expires: [`CacheStore::remaining_ttl`].
    pub async fn remaining_ttl(&self, key: &T::Key) -> Result<Option<Duration>> {
        traced(
            span!(B, T, "remaining_ttl"),
            self.backend.remaining_ttl::<T>(key),
        )
        .await
    }
}

// --- step 1: the store traits, forwarding to the implementations ------------------------------

impl<T: Keyed, B: RecordBackend> RecordStore<T> for Repository<T, B> {
    #[inline]
    fn save(&self, entity: &T) -> impl Future<Output = Result<()>> + Send {
        self.methods.save(entity)
    }
    #[inline]
    fn save_all(&self, entities: &[T]) -> impl Future<Output = Result<BatchReport>> + Send {
        self.methods.save_all(entities)
    }
    #[inline]
    fn get(&self, key: &T::Key) -> impl Future<Output = Result<Option<T>>> + Send {
        self.methods.get(key)
    }
    #[inline]
    fn get_many(&self, keys: &[T::Key]) -> impl Future<Output = Result<Vec<Option<T>>>> + Send {
        self.methods.get_many(keys)
    }
    #[inline]
    fn list(&self, query: &ListQuery<T>) -> impl Future<Output = Result<Page<T>>> + Send {
        self.methods.list(query)
    }
    #[inline]
    fn delete(&self, key: &T::Key) -> impl Future<Output = Result<bool>> + Send {
        self.methods.delete(key)
    }
}

impl<T: TimeSeries, B: TimeSeriesBackend> TimeSeriesStore<T> for Repository<T, B> {
    #[inline]
    fn append(&self, row: &T) -> impl Future<Output = Result<()>> + Send {
        self.methods.append(row)
    }
    #[inline]
    fn append_all(&self, rows: &[T]) -> impl Future<Output = Result<BatchReport>> + Send {
        self.methods.append_all(rows)
    }
    #[inline]
    fn range(&self, query: &RangeQuery<T>) -> impl Future<Output = Result<Vec<T>>> + Send {
        self.methods.range(query)
    }
    #[inline]
    fn latest(
        &self,
        by: impl Into<AnyColumn<T>> + Send,
        filter: &Filter<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        self.methods.latest(by, filter)
    }
    #[inline]
    fn flush(&self) -> impl Future<Output = Result<()>> + Send {
        self.methods.flush()
    }
}

impl<T: TimeSeries, B: MetricsBackend> MetricsStore<T> for Repository<T, B> {
    #[inline]
    fn quantile(
        &self,
        query: &MetricQuery<T>,
        p: f64,
    ) -> impl Future<Output = Result<Option<f64>>> + Send {
        self.methods.quantile(query, p)
    }
    #[inline]
    fn summary(&self, query: &MetricQuery<T>) -> impl Future<Output = Result<Summary>> + Send {
        self.methods.summary(query)
    }
    #[inline]
    fn downsample(
        &self,
        query: &MetricQuery<T>,
        width: Duration,
        aggregate: Aggregate,
    ) -> impl Future<Output = Result<Vec<Bucket>>> + Send {
        self.methods.downsample(query, width, aggregate)
    }
}

impl<T: Keyed, B: CacheBackend> CacheStore<T> for Repository<T, B> {
    #[inline]
    fn put(&self, entity: &T) -> impl Future<Output = Result<()>> + Send {
        self.methods.put(entity)
    }
    #[inline]
    fn put_with_ttl(&self, entity: &T, ttl: Duration) -> impl Future<Output = Result<()>> + Send {
        self.methods.put_with_ttl(entity, ttl)
    }
    #[inline]
    fn put_all(&self, entities: &[T]) -> impl Future<Output = Result<BatchReport>> + Send {
        self.methods.put_all(entities)
    }
    #[inline]
    fn lookup(&self, key: &T::Key) -> impl Future<Output = Result<Option<T>>> + Send {
        self.methods.lookup(key)
    }
    #[inline]
    fn lookup_many(&self, keys: &[T::Key]) -> impl Future<Output = Result<Vec<Option<T>>>> + Send {
        self.methods.lookup_many(keys)
    }
    #[inline]
    fn invalidate(&self, key: &T::Key) -> impl Future<Output = Result<bool>> + Send {
        self.methods.invalidate(key)
    }
    #[inline]
    fn remaining_ttl(&self, key: &T::Key) -> impl Future<Output = Result<Option<Duration>>> + Send {
        self.methods.remaining_ttl(key)
    }
}

// --- step 3: the diagnostics ------------------------------------------------------------------

/// What a [`CannotServe`] method returns: an ordinary future (not `impl Future`, whose use after
/// a failed bound would repeat the error), which answers `Unsupported` if it is ever polled.
type Unserved<X> = Ready<Result<X>>;

fn unserved<B: Backend, X>(operation: &'static str) -> Unserved<X> {
    ready(Err(crate::Error::unsupported(B::NAME, operation)))
}

// Each `where` clause repeats the bounds of the step-2 impl, so it fails exactly where that impl
// is missing, naming the missing trait.
#[allow(missing_docs)]
impl<T, B> CannotServe<T, B> {
    pub fn save(&self, _: &T) -> Unserved<()>
    where
        T: Keyed,
        B: RecordBackend,
    {
        unserved::<B, _>("save")
    }
    pub fn save_all(&self, _: &[T]) -> Unserved<BatchReport>
    where
        T: Keyed,
        B: RecordBackend,
    {
        unserved::<B, _>("save_all")
    }
    pub fn get(&self, _: &T::Key) -> Unserved<Option<T>>
    where
        T: Keyed,
        B: RecordBackend,
    {
        unserved::<B, _>("get")
    }
    pub fn get_many(&self, _: &[T::Key]) -> Unserved<Vec<Option<T>>>
    where
        T: Keyed,
        B: RecordBackend,
    {
        unserved::<B, _>("get_many")
    }
    pub fn list(&self, _: &ListQuery<T>) -> Unserved<Page<T>>
    where
        T: Keyed,
        B: RecordBackend,
    {
        unserved::<B, _>("list")
    }
    pub fn delete(&self, _: &T::Key) -> Unserved<bool>
    where
        T: Keyed,
        B: RecordBackend,
    {
        unserved::<B, _>("delete")
    }
    pub fn get_required(&self, _: &T::Key) -> Unserved<T>
    where
        T: Keyed,
        B: RecordBackend,
    {
        unserved::<B, _>("get_required")
    }
    pub fn list_all(&self, _: Filter<T>) -> Unserved<Vec<T>>
    where
        T: Keyed,
        B: RecordBackend,
    {
        unserved::<B, _>("list_all")
    }

    pub fn append(&self, _: &T) -> Unserved<()>
    where
        T: TimeSeries,
        B: TimeSeriesBackend,
    {
        unserved::<B, _>("append")
    }
    pub fn append_all(&self, _: &[T]) -> Unserved<BatchReport>
    where
        T: TimeSeries,
        B: TimeSeriesBackend,
    {
        unserved::<B, _>("append_all")
    }
    pub fn range(&self, _: &RangeQuery<T>) -> Unserved<Vec<T>>
    where
        T: TimeSeries,
        B: TimeSeriesBackend,
    {
        unserved::<B, _>("range")
    }
    pub fn latest(&self, _: impl Into<AnyColumn<T>> + Send, _: &Filter<T>) -> Unserved<Vec<T>>
    where
        T: TimeSeries,
        B: TimeSeriesBackend,
    {
        unserved::<B, _>("latest")
    }
    pub fn flush(&self) -> Unserved<()>
    where
        T: TimeSeries,
        B: TimeSeriesBackend,
    {
        unserved::<B, _>("flush")
    }

    pub fn quantile(&self, _: &MetricQuery<T>, _: f64) -> Unserved<Option<f64>>
    where
        T: TimeSeries,
        B: MetricsBackend,
    {
        unserved::<B, _>("quantile")
    }
    pub fn summary(&self, _: &MetricQuery<T>) -> Unserved<Summary>
    where
        T: TimeSeries,
        B: MetricsBackend,
    {
        unserved::<B, _>("summary")
    }
    pub fn downsample(&self, _: &MetricQuery<T>, _: Duration, _: Aggregate) -> Unserved<Vec<Bucket>>
    where
        T: TimeSeries,
        B: MetricsBackend,
    {
        unserved::<B, _>("downsample")
    }

    pub fn put(&self, _: &T) -> Unserved<()>
    where
        T: Keyed,
        B: CacheBackend,
    {
        unserved::<B, _>("put")
    }
    pub fn put_with_ttl(&self, _: &T, _: Duration) -> Unserved<()>
    where
        T: Keyed,
        B: CacheBackend,
    {
        unserved::<B, _>("put_with_ttl")
    }
    pub fn put_all(&self, _: &[T]) -> Unserved<BatchReport>
    where
        T: Keyed,
        B: CacheBackend,
    {
        unserved::<B, _>("put_all")
    }
    pub fn lookup(&self, _: &T::Key) -> Unserved<Option<T>>
    where
        T: Keyed,
        B: CacheBackend,
    {
        unserved::<B, _>("lookup")
    }
    pub fn lookup_many(&self, _: &[T::Key]) -> Unserved<Vec<Option<T>>>
    where
        T: Keyed,
        B: CacheBackend,
    {
        unserved::<B, _>("lookup_many")
    }
    pub fn invalidate(&self, _: &T::Key) -> Unserved<bool>
    where
        T: Keyed,
        B: CacheBackend,
    {
        unserved::<B, _>("invalidate")
    }
    pub fn remaining_ttl(&self, _: &T::Key) -> Unserved<Option<Duration>>
    where
        T: Keyed,
        B: CacheBackend,
    {
        unserved::<B, _>("remaining_ttl")
    }
}

//! The backend-trait implementations, written once over a [`Session`] (the pool, or the
//! connection of a transaction) and used by both [`Postgres`] and [`PgTx`].
//!
//! Every operation is one round trip: the statement text is static (`T::META.pg`) or cached per
//! shape ([`super::sql`]), values are bound in binary, rows are decoded as they arrive. On the
//! pool, reads, upserts and appends by key that fail because the connection died are retried
//! once on another connection (they are idempotent); deletes (whose answer would change) and
//! appends without ids (which would double) are not, and such an append whose reply was lost
//! fails with `OutcomeUnknown` (see the module docs of [`super`]). A statement whose prepared form went
//! stale after a schema change is retried after the connection drops its statement cache.

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dal::query::{Accumulator, Condition, Downsampler, check_quantile};
use dal::value::RowCapture;
use dal::{
    Aggregate, AnyColumn, BatchReport, Bucket, Cursor, Entity, EntityMeta, Error, FieldMeta,
    Filter, Keyed, ListQuery, MetricQuery, Page, RangeQuery, Result, Summary, TimeSeries,
};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgConnection, PgRow};
use sqlx::{Arguments as _, Row as _};

use super::codec::{self, BindSink, ColumnSink, Encoder, RowReader, Scalar, Sink};
use super::ddl::TableRole;
use super::error::{self, Failure};
use super::sql::{self, kind};
use super::tx::TxConn;
use super::{PgTx, Postgres, batch};

/// A connection to run one operation on.
pub(crate) enum Conn {
    /// Borrowed from the pool for this operation.
    Pool(PoolConnection<sqlx::Postgres>),
    /// The connection of an open transaction, locked for this operation.
    Tx(tokio::sync::OwnedMappedMutexGuard<TxConn, PgConnection>),
}

impl Deref for Conn {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        match self {
            Conn::Pool(c) => c,
            Conn::Tx(c) => c,
        }
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            Conn::Pool(c) => c,
            Conn::Tx(c) => c,
        }
    }
}

/// Where operations run: the pool ([`Postgres`]) or a transaction ([`PgTx`]).
pub(crate) trait Session: Send + Sync {
    /// The backend handle (pool, caches, error bookkeeping).
    fn pg(&self) -> &Postgres;
    /// A connection for one operation.
    fn conn(&self) -> impl Future<Output = Result<Conn>> + Send;
    /// Whether each statement runs on its own (autocommit), so a failed one can be retried on
    /// another connection; false inside a transaction.
    fn pooled(&self) -> bool;
    /// Sees the outcome of every operation (a transaction remembers that its connection was
    /// lost, so that it never sends a COMMIT whose outcome could only be unknown).
    fn observe<R>(&self, r: Result<R>) -> Result<R> {
        r
    }
}

impl Session for Postgres {
    fn pg(&self) -> &Postgres {
        self
    }
    async fn conn(&self) -> Result<Conn> {
        self.acquire().await.map(Conn::Pool)
    }
    fn pooled(&self) -> bool {
        true
    }
}

/// Whether `e` says the connection an operation ran on was lost.
pub(crate) fn connection_lost(e: &Error) -> bool {
    match e {
        Error::OutcomeUnknown { .. } => true,
        Error::Unavailable { source, .. } => source
            .downcast_ref::<sqlx::Error>()
            .is_some_and(|e| error::failure(e) == Failure::Connection),
        _ => false,
    }
}

/// Whether `e` says the connection died, so the same operation may succeed on another one
/// (or its prepared statements went stale after a schema change).
fn is_stale(e: &Error) -> bool {
    match e {
        Error::Unavailable { source, .. }
        | Error::Backend {
            source,
            transient: true,
            ..
        } => source
            .downcast_ref::<sqlx::Error>()
            .is_some_and(|e| error::failure(e) == Failure::Connection || error::is_stale_plan(e)),
        _ => false,
    }
}

/// Runs an idempotent operation again when it failed because its connection died (once: the
/// pool then hands out a checked connection) or because a schema change made the connection's
/// prepared statements stale (until every pooled connection has cleared its cache).
pub(crate) async fn retry_stale<S, R, F, Fut>(s: &S, op: F) -> Result<R>
where
    S: Session,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<R>>,
{
    let mut plan_retries = s.pg().pool().options().get_max_connections();
    let mut connection_retries = 1;
    loop {
        match op().await {
            Err(e) if s.pooled() && is_stale(&e) => {
                let left = if matches!(e, Error::Unavailable { .. }) {
                    &mut connection_retries
                } else {
                    &mut plan_retries
                };
                if *left == 0 {
                    return Err(e);
                }
                *left -= 1;
                tracing::debug!(error = %e, "postgres: retrying on another connection");
            }
            r => return r,
        }
    }
}

fn decode<T: Entity>(row: &PgRow) -> Result<T> {
    T::decode(&mut RowReader::new(row))
}

/// Runs a query and decodes each row as it arrives (no buffer of raw rows, as `query_as` does).
async fn fetch_entities<S: Session, T: Entity>(
    s: &S,
    sql: &std::sync::Arc<str>,
    args: PgArguments,
) -> Result<Vec<T>> {
    use futures_util::TryStreamExt as _;
    let mut conn = s.conn().await?;
    let mut out = Vec::new();
    let failed = {
        let mut stream = sqlx::query_with(sqlx::AssertSqlSafe(sql.clone()), args).fetch(&mut *conn);
        loop {
            match stream.try_next().await {
                Ok(Some(row)) => out.push(decode::<T>(&row)?),
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        }
    };
    match failed {
        None => Ok(out),
        Some(e) => s.pg().checked(&mut conn, Some(T::META), Err(e)).await,
    }
}

fn bind_key<T: Keyed>(args: &mut PgArguments, key: &T::Key) -> Result<()> {
    T::encode_key(key, &mut Encoder::filter(&mut BindSink(args)))
}

/// After `e` failed to bind `key`: `Ok` when the key holds a value Postgres cannot store (a
/// text with NUL, a timestamp before 4714 BC, more indexed text than a key holds), so that it
/// names no stored row (each write of such a key was refused), as on the memory backend;
/// otherwise `e`.
fn names_no_row<T: Keyed>(key: &T::Key, e: Error) -> Result<()> {
    match codec::LIMITS.check_key::<T>(key) {
        Err(_) => Ok(()),
        Ok(()) => Err(e),
    }
}

fn bind_conditions(args: &mut PgArguments, conditions: &[Condition]) -> Result<()> {
    for c in conditions {
        match c {
            Condition::Cmp { field, value, .. } => codec::bind_value(args, field, value)?,
            Condition::In { field, values } => codec::bind_array(args, field, values)?,
            Condition::IsNull { .. } => {}
        }
    }
    Ok(())
}

fn bind_i64(args: &mut PgArguments, meta: &'static EntityMeta, v: i64) -> Result<()> {
    args.add(v).map_err(|e| Error::invalid(meta.name, e))
}

fn bind_f64(args: &mut PgArguments, meta: &'static EntityMeta, v: f64) -> Result<()> {
    args.add(v).map_err(|e| Error::invalid(meta.name, e))
}

/// Binds a window bound of the timestamp field. Bounds before what Postgres can store are
/// clamped to its earliest timestamp (no row can be older), so `DateTime::MIN_UTC` works as
/// "from the beginning".
fn bind_bound(args: &mut PgArguments, ts: &'static FieldMeta, at: &DateTime<Utc>) -> Result<()> {
    let us = codec::timestamp_micros(ts, at).unwrap_or(codec::PG_MIN_TIMESTAMP_US);
    BindSink(args).value(ts, Some(Scalar::Timestamp(us)))
}

fn limit_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn timestamp_field<T: Entity>() -> Result<&'static FieldMeta> {
    T::META.timestamp().ok_or_else(|| {
        Error::invalid(
            T::META.name,
            "this operation needs an #[entity(timestamp)] field",
        )
    })
}

fn keyed_meta<T: Keyed>() -> Result<&'static EntityMeta> {
    if T::META.id_fields.is_empty() || T::META.pg.select_by_key.is_empty() {
        return Err(Error::invalid(
            T::META.name,
            "this operation needs #[entity(id)] fields",
        ));
    }
    Ok(T::META)
}

pub(crate) async fn save<S: Session, T: Keyed>(s: &S, entity: &T) -> Result<()> {
    let meta = keyed_meta::<T>()?;
    let state = s.pg().entity_state::<T>();
    let state = &*state;
    retry_stale(s, move || async move {
        let mut args = PgArguments::default();
        entity.encode(&mut Encoder::row(&mut BindSink(&mut args)))?;
        let mut conn = s.conn().await?;
        s.pg()
            .check_table_key::<T>(state, &mut conn, TableRole::Record)
            .await?;
        let r = sqlx::query_with(meta.pg.upsert, args)
            .execute(&mut *conn)
            .await;
        s.pg().checked(&mut conn, Some(meta), r).await?;
        Ok(())
    })
    .await
}

pub(crate) async fn get<S: Session, T: Keyed>(s: &S, key: &T::Key) -> Result<Option<T>> {
    let meta = keyed_meta::<T>()?;
    retry_stale(s, move || async move {
        let mut args = PgArguments::default();
        if let Err(e) = bind_key::<T>(&mut args, key) {
            return names_no_row::<T>(key, e).map(|()| None);
        }
        let mut conn = s.conn().await?;
        let r = sqlx::query_with(meta.pg.select_by_key, args)
            .fetch_optional(&mut *conn)
            .await;
        let row = s.pg().checked(&mut conn, Some(meta), r).await?;
        row.as_ref().map(decode::<T>).transpose()
    })
    .await
}

pub(crate) async fn get_many<S: Session, T: Keyed>(
    s: &S,
    keys: &[T::Key],
) -> Result<Vec<Option<T>>> {
    let meta = keyed_meta::<T>()?;
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let sql = s
        .pg()
        .statements()
        .get::<T>(vec![kind::GET_MANY], || sql::get_many(meta));
    let ids: Vec<&'static FieldMeta> = meta.ids().collect();
    retry_stale(s, || {
        let (sql, ids) = (&sql, &ids);
        async move {
            let mut cols = ColumnSink::new(ids);
            // The position in `keys` of each key sent (a key Postgres cannot hold is not).
            let mut sent = Vec::with_capacity(keys.len());
            for (i, k) in keys.iter().enumerate() {
                cols.begin_row();
                match T::encode_key(k, &mut Encoder::filter(&mut cols)) {
                    Ok(()) => sent.push(i),
                    Err(e) => {
                        cols.undo_row();
                        names_no_row::<T>(k, e)?;
                    }
                }
            }
            if sent.is_empty() {
                return Ok((0..keys.len()).map(|_| None).collect());
            }
            let mut args = PgArguments::default();
            cols.bind(&mut args)
                .map_err(|e| Error::invalid(meta.name, e))?;
            let mut conn = s.conn().await?;
            let r = sqlx::query_with(sqlx::AssertSqlSafe(sql.clone()), args)
                .fetch_all(&mut *conn)
                .await;
            let rows = s.pg().checked(&mut conn, Some(meta), r).await?;
            let mut out: Vec<Option<T>> = (0..keys.len()).map(|_| None).collect();
            let ord_col = meta.fields.len();
            for row in &rows {
                let ord: i64 = row
                    .try_get(ord_col)
                    .map_err(|e| Error::invalid(meta.name, e))?;
                let slot = usize::try_from(ord - 1)
                    .ok()
                    .and_then(|i| sent.get(i))
                    .and_then(|&i| out.get_mut(i))
                    .ok_or_else(|| {
                        Error::invalid(meta.name, "get_many: key position out of range")
                    })?;
                *slot = Some(decode::<T>(row)?);
            }
            Ok(out)
        }
    })
    .await
}

pub(crate) async fn list<S: Session, T: Keyed>(s: &S, query: &ListQuery<T>) -> Result<Page<T>> {
    let meta = keyed_meta::<T>()?;
    query.validate(meta.name)?;
    let conditions = codec::comparable(query.filter.conditions());
    let conditions = &*conditions;
    let after = query.after.as_ref().map(Cursor::key_values);
    if let Some(values) = after
        && values.len() != meta.id_fields.len()
    {
        return Err(Error::invalid(
            meta.name,
            format_args!(
                "cursor holds {} key values, but the key has {} parts: pass a cursor from a page of this entity",
                values.len(),
                meta.id_fields.len()
            ),
        ));
    }
    let mut shape = vec![kind::LIST, u32::from(after.is_some())];
    sql::shape_conditions(&mut shape, conditions);
    let sql = s
        .pg()
        .statements()
        .get::<T>(shape, || sql::list(meta, conditions, after.is_some()));
    retry_stale(s, || {
        let sql = &sql;
        async move {
            let mut args = PgArguments::default();
            bind_conditions(&mut args, conditions)?;
            if let Some(values) = after {
                for (field, v) in meta.ids().zip(values) {
                    codec::bind_value(&mut args, field, v)?;
                }
            }
            // One row more than the page tells whether another page follows.
            bind_i64(&mut args, meta, limit_i64(query.limit).saturating_add(1))?;
            let mut items: Vec<T> = fetch_entities(s, sql, args).await?;
            let more = items.len() > query.limit;
            items.truncate(query.limit);
            let next = match items.last() {
                Some(last) if more => {
                    let mut key = RowCapture::default();
                    T::encode_key(&last.key(), &mut key)?;
                    Some(Cursor::from_key_values(key.0))
                }
                _ => None,
            };
            Ok(Page { items, next })
        }
    })
    .await
}

pub(crate) async fn delete<S: Session, T: Keyed>(s: &S, key: &T::Key) -> Result<bool> {
    let meta = keyed_meta::<T>()?;
    let mut args = PgArguments::default();
    if let Err(e) = bind_key::<T>(&mut args, key) {
        return names_no_row::<T>(key, e).map(|()| false);
    }
    let mut conn = s.conn().await?;
    let r = sqlx::query_with(meta.pg.delete_by_key, args)
        .execute(&mut *conn)
        .await;
    let done = s.pg().checked(&mut conn, Some(meta), r).await?;
    Ok(done.rows_affected() > 0)
}

/// Appends of a time series with ids upsert on its primary key (ids.., timestamp): a retried
/// append is idempotent, rows with the same ids and timestamp replace each other
/// (`time_series_dedup`), and distinct timestamps are distinct rows. Without ids an append is a
/// plain insert, never repeated: when the connection is lost after it was sent, its outcome is
/// unknown ([`Error::OutcomeUnknown`]).
pub(crate) async fn append<S: Session, T: TimeSeries>(s: &S, row: &T) -> Result<()> {
    let meta = T::META;
    if meta.id_fields.is_empty() {
        let mut args = PgArguments::default();
        row.encode(&mut Encoder::row(&mut BindSink(&mut args)))?;
        let mut conn = s.conn().await?;
        let r = sqlx::query_with(meta.pg.insert, args)
            .execute(&mut *conn)
            .await;
        return match r {
            Err(e) if s.pooled() && error::reply_lost(&e) => {
                Err(s.pg().fail_unknown(meta, "append", e))
            }
            r => s.pg().checked(&mut conn, Some(meta), r).await.map(drop),
        };
    }
    let state = s.pg().entity_state::<T>();
    let state = &*state;
    retry_stale(s, move || async move {
        let mut args = PgArguments::default();
        row.encode(&mut Encoder::row(&mut BindSink(&mut args)))?;
        let mut conn = s.conn().await?;
        s.pg()
            .check_table_key::<T>(state, &mut conn, TableRole::TimeSeries)
            .await?;
        let r = sqlx::query_with(sqlx::AssertSqlSafe(Arc::clone(&state.append)), args)
            .execute(&mut *conn)
            .await;
        s.pg().checked(&mut conn, Some(meta), r).await?;
        Ok(())
    })
    .await
}

pub(crate) async fn range<S: Session, T: TimeSeries>(
    s: &S,
    query: &RangeQuery<T>,
) -> Result<Vec<T>> {
    let meta = T::META;
    let ts = timestamp_field::<T>()?;
    let conditions = codec::comparable(query.filter.conditions());
    let conditions = &*conditions;
    let mut shape = vec![
        kind::RANGE,
        query.order as u32,
        u32::from(query.limit.is_some()),
    ];
    sql::shape_conditions(&mut shape, conditions);
    let sql = s.pg().statements().get::<T>(shape, || {
        sql::range(meta, ts, conditions, query.order, query.limit.is_some())
    });
    retry_stale(s, || {
        let sql = &sql;
        async move {
            let mut args = PgArguments::default();
            bind_bound(&mut args, ts, &query.start)?;
            bind_bound(&mut args, ts, &query.end)?;
            bind_conditions(&mut args, conditions)?;
            if let Some(n) = query.limit {
                bind_i64(&mut args, meta, limit_i64(n))?;
            }
            fetch_entities(s, sql, args).await
        }
    })
    .await
}

pub(crate) async fn latest<S: Session, T: TimeSeries>(
    s: &S,
    by: AnyColumn<T>,
    filter: &Filter<T>,
) -> Result<Vec<T>> {
    let meta = T::META;
    let ts = timestamp_field::<T>()?;
    let by = by.field();
    let conditions = codec::comparable(filter.conditions());
    let conditions = &*conditions;
    let mut shape = vec![kind::LATEST, u32::try_from(by.index).unwrap_or(u32::MAX)];
    sql::shape_conditions(&mut shape, conditions);
    let sql = s
        .pg()
        .statements()
        .get::<T>(shape, || sql::latest(meta, by, ts, conditions));
    retry_stale(s, || {
        let sql = &sql;
        async move {
            let mut args = PgArguments::default();
            bind_conditions(&mut args, conditions)?;
            fetch_entities(s, sql, args).await
        }
    })
    .await
}

fn metric_shape(
    kind: u32,
    query_value: &FieldMeta,
    extra: u32,
    conditions: &[Condition],
) -> Vec<u32> {
    let mut shape = vec![
        kind,
        u32::try_from(query_value.index).unwrap_or(u32::MAX),
        extra,
    ];
    sql::shape_conditions(&mut shape, conditions);
    shape
}

/// The rows of an aggregate statement, or the overflow Postgres raised computing them.
enum Aggregated {
    Rows(Vec<PgRow>),
    /// SQLSTATE 22003: a float sum of finite values overflowed, where IEEE arithmetic (and the
    /// memory backend) gives ±infinity. The caller aggregates the window's values itself.
    Overflow,
}

/// The savepoint that keeps an overflow inside a transaction from aborting it.
const METRIC_SAVEPOINT: &str = "SAVEPOINT dal_metric";

/// Runs an aggregate statement whose parameters are `pre` (bound first), the window, then the
/// filter (`conditions`, as [`codec::comparable`] made them); returns its rows, or
/// [`Aggregated::Overflow`]. Inside a transaction the statement
/// runs under a savepoint, so that an overflow leaves the transaction usable.
async fn metric_rows<S: Session, T: TimeSeries>(
    s: &S,
    sql: &std::sync::Arc<str>,
    query: &MetricQuery<T>,
    conditions: &[Condition],
    pre: Option<Scalar<'static>>,
    may_overflow: bool,
) -> Result<Aggregated> {
    let meta = T::META;
    let ts = timestamp_field::<T>()?;
    query.validate()?;
    let guarded = may_overflow && !s.pooled();
    retry_stale(s, || async move {
        let mut args = PgArguments::default();
        match pre {
            Some(Scalar::F64(p)) => bind_f64(&mut args, meta, p)?,
            Some(Scalar::I64(w)) => bind_i64(&mut args, meta, w)?,
            _ => {}
        }
        bind_bound(&mut args, ts, &query.start)?;
        bind_bound(&mut args, ts, &query.end)?;
        bind_conditions(&mut args, conditions)?;
        let mut conn = s.conn().await?;
        if guarded {
            let r = sqlx::raw_sql(METRIC_SAVEPOINT).execute(&mut *conn).await;
            s.pg().checked(&mut conn, Some(meta), r).await?;
        }
        let r = sqlx::query_with(sqlx::AssertSqlSafe(sql.clone()), args)
            .fetch_all(&mut *conn)
            .await;
        let overflow = matches!(&r, Err(e) if may_overflow && error::sqlstate(e) == Some("22003"));
        if guarded {
            let end = if overflow {
                "ROLLBACK TO SAVEPOINT dal_metric; RELEASE SAVEPOINT dal_metric"
            } else if r.is_ok() {
                "RELEASE SAVEPOINT dal_metric"
            } else {
                // Any other error aborted the transaction; the savepoint goes with it.
                ""
            };
            if !end.is_empty() {
                let done = sqlx::raw_sql(end).execute(&mut *conn).await;
                s.pg().checked(&mut conn, Some(meta), done).await?;
            }
        }
        if overflow {
            tracing::debug!(
                entity = meta.name,
                "postgres: a float sum overflowed; aggregating the window's values here"
            );
            return Ok(Aggregated::Overflow);
        }
        s.pg()
            .checked(&mut conn, Some(meta), r)
            .await
            .map(Aggregated::Rows)
    })
    .await
}

/// The window's values in time order (timestamp, value as `f64`), for the aggregation of
/// [`dal::query::Accumulator`] where Postgres' own arithmetic raised an overflow.
async fn window_values<S: Session, T: TimeSeries>(
    s: &S,
    query: &MetricQuery<T>,
) -> Result<Vec<(DateTime<Utc>, f64)>> {
    use futures_util::TryStreamExt as _;
    let meta = T::META;
    let ts = timestamp_field::<T>()?;
    let value = query.value.field();
    let conditions = codec::comparable(query.filter.conditions());
    let conditions = &*conditions;
    let sql = s.pg().statements().get::<T>(
        metric_shape(kind::WINDOW_VALUES, value, 0, conditions),
        || sql::window_values(meta, ts, value, conditions),
    );
    retry_stale(s, || {
        let sql = &sql;
        async move {
            let mut args = PgArguments::default();
            bind_bound(&mut args, ts, &query.start)?;
            bind_bound(&mut args, ts, &query.end)?;
            bind_conditions(&mut args, conditions)?;
            let mut conn = s.conn().await?;
            let mut out = Vec::new();
            let failed = {
                let mut stream =
                    sqlx::query_with(sqlx::AssertSqlSafe(sql.clone()), args).fetch(&mut *conn);
                loop {
                    match stream.try_next().await {
                        Ok(Some(row)) => {
                            out.push((column(meta, &row, 0)?, column(meta, &row, 1)?));
                        }
                        Ok(None) => break None,
                        Err(e) => break Some(e),
                    }
                }
            };
            match failed {
                None => Ok(out),
                Some(e) => s.pg().checked(&mut conn, Some(meta), Err(e)).await,
            }
        }
    })
    .await
}

fn column<'r, V: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
    meta: &'static EntityMeta,
    row: &'r PgRow,
    i: usize,
) -> Result<V> {
    row.try_get(i).map_err(|e| Error::Codec {
        entity: meta.name,
        field: "*",
        message: format!("aggregate column {i}: {e}"),
    })
}

pub(crate) async fn quantile<S: Session, T: TimeSeries>(
    s: &S,
    query: &MetricQuery<T>,
    p: f64,
) -> Result<Option<f64>> {
    let meta = T::META;
    check_quantile(meta.name, p)?;
    let ts = timestamp_field::<T>()?;
    let value = query.value.field();
    let conditions = codec::comparable(query.filter.conditions());
    let conditions = &*conditions;
    let sql = s
        .pg()
        .statements()
        .get::<T>(metric_shape(kind::QUANTILE, value, 0, conditions), || {
            sql::quantile(meta, ts, value, conditions)
        });
    // percentile_cont interpolates in plain C arithmetic: it cannot raise an overflow.
    let Aggregated::Rows(rows) =
        metric_rows(s, &sql, query, conditions, Some(Scalar::F64(p)), false).await?
    else {
        return Err(Error::invalid(meta.name, "quantile: unexpected overflow"));
    };
    match rows.first() {
        Some(row) => column::<Option<f64>>(meta, row, 0),
        None => Ok(None),
    }
}

pub(crate) async fn summary<S: Session, T: TimeSeries>(
    s: &S,
    query: &MetricQuery<T>,
) -> Result<Summary> {
    let meta = T::META;
    let ts = timestamp_field::<T>()?;
    let value = query.value.field();
    let conditions = codec::comparable(query.filter.conditions());
    let conditions = &*conditions;
    let sql = s
        .pg()
        .statements()
        .get::<T>(metric_shape(kind::SUMMARY, value, 0, conditions), || {
            sql::summary(meta, ts, value, conditions)
        });
    let rows = match metric_rows(s, &sql, query, conditions, None, true).await? {
        Aggregated::Rows(rows) => rows,
        Aggregated::Overflow => {
            let mut acc = None;
            for (_, v) in window_values(s, query).await? {
                Accumulator::push(&mut acc, v);
            }
            return Ok(Accumulator::summary(acc));
        }
    };
    let Some(row) = rows.first() else {
        return Ok(Summary::default());
    };
    let count: i64 = column(meta, row, 0)?;
    if count == 0 {
        return Ok(Summary::default());
    }
    let sum: Option<f64> = column(meta, row, 3)?;
    Ok(Summary {
        count: u64::try_from(count).unwrap_or(0),
        min: column(meta, row, 1)?,
        max: column(meta, row, 2)?,
        // As `Accumulator::mean` computes it.
        mean: sum.map(|sum| sum / count as f64),
        sum,
    })
}

pub(crate) async fn downsample<S: Session, T: TimeSeries>(
    s: &S,
    query: &MetricQuery<T>,
    width: Duration,
    aggregate: Aggregate,
) -> Result<Vec<Bucket>> {
    let meta = T::META;
    let ts = timestamp_field::<T>()?;
    // Validates the width the same way the memory backend does.
    dal::query::bucket_start(meta.name, query.start, width)?;
    let w = i64::try_from(width.as_micros()).unwrap_or(i64::MAX);
    let value = query.value.field();
    let conditions = codec::comparable(query.filter.conditions());
    let conditions = &*conditions;
    let sql = s.pg().statements().get::<T>(
        metric_shape(kind::DOWNSAMPLE, value, aggregate as u32, conditions),
        || sql::downsample(meta, ts, value, aggregate, conditions),
    );
    let may_overflow = matches!(aggregate, Aggregate::Mean | Aggregate::Sum);
    let rows = match metric_rows(
        s,
        &sql,
        query,
        conditions,
        Some(Scalar::I64(w)),
        may_overflow,
    )
    .await?
    {
        Aggregated::Rows(rows) => rows,
        Aggregated::Overflow => {
            let mut buckets = Downsampler::new(meta.name, width)?;
            for (ts, v) in window_values(s, query).await? {
                buckets.add(ts, v)?;
            }
            return Ok(buckets.finish(aggregate));
        }
    };
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let bucket: i64 = column(meta, row, 0)?;
        let value: Option<f64> = column(meta, row, 1)?;
        let count: i64 = column(meta, row, 2)?;
        let start = bucket
            .checked_mul(w)
            .and_then(DateTime::from_timestamp_micros)
            .ok_or_else(|| Error::invalid(meta.name, "bucket start out of range"))?;
        let value = value.unwrap_or(f64::NAN);
        out.push(Bucket {
            start,
            // As `Accumulator::mean` computes it.
            value: if aggregate == Aggregate::Mean {
                value / count as f64
            } else {
                value
            },
            count: u64::try_from(count).unwrap_or(0),
        });
    }
    Ok(out)
}

/// The backend traits for a session type, forwarding to the functions above.
macro_rules! backend_impls {
    ($ty:ty) => {
        impl dal::RecordBackend for $ty {
            async fn save<T: Keyed>(&self, entity: &T) -> Result<()> {
                self.observe(save(self, entity).await)
            }
            async fn save_all<T: Keyed>(&self, entities: &[T]) -> Result<BatchReport> {
                self.observe(batch::save_all(self, entities).await)
            }
            async fn get<T: Keyed>(&self, key: &T::Key) -> Result<Option<T>> {
                self.observe(get(self, key).await)
            }
            async fn get_many<T: Keyed>(&self, keys: &[T::Key]) -> Result<Vec<Option<T>>> {
                self.observe(get_many(self, keys).await)
            }
            async fn list<T: Keyed>(&self, query: &ListQuery<T>) -> Result<Page<T>> {
                self.observe(list(self, query).await)
            }
            async fn delete<T: Keyed>(&self, key: &T::Key) -> Result<bool> {
                self.observe(delete::<_, T>(self, key).await)
            }
        }

        impl dal::TimeSeriesBackend for $ty {
            async fn append<T: TimeSeries>(&self, row: &T) -> Result<()> {
                self.observe(append(self, row).await)
            }
            async fn append_all<T: TimeSeries>(&self, rows: &[T]) -> Result<BatchReport> {
                self.observe(batch::append_all(self, rows).await)
            }
            async fn range<T: TimeSeries>(&self, query: &RangeQuery<T>) -> Result<Vec<T>> {
                self.observe(range(self, query).await)
            }
            async fn latest<T: TimeSeries>(
                &self,
                by: AnyColumn<T>,
                filter: &Filter<T>,
            ) -> Result<Vec<T>> {
                self.observe(latest(self, by, filter).await)
            }
            async fn flush(&self) -> Result<()> {
                // Every write is committed (or part of this transaction) when its call returns.
                Ok(())
            }
        }

        impl dal::MetricsBackend for $ty {
            async fn quantile<T: TimeSeries>(
                &self,
                query: &MetricQuery<T>,
                p: f64,
            ) -> Result<Option<f64>> {
                self.observe(quantile(self, query, p).await)
            }
            async fn summary<T: TimeSeries>(&self, query: &MetricQuery<T>) -> Result<Summary> {
                self.observe(summary(self, query).await)
            }
            async fn downsample<T: TimeSeries>(
                &self,
                query: &MetricQuery<T>,
                width: Duration,
                aggregate: Aggregate,
            ) -> Result<Vec<Bucket>> {
                self.observe(downsample(self, query, width, aggregate).await)
            }
        }
    };
}

backend_impls!(Postgres);
backend_impls!(PgTx);

impl dal::TransactionalBackend for Postgres {
    type Tx = PgTx;

    async fn begin(&self) -> Result<PgTx> {
        Postgres::begin(self).await
    }
}

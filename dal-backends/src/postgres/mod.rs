//! The Postgres backend: a cheap-to-clone [`Postgres`] handle over a sqlx pool that serves
//! records, time series and metrics for every `#[derive(Entity)]` type, plus transactions
//! ([`PgTx`], itself a backend) and migrations ([`migrate`]).
//!
//! Statement text for the common operations comes from the derive (`T::META.pg`, computed at
//! compile time); statements that depend on a query's shape (filters, batches) are built once
//! per shape and cached, per entity type (`TypeId`: `T::META` is a `const`, so its address is
//! no identity). Values go straight from the entity into the binary wire format
//! (the `codec` module): no intermediate rows on the hot path. Batches use binary `COPY` or
//! `INSERT .. SELECT FROM UNNEST`, whichever is faster for the size (the `batch` module).
//!
//! # Connections
//! [`Postgres::connect_with`] opens one connection itself, so that a wrong address or wrong
//! credentials fail at once with an error naming the address and the cause (connection refused,
//! a host name that does not resolve, authentication), never the password. Later, when no
//! connection comes within [`PostgresOptions::acquire_timeout`] (sqlx retries refused
//! connections until then, which rides through a restart), the error again says why: the
//! cause of a fresh connection attempt, or that every connection stayed in use.
//!
//! The pool does not ping a connection before every use (`test_before_acquire(false)`, the
//! opposite of sqlx's default), which would double the round trips of a point read. Dead
//! connections are found another way: idle connections are closed after
//! [`PostgresOptions::idle_timeout`] and every connection after
//! [`PostgresOptions::max_lifetime`]; a connection that fails in use is dropped by sqlx and
//! the error is a transient [`dal::Error::Unavailable`]. After such a failure the pool pings
//! the connections that are older than the failure before handing them out (for a few
//! seconds), and an idempotent operation (reads, upserts) is retried once on another
//! connection, so killing the server's backends costs at most one error, usually none.
//!
//! # Namespaces
//! [`PostgresOptions::schema`] sets the connection's `search_path` (and creates the schema),
//! so the unqualified table names of the derived statements resolve in that schema: tests run
//! each case in a schema of its own.
//!
//! # Time series and records
//! A time series with ids is keyed by (ids.., timestamp): an append upserts on that key, so the
//! same ids at the same timestamp replace each other (the later wins), distinct timestamps are
//! distinct rows, and a retried append never doubles a row. Records are keyed by their ids.
//! [`Postgres::create_table`] makes the table of an entity's natural role, and
//! [`Postgres::create_record_table`] the record table of an entity with ids and a timestamp;
//! upserts into a table made for the other role, or without the key they conflict on, are
//! refused with [`dal::Error::Config`] ([`ddl::TableRole`]).
//!
//! # Metrics and filters: the memory backend's answers
//! Aggregates give what [`dal::Memory`] gives. Every value is converted to `float8` and summed
//! in time order (an ordered subquery; `sum(real)` would sum in single precision, and an
//! unordered sum depends on the plan); the mean is the sum over the count (`avg` and `/` raise
//! on overflow or a subnormal result). Where a float sum of finite values overflows, Postgres
//! raises an error (SQLSTATE 22003) instead of giving ±infinity: the window's values are then
//! fetched and aggregated here with [`dal::query::Accumulator`], the memory backend's own
//! arithmetic (inside a transaction under a savepoint, which keeps it usable). Only rows with
//! the same timestamp may be summed in another order than on the memory backend.
//!
//! Filters compare as [`dal::Value::total_cmp`]: floats in IEEE total order (`-0.0 < 0.0`, NaN
//! by sign and payload, where Postgres has `-0 = 0` and one NaN), and a value Postgres cannot
//! hold (text with NUL, a timestamp before 4714 BC) still filters, with the answer it has on
//! the memory backend; a key holding one names no row (`get` finds nothing).
//!
//! # Lost replies
//! When the connection is lost after a write was sent and before its reply arrived, whether it
//! was committed is unknown. Upserts (`save`, `save_all`, appends of a time series with ids)
//! are idempotent: dal runs them again once on another connection, and reports a transient
//! [`dal::Error::Unavailable`] if that fails too. Two writes are not repeated, and then fail
//! with [`dal::Error::OutcomeUnknown`] (not transient): [`dal::Transaction::commit`] of a
//! [`PgTx`] whose `COMMIT` was sent, and `append`/`append_all` of a time series without ids
//! outside a transaction (whose statement, `COPY` or `COMMIT` was sent). A connection lost
//! before anything could be committed (acquiring, a statement inside a transaction, which
//! the server then rolls back) stays a transient `Unavailable`. A `delete` whose reply is lost
//! is `Unavailable`: repeating it leaves the same state.

mod batch;
mod codec;
pub mod ddl;
mod error;
mod migrate;
mod sql;
mod store;
mod tx;

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use dal::error::redact_url;
use dal::{Entity, EntityMeta, Error, Result};
use sqlx::Connection as _;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

pub use migrate::{MIGRATOR, migrate};
pub use tx::PgTx;

/// How to connect: the URL plus pool and session settings.
///
/// ```
/// # use std::time::Duration;
/// use dal_backends::postgres::PostgresOptions;
/// let opts = PostgresOptions::new("postgres://app:secret@db/trading")
///     .max_connections(20)
///     .acquire_timeout(Duration::from_secs(2))
///     .schema("tenant_a");
/// assert!(!format!("{opts:?}").contains("secret"));
/// ```
#[derive(Clone)]
pub struct PostgresOptions {
    url: String,
    max_connections: u32,
    min_connections: u32,
    acquire_timeout: Duration,
    idle_timeout: Option<Duration>,
    max_lifetime: Option<Duration>,
    statement_cache_capacity: usize,
    schema: Option<String>,
    test_before_acquire: bool,
    statement_timeout: Option<Duration>,
    application_name: String,
}

impl fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_lifetime", &self.max_lifetime)
            .field("statement_cache_capacity", &self.statement_cache_capacity)
            .field("schema", &self.schema)
            .field("test_before_acquire", &self.test_before_acquire)
            .field("statement_timeout", &self.statement_timeout)
            .field("application_name", &self.application_name)
            .finish()
    }
}

impl PostgresOptions {
    /// Options for `url` (`postgres://user:password@host:port/db?...`) with the defaults:
    /// 10 connections at most, none kept open when idle, 5 s to acquire one, idle connections
    /// closed after 5 minutes and every connection after 30, 256 cached prepared statements
    /// per connection, no ping before each use, no statement timeout.
    pub fn new(url: impl Into<String>) -> Self {
        PostgresOptions {
            url: url.into(),
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(5),
            idle_timeout: Some(Duration::from_secs(300)),
            max_lifetime: Some(Duration::from_secs(1800)),
            statement_cache_capacity: 256,
            schema: None,
            test_before_acquire: false,
            statement_timeout: None,
            application_name: "dal".to_owned(),
        }
    }

    /// Most connections the pool opens.
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Connections the pool keeps open even when idle.
    pub fn min_connections(mut self, n: u32) -> Self {
        self.min_connections = n;
        self
    }

    /// How long an operation waits for a connection (including connecting) before it fails
    /// with a transient [`Error::Unavailable`] that says why (the server refused the
    /// connection, all connections stayed in use, ...). Also bounds [`Postgres::connect_with`],
    /// which fails as soon as its first connection does.
    pub fn acquire_timeout(mut self, d: Duration) -> Self {
        self.acquire_timeout = d;
        self
    }

    /// Idle connections are closed after this long (`None`: never).
    pub fn idle_timeout(mut self, d: Option<Duration>) -> Self {
        self.idle_timeout = d;
        self
    }

    /// Connections are closed after this long in total (`None`: never).
    pub fn max_lifetime(mut self, d: Option<Duration>) -> Self {
        self.max_lifetime = d;
        self
    }

    /// Prepared statements cached per connection.
    pub fn statement_cache_capacity(mut self, n: usize) -> Self {
        self.statement_cache_capacity = n;
        self
    }

    /// Work in this schema: it becomes the connections' `search_path` and is created on
    /// connect if missing.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Ping every connection before handing it out (sqlx's default; off here, see the module
    /// docs).
    pub fn test_before_acquire(mut self, on: bool) -> Self {
        self.test_before_acquire = on;
        self
    }

    /// Server-side `statement_timeout`: statements running longer fail with a transient
    /// [`Error::Timeout`].
    pub fn statement_timeout(mut self, d: Option<Duration>) -> Self {
        self.statement_timeout = d;
        self
    }

    /// `application_name` reported to the server (`pg_stat_activity`).
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = name.into();
        self
    }
}

/// Per-entity state learned at run time.
#[derive(Debug)]
pub(crate) struct EntityState {
    /// Set when an optimistic `COPY` of a `save_all` hit existing keys: later upsert batches of
    /// this entity go straight to the `UNNEST .. ON CONFLICT` path.
    pub(crate) upserts_conflict: std::sync::atomic::AtomicBool,
    /// The single-row append of a time series with ids (conflict on ids and timestamp).
    pub(crate) append: Arc<str>,
    /// The unique keys of the entity's table as last read from the catalog ([`table_key`]
    /// bits; 0: not read yet, or the table did not exist then).
    table_key: AtomicU8,
}

/// Bits of [`EntityState::table_key`].
mod table_key {
    /// The catalog was read.
    pub(super) const KNOWN: u8 = 1;
    /// A unique key on exactly the ids: what a record upsert conflicts on.
    pub(super) const IDS: u8 = 2;
    /// A unique key on exactly the ids and the timestamp: what a time-series append conflicts
    /// on.
    pub(super) const IDS_TIMESTAMP: u8 = 4;
}

impl EntityState {
    fn new(meta: &EntityMeta) -> Self {
        EntityState {
            upserts_conflict: std::sync::atomic::AtomicBool::new(false),
            append: sql::append_upsert(meta).into(),
            table_key: AtomicU8::new(0),
        }
    }
}

struct Inner {
    pool: PgPool,
    url: String,
    /// `user@host:port/database`, for errors.
    address: String,
    schema: Option<String>,
    health: Arc<ConnHealth>,
    statements: sql::StatementCache,
    entities: RwLock<HashMap<TypeId, Arc<EntityState>>>,
}

/// When the last connection failure happened, so the pool can ping connections older than it.
struct ConnHealth {
    base: Instant,
    /// Microseconds after `base` of the last failure, plus one (0: none yet).
    failed_at: AtomicU64,
}

/// How long after a connection failure older connections are pinged before use.
const SUSPECT_WINDOW: Duration = Duration::from_secs(5);

impl ConnHealth {
    fn note_failure(&self) {
        let us = u64::try_from(self.base.elapsed().as_micros()).unwrap_or(u64::MAX - 1);
        self.failed_at.store(us + 1, Ordering::Relaxed);
    }

    /// Whether a connection of this age may predate a recent failure.
    fn suspect(&self, age: Duration) -> bool {
        let at = self.failed_at.load(Ordering::Relaxed);
        if at == 0 {
            return false;
        }
        let since_failure = self
            .base
            .elapsed()
            .saturating_sub(Duration::from_micros(at - 1));
        since_failure < SUSPECT_WINDOW && age >= since_failure
    }
}

/// A Postgres backend handle: a sqlx pool plus statement caches. Cheap to clone; clones share
/// the pool.
#[derive(Clone)]
pub struct Postgres {
    inner: Arc<Inner>,
}

impl fmt::Debug for Postgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Postgres")
            .field("url", &redact_url(&self.inner.url))
            .field("schema", &self.inner.schema)
            .field("connections", &self.inner.pool.size())
            .field("idle", &self.inner.pool.num_idle())
            .finish()
    }
}

impl Postgres {
    /// Connects with default options (see [`PostgresOptions::new`]).
    ///
    /// # Errors
    /// As soon as the first connection fails, with an error that names the address
    /// (`user@host:port/database`, never the password) and the cause:
    /// [`Error::Unavailable`] (transient) when the server cannot be reached (connection refused,
    /// a host name that does not resolve, no answer within the acquire timeout, too many
    /// connections); [`Error::Config`] for what retrying cannot fix (a malformed URL, failed
    /// authentication, a database or role that does not exist, TLS settings the server refuses).
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(PostgresOptions::new(url)).await
    }

    /// Connects to `DATABASE_URL`.
    ///
    /// # Errors
    /// As [`Postgres::connect`]; [`Error::Config`] when `DATABASE_URL` is not set.
    pub async fn from_env() -> Result<Self> {
        let url = std::env::var("DATABASE_URL").map_err(|_| {
            Error::config(
                error::NAME,
                "DATABASE_URL is not set: set it to postgres://user@host/db",
            )
        })?;
        Self::connect(&url).await
    }

    /// Connects with `options`, opening one connection to check the server is there (and to
    /// create the schema of [`PostgresOptions::schema`]).
    ///
    /// # Errors
    /// As [`Postgres::connect`].
    pub async fn connect_with(options: PostgresOptions) -> Result<Self> {
        let mut connect: PgConnectOptions = options.url.parse().map_err(|e| {
            Error::config(
                error::NAME,
                format!("invalid connection URL {}: {e}", redact_url(&options.url)),
            )
        })?;
        connect = connect
            .statement_cache_capacity(options.statement_cache_capacity)
            .application_name(&options.application_name);
        let mut session = Vec::new();
        if let Some(schema) = &options.schema {
            check_schema_name(schema)?;
            session.push(("search_path", ddl::quote_ident(schema)));
        }
        if let Some(t) = options.statement_timeout {
            session.push(("statement_timeout", format!("{}ms", t.as_millis())));
        }
        if !session.is_empty() {
            connect = connect.options(session);
        }
        // One connection opened here, not through the pool: the pool retries a refused
        // connection until the acquire timeout and then reports only that it timed out, while
        // this fails at once with the cause.
        let mut first = open(&connect, options.acquire_timeout).await?;
        if let Some(schema) = &options.schema {
            let stmt = format!("CREATE SCHEMA IF NOT EXISTS {}", ddl::quote_ident(schema));
            let r = sqlx::raw_sql(sqlx::AssertSqlSafe(stmt))
                .execute(&mut first)
                .await;
            if let Err(e) = r {
                let _ = first.close_hard().await;
                return Err(error::map(e));
            }
        }
        let _ = first.close().await;
        let health = Arc::new(ConnHealth {
            base: Instant::now(),
            failed_at: AtomicU64::new(0),
        });
        let check = Arc::clone(&health);
        let address = error::address(&connect);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .min_connections(options.min_connections)
            .acquire_timeout(options.acquire_timeout)
            .idle_timeout(options.idle_timeout)
            .max_lifetime(options.max_lifetime)
            .test_before_acquire(options.test_before_acquire)
            .before_acquire(move |conn: &mut PgConnection, meta| {
                let suspect = check.suspect(meta.age);
                Box::pin(async move {
                    // Only connections that may have died with the last failure pay a ping.
                    Ok(!suspect || conn.ping().await.is_ok())
                })
            })
            .connect_lazy_with(connect);
        Ok(Postgres {
            inner: Arc::new(Inner {
                pool,
                url: options.url,
                address,
                schema: options.schema,
                health,
                statements: sql::StatementCache::default(),
                entities: RwLock::new(HashMap::new()),
            }),
        })
    }

    /// The sqlx pool, for hand-written queries beside the repositories.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// The schema of [`PostgresOptions::schema`], if any.
    pub fn schema(&self) -> Option<&str> {
        self.inner.schema.as_deref()
    }

    /// Closes every connection; operations started afterwards fail with
    /// [`Error::Unavailable`]. Waits for connections in use to be returned.
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }

    /// Creates `T`'s table and indexes if they do not exist (DDL from [`ddl`]), for its natural
    /// role: a time series keyed by (ids.., timestamp) when `T` has a designated timestamp, a
    /// record table keyed by the ids otherwise (see [`ddl::TableRole`]).
    ///
    /// # Errors
    /// As the backend's.
    pub async fn create_table<T: Entity>(&self) -> Result<()> {
        self.create_table_for(T::META).await
    }

    /// Creates `T`'s table as a record table, keyed by its ids alone, even when `T` has a
    /// designated timestamp: for an entity with ids and a timestamp that is stored as keyed
    /// records (`save`, `get`), not as a time series. Appending to that table is refused.
    ///
    /// # Errors
    /// As the backend's.
    pub async fn create_record_table<T: Entity>(&self) -> Result<()> {
        self.create_table_for_role(T::META, ddl::TableRole::Record)
            .await
    }

    /// Creates the table and indexes of `meta` if they do not exist, for its natural role.
    ///
    /// # Errors
    /// As the backend's.
    pub async fn create_table_for(&self, meta: &EntityMeta) -> Result<()> {
        self.create_table_for_role(meta, ddl::TableRole::of(meta))
            .await
    }

    /// Creates the table and indexes of `meta` for `role` if they do not exist.
    ///
    /// # Errors
    /// As the backend's.
    pub async fn create_table_for_role(
        &self,
        meta: &EntityMeta,
        role: ddl::TableRole,
    ) -> Result<()> {
        // One round trip: the statements go as one simple query (run as one transaction).
        let r = self
            .execute_ddl(&ddl::create_table_script_for(meta, role))
            .await;
        self.forget_table_keys();
        r
    }

    /// Forgets every table key read from the catalog (a table may have been created or
    /// replaced).
    fn forget_table_keys(&self) {
        let map = self
            .inner
            .entities
            .read()
            .unwrap_or_else(|e| e.into_inner());
        for state in map.values() {
            state.table_key.store(0, Ordering::Relaxed);
        }
    }

    /// Drops the schema of [`PostgresOptions::schema`] with everything in it (test clean-up).
    ///
    /// # Errors
    /// [`Error::Validation`] when no schema was configured; otherwise as the backend's.
    pub async fn drop_schema(&self) -> Result<()> {
        let Some(schema) = &self.inner.schema else {
            return Err(Error::invalid(
                "postgres",
                "drop_schema needs PostgresOptions::schema",
            ));
        };
        let stmt = format!("DROP SCHEMA IF EXISTS {} CASCADE", ddl::quote_ident(schema));
        self.execute_ddl(&stmt).await
    }

    /// Opens a transaction: a [`PgTx`] handle that serves the same backend traits, so
    /// `Repository<T, PgTx>` works inside it, across entities.
    ///
    /// # Errors
    /// As the backend's.
    pub async fn begin(&self) -> Result<PgTx> {
        tx::PgTx::begin_on(self).await
    }

    async fn execute_ddl(&self, script: &str) -> Result<()> {
        let mut conn = self.acquire().await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(script.to_owned()))
            .execute(&mut *conn)
            .await
            .map_err(|e| self.fail(None, e))?;
        Ok(())
    }

    pub(crate) fn statements(&self) -> &sql::StatementCache {
        &self.inner.statements
    }

    /// `T`'s run-time state, keyed by its type (`T::META` is a `const`: its address is not an
    /// identity).
    pub(crate) fn entity_state<T: Entity>(&self) -> Arc<EntityState> {
        let key = TypeId::of::<T>();
        if let Some(s) = self
            .inner
            .entities
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Arc::clone(s);
        }
        let mut map = self
            .inner
            .entities
            .write()
            .unwrap_or_else(|e| e.into_inner());
        Arc::clone(
            map.entry(key)
                .or_insert_with(|| Arc::new(EntityState::new(T::META))),
        )
    }

    /// Refuses an upsert in `role` to a table without the unique key it conflicts on (see
    /// [`ddl::TableRole`]): a table made for the other role (an entity with ids and a timestamp
    /// can serve either), or one without a key at all, where a bulk `COPY` would add duplicates
    /// instead of replacing rows. The table's unique keys are read from the catalog once (on
    /// `conn`) and remembered until the next `create_table*`.
    pub(crate) async fn check_table_key<T: Entity>(
        &self,
        state: &EntityState,
        conn: &mut PgConnection,
        role: ddl::TableRole,
    ) -> Result<()> {
        let meta = T::META;
        let mut key = state.table_key.load(Ordering::Relaxed);
        if key == 0 {
            // Each unique index (not partial, no expressions) as its sorted column names.
            let (exists, keys): (bool, Vec<String>) = sqlx::query_as(
                "SELECT to_regclass($1) IS NOT NULL, ARRAY(SELECT string_agg(a.attname::text, \
                 ',' ORDER BY a.attname::text) FROM pg_index i JOIN pg_attribute a \
                 ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                 WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL \
                 AND NOT 0 = ANY(i.indkey::int2[]) GROUP BY i.indexrelid)",
            )
            .bind(ddl::quote_ident(meta.table))
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| self.fail(Some(meta), e))?;
            if !exists {
                // The write fails on the missing table with its own error; check next time.
                return Ok(());
            }
            let has = |role| {
                let mut columns: Vec<&str> = ddl::key_fields(meta, role)
                    .iter()
                    .map(|f| f.column)
                    .collect();
                columns.sort_unstable();
                let columns = columns.join(",");
                keys.contains(&columns)
            };
            key = table_key::KNOWN;
            if has(ddl::TableRole::Record) {
                key |= table_key::IDS;
            }
            if has(ddl::TableRole::TimeSeries) {
                key |= table_key::IDS_TIMESTAMP;
            }
            state.table_key.store(key, Ordering::Relaxed);
        }
        let same_key = ddl::key_fields(meta, ddl::TableRole::Record).len()
            == ddl::key_fields(meta, ddl::TableRole::TimeSeries).len();
        let fits = match role {
            ddl::TableRole::Record => key & table_key::IDS != 0,
            // A unique key on the ids alone would refuse (or, by upsert, overwrite) the same ids
            // at a new timestamp.
            ddl::TableRole::TimeSeries if same_key => key & table_key::IDS != 0,
            ddl::TableRole::TimeSeries => {
                key & table_key::IDS_TIMESTAMP != 0 && key & table_key::IDS == 0
            }
        };
        if fits {
            return Ok(());
        }
        let other = match role {
            ddl::TableRole::Record => key & table_key::IDS_TIMESTAMP != 0,
            ddl::TableRole::TimeSeries => key & table_key::IDS != 0,
        };
        Err(wrong_table_key(meta, role, other))
    }

    /// A connection from the pool. When none comes within the acquire timeout, the error says
    /// why: one connection is tried directly, and its failure (refused, unresolvable, ...) is the
    /// cause; if it succeeds, every connection stayed in use.
    pub(crate) async fn acquire(&self) -> Result<PoolConnection<sqlx::Postgres>> {
        match self.inner.pool.acquire().await {
            Ok(conn) => Ok(conn),
            Err(sqlx::Error::PoolTimedOut) => Err(self.diagnose_timeout().await),
            Err(e) => Err(self.fail(None, e)),
        }
    }

    #[cold]
    async fn diagnose_timeout(&self) -> Error {
        let options = self.inner.pool.options();
        let waited = options.get_acquire_timeout();
        let connect = self.inner.pool.connect_options();
        match open(&connect, waited.min(PROBE_TIMEOUT)).await {
            Err(e) => {
                self.inner.health.note_failure();
                e
            }
            Ok(conn) => {
                let _ = conn.close().await;
                Error::unavailable(
                    error::NAME,
                    error::ConnectError {
                        address: self.inner.address.clone(),
                        cause: format!(
                            "all {} connections of the pool stayed in use for {waited:?} \
                             (the server accepts connections: raise max_connections or \
                             acquire_timeout, or hold connections for less time)",
                            options.get_max_connections()
                        ),
                        source: None,
                    },
                )
            }
        }
    }

    /// Passes a statement's result through, mapping its error like [`Postgres::fail`]; after a
    /// schema change made the connection's prepared statements stale, it also clears them, so
    /// the (transient) error is followed by success on the next attempt.
    pub(crate) async fn checked<R>(
        &self,
        conn: &mut PgConnection,
        meta: Option<&'static EntityMeta>,
        r: sqlx::Result<R>,
    ) -> Result<R> {
        match r {
            Ok(v) => Ok(v),
            Err(e) if error::is_stale_plan(&e) => {
                let _ = conn.clear_cached_statements().await;
                Err(Error::backend(error::NAME, true, e))
            }
            Err(e) => Err(self.fail(meta, e)),
        }
    }

    /// Maps the error of a write that is not repeated (an insert without ids, a COMMIT) after
    /// it may have reached the server: a lost connection leaves its outcome unknown.
    pub(crate) fn fail_unknown(
        &self,
        meta: &'static EntityMeta,
        operation: &str,
        e: sqlx::Error,
    ) -> Error {
        if !error::reply_lost(&e) {
            return self.fail(Some(meta), e);
        }
        self.inner.health.note_failure();
        Error::outcome_unknown(error::NAME, format!("{operation} of {}", meta.name), e)
    }

    /// Maps the failure of a transaction's COMMIT: a lost connection leaves its outcome unknown.
    pub(crate) fn fail_commit(&self, e: sqlx::Error) -> Error {
        if !error::reply_lost(&e) {
            return self.fail(None, e);
        }
        self.inner.health.note_failure();
        Error::outcome_unknown(error::NAME, "commit", e)
    }

    /// Maps an error, remembering connection failures so older connections get checked.
    pub(crate) fn fail(&self, meta: Option<&'static EntityMeta>, e: sqlx::Error) -> Error {
        if error::failure(&e) == error::Failure::Connection {
            self.inner.health.note_failure();
        }
        match meta {
            Some(m) => error::map_entity(m, e),
            None => error::map(e),
        }
    }
}

/// The error of a write in `role` to a table made for the other role (`other`), or without the
/// key the write needs.
#[cold]
fn wrong_table_key(meta: &EntityMeta, role: ddl::TableRole, other: bool) -> Error {
    let names = |role| {
        ddl::key_fields(meta, role)
            .iter()
            .map(|f| f.column)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (ids, ids_ts) = (
        names(ddl::TableRole::Record),
        names(ddl::TableRole::TimeSeries),
    );
    let (table, name) = (meta.table, meta.name);
    if !other {
        let (key, create) = match role {
            ddl::TableRole::Record => (ids, "Postgres::create_table (or create_record_table)"),
            ddl::TableRole::TimeSeries => (ids_ts, "Postgres::create_table"),
        };
        return Error::config(
            error::NAME,
            format!(
                "table {table} has no unique key on ({key}), which writes of {name} upsert on \
                 (without it, a batch would add duplicates instead of replacing rows): create \
                 the table with {create}, or add PRIMARY KEY ({key})"
            ),
        );
    }
    let message = match role {
        ddl::TableRole::Record => format!(
            "table {table} has primary key ({ids_ts}), the time-series table of {name}: saving \
             {name} as a keyed record there would add a row per timestamp instead of replacing \
             the record. Keep {name}'s records in a table keyed by ({ids}) \
             (Postgres::create_record_table), or write {name} as a time series (append)"
        ),
        ddl::TableRole::TimeSeries => format!(
            "table {table} has primary key ({ids}), the record table of {name}: an append there \
             would replace the row of the same {ids} at an earlier timestamp. A time series of \
             {name} is keyed by ({ids_ts}): create it with Postgres::create_table, or change its \
             key with ALTER TABLE {table} DROP CONSTRAINT <its primary key>, ADD PRIMARY KEY \
             ({ids_ts})"
        ),
    };
    Error::config(error::NAME, message)
}

/// How long a failed acquire waits for its diagnostic connection at most.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Opens one connection outside the pool, within `timeout`; a failure names the address and
/// the cause.
async fn open(connect: &PgConnectOptions, timeout: Duration) -> Result<PgConnection> {
    match tokio::time::timeout(timeout, PgConnection::connect_with(connect)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(error::connect_error(error::address(connect), e)),
        Err(_) => Err(Error::unavailable(
            error::NAME,
            error::ConnectError {
                address: error::address(connect),
                cause: format!("no answer within {timeout:?}"),
                source: None,
            },
        )),
    }
}

fn check_schema_name(schema: &str) -> Result<()> {
    if schema.is_empty() || schema.len() > 63 || schema.contains(['"', '\0']) {
        return Err(Error::config(
            error::NAME,
            format!("schema name {schema:?} must be 1..=63 bytes without '\"' or NUL"),
        ));
    }
    Ok(())
}

impl dal::Backend for Postgres {
    const NAME: &'static str = error::NAME;

    fn capabilities(&self) -> dal::Capabilities {
        capabilities()
    }

    async fn health_check(&self) -> Result<()> {
        let mut conn = self.acquire().await?;
        sqlx::query("SELECT 1")
            .execute(&mut *conn)
            .await
            .map_err(|e| self.fail(None, e))?;
        Ok(())
    }
}

/// What Postgres can do (shared by [`Postgres`] and [`PgTx`]).
pub(crate) fn capabilities() -> dal::Capabilities {
    let mut c = dal::Capabilities::none();
    c.transactions = true;
    c.quantiles = dal::QuantileAccuracy::Exact;
    c.ttl_expiry = false;
    c.limits = codec::LIMITS;
    c.read_your_writes = true;
    // A time series with ids is keyed by (ids.., timestamp) and appends upsert on that key: the
    // later of two rows with the same ids and timestamp wins. Without ids, every append is a row.
    c.time_series_dedup = true;
    c.timestamp_precision = Duration::from_micros(1);
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use dal::conformance::{Record, Tick};

    /// A handle whose pool never connects (nothing listens on port 1).
    fn unconnected() -> Postgres {
        let connect: PgConnectOptions = "postgres://u@127.0.0.1:1/x".parse().expect("url");
        Postgres {
            inner: Arc::new(Inner {
                address: error::address(&connect),
                pool: PgPoolOptions::new().connect_lazy_with(connect),
                url: "postgres://u@127.0.0.1:1/x".to_owned(),
                schema: None,
                health: Arc::new(ConnHealth {
                    base: Instant::now(),
                    failed_at: AtomicU64::new(0),
                }),
                statements: sql::StatementCache::default(),
                entities: RwLock::new(HashMap::new()),
            }),
        }
    }

    #[tokio::test]
    async fn two_lookups_of_one_entity_share_one_state() {
        let pg = unconnected();
        let a = pg.entity_state::<Tick>();
        let b = pg.clone().entity_state::<Tick>();
        assert!(Arc::ptr_eq(&a, &b));
        let other = pg.entity_state::<Record>();
        assert!(!Arc::ptr_eq(&a, &other));
        assert_eq!(pg.inner.entities.read().expect("lock").len(), 2);
        assert!(
            a.append.contains("ON CONFLICT (\"id\", \"ts\")"),
            "{}",
            a.append
        );
    }

    #[test]
    fn capabilities_declare_postgres_limits() {
        let c = capabilities();
        assert!(c.time_series_dedup);
        assert_eq!(c.timestamp_precision, Duration::from_micros(1));
        let l = c.limits;
        assert_eq!(l.timestamp_min.to_rfc3339(), "-4713-11-24T00:00:00+00:00");
        assert_eq!(l.timestamp_max, chrono::DateTime::<chrono::Utc>::MAX_UTC);
        assert!(l.non_finite_floats && l.integer_min && !l.nul_in_text);
        assert_eq!(l.text_max_bytes, Some(1_073_741_819));
    }

    #[test]
    fn options_debug_hides_the_password() {
        let o = PostgresOptions::new("postgres://u:hunter2@h:5432/db?password=hunter2");
        let s = format!("{o:?}");
        assert!(!s.contains("hunter2"), "{s}");
    }

    #[test]
    fn suspect_window_covers_connections_older_than_the_failure() {
        let h = ConnHealth {
            base: Instant::now(),
            failed_at: AtomicU64::new(0),
        };
        assert!(!h.suspect(Duration::from_secs(100)));
        h.note_failure();
        assert!(h.suspect(Duration::from_secs(100)));
        std::thread::sleep(Duration::from_millis(2));
        assert!(
            !h.suspect(Duration::ZERO),
            "a connection opened after the failure is trusted"
        );
    }

    #[test]
    fn schema_names_are_checked() {
        assert!(check_schema_name("t_1").is_ok());
        assert!(check_schema_name("a\"b").is_err());
        assert!(check_schema_name("").is_err());
    }
}

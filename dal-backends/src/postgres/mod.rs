//! The Postgres backend: a cheap-to-clone [`Postgres`] handle over a sqlx pool that serves
//! records, time series and metrics for every `#[derive(Entity)]` type, plus transactions
//! ([`PgTx`], itself a backend) and migrations ([`migrate`]).
//!
//! Statement text for the common operations comes from the derive (`T::META.pg`, computed at
//! compile time); statements that depend on a query's shape (filters, batches) are built once
//! per shape and cached. Values go straight from the entity into the binary wire format
//! (the `codec` module): no intermediate rows on the hot path. Batches use binary `COPY` or
//! `INSERT .. SELECT FROM UNNEST`, whichever is faster for the size (the `batch` module).
//!
//! # Connections
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

mod batch;
mod codec;
pub mod ddl;
mod error;
mod migrate;
mod sql;
mod store;
mod tx;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// with a transient [`Error::Unavailable`].
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
#[derive(Debug, Default)]
pub(crate) struct EntityState {
    /// Set when an optimistic `COPY` of a `save_all` hit existing keys: later upsert batches of
    /// this entity go straight to the `UNNEST .. ON CONFLICT` path.
    pub(crate) upserts_conflict: std::sync::atomic::AtomicBool,
}

struct Inner {
    pool: PgPool,
    url: String,
    schema: Option<String>,
    health: Arc<ConnHealth>,
    statements: sql::StatementCache,
    entities: RwLock<HashMap<usize, Arc<EntityState>>>,
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
    /// [`Error::Unavailable`] (transient) when the server cannot be reached within the acquire
    /// timeout; [`Error::Validation`] for a malformed URL.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(PostgresOptions::new(url)).await
    }

    /// Connects to `DATABASE_URL`.
    ///
    /// # Errors
    /// As [`Postgres::connect`]; [`Error::Validation`] when `DATABASE_URL` is not set.
    pub async fn from_env() -> Result<Self> {
        let url = std::env::var("DATABASE_URL").map_err(|_| {
            Error::invalid(
                "postgres",
                "DATABASE_URL is not set: set it to postgres://user@host/db",
            )
        })?;
        Self::connect(&url).await
    }

    /// Connects with `options`, opening one connection to check the server is there.
    ///
    /// # Errors
    /// As [`Postgres::connect`].
    pub async fn connect_with(options: PostgresOptions) -> Result<Self> {
        let mut connect: PgConnectOptions = options.url.parse().map_err(|e| {
            Error::invalid(
                "postgres",
                format_args!("invalid connection URL {}: {e}", redact_url(&options.url)),
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
        let health = Arc::new(ConnHealth {
            base: Instant::now(),
            failed_at: AtomicU64::new(0),
        });
        let check = Arc::clone(&health);
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
            .connect_with(connect)
            .await
            .map_err(error::map)?;
        let pg = Postgres {
            inner: Arc::new(Inner {
                pool,
                url: options.url,
                schema: options.schema,
                health,
                statements: sql::StatementCache::default(),
                entities: RwLock::new(HashMap::new()),
            }),
        };
        if let Some(schema) = &pg.inner.schema {
            let stmt = format!("CREATE SCHEMA IF NOT EXISTS {}", ddl::quote_ident(schema));
            pg.execute_ddl(&stmt).await?;
        }
        Ok(pg)
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

    /// Creates `T`'s table and indexes if they do not exist (DDL from [`ddl`]).
    ///
    /// # Errors
    /// As the backend's.
    pub async fn create_table<T: Entity>(&self) -> Result<()> {
        self.create_table_for(T::META).await
    }

    /// Creates the table and indexes of `meta` if they do not exist.
    ///
    /// # Errors
    /// As the backend's.
    pub async fn create_table_for(&self, meta: &EntityMeta) -> Result<()> {
        // One round trip: the statements go as one simple query (run as one transaction).
        self.execute_ddl(&ddl::create_table_script(meta)).await
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
        sqlx::raw_sql(sqlx::AssertSqlSafe(script.to_owned()))
            .execute(&self.inner.pool)
            .await
            .map_err(|e| self.fail(None, e))?;
        Ok(())
    }

    pub(crate) fn statements(&self) -> &sql::StatementCache {
        &self.inner.statements
    }

    pub(crate) fn entity_state(&self, meta: &'static EntityMeta) -> Arc<EntityState> {
        let key = std::ptr::from_ref(meta) as usize;
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
        Arc::clone(map.entry(key).or_default())
    }

    pub(crate) async fn acquire(&self) -> Result<PoolConnection<sqlx::Postgres>> {
        self.inner
            .pool
            .acquire()
            .await
            .map_err(|e| self.fail(None, e))
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

fn check_schema_name(schema: &str) -> Result<()> {
    if schema.is_empty() || schema.len() > 63 || schema.contains(['"', '\0']) {
        return Err(Error::invalid(
            "postgres",
            format_args!("schema name {schema:?} must be 1..=63 bytes without '\"' or NUL"),
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
    c.limits.non_finite_floats = true;
    c.limits.nul_in_text = false;
    c.read_your_writes = true;
    // Time series with ids have them as primary key and append by upsert.
    c.time_series_dedup = true;
    c.timestamp_precision = Duration::from_micros(1);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

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

//! The QuestDB backend: ILP-over-HTTP writes through a 100 ms batch writer, reads over the PG wire.
//!
//! [`QuestDb`] is a cheap `Clone` handle holding a [`BatchWriter`] (questdb-rs's `Buffer` and
//! synchronous HTTP sender, run on `spawn_blocking`) and an sqlx pool on QuestDB's PostgreSQL wire
//! endpoint (port 8812). It implements [`dal::TimeSeriesBackend`] and [`dal::MetricsBackend`].
//!
//! Why the PG wire for reads rather than the HTTP `/exec` API: it binds parameters (no SQL text
//! escaping of user values), streams typed binary rows that decode straight into entities, and
//! sqlx pools and prepares statements; `/exec` would return JSON to re-parse per value.
//!
//! ```no_run
//! use chrono::{Duration, Utc};
//! use dal::{Entity, MetricQuery, MetricsStore, Repository, TimeSeriesStore};
//! use dal_backends::questdb::{QuestDb, QuestDbOptions};
//!
//! #[derive(Debug, Clone, Entity)]
//! #[entity(table = "ticks", questdb(partition = "day", ttl = "30d", dedup))]
//! struct Tick {
//!     #[entity(id)]
//!     id: i64,
//!     #[entity(timestamp)]
//!     ts: chrono::DateTime<Utc>,
//!     #[entity(symbol)]
//!     venue: String,
//!     price: f64,
//! }
//!
//! # async fn run() -> dal::Result<()> {
//! let db = QuestDb::connect(QuestDbOptions::new(
//!     "http::addr=127.0.0.1:9000;",
//!     "postgres://admin:quest@127.0.0.1:8812/qdb",
//! ))?;
//! let ticks: Repository<Tick, QuestDb> = Repository::new(db.clone());
//! let now = Utc::now();
//! ticks.append(&Tick { id: 1, ts: now, venue: "XNYS".into(), price: 101.5 }).await?;
//! ticks.flush().await?; // acknowledged by QuestDB and applied: visible to reads
//! let window = MetricQuery::new(Tick::PRICE, now - Duration::hours(1), now + Duration::seconds(1));
//! let p99 = ticks.quantile(&window, 0.99).await?;
//! db.close().await?; // sends what is still queued
//! # let _ = p99;
//! # Ok(())
//! # }
//! ```
//!
//! # Tables
//! With [`QuestDbOptions::create_tables`] (the default) the first use of an entity runs
//! `CREATE TABLE IF NOT EXISTS` from its metadata ([`ddl::create_table_sql`]) and checks the
//! columns of an existing table with `SHOW COLUMNS`, so ILP never auto-creates a table with the
//! wrong types (auto-created tables name the timestamp `timestamp`, have no UUID/DECIMAL columns
//! and no DEDUP). [`QuestDbOptions::namespace`] appends `_<namespace>` to every table name, which
//! is how tests isolate themselves.
//!
//! # Visibility
//! QuestDB applies WAL transactions asynchronously: a row is readable 1–5 ms after its batch is
//! acknowledged. [`dal::TimeSeriesBackend::flush`] flushes the writer and then runs
//! `SELECT wait_wal_table('<table>')` for every table written since the previous flush, so reads
//! after `flush` see every earlier append ([`dal::Capabilities::read_your_writes`] is false).
//! This holds for ILP over HTTP, where QuestDB acknowledges a request once it is committed; over
//! TCP nothing is acknowledged and rows become visible when the server commits them.
//!
//! # Health
//! [`dal::Backend::health_check`] checks both paths: reads (`SELECT 1` over the PG wire) and
//! writes (the ILP endpoint answers with the configured credentials and offers the protocol
//! version in use: [`BatchWriter::check_endpoint`]). [`QuestDb::connect`] checks the client
//! configuration by building an ILP sender from it, so a configuration that could never send
//! (a `password` without a `username`) is an [`Error::Config`] at once instead of rows dropped
//! later. An unreachable PG wire is reported with its `host:port` and the cause (connection
//! refused, name not resolved) as soon as it is known, by reads and by the first append of an
//! entity (which creates its table).
//!
//! # What QuestDB holds: limits checked at `append`
//! A value QuestDB 9.3 would refuse, change, or later fail to read back is refused by `append`
//! and `append_all` with [`Error::Validation`] naming entity and field, and nothing of that row
//! is queued. These are [`codec::LIMITS`] (the backend's [`dal::Capabilities::limits`]) plus two
//! rules of the designated timestamp:
//! - NaN and ±infinity in any float field: QuestDB stores them as NULL, so a non-`Option` field
//!   could not be read back and `Some(NaN)` would come back `None`. Likewise `i32::MIN` and
//!   `i64::MIN` (the NULL of INT and LONG) and the UUID `80000000-0000-0000-8000-000000000000`.
//! - The designated timestamp must lie in 1970-01-01T00:00:00Z ..= 9999-12-31T23:59:59.999999Z
//!   (QuestDB refuses an earlier one, and answers a later one with an error a writer would
//!   retry); a row at 9999-12-31T23:59:59.999999Z is beyond `range`'s exclusive end (read it
//!   with `latest`). A non-designated TIMESTAMP holds any `DateTime<Utc>`. Timestamps keep
//!   microseconds (nanoseconds are truncated: [`dal::Capabilities::timestamp_precision`]).
//! - A symbol may not contain NUL (QuestDB's ILP parser refuses it); strings may. A symbol is at
//!   most [`codec::SYMBOL_MAX_BYTES`] (64 KiB), a text or JSON value [`codec::TEXT_MAX_BYTES`]
//!   (512 KiB), a whole row [`codec::ROW_MAX_BYTES`] (768 KiB) of ILP: QuestDB sends a row over
//!   the PG wire through a 1 MiB buffer, and a row that does not fit made every read of its
//!   window fail.
//!
//! Reads are robust to rows written outside dal: a NULL in a non-`Option` float or integer
//! field reads back as the value QuestDB stores for it (NaN, `i32::MIN`, `i64::MIN`).
//!
//! # Decimals
//! A `Decimal` field must declare its precision and scale, `#[entity(precision = 18, scale = 8)]`
//! (or `scale = 8` alone, precision 28): it becomes `DECIMAL(18, 8)`, every value is stored at
//! exactly that scale ([`dal::FieldMeta::fit_decimal`]: 12.5 is stored as 12.50000000, a value
//! with more fractional digits is refused, never rounded) and read back at that scale, as on
//! every backend. A QuestDB DECIMAL column has one scale for all its values, so a field without a
//! declaration could not keep each value's own (12.500 would come back 12.5): such a field is
//! refused, naming it, when its table is created and at every append.
//!
//! # Rows QuestDB refuses anyway
//! When QuestDB still refuses a batch because of a row (a table changed outside dal), the writer
//! delivers every other row and reports the refused ones: [`WriterStats::rejected_rows`], an
//! error from the next `flush`, and [`QuestDb::take_refused`] (entity, table, ids and timestamp,
//! QuestDB's reason). Only transient failures are retried (see [`writer`]).
//!
//! # Semantics that differ from other backends
//! - TTL (`questdb(ttl = "30d")`) is counted back from the newest row of the table: a row older
//!   than the TTL when it arrives is dropped by QuestDB, and a row far in the future expires
//!   everything older than the TTL before it.
//! - Quantiles are exact (`percentile_cont` over the sorted window, fetched with `LIMIT`), not
//!   QuestDB's `approx_percentile`, which rejects negative values and is approximate.
//! - Records: QuestDB has no primary keys, deletes or cheap point reads, so this backend does not
//!   implement `RecordBackend`; keep records in Postgres or Redis.

pub mod codec;
pub mod ddl;
pub mod error;
mod lines;
mod store;
pub mod writer;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dal::{Entity, EntityMeta, Error, Result};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

pub use codec::encode_row;
/// The questdb-rs types that [`encode_row`] works with, re-exported so callers need no
/// dependency of their own.
pub use questdb::ingress::{Buffer, ProtocolVersion};
pub use writer::{BatchWriter, RefusedRow, WriterOptions, WriterStats};

use self::error::NAME;
use self::writer::ClientConf;

/// Environment variable with the questdb-rs client configuration (`http::addr=host:9000;`).
pub const CLIENT_CONF_VAR: &str = "QDB_CLIENT_CONF";
/// Environment variable with the PG-wire URL (`postgres://admin:quest@host:8812/qdb`).
pub const PG_URL_VAR: &str = "QDB_PG_URL";

/// How to reach QuestDB and how the handle behaves.
#[derive(Clone)]
#[non_exhaustive]
pub struct QuestDbOptions {
    /// questdb-rs configuration string for writes (`http::addr=127.0.0.1:9000;`). HTTP is the
    /// default and the transport that reports failed writes; `tcp::` works but loses rows
    /// silently when the server refuses them.
    pub client_conf: String,
    /// PG-wire URL for reads and DDL (`postgres://admin:quest@127.0.0.1:8812/qdb`).
    pub pg_url: String,
    /// Suffix appended to every table name as `<table>_<namespace>` (letters, digits, `_`).
    pub namespace: Option<String>,
    /// Create missing tables and check existing ones on first use of an entity.
    pub create_tables: bool,
    /// Batch writer tuning.
    pub writer: WriterOptions,
    /// Connections in the read pool.
    pub max_connections: u32,
    /// How long a read waits for a pooled connection (or to connect).
    pub connect_timeout: Duration,
    /// How long `flush` waits for QuestDB to apply the WAL of one table.
    pub apply_timeout: Duration,
}

impl fmt::Debug for QuestDbOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuestDbOptions")
            .field("client_conf", &redact_conf(&self.client_conf))
            .field("pg_url", &dal::error::redact_url(&self.pg_url))
            .field("namespace", &self.namespace)
            .field("create_tables", &self.create_tables)
            .field("writer", &self.writer)
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("apply_timeout", &self.apply_timeout)
            .finish()
    }
}

impl QuestDbOptions {
    /// Options for a client configuration string and a PG-wire URL, with defaults otherwise.
    pub fn new(client_conf: impl Into<String>, pg_url: impl Into<String>) -> Self {
        QuestDbOptions {
            client_conf: client_conf.into(),
            pg_url: pg_url.into(),
            namespace: None,
            create_tables: true,
            writer: WriterOptions::default(),
            max_connections: 8,
            connect_timeout: Duration::from_secs(5),
            apply_timeout: Duration::from_secs(30),
        }
    }

    /// Options from [`CLIENT_CONF_VAR`] and [`PG_URL_VAR`]; `None` when either is unset or empty.
    pub fn from_env() -> Option<Self> {
        let conf = std::env::var(CLIENT_CONF_VAR)
            .ok()
            .filter(|v| !v.is_empty())?;
        let url = std::env::var(PG_URL_VAR).ok().filter(|v| !v.is_empty())?;
        Some(Self::new(conf, url))
    }

    /// Appends `_<namespace>` to every table name.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Batch writer tuning.
    pub fn writer(mut self, writer: WriterOptions) -> Self {
        self.writer = writer;
        self
    }

    /// Whether to create and check tables on first use (default true).
    pub fn create_tables(mut self, yes: bool) -> Self {
        self.create_tables = yes;
        self
    }
}

/// Keys of a questdb-rs configuration string whose values are secrets.
const SECRET_KEYS: [&str; 5] = [
    "password",
    "token",
    "token_x",
    "token_y",
    "tls_roots_password",
];

/// Hides the values of secret keys of a questdb-rs configuration string.
pub fn redact_conf(conf: &str) -> String {
    const SECRET: [&str; 5] = SECRET_KEYS;
    let Some((scheme, params)) = conf.split_once("::") else {
        return conf.to_owned();
    };
    let mut out = format!("{scheme}::");
    for kv in params.split(';').filter(|kv| !kv.is_empty()) {
        match kv.split_once('=') {
            Some((k, _)) if SECRET.contains(&k.trim()) => {
                out.push_str(k);
                out.push_str("=***;");
            }
            _ => {
                out.push_str(kv);
                out.push(';');
            }
        }
    }
    out
}

/// A QuestDB backend handle. Cheap to clone; clones share the writer and the pool.
#[derive(Clone)]
pub struct QuestDb {
    inner: Arc<Inner>,
}

struct Inner {
    writer: BatchWriter,
    pool: PgPool,
    /// `host:port` of the PG wire (no credentials), for errors; `None` for a Unix socket.
    pg_addr: Option<(String, u16)>,
    namespace: Option<Box<str>>,
    create_tables: bool,
    apply_timeout: Duration,
    /// Per table: created/checked, and written since the last `flush` (must be waited for).
    tables: Mutex<HashMap<Box<str>, TableState>>,
    options: QuestDbOptions,
}

#[derive(Debug, Clone, Copy, Default)]
struct TableState {
    ready: bool,
    wal: bool,
    dirty: bool,
}

impl fmt::Debug for QuestDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuestDb")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

fn valid_namespace(ns: &str) -> bool {
    !ns.is_empty() && ns.len() <= 64 && ns.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl QuestDb {
    /// A handle for `options`. Makes no connection: the writer and the pool connect on first use,
    /// so the handle can be made while QuestDB is down (see [`dal::Backend::health_check`]).
    ///
    /// The client configuration is checked by building an ILP sender from it (over HTTP this
    /// contacts no server), so a configuration that could never send (a `password` without a
    /// `username`, a bad TLS setting) is refused here instead of dropping rows later.
    ///
    /// # Errors
    /// [`Error::Config`] for a client configuration questdb-rs refuses or cannot build a sender
    /// from, a PG-wire URL that does not parse, or an invalid namespace (never with a secret).
    /// Panics outside a Tokio runtime (the writer task is spawned here).
    pub fn connect(options: QuestDbOptions) -> Result<QuestDb> {
        if let Some(ns) = options
            .namespace
            .as_deref()
            .filter(|ns| !valid_namespace(ns))
        {
            return Err(Error::config(
                NAME,
                format!("namespace {ns:?} must be 1..=64 ASCII letters, digits or '_'"),
            ));
        }
        let conf = ClientConf::parse(&options.client_conf)?;
        let connect = PgConnectOptions::from_str(&options.pg_url).map_err(|e| {
            Error::config(
                NAME,
                format!(
                    "invalid PG-wire URL {}: {}",
                    dal::error::redact_url(&options.pg_url),
                    error::redact_values(&options.pg_url, &e.to_string())
                ),
            )
        })?;
        let pg_addr = connect
            .get_socket()
            .is_none()
            .then(|| (connect.get_host().to_owned(), connect.get_port()));
        let writer = BatchWriter::start_with(conf, options.writer.clone());
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.connect_timeout)
            .connect_lazy_with(connect);
        Ok(QuestDb {
            inner: Arc::new(Inner {
                writer,
                pool,
                pg_addr,
                namespace: options.namespace.clone().map(String::into_boxed_str),
                create_tables: options.create_tables,
                apply_timeout: options.apply_timeout,
                tables: Mutex::new(HashMap::new()),
                options,
            }),
        })
    }

    /// A handle from [`CLIENT_CONF_VAR`] and [`PG_URL_VAR`]; `None` when they are not set.
    ///
    /// # Errors
    /// As [`QuestDb::connect`].
    pub fn from_env() -> Result<Option<QuestDb>> {
        QuestDbOptions::from_env().map(Self::connect).transpose()
    }

    /// The batch writer (shared by every clone of the handle).
    pub fn writer(&self) -> &BatchWriter {
        &self.inner.writer
    }

    /// The PG-wire pool, for queries of your own.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// Takes the descriptions of the rows QuestDB refused since the last call (see
    /// [`BatchWriter::take_refused`]): every other row was delivered.
    pub fn take_refused(&self) -> Vec<RefusedRow> {
        self.inner.writer.take_refused()
    }

    /// A connection from the read pool. When the pool holds none, the PG wire is probed first
    /// (name resolution, then a TCP connection), so a wrong host or port, or a server that is
    /// down, is reported at once with its address and cause, instead of after the pool's
    /// timeout as "pool timed out".
    ///
    /// # Errors
    /// [`Error::Unavailable`] naming `host:port` and the cause.
    pub(crate) async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>> {
        if self.inner.pool.size() == 0 {
            self.probe_pg().await?;
        }
        self.inner
            .pool
            .acquire()
            .await
            .map_err(|e| self.pg_error(e))
    }

    /// Maps an error of the pool, naming the PG wire's address where the cause is the
    /// connection.
    pub(crate) fn pg_error(&self, e: sqlx::Error) -> Error {
        let Some((host, port)) = &self.inner.pg_addr else {
            return error::sql(e);
        };
        match e {
            sqlx::Error::PoolTimedOut => Error::unavailable(
                NAME,
                format!(
                    "no connection to QuestDB's PG wire at {host}:{port} within {:?} (all connections busy, or the server does not answer)",
                    self.inner.options.connect_timeout
                ),
            ),
            sqlx::Error::Io(io) => Error::unavailable(
                NAME,
                format!("cannot reach QuestDB's PG wire at {host}:{port}: {io}"),
            ),
            sqlx::Error::Tls(tls) => Error::unavailable(
                NAME,
                format!("TLS with QuestDB's PG wire at {host}:{port} failed: {tls}"),
            ),
            other => error::sql(other),
        }
    }

    /// Resolves and connects to the PG wire's address, to name the cause of a failure now.
    async fn probe_pg(&self) -> Result<()> {
        let Some((host, port)) = &self.inner.pg_addr else {
            return Ok(());
        };
        let limit = self.inner.options.connect_timeout;
        let unreachable = |why: String| {
            Error::unavailable(
                NAME,
                format!("cannot reach QuestDB's PG wire at {host}:{port}: {why}"),
            )
        };
        let addrs: Vec<std::net::SocketAddr> = match tokio::time::timeout(
            limit,
            tokio::net::lookup_host((host.as_str(), *port)),
        )
        .await
        {
            Err(_) => return Err(unreachable(format!("resolving {host} took over {limit:?}"))),
            Ok(Err(e)) => return Err(unreachable(format!("cannot resolve {host}: {e}"))),
            Ok(Ok(addrs)) => addrs.collect(),
        };
        let mut last = format!("{host} resolves to no address");
        for addr in addrs {
            // Name the resolved address only when it is not what the URL says.
            let at = if addr.to_string() == format!("{host}:{port}") {
                String::new()
            } else {
                format!("{addr}: ")
            };
            match tokio::time::timeout(limit, tokio::net::TcpStream::connect(addr)).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => last = format!("{at}{e}"),
                Err(_) => last = format!("{at}no answer within {limit:?}"),
            }
        }
        Err(unreachable(last))
    }

    /// The table name of `meta` on this handle (with the namespace suffix, if any).
    pub fn table_name(&self, meta: &'static EntityMeta) -> Cow<'static, str> {
        match &self.inner.namespace {
            None => Cow::Borrowed(meta.table),
            Some(ns) => Cow::Owned(format!("{}_{ns}", meta.table)),
        }
    }

    /// Creates `T`'s table if it does not exist, then checks that its columns, designated
    /// timestamp and DEDUP keys match the entity.
    ///
    /// # Errors
    /// [`Error::Validation`] naming the field whose column differs; connection errors.
    pub async fn create_table<T: Entity>(&self) -> Result<()> {
        let table = self.table_name(T::META);
        store::create_and_check(self, T::META, &table).await?;
        let mut tables = self.lock_tables();
        let state = tables
            .entry(table.into_owned().into_boxed_str())
            .or_default();
        state.ready = true;
        state.wal = ddl::is_wal(T::META);
        Ok(())
    }

    /// Drops `T`'s table (`DROP TABLE IF EXISTS`), e.g. at the end of a test.
    ///
    /// # Errors
    /// Connection errors.
    pub async fn drop_table<T: Entity>(&self) -> Result<()> {
        let table = self.table_name(T::META);
        let mut sql = String::from("DROP TABLE IF EXISTS ");
        codec::quote_ident(&table, &mut sql);
        self.execute(&sql).await?;
        self.lock_tables().remove(&*table);
        Ok(())
    }

    /// The names of the tables on the server (`tables()`), for maintenance such as removing the
    /// tables of old test namespaces.
    ///
    /// # Errors
    /// Connection errors.
    pub async fn table_names(&self) -> Result<Vec<String>> {
        store::table_names(self).await
    }

    /// Runs one SQL statement over the PG wire and discards its result (DDL, maintenance).
    ///
    /// # Errors
    /// The statement fails; connection errors.
    pub async fn execute(&self, sql: &str) -> Result<()> {
        store::execute(self, sql.to_owned()).await
    }

    /// Flushes the writer, waits until QuestDB applied what was written, then stops the writer.
    /// Later writes fail; reads keep working until the last clone is dropped.
    ///
    /// # Errors
    /// As [`BatchWriter::shutdown`].
    pub async fn close(&self) -> Result<()> {
        let flushed = dal::TimeSeriesBackend::flush(self).await;
        let stopped = self.inner.writer.shutdown().await;
        flushed.and(stopped)
    }

    fn lock_tables(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, TableState>> {
        self.inner
            .tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Creates and checks `T`'s table once per handle (when `create_tables` is on); with
    /// `dirty`, marks it as written since the last `flush`. One lock on the fast path.
    pub(crate) async fn ensure_table<T: Entity>(&self, table: &str, dirty: bool) -> Result<()> {
        {
            let mut tables = self.lock_tables();
            match tables.get_mut(table) {
                Some(s) if s.ready || !self.inner.create_tables => {
                    s.dirty |= dirty;
                    return Ok(());
                }
                Some(_) => {}
                None if !self.inner.create_tables => {
                    tables.insert(
                        table.into(),
                        TableState {
                            ready: true,
                            wal: ddl::is_wal(T::META),
                            dirty,
                        },
                    );
                    return Ok(());
                }
                None => {}
            }
        }
        // Rows must not reach QuestDB before their table exists (ILP would auto-create it with
        // other types). A server that cannot be reached is reported at once, with its address and
        // the cause; a server busy with a concurrent schema change is waited for, up to the
        // writer's flush timeout.
        let retry = &self.inner.options.writer.retry;
        let limit = self
            .inner
            .options
            .writer
            .flush_timeout
            .unwrap_or(Duration::MAX);
        let started = std::time::Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt = attempt.saturating_add(1);
            match self.create_table::<T>().await {
                Ok(()) => break,
                Err(e)
                    if e.is_transient()
                        && !matches!(e, Error::Unavailable { .. } | Error::Timeout { .. })
                        && started.elapsed() < limit =>
                {
                    tracing::warn!(backend = NAME, table, attempt, error = %e, "cannot create the table yet; retrying");
                    tokio::time::sleep(retry.backoff(attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
        if dirty {
            self.redirty(table);
        }
        Ok(())
    }

    /// WAL tables written since the last call, now marked clean.
    pub(crate) fn take_dirty(&self) -> Vec<String> {
        let mut tables = self.lock_tables();
        tables
            .iter_mut()
            .filter(|(_, s)| s.dirty)
            .filter_map(|(name, s)| {
                s.dirty = false;
                s.wal.then(|| name.to_string())
            })
            .collect()
    }

    /// Marks `table` as written again (its WAL wait failed).
    pub(crate) fn redirty(&self, table: &str) {
        if let Some(s) = self.lock_tables().get_mut(table) {
            s.dirty = true;
        }
    }

    pub(crate) fn apply_timeout(&self) -> Duration {
        self.inner.apply_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_from_conf_strings() {
        assert_eq!(
            redact_conf("https::addr=h:9000;username=admin;password=s3cret;"),
            "https::addr=h:9000;username=admin;password=***;"
        );
        assert_eq!(
            redact_conf("tcp::addr=h:9009;token=abc;token_x=x;"),
            "tcp::addr=h:9009;token=***;token_x=***;"
        );
        let opts = QuestDbOptions::new(
            "http::addr=h:9000;password=pw;",
            "postgres://admin:quest@h:8812/qdb",
        );
        let shown = format!("{opts:?}");
        assert!(
            !shown.contains("pw;") && !shown.contains("quest@"),
            "{shown}"
        );
    }

    #[test]
    fn namespaces_are_checked() {
        assert!(valid_namespace("dal_case_1f"));
        assert!(!valid_namespace(""));
        assert!(!valid_namespace("a-b"));
        assert!(!valid_namespace("a;drop"));
    }
}

//! Transactions: [`PgTx`] holds one pooled connection inside `BEGIN` and is itself a backend, so
//! `Repository<T, PgTx>` works inside the transaction, for any number of entities.
//!
//! Nesting uses savepoints: [`dal::TransactionalBackend::begin`] on a `PgTx` opens a savepoint
//! and returns a handle for it, sharing the connection. Levels form a stack: committing a level
//! releases it (and any level opened inside it that is still open); rolling back a level
//! undoes everything since it began. When the last clone of a level's handle is dropped while
//! it is still open, it is rolled back: the rollback is queued on the connection (sqlx sends it
//! before the connection's next use, and the pool sends it before reusing a returned
//! connection), so dropping never blocks and never leaves a transaction open.
//! Operations through an outer handle while an inner savepoint is open run inside that
//! savepoint, as plain SQL would.
//!
//! # A lost COMMIT
//! When the connection is lost after `COMMIT` was sent and before its reply arrived, the
//! transaction may or may not have been committed: [`dal::Transaction::commit`] then fails with
//! [`Error::OutcomeUnknown`] (not transient: see its retry advice). A connection lost at any
//! earlier point (a statement, a savepoint's `RELEASE`) takes the uncommitted transaction with
//! it, and the error is a transient [`Error::Unavailable`]: running the whole transaction again
//! is safe.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use dal::{Error, Result};
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgConnection;
use sqlx_core::transaction::TransactionManager;

use super::error;
use super::store::{Conn, Session};
use super::{Postgres, capabilities};

/// The connection of a transaction and its stack of open levels (innermost last).
pub(crate) struct TxConn {
    conn: Option<PoolConnection<sqlx::Postgres>>,
    open: Vec<u64>,
}

/// One level: the transaction itself (depth 1) or a savepoint inside it.
struct Level {
    pg: Postgres,
    shared: Arc<tokio::sync::Mutex<TxConn>>,
    /// Set when an operation of the transaction (any level) lost the connection: the server
    /// has rolled the transaction back, and a COMMIT must not be sent.
    lost: Arc<AtomicBool>,
    id: u64,
    /// Keeps the enclosing level alive (and so uncommitted) while this one exists.
    _parent: Option<PgTx>,
}

/// An open Postgres transaction (or savepoint). A backend itself: use it with
/// `Repository::<T, PgTx>::new(tx.clone())` for every entity the transaction touches, then
/// [`dal::Transaction::commit`]. Clones share the transaction; dropping the last clone without
/// committing rolls it back.
#[derive(Clone)]
pub struct PgTx {
    level: Arc<Level>,
}

impl fmt::Debug for PgTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTx")
            .field("backend", &self.level.pg)
            .field("level", &self.level.id)
            .finish()
    }
}

static NEXT_LEVEL: AtomicU64 = AtomicU64::new(1);

// sqlx keeps the transaction depth inside the connection, so its own `Transaction` (used for
// the atomic sections of batches) nests correctly inside ours: BEGIN at depth 0, SAVEPOINT
// above. The manager's functions are reached through the `Database` trait.
async fn tm_begin<DB: sqlx::Database>(conn: &mut DB::Connection) -> sqlx::Result<()> {
    <DB::TransactionManager as TransactionManager>::begin(conn, None).await
}

fn finished() -> Error {
    Error::invalid(
        "transaction",
        "this transaction (or savepoint) was already committed or rolled back",
    )
}

impl PgTx {
    pub(crate) async fn begin_on(pg: &Postgres) -> Result<PgTx> {
        let mut conn = pg.acquire().await?;
        tm_begin::<sqlx::Postgres>(&mut conn)
            .await
            .map_err(|e| pg.fail(None, e))?;
        let id = NEXT_LEVEL.fetch_add(1, Ordering::Relaxed);
        Ok(PgTx {
            level: Arc::new(Level {
                pg: pg.clone(),
                shared: Arc::new(tokio::sync::Mutex::new(TxConn {
                    conn: Some(conn),
                    open: vec![id],
                })),
                lost: Arc::new(AtomicBool::new(false)),
                id,
                _parent: None,
            }),
        })
    }

    async fn nested(&self) -> Result<PgTx> {
        let mut g = self.level.shared.lock().await;
        if !g.open.contains(&self.level.id) {
            return Err(finished());
        }
        let TxConn { conn, open } = &mut *g;
        let conn = conn.as_deref_mut().ok_or_else(finished)?;
        let r = tm_begin::<sqlx::Postgres>(conn)
            .await
            .map_err(|e| self.level.pg.fail(None, e));
        self.observe(r)?;
        let id = NEXT_LEVEL.fetch_add(1, Ordering::Relaxed);
        open.push(id);
        Ok(PgTx {
            level: Arc::new(Level {
                pg: self.level.pg.clone(),
                shared: Arc::clone(&self.level.shared),
                lost: Arc::clone(&self.level.lost),
                id,
                _parent: Some(self.clone()),
            }),
        })
    }

    /// Ends this level (and the levels opened inside it) with COMMIT/RELEASE or
    /// ROLLBACK/ROLLBACK TO.
    async fn finish(&self, commit: bool) -> Result<()> {
        let mut g = self.level.shared.lock().await;
        let Some(pos) = g.open.iter().position(|&id| id == self.level.id) else {
            return Err(finished());
        };
        let levels = g.open.len() - pos;
        // Only the transaction's own COMMIT (the last statement when ending level 0) decides
        // whether the writes were stored.
        let committing = commit && pos == 0;
        if committing && self.level.lost.load(Ordering::Relaxed) {
            g.open.truncate(pos);
            if let Some(mut conn) = g.conn.take() {
                conn.close_on_drop();
            }
            return Err(Error::unavailable(
                error::NAME,
                "the transaction's connection was lost before COMMIT: the server rolled it back, \
                 nothing was committed",
            ));
        }
        let result = {
            let conn = g.conn.as_deref_mut().ok_or_else(finished)?;
            end_levels(conn, levels, commit).await
        };
        g.open.truncate(pos);
        match result {
            Ok(()) => {
                if pos == 0 {
                    // The transaction is over: the connection goes back to the pool.
                    g.conn.take();
                }
                Ok(())
            }
            Err(EndError { error, last }) => {
                // The session state is unknown now (for example a serialization failure at
                // COMMIT ends the transaction): never hand this connection to anyone else.
                if let Some(mut conn) = g.conn.take() {
                    conn.close_on_drop();
                }
                if committing && last && error::reply_lost(&error) {
                    return Err(self.level.pg.fail_commit(error));
                }
                Err(self.level.pg.fail(None, error))
            }
        }
    }
}

/// A failure while ending levels, and whether it was the last statement (the COMMIT or ROLLBACK
/// of the outermost level ended).
struct EndError {
    error: sqlx::Error,
    last: bool,
}

async fn end_levels(
    conn: &mut PgConnection,
    levels: usize,
    commit: bool,
) -> std::result::Result<(), EndError> {
    for i in 0..levels {
        let r = if commit {
            tm_commit::<sqlx::Postgres>(conn).await
        } else {
            tm_rollback::<sqlx::Postgres>(conn).await
        };
        r.map_err(|error| EndError {
            error,
            last: i + 1 == levels,
        })?;
    }
    Ok(())
}

async fn tm_commit<DB: sqlx::Database>(conn: &mut DB::Connection) -> sqlx::Result<()> {
    <DB::TransactionManager as TransactionManager>::commit(conn).await
}

async fn tm_rollback<DB: sqlx::Database>(conn: &mut DB::Connection) -> sqlx::Result<()> {
    <DB::TransactionManager as TransactionManager>::rollback(conn).await
}

fn tm_start_rollback<DB: sqlx::Database>(conn: &mut DB::Connection) {
    <DB::TransactionManager as TransactionManager>::start_rollback(conn);
}

/// Queues the rollback of level `id` and every level inside it; returns the connection to the
/// pool when that was the transaction itself.
fn rollback_queued(g: &mut TxConn, id: u64) {
    let Some(pos) = g.open.iter().position(|&x| x == id) else {
        return;
    };
    let levels = g.open.len() - pos;
    g.open.truncate(pos);
    if let Some(conn) = g.conn.as_deref_mut() {
        for _ in 0..levels {
            tm_start_rollback::<sqlx::Postgres>(conn);
        }
    }
    if pos == 0 {
        // Dropping a pooled connection returns it through sqlx's release path, which flushes
        // the queued ROLLBACK and waits for it before the connection is reused.
        g.conn.take();
    }
}

impl Drop for Level {
    fn drop(&mut self) {
        let id = self.id;
        match Arc::clone(&self.shared).try_lock_owned() {
            Ok(mut g) => rollback_queued(&mut g, id),
            Err(_) => {
                // Another level is running a statement on the connection right now: roll back
                // as soon as it is done.
                let shared = Arc::clone(&self.shared);
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(async move {
                        let mut g = shared.lock_owned().await;
                        rollback_queued(&mut g, id);
                    });
                }
            }
        }
    }
}

impl Session for PgTx {
    fn pg(&self) -> &Postgres {
        &self.level.pg
    }

    async fn conn(&self) -> Result<Conn> {
        let g = Arc::clone(&self.level.shared).lock_owned().await;
        if !g.open.contains(&self.level.id) {
            return Err(finished());
        }
        tokio::sync::OwnedMutexGuard::try_map(g, |t| t.conn.as_deref_mut())
            .map(Conn::Tx)
            .map_err(|_| finished())
    }

    fn pooled(&self) -> bool {
        false
    }

    fn observe<R>(&self, r: Result<R>) -> Result<R> {
        if let Err(e) = &r
            && super::store::connection_lost(e)
        {
            self.level.lost.store(true, Ordering::Relaxed);
        }
        r
    }
}

impl dal::Backend for PgTx {
    const NAME: &'static str = error::NAME;

    fn capabilities(&self) -> dal::Capabilities {
        capabilities()
    }

    async fn health_check(&self) -> Result<()> {
        let mut conn = self.conn().await?;
        let r = sqlx::query("SELECT 1")
            .execute(&mut *conn)
            .await
            .map_err(|e| self.level.pg.fail(None, e));
        self.observe(r).map(drop)
    }
}

impl dal::Transaction for PgTx {
    async fn commit(self) -> Result<()> {
        self.finish(true).await
    }

    async fn rollback(self) -> Result<()> {
        self.finish(false).await
    }
}

impl dal::TransactionalBackend for PgTx {
    type Tx = PgTx;

    /// Opens a savepoint inside this transaction.
    async fn begin(&self) -> Result<PgTx> {
        self.nested().await
    }
}

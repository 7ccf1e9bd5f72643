//! Transactions of the memory backend: a private snapshot per transaction, replayed onto the store
//! at commit.
//!
//! A [`Tx`] copies each table the first time it touches it (rows are shared `Arc`s, so a copy
//! costs one reference count per row) and records every write in a log while applying it to its
//! copy. Commit replays the log onto the store under its write lock, so other readers see all of
//! the transaction's writes or none of them. Dropping the last clone uncommitted simply discards
//! the copy: nothing was ever written to the store.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::faults::Op;
use super::tables::{TableCopy, TableRef, Tables, Write};
use super::{Access, Memory, NAME};
use crate::backend::{Backend, Capabilities, Transaction};
use crate::error::{Error, Result};

/// An open transaction of the memory backend; itself a backend, so `Repository<T, Tx>` works
/// inside it, across every entity and store kind.
///
/// # Isolation
/// - Reads inside the transaction see each table as it was when the transaction first touched it,
///   plus the transaction's own writes (repeatable reads per table).
/// - Writes are invisible outside until [`Transaction::commit`], which applies all of them
///   atomically. Commit never fails with a conflict: concurrent writers are not detected, and the
///   last commit wins per key (as blind writes under Postgres `READ COMMITTED`).
/// - [`Transaction::rollback`], or dropping the last clone uncommitted, discards every write.
/// - `begin` on a `Tx` opens a nested transaction (a savepoint): its commit merges its writes into
///   the parent, its rollback discards only its own.
///
/// Clones share the transaction. Once it is committed or rolled back, every operation on a
/// remaining clone fails with a permanent [`Error::Backend`].
#[derive(Clone)]
pub struct Tx {
    inner: Arc<TxInner>,
}

struct TxInner {
    root: Memory,
    parent: Parent,
    depth: usize,
    state: Mutex<TxState>,
}

/// Where a transaction's writes go at commit.
enum Parent {
    Store(Memory),
    Tx(Tx),
}

#[derive(Default)]
struct TxState {
    /// Snapshots of the tables touched so far, with the transaction's writes applied.
    tables: Tables,
    /// Every write, in order, for replay at commit.
    log: Vec<(TableRef, Write)>,
    /// `Some("committed")` or `Some("rolled back")` once finished.
    finished: Option<&'static str>,
}

impl TxState {
    fn ensure_open(&self) -> Result<()> {
        match self.finished {
            None => Ok(()),
            Some(how) => Err(Error::backend(
                NAME,
                false,
                format!("the transaction was already {how}: open a new one with begin()"),
            )),
        }
    }
}

impl Tx {
    /// Opens a transaction on the store (`parent` a [`Memory`]) or a nested one (`parent` a `Tx`).
    pub(crate) fn begin<P: Access>(parent: &P) -> Result<Tx> {
        let (parent, depth) = if let Some(tx) = parent.as_tx() {
            tx.lock().ensure_open()?;
            (Parent::Tx(tx.clone()), tx.inner.depth + 1)
        } else {
            (Parent::Store(parent.root().clone()), 1)
        };
        Ok(Tx {
            inner: Arc::new(TxInner {
                root: parent_root(&parent),
                parent,
                depth,
                state: Mutex::new(TxState::default()),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, TxState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes sure `table` is in the snapshot, copying it from the parent on first touch.
    fn touch(&self, state: &mut TxState, table: TableRef) -> Result<()> {
        if !state.tables.contains(table) {
            let copy = self.inner.parent.copy_table(table)?;
            state.tables.install(table.id, copy);
        }
        Ok(())
    }

    /// The parent's view of `table` (for a nested transaction's first touch).
    fn copy_table(&self, table: TableRef) -> Result<TableCopy> {
        let state = self.lock();
        state.ensure_open()?;
        if state.tables.contains(table) {
            Ok(state.tables.copy(table))
        } else {
            self.inner.parent.copy_table(table)
        }
    }

    /// Applies a committed child's log to this transaction.
    fn replay(&self, log: Vec<(TableRef, Write)>) -> Result<()> {
        let mut state = self.lock();
        state.ensure_open()?;
        for (table, write) in log {
            self.touch(&mut state, table)?;
            state.tables.apply(table.id, write.clone());
            state.log.push((table, write));
        }
        Ok(())
    }

    /// Marks the transaction finished and takes its log.
    fn finish(&self, how: &'static str) -> Result<Vec<(TableRef, Write)>> {
        let mut state = self.lock();
        state.ensure_open()?;
        state.finished = Some(how);
        state.tables = Tables::default();
        Ok(std::mem::take(&mut state.log))
    }
}

fn parent_root(parent: &Parent) -> Memory {
    match parent {
        Parent::Store(m) => m.clone(),
        Parent::Tx(tx) => tx.inner.root.clone(),
    }
}

impl Parent {
    fn copy_table(&self, table: TableRef) -> Result<TableCopy> {
        match self {
            Parent::Store(memory) => Ok(memory.copy_table(table)),
            Parent::Tx(tx) => tx.copy_table(table),
        }
    }

    fn replay(&self, log: Vec<(TableRef, Write)>) -> Result<()> {
        match self {
            Parent::Store(memory) => {
                memory.replay(log);
                Ok(())
            }
            Parent::Tx(tx) => tx.replay(log),
        }
    }
}

impl Access for Tx {
    fn root(&self) -> &Memory {
        &self.inner.root
    }

    fn as_tx(&self) -> Option<&Tx> {
        Some(self)
    }

    fn read<R>(&self, table: TableRef, f: impl FnOnce(&Tables) -> R) -> Result<R> {
        let mut state = self.lock();
        state.ensure_open()?;
        self.touch(&mut state, table)?;
        Ok(f(&state.tables))
    }

    fn apply<I: IntoIterator<Item = Write>>(&self, table: TableRef, writes: I) -> Result<bool> {
        let mut state = self.lock();
        state.ensure_open()?;
        self.touch(&mut state, table)?;
        let mut existed = false;
        for write in writes {
            existed = state.tables.apply(table.id, write.clone());
            state.log.push((table, write));
        }
        Ok(existed)
    }
}

impl Backend for Tx {
    const NAME: &'static str = NAME;

    fn capabilities(&self) -> Capabilities {
        super::store::capabilities()
    }

    async fn health_check(&self) -> Result<()> {
        self.root().faults().enter(Op::HealthCheck).await?;
        self.lock().ensure_open()
    }
}

impl Transaction for Tx {
    async fn commit(self) -> Result<()> {
        if let Err(e) = self.root().faults().enter(Op::Commit).await {
            // A failed commit rolls back (the contract of `Transaction::commit`).
            let _ = self.finish("rolled back");
            return Err(e);
        }
        let log = self.finish("committed")?;
        self.inner.parent.replay(log)
    }

    async fn rollback(self) -> Result<()> {
        let entered = self.root().faults().enter(Op::Rollback).await;
        // The writes are discarded whatever the injected outcome.
        self.finish("rolled back")?;
        entered
    }
}

impl fmt::Debug for Tx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Tx")
            .field("depth", &self.inner.depth)
            .field("writes", &state.log.len())
            .field("finished", &state.finished)
            .finish()
    }
}

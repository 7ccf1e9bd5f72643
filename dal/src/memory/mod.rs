//! The in-memory backend: the embedded default, and the store that tests of code built on dal use
//! instead of mocks.
//!
//! [`Memory`] implements every backend trait (records, time series, metrics, TTL cache,
//! transactions) with the semantics of the contracts in [`crate::backend`], which the conformance
//! suite pins. Rows go through the same codec path as a real backend (captured with
//! [`crate::value::RowCapture`], decoded with [`crate::value::RowDecoder`]), so a codec bug shows
//! up here too. On top of that it offers what a real store cannot: an injectable [`Clock`] for
//! TTL expiry, injected failures ([`Fault`]) and simulated latency.
//!
//! # Clone semantics
//! A `Memory` is a handle (`Arc` inside): clones share the same data, clock, faults and latency,
//! so a clone handed to the code under test sees everything the test writes. [`Memory::new`] is a
//! fresh, empty, independent store.
//!
//! # Storage
//! Each entity type has its own record table (keyed by the key codec string of
//! [`crate::key::encode_key`]), time series (sorted by the designated timestamp) and cache (with
//! expiry instants). The three are separate: a row written with `save` is not seen by `range`,
//! and an entry written with `put` is not seen by `get`. Tables belong to Rust types, so two
//! entity types with the same `table` name do not share rows. All tables sit behind one
//! `RwLock` (std, never poisoned into a panic); a read hands rows out of the lock with a
//! reference-count increment and decodes them outside it.
//!
//! # Semantics the contracts leave open
//! - NaN: floats compare by IEEE total order, as Postgres sorts them, so in filters and in
//!   aggregates NaN is greater than every number (`max` of a window with a NaN is NaN; a quantile
//!   that interpolates towards a NaN is NaN; `sum` and `mean` are NaN).
//! - `latest` groups NULL values of the `by` column as one group, ordered first.
//! - Timestamps keep full nanosecond precision.
//! - Transactions: see [`Tx`].
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use dal::{Memory, Repository, RecordStore};
//! # #[derive(Clone, Debug, PartialEq, dal::Entity)]
//! # struct Token { #[entity(id)] mint: String, symbol: String }
//! let memory = Memory::new();
//! let tokens: Repository<Token, Memory> = Repository::new(memory.clone());
//! tokens.save(&Token { mint: "So11".into(), symbol: "SOL".into() }).await?;
//! let again: Repository<Token, Memory> = Repository::new(memory); // a clone: same data
//! assert_eq!(again.get(&"So11".to_string()).await?.map(|t| t.symbol), Some("SOL".into()));
//! # Ok::<(), dal::Error>(()) }).unwrap();
//! ```

mod clock;
mod faults;
mod store;
mod tables;
#[cfg(test)]
mod tests;
mod tx;

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

pub use clock::{Clock, ManualClock, SystemClock};
pub use faults::{Fault, InjectedFault, Op};
pub use tx::Tx;

use crate::backend::Backend;
use crate::error::Result;
use faults::Faults;
use tables::{TableRef, Tables, Write};

/// The backend name in errors, logs and spans.
pub(crate) const NAME: &str = "memory";

/// The in-memory backend handle. Cheap to clone; clones share the same store (see the
/// [module docs](self) for semantics).
#[derive(Clone)]
pub struct Memory {
    shared: Arc<Shared>,
}

/// What the clones of one store share.
struct Shared {
    tables: RwLock<Tables>,
    clock: Arc<dyn Clock>,
    faults: Faults,
}

/// How to build a [`Memory`]: clock, latency, faults from the start.
///
/// ```
/// use std::time::Duration;
/// use dal::memory::{Fault, ManualClock, Memory, MemoryOptions, Op};
///
/// let memory = Memory::with_options(
///     MemoryOptions::new()
///         .clock(ManualClock::new())
///         .latency(Duration::from_micros(200))
///         .fault(Fault::on(Op::Save).every(10)),
/// );
/// # let _ = memory;
/// ```
#[derive(Debug, Default)]
pub struct MemoryOptions {
    clock: Option<Arc<dyn Clock>>,
    latency: Vec<(Option<Op>, Duration)>,
    faults: Vec<Fault>,
}

impl MemoryOptions {
    /// Defaults: the system clock, no latency, no faults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The clock TTL expiry reads.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// A delay before every operation.
    pub fn latency(mut self, delay: Duration) -> Self {
        self.latency.push((None, delay));
        self
    }

    /// A delay before every call of `op` (overrides [`MemoryOptions::latency`] for that op).
    pub fn latency_for(mut self, op: Op, delay: Duration) -> Self {
        self.latency.push((Some(op), delay));
        self
    }

    /// A fault injected from the start.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }
}

impl Memory {
    /// A fresh, empty store on the system clock.
    pub fn new() -> Self {
        Self::with_options(MemoryOptions::new())
    }

    /// A fresh, empty store whose TTLs expire by `clock` (for example a [`ManualClock`]).
    pub fn with_clock(clock: impl Clock) -> Self {
        Self::with_options(MemoryOptions::new().clock(clock))
    }

    /// A fresh, empty store built from `options`.
    pub fn with_options(options: MemoryOptions) -> Self {
        let faults = Faults::default();
        // Global latency first, so per-op settings given in any order override it.
        let (global, per_op): (Vec<_>, Vec<_>) = options
            .latency
            .into_iter()
            .partition(|(op, _)| op.is_none());
        for (op, delay) in global.into_iter().chain(per_op) {
            faults.set_latency(op, delay);
        }
        for fault in options.faults {
            faults.inject(fault);
        }
        Memory {
            shared: Arc::new(Shared {
                tables: RwLock::new(Tables::default()),
                clock: options.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                faults,
            }),
        }
    }

    /// Adds a fault (see [`Fault`]); it applies to every clone of this store.
    pub fn inject(&self, fault: Fault) {
        self.shared.faults.inject(fault);
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Sets the delay before every operation (`Duration::ZERO`: none), replacing per-op delays.
    pub fn set_latency(&self, delay: Duration) {
        self.shared.faults.set_latency(None, delay);
    }

    /// Sets the delay before every call of `op`.
    pub fn set_latency_for(&self, op: Op, delay: Duration) {
        self.shared.faults.set_latency(Some(op), delay);
    }

    /// Whether `self` and `other` are clones of the same store.
    pub fn same_store(&self, other: &Memory) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Removes every row of every table (faults, latency and clock stay).
    pub fn clear(&self) {
        *self
            .shared
            .tables
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Tables::default();
    }
}

impl Default for Memory {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memory")
            .field("clock", &self.shared.clock)
            .finish_non_exhaustive()
    }
}

/// How the generic operations of [`store`] reach data: the store itself, or a transaction's
/// snapshot of it.
pub(crate) trait Access: Backend {
    /// The store this handle belongs to (clock, faults, latency).
    fn root(&self) -> &Memory;

    /// This handle as a transaction, if it is one (`begin` on it nests).
    fn as_tx(&self) -> Option<&Tx> {
        None
    }

    /// Runs `f` over the tables, with `table` readable.
    fn read<R>(&self, table: TableRef, f: impl FnOnce(&Tables) -> R) -> Result<R>;

    /// Applies `writes` to `table`, atomically; whether the last write found its key.
    fn apply<I: IntoIterator<Item = Write>>(&self, table: TableRef, writes: I) -> Result<bool>;
}

impl Access for Memory {
    fn root(&self) -> &Memory {
        self
    }

    fn read<R>(&self, _: TableRef, f: impl FnOnce(&Tables) -> R) -> Result<R> {
        let tables = self
            .shared
            .tables
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(f(&tables))
    }

    fn apply<I: IntoIterator<Item = Write>>(&self, table: TableRef, writes: I) -> Result<bool> {
        let mut tables = self
            .shared
            .tables
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(writes
            .into_iter()
            .fold(false, |_, w| tables.apply(table.id, w)))
    }
}

impl Memory {
    fn clock(&self) -> &dyn Clock {
        &*self.shared.clock
    }

    fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Copies one table out of the store (a transaction's first touch).
    fn copy_table(&self, table: TableRef) -> tables::TableCopy {
        self.shared
            .tables
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .copy(table)
    }

    /// Replays a committed transaction's log, atomically.
    fn replay(&self, log: Vec<(TableRef, Write)>) {
        let mut tables = self
            .shared
            .tables
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for (table, write) in log {
            tables.apply(table.id, write);
        }
    }
}

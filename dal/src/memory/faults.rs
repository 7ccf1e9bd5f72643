//! Failure injection and latency simulation for the memory backend.
//!
//! Tests of code built on dal need to see how it behaves when the store fails or is slow, without
//! a real outage. A [`Fault`] makes chosen operations ([`Op`]) fail, every call or every Nth call,
//! transiently ([`Error::Unavailable`]) or permanently ([`Error::Backend`] with `transient:
//! false`), or rejects one item of a batch. Latency is a fixed delay (`tokio::time::sleep`)
//! before every operation, or before chosen ones; with paused tokio time it costs no real time.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use crate::error::Error;

/// The operations of the memory backend, for targeting faults and latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)] // one variant per backend method; the names say it
pub enum Op {
    HealthCheck,
    Save,
    SaveAll,
    Get,
    GetMany,
    List,
    Delete,
    Append,
    AppendAll,
    Range,
    Latest,
    Flush,
    Quantile,
    Summary,
    Downsample,
    Put,
    PutAll,
    Lookup,
    LookupMany,
    Invalidate,
    RemainingTtl,
    Begin,
    Commit,
    Rollback,
}

impl Op {
    /// Every operation, in declaration order.
    pub const ALL: [Op; 24] = [
        Op::HealthCheck,
        Op::Save,
        Op::SaveAll,
        Op::Get,
        Op::GetMany,
        Op::List,
        Op::Delete,
        Op::Append,
        Op::AppendAll,
        Op::Range,
        Op::Latest,
        Op::Flush,
        Op::Quantile,
        Op::Summary,
        Op::Downsample,
        Op::Put,
        Op::PutAll,
        Op::Lookup,
        Op::LookupMany,
        Op::Invalidate,
        Op::RemainingTtl,
        Op::Begin,
        Op::Commit,
        Op::Rollback,
    ];

    /// The method name (`"save_all"`, `"lookup"`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Op::HealthCheck => "health_check",
            Op::Save => "save",
            Op::SaveAll => "save_all",
            Op::Get => "get",
            Op::GetMany => "get_many",
            Op::List => "list",
            Op::Delete => "delete",
            Op::Append => "append",
            Op::AppendAll => "append_all",
            Op::Range => "range",
            Op::Latest => "latest",
            Op::Flush => "flush",
            Op::Quantile => "quantile",
            Op::Summary => "summary",
            Op::Downsample => "downsample",
            Op::Put => "put",
            Op::PutAll => "put_all",
            Op::Lookup => "lookup",
            Op::LookupMany => "lookup_many",
            Op::Invalidate => "invalidate",
            Op::RemainingTtl => "remaining_ttl",
            Op::Begin => "begin",
            Op::Commit => "commit",
            Op::Rollback => "rollback",
        }
    }

    const fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failure to inject: which operations, how often, and what kind of error.
///
/// Built from [`Fault::on`] or [`Fault::on_any`] (every call fails transiently) and refined:
///
/// ```
/// use dal::memory::{Fault, Memory, Op};
///
/// let memory = Memory::new();
/// // The 3rd, 6th, 9th... `get` fails with a permanent error.
/// memory.inject(Fault::on(Op::Get).every(3).permanent());
/// // The next two `save_all` calls reject the item at index 1 (the others are written).
/// memory.inject(Fault::on(Op::SaveAll).item(1).times(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    ops: u32,
    every: u64,
    transient: bool,
    times: Option<u64>,
    item: Option<usize>,
}

impl Fault {
    /// Every call of `op` fails with a transient error.
    pub fn on(op: Op) -> Self {
        Self::on_ops([op])
    }

    /// Every call of any of `ops` fails with a transient error.
    pub fn on_ops(ops: impl IntoIterator<Item = Op>) -> Self {
        Fault {
            ops: ops.into_iter().fold(0, |acc, op| acc | op.bit()),
            every: 1,
            transient: true,
            times: None,
            item: None,
        }
    }

    /// Every call of every operation fails with a transient error.
    pub fn on_any() -> Self {
        Self::on_ops(Op::ALL)
    }

    /// Only the `n`th, `2n`th, ... matching call fails (`n = 0` is taken as 1).
    pub fn every(mut self, n: u64) -> Self {
        self.every = n.max(1);
        self
    }

    /// The failure is transient: [`Error::Unavailable`] (the default).
    pub fn transient(mut self) -> Self {
        self.transient = true;
        self
    }

    /// The failure is permanent: [`Error::Backend`] with `transient: false`.
    pub fn permanent(mut self) -> Self {
        self.transient = false;
        self
    }

    /// The fault fires at most `n` times, then stays inert.
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }

    /// On batch operations (`save_all`, `append_all`, `put_all`), reject only the item at
    /// `index` (reported in the [`crate::BatchReport`]; the other items are written) instead of
    /// failing the call. The fault does not fire on other operations.
    pub fn item(mut self, index: usize) -> Self {
        self.item = Some(index);
        self
    }
}

/// The error an injected fault produces (the source of the returned [`Error`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedFault {
    /// The operation that failed.
    pub op: Op,
    /// Whether the failure was injected as transient.
    pub transient: bool,
}

impl fmt::Display for InjectedFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.transient {
            "transient"
        } else {
            "permanent"
        };
        write!(f, "injected {kind} fault on {}", self.op)
    }
}

impl std::error::Error for InjectedFault {}

impl InjectedFault {
    fn into_error(self) -> Error {
        if self.transient {
            Error::unavailable(super::NAME, self)
        } else {
            Error::backend(super::NAME, false, self)
        }
    }
}

/// A fault rule with its counters.
#[derive(Debug)]
struct Rule {
    fault: Fault,
    /// Matching calls seen.
    calls: AtomicU64,
    /// Failures produced.
    fired: AtomicU64,
}

impl Rule {
    /// Counts one matching call; whether this call fails.
    fn fires(&self) -> bool {
        let call = self.calls.fetch_add(1, Ordering::AcqRel) + 1;
        if !call.is_multiple_of(self.fault.every) {
            return false;
        }
        match self.fault.times {
            None => true,
            // Claim one of the remaining firings; concurrent callers cannot overshoot.
            Some(limit) => self
                .fired
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < limit).then_some(n + 1)
                })
                .is_ok(),
        }
    }
}

/// Injected faults and latency of one memory store (shared by its clones).
#[derive(Debug, Default)]
pub(crate) struct Faults {
    /// Fast path: no rule has ever been installed since the last clear.
    armed: AtomicBool,
    rules: RwLock<Vec<Arc<Rule>>>,
    /// Delay before each operation, in nanoseconds, indexed by `Op as usize`.
    latency: [AtomicU64; Op::ALL.len()],
}

impl Faults {
    pub(crate) fn inject(&self, fault: Fault) {
        let rule = Arc::new(Rule {
            fault,
            calls: AtomicU64::new(0),
            fired: AtomicU64::new(0),
        });
        self.rules
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(rule);
        self.armed.store(true, Ordering::Release);
    }

    pub(crate) fn clear(&self) {
        self.rules
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.armed.store(false, Ordering::Release);
    }

    pub(crate) fn set_latency(&self, op: Option<Op>, delay: Duration) {
        let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        match op {
            Some(op) => self.latency[op as usize].store(nanos, Ordering::Release),
            None => {
                for slot in &self.latency {
                    slot.store(nanos, Ordering::Release);
                }
            }
        }
    }

    pub(crate) fn latency(&self, op: Op) -> Duration {
        Duration::from_nanos(self.latency[op as usize].load(Ordering::Acquire))
    }

    /// Applies the latency of `op`, then fails if a whole-call fault fires.
    pub(crate) async fn enter(&self, op: Op) -> Result<(), Error> {
        let delay = self.latency(op);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        self.check(op)
    }

    /// Fails if a whole-call fault on `op` fires.
    pub(crate) fn check(&self, op: Op) -> Result<(), Error> {
        if !self.armed.load(Ordering::Acquire) {
            return Ok(());
        }
        let rules = self.rules.read().unwrap_or_else(PoisonError::into_inner);
        for rule in rules.iter() {
            if rule.fault.item.is_none() && rule.fault.ops & op.bit() != 0 && rule.fires() {
                return Err(InjectedFault {
                    op,
                    transient: rule.fault.transient,
                }
                .into_error());
            }
        }
        Ok(())
    }

    /// The injected rejection of item `index` of a batch `op`, if a batch-item fault fires.
    pub(crate) fn item(&self, op: Op, index: usize) -> Option<Error> {
        if !self.armed.load(Ordering::Acquire) {
            return None;
        }
        let rules = self.rules.read().unwrap_or_else(PoisonError::into_inner);
        rules
            .iter()
            .find(|r| r.fault.item == Some(index) && r.fault.ops & op.bit() != 0 && r.fires())
            .map(|r| {
                InjectedFault {
                    op,
                    transient: r.fault.transient,
                }
                .into_error()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nth_call_fails_and_other_ops_are_untouched() {
        let faults = Faults::default();
        faults.inject(Fault::on(Op::Get).every(3));
        let outcomes: Vec<bool> = (0..7).map(|_| faults.check(Op::Get).is_err()).collect();
        assert_eq!(outcomes, [false, false, true, false, false, true, false]);
        assert!(faults.check(Op::Save).is_ok());
    }

    #[test]
    fn transient_and_permanent_errors_are_classified() {
        let faults = Faults::default();
        faults.inject(Fault::on(Op::Save).times(1));
        faults.inject(Fault::on(Op::Put).permanent());
        let transient = faults.check(Op::Save).unwrap_err();
        assert!(
            matches!(transient, Error::Unavailable { .. }),
            "{transient:?}"
        );
        assert!(transient.is_transient());
        assert!(faults.check(Op::Save).is_ok(), "times(1) fires once");
        let permanent = faults.check(Op::Put).unwrap_err();
        assert!(
            matches!(
                permanent,
                Error::Backend {
                    transient: false,
                    ..
                }
            ),
            "{permanent:?}"
        );
        assert!(
            permanent
                .to_string()
                .contains("injected permanent fault on put")
        );
        faults.clear();
        assert!(faults.check(Op::Put).is_ok());
    }

    #[test]
    fn item_faults_only_reject_their_index_of_batch_ops() {
        let faults = Faults::default();
        faults.inject(Fault::on(Op::SaveAll).item(2));
        assert!(
            faults.check(Op::SaveAll).is_ok(),
            "item faults never fail the call"
        );
        assert!(faults.item(Op::SaveAll, 1).is_none());
        assert!(faults.item(Op::SaveAll, 2).is_some());
        assert!(faults.item(Op::PutAll, 2).is_none());
    }

    #[test]
    fn latency_per_op_overrides_the_global_delay() {
        let faults = Faults::default();
        faults.set_latency(None, Duration::from_millis(5));
        faults.set_latency(Some(Op::Get), Duration::from_millis(50));
        assert_eq!(faults.latency(Op::Get), Duration::from_millis(50));
        assert_eq!(faults.latency(Op::Save), Duration::from_millis(5));
    }
}

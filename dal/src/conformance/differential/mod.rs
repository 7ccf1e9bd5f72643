//! The differential suite: generated entity shapes, hostile values and operation sequences, run on
//! the backend under test and on [`Memory`] as the reference model.
//!
//! The example-based cases in [`super::cases`] pin what their authors thought of. This suite looks
//! for what nobody thought of: proptest draws a sequence of operations over one generated shape
//! ([`SHAPES`]: field kinds, attributes and order drawn by `dal/build.rs`) with values from
//! [`values`], runs every operation on both stores and compares every answer. It fails when:
//! - the backend refuses a value its declared [`Limits`](crate::Limits) allow, accepts one they
//!   exclude, or refuses with anything but a [`Validation`](crate::Error::Validation) error naming
//!   the entity and a field (a batch must report exactly the refused items and keep the others);
//! - a read fails after accepted writes, or returns anything the reference does not, after the
//!   differences the backend declares are applied to the reference's input: timestamps truncated
//!   to [`Capabilities::timestamp_precision`](crate::Capabilities) (floored), no visibility before
//!   `flush` without `read_your_writes`, quantile accuracy, and float sums compared to 1e-9
//!   relative (summation order differs).
//!
//! A failure shrinks to a minimal sequence and prints it with the seed that reproduces it.
//!
//! # Running it
//! Four groups join the [`conformance_suite!`](crate::conformance_suite) groups:
//! `differential_records`, `differential_time_series`, `differential_metrics` and
//! `differential_cache`, one test each (named `*_differential`). The setup is called once per
//! generated sequence with a fresh namespace, so every sequence starts on empty tables; it must
//! create tables for [`ENTITIES`](crate::conformance::ENTITIES), which include the shapes.
//!
//! | variable | effect | default |
//! |---|---|---|
//! | `DAL_DIFFERENTIAL_CASES` | sequences per shape | 4 |
//! | `DAL_DIFFERENTIAL_SEED` | the run's seed (printed on failure) | random |
//! | `DAL_DIFFERENTIAL_OPS` | longest sequence | 12 |
//! | `DAL_DIFFERENTIAL_SHRINK` | most shrinking steps after a failure (each is a setup: keep it low on stores where tables are expensive) | 256 |

mod cache;
mod compare;
mod records;
mod series;
pub mod shapes;
pub mod values;

use std::fmt::Debug;
use std::future::Future;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use super::{Setup, namespace};
use crate::backend::{CacheBackend, MetricsBackend, RecordBackend, TimeSeriesBackend};
use crate::entity::Entity;
use crate::memory::Memory;

pub use shapes::SHAPES;

/// A generated entity shape: an entity with a value strategy.
pub trait Shape: Entity + Debug + PartialEq {
    /// Rows of this shape with hostile values.
    fn strategy() -> BoxedStrategy<Self>;
}

/// The run's budget and seed, from the environment (the table in the module docs); public so a
/// backend's own differential tests (a writer checked through a fake server) share it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Budget {
    /// Generated cases (`DAL_DIFFERENTIAL_CASES`).
    pub cases: u32,
    /// Longest operation sequence (`DAL_DIFFERENTIAL_OPS`).
    pub max_ops: usize,
    /// Most shrinking steps (`DAL_DIFFERENTIAL_SHRINK`).
    pub shrink: u32,
    /// The seed (`DAL_DIFFERENTIAL_SEED`, hex; random when unset).
    pub seed: u64,
}

impl Budget {
    /// Reads the budget from the environment, with the documented defaults.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let cases = var("DAL_DIFFERENTIAL_CASES")
            .and_then(|v| v.parse().ok())
            .unwrap_or(4);
        let max_ops = var("DAL_DIFFERENTIAL_OPS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(12usize)
            .max(1);
        let shrink = var("DAL_DIFFERENTIAL_SHRINK")
            .and_then(|v| v.parse().ok())
            .unwrap_or(256);
        let seed = var("DAL_DIFFERENTIAL_SEED")
            .and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok())
            .unwrap_or_else(|| {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0);
                nanos ^ (u64::from(std::process::id()) << 32)
            });
        Budget {
            cases,
            max_ops,
            shrink,
            seed,
        }
    }

    /// A proptest runner with this budget, seeded with the run's seed, persisting nothing.
    pub fn runner(&self) -> TestRunner {
        let config = Config {
            cases: self.cases,
            failure_persistence: None,
            max_shrink_iters: self.shrink,
            max_shrink_time: 180_000,
            ..Config::default()
        };
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&self.seed.to_le_bytes());
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
    }

    /// The variables that replay this run.
    pub fn reproduce(&self) -> String {
        format!(
            "DAL_DIFFERENTIAL_SEED={:x} DAL_DIFFERENTIAL_CASES={} DAL_DIFFERENTIAL_OPS={}",
            self.seed, self.cases, self.max_ops
        )
    }
}

/// Runs `budget.cases` generated cases: each gets a fresh backend from `setup` (a fresh namespace,
/// so empty tables) and runs one sequence per shape on it, each beside a fresh Memory.
fn run_cases<S, Fut, V, Run, RunFut>(
    test: &str,
    budget: Budget,
    setup: &S,
    cases: BoxedStrategy<V>,
    run: Run,
) where
    S: Fn(String) -> Fut,
    Fut: Future,
    Fut::Output: Setup,
    V: Debug + Clone,
    Run: Fn(<Fut::Output as Setup>::Backend, V) -> RunFut,
    RunFut: Future<Output = Result<(), String>>,
{
    let mut runner = budget.runner();
    let result = runner.run(&cases, |case| {
        // A runtime per case: dropping it ends every task the case's backend started (a writer,
        // a pool's connections), so cases do not pile up connections on the server.
        let runtime = new_runtime(test);
        runtime.block_on(async {
            let name = test.rsplit("::").next().unwrap_or(test);
            let Some(backend) = setup(namespace(name)).await.into_backend() else {
                return Err(TestCaseError::fail("the setup returned no backend"));
            };
            run(backend, case).await.map_err(TestCaseError::fail)
        })
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, case)) => panic!(
            "{test}: {reason}\n\nminimal failing case (one sequence per shape):\n{case:#?}\n\n\
             {reason}\n\nreproduce with {}",
            budget.reproduce()
        ),
        Err(TestError::Abort(reason)) => panic!(
            "{test}: aborted: {reason} (DAL_DIFFERENTIAL_SEED={:x})",
            budget.seed
        ),
    }
}

/// Expands to a group runner body: the strategy is a tuple of one sequence per shape, and the run
/// plays them one after the other on the same backend (every shape has its own table).
macro_rules! shapes_group {
    ($test:ident, $budget:ident, $setup:ident, $module:ident :: $sequence:ident, $run:ident; $($shape:ident),+) => {{
        let strategy = ($($module::$sequence::<shapes::$shape>($budget.max_ops),)+).boxed();
        run_cases($test, $budget, &$setup, strategy, |backend, case| async move {
            #[allow(non_snake_case)]
            let ($($shape,)+) = case;
            $(
                $module::$run::<shapes::$shape, _>(backend.clone(), Memory::new(), $shape)
                    .await
                    .map_err(|e| format!("{}: {e}", stringify!($shape)))?;
            )+
            Ok(())
        });
    }};
}

fn new_runtime(test: &str) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{test}: cannot build a tokio runtime: {e}"))
}

/// Checks that the setup gives a backend at all (otherwise the group is skipped, as the example
/// cases are) and reads the budget.
fn start<S, Fut>(test: &str, setup: &S) -> Option<Budget>
where
    S: Fn(String) -> Fut,
    Fut: Future,
    Fut::Output: Setup,
{
    let name = test.rsplit("::").next().unwrap_or(test);
    let runtime = new_runtime(test);
    let probe = runtime.block_on(async { setup(namespace(name)).await.into_backend() });
    if probe.is_none() {
        eprintln!("{test}: skipped: the setup returned no backend");
        return None;
    }
    drop(probe);
    drop(runtime);
    let budget = Budget::from_env();
    eprintln!(
        "{test}: DAL_DIFFERENTIAL_SEED={:x}, {} sequences of up to {} operations per shape",
        budget.seed, budget.cases, budget.max_ops
    );
    Some(budget)
}

/// Records (`save`, `save_all`, `get`, `get_many`, `list` to the end, `delete`) on every keyed
/// shape. Used by the `differential_records` group.
pub fn records<S, Fut>(test: &str, setup: S)
where
    S: Fn(String) -> Fut,
    Fut: Future,
    Fut::Output: Setup,
    <Fut::Output as Setup>::Backend: RecordBackend,
{
    let Some(budget) = start(test, &setup) else {
        return;
    };
    macro_rules! group {
        ($($shape:ident),+) => {
            shapes_group!(test, budget, setup, records::sequence, run; $($shape),+)
        };
    }
    shapes::all_keyed_shapes!(group);
}

/// Time series (`append`, `append_all`, `range`, `latest`, `flush`) on every time-series shape.
/// Used by the `differential_time_series` group.
pub fn time_series<S, Fut>(test: &str, setup: S)
where
    S: Fn(String) -> Fut,
    Fut: Future,
    Fut::Output: Setup,
    <Fut::Output as Setup>::Backend: TimeSeriesBackend,
{
    let Some(budget) = start(test, &setup) else {
        return;
    };
    macro_rules! group {
        ($($shape:ident),+) => {
            shapes_group!(test, budget, setup, series::sequence, run; $($shape),+)
        };
    }
    shapes::all_series_shapes!(group);
}

/// Metrics (`quantile`, `summary`, `downsample`) over appended rows of every time-series shape.
/// Used by the `differential_metrics` group.
pub fn metrics<S, Fut>(test: &str, setup: S)
where
    S: Fn(String) -> Fut,
    Fut: Future,
    Fut::Output: Setup,
    <Fut::Output as Setup>::Backend: TimeSeriesBackend + MetricsBackend,
{
    let Some(budget) = start(test, &setup) else {
        return;
    };
    macro_rules! group {
        ($($shape:ident),+) => {
            shapes_group!(test, budget, setup, series::metric_sequence, run_metrics; $($shape),+)
        };
    }
    shapes::all_series_shapes!(group);
}

/// The cache (`put`, `put_with_ttl`, `put_all`, `lookup`, `lookup_many`, `invalidate`,
/// `remaining_ttl`) on every keyed shape. Used by the `differential_cache` group.
pub fn cache<S, Fut>(test: &str, setup: S)
where
    S: Fn(String) -> Fut,
    Fut: Future,
    Fut::Output: Setup,
    <Fut::Output as Setup>::Backend: CacheBackend,
{
    let Some(budget) = start(test, &setup) else {
        return;
    };
    macro_rules! group {
        ($($shape:ident),+) => {
            shapes_group!(test, budget, setup, cache::sequence, run; $($shape),+)
        };
    }
    shapes::all_keyed_shapes!(group);
}

/// Receives every time-series shape in turn ([`visit_series_shapes`]): for suites of a
/// backend's own (a writer checked through a fake server, say) over the same generated shapes.
pub trait SeriesShapeVisitor {
    /// Called once per shape.
    fn visit<S: Shape + crate::TimeSeries>(&mut self);
}

/// Receives every keyed shape in turn ([`visit_keyed_shapes`]).
pub trait KeyedShapeVisitor {
    /// Called once per shape.
    fn visit<S: Shape + crate::Keyed>(&mut self);
}

/// Calls `visitor.visit::<S>()` for every generated time-series shape.
pub fn visit_series_shapes(visitor: &mut impl SeriesShapeVisitor) {
    macro_rules! each {
        ($($shape:ident),+) => { $( visitor.visit::<shapes::$shape>(); )+ };
    }
    shapes::all_series_shapes!(each);
}

/// Calls `visitor.visit::<S>()` for every generated keyed shape.
pub fn visit_keyed_shapes(visitor: &mut impl KeyedShapeVisitor) {
    macro_rules! each {
        ($($shape:ident),+) => { $( visitor.visit::<shapes::$shape>(); )+ };
    }
    shapes::all_keyed_shapes!(each);
}

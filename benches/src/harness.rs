//! Measuring pairs: the same work done by dal and by hand-written driver code, reported as
//! operations per second and their ratio.
//!
//! Async pairs (a round trip to a store per call) alternate call by call within a round, in
//! alternating order, so both sides see the same machine state: a ping-pong with a local server
//! swings by 2x with CPU idle states here, and a block of calls per side lets one side catch a
//! fast spell the other missed. Sync pairs (CPU-bound encoders) run one block per side per round,
//! the sides taking turns to go first, as a microbenchmark of a hot loop does. Of the rounds, the
//! one with the median ratio is reported.

use std::future::Future;
use std::time::{Duration, Instant};

/// One measured pair.
#[derive(Debug, Clone)]
pub(crate) struct PairResult {
    pub(crate) name: String,
    pub(crate) framework_ops_per_s: f64,
    pub(crate) baseline_ops_per_s: f64,
}

/// Collects results, prints them as they come, writes JSON at the end.
pub(crate) struct Harness {
    json: Option<String>,
    filter: Option<String>,
    /// Wall-clock budget per side of one round.
    pub(crate) round: Duration,
    /// Rounds per pair; the round with the median ratio is reported.
    pub(crate) rounds: u32,
    results: Vec<PairResult>,
}

impl Harness {
    pub(crate) fn from_args() -> Self {
        let mut args = std::env::args().skip(1);
        let mut h = Harness {
            json: None,
            filter: None,
            round: Duration::from_millis(300),
            rounds: 5,
            results: Vec::new(),
        };
        while let Some(a) = args.next() {
            match a.as_str() {
                "--json" => h.json = args.next(),
                "--filter" => h.filter = args.next(),
                "--quick" => {
                    h.round = Duration::from_millis(50);
                    h.rounds = 3;
                }
                "--bench" => {} // passed by `cargo bench`
                other => eprintln!("ignoring unknown argument {other}"),
            }
        }
        println!("name framework_ops_per_s baseline_ops_per_s ratio");
        h
    }

    /// Whether the pair `name` is selected by `--filter`.
    pub(crate) fn wants(&self, name: &str) -> bool {
        self.filter.as_deref().is_none_or(|f| name.contains(f))
    }

    /// Prints a skip notice for a group of pairs.
    pub(crate) fn skip(&self, group: &str, why: &str) {
        println!("# skipped {group}: {why}");
    }

    /// Records a pair measured elsewhere (for example by a custom concurrent loop).
    pub(crate) fn record(&mut self, name: &str, framework_ops_per_s: f64, baseline_ops_per_s: f64) {
        let r = PairResult {
            name: name.to_owned(),
            framework_ops_per_s,
            baseline_ops_per_s,
        };
        println!(
            "{} {:.0} {:.0} {:.3}",
            r.name,
            r.framework_ops_per_s,
            r.baseline_ops_per_s,
            r.framework_ops_per_s / r.baseline_ops_per_s
        );
        self.results.push(r);
    }

    /// Measures a synchronous pair: each closure does `ops_per_call` operations per call.
    pub(crate) fn pair_sync(
        &mut self,
        name: &str,
        ops_per_call: u64,
        mut framework: impl FnMut(),
        mut baseline: impl FnMut(),
    ) {
        if !self.wants(name) {
            return;
        }
        let mut rounds = Vec::with_capacity(self.rounds as usize);
        for r in 0..self.rounds {
            let (f, b) = if r.is_multiple_of(2) {
                let b = rate_sync(self.round, ops_per_call, &mut baseline);
                (rate_sync(self.round, ops_per_call, &mut framework), b)
            } else {
                let f = rate_sync(self.round, ops_per_call, &mut framework);
                (f, rate_sync(self.round, ops_per_call, &mut baseline))
            };
            rounds.push((f, b));
        }
        let (f, b) = median_round(rounds);
        self.record(name, f, b);
    }

    /// Measures an async pair: each closure's future does `ops_per_call` operations.
    pub(crate) async fn pair<F, FFut, B, BFut>(
        &mut self,
        name: &str,
        ops_per_call: u64,
        mut framework: F,
        mut baseline: B,
    ) where
        F: FnMut() -> FFut,
        FFut: Future<Output = ()>,
        B: FnMut() -> BFut,
        BFut: Future<Output = ()>,
    {
        if !self.wants(name) {
            return;
        }
        let mut rounds = Vec::with_capacity(self.rounds as usize);
        for _ in 0..self.rounds {
            rounds.push(
                interleaved_async(self.round * 2, ops_per_call, &mut framework, &mut baseline)
                    .await,
            );
        }
        let (f, b) = median_round(rounds);
        self.record(name, f, b);
    }

    pub(crate) fn finish(self) {
        let Some(path) = self.json else { return };
        let rows: Vec<serde_json::Value> = self
            .results
            .iter()
            .map(|r| {
                serde_json::json!({
                    "name": r.name,
                    "framework_ops_per_s": r.framework_ops_per_s,
                    "baseline_ops_per_s": r.baseline_ops_per_s,
                    "ratio": r.framework_ops_per_s / r.baseline_ops_per_s,
                })
            })
            .collect();
        let text = serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".into());
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("could not write {path}: {e}");
            std::process::exit(1);
        }
    }
}

/// The `(framework, baseline)` rates of the round whose ratio is the median.
pub(crate) fn median_round(mut rounds: Vec<(f64, f64)>) -> (f64, f64) {
    if std::env::var_os("DAL_BENCH_ROUNDS").is_some() {
        let ratios: Vec<String> = rounds
            .iter()
            .map(|(f, b)| format!("{:.3}", f / b))
            .collect();
        eprintln!("# round ratios: {}", ratios.join(" "));
    }
    rounds.sort_by(|x, y| (x.0 / x.1).total_cmp(&(y.0 / y.1)));
    rounds.get(rounds.len() / 2).copied().unwrap_or((0.0, 0.0))
}

/// One side's rate over a block of calls lasting `budget`.
fn rate_sync(budget: Duration, ops_per_call: u64, f: &mut impl FnMut()) -> f64 {
    // Warm up once so the first call's allocations do not count.
    f();
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < budget {
        f();
        calls += 1;
    }
    (calls * ops_per_call) as f64 / start.elapsed().as_secs_f64()
}

/// One round of an async pair: calls alternate between the sides (each side first on every
/// other turn) until `budget` has passed; returns each side's rate over its own time.
async fn interleaved_async<F, FFut, B, BFut>(
    budget: Duration,
    ops_per_call: u64,
    framework: &mut F,
    baseline: &mut B,
) -> (f64, f64)
where
    F: FnMut() -> FFut,
    FFut: Future<Output = ()>,
    B: FnMut() -> BFut,
    BFut: Future<Output = ()>,
{
    // Warm up once so the first call's allocations do not count.
    framework().await;
    baseline().await;
    let (mut f_time, mut b_time) = (Duration::ZERO, Duration::ZERO);
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < budget {
        let framework_first = calls.is_multiple_of(2);
        for turn in 0..2 {
            let t0 = Instant::now();
            if (turn == 0) == framework_first {
                framework().await;
                f_time += t0.elapsed();
            } else {
                baseline().await;
                b_time += t0.elapsed();
            }
        }
        calls += 1;
    }
    rates(calls * ops_per_call, f_time, b_time)
}

fn rates(ops: u64, f_time: Duration, b_time: Duration) -> (f64, f64) {
    let rate = |t: Duration| ops as f64 / t.as_secs_f64().max(f64::MIN_POSITIVE);
    (rate(f_time), rate(b_time))
}

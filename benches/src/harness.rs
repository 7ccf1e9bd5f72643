//! Measuring pairs: the same work done by dal and by hand-written driver code, alternated so both
//! see the same machine state, reported as operations per second and their ratio.

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
    /// Rounds per pair; the best round of each side counts (least disturbed by other load).
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
                    h.rounds = 2;
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
        let (mut best_f, mut best_b) = (0f64, 0f64);
        for _ in 0..self.rounds {
            best_b = best_b.max(rate_sync(self.round, ops_per_call, &mut baseline));
            best_f = best_f.max(rate_sync(self.round, ops_per_call, &mut framework));
        }
        self.record(name, best_f, best_b);
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
        let (mut best_f, mut best_b) = (0f64, 0f64);
        for _ in 0..self.rounds {
            best_b = best_b.max(rate_async(self.round, ops_per_call, &mut baseline).await);
            best_f = best_f.max(rate_async(self.round, ops_per_call, &mut framework).await);
        }
        self.record(name, best_f, best_b);
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

async fn rate_async<F, Fut>(budget: Duration, ops_per_call: u64, f: &mut F) -> f64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    f().await;
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < budget {
        f().await;
        calls += 1;
    }
    (calls * ops_per_call) as f64 / start.elapsed().as_secs_f64()
}

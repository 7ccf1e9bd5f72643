//! dal's benchmark: framework paths beside hand-written driver code, in one run.
//!
//! Prints one line per pair, `name framework_ops_per_s baseline_ops_per_s ratio`, and with
//! `--json FILE` writes the same as a JSON array of `{name, framework_ops_per_s,
//! baseline_ops_per_s, ratio}`. Pair names say the store (`ilp_`, `pg_`, `redis_`, `mem_`,
//! `key_`). Pairs whose store URL is not set are skipped with a message. `--filter TEXT` runs
//! only pairs whose name contains TEXT.
//!
//! Run: `cargo run --release -p dal-bench -- [--json FILE] [--filter TEXT]`. With
//! `DAL_BENCH_ROUNDS=1` set, every pair also prints the ratio of each of its rounds to stderr.

mod harness;
mod ilp;
mod memory;
mod pg;
mod redis;

use harness::Harness;

#[tokio::main]
async fn main() {
    let mut h = Harness::from_args();
    run_all(&mut h).await;
    h.finish();
}

async fn run_all(h: &mut Harness) {
    ilp::run(h).await;
    memory::run(h).await;
    pg::run(h).await;
    redis::run(h).await;
}

//! A short paper-trading session through the seed's four domain stores, printing what it did.
//!
//! Without environment variables every store is the in-memory backend. Real stores are used
//! when their variables are set:
//! - `DATABASE_URL`: records (trader configs, tokens, order rules, node health) on Postgres,
//!   after applying the migrations; time series too unless QuestDB is configured.
//! - `REDIS_URL`: prices and pool states on Redis, and trade events on a Redis stream.
//! - `QDB_CLIENT_CONF` + `QDB_PG_URL`: trades, positions, metrics and MEV events on QuestDB
//!   (ILP over HTTP for writes, the PG wire protocol for reads).
//!
//! Run: `cargo run -p trading --bin demo`

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use dal::Memory;
use dal::memory::ManualClock;
use trading::either::Either;
use trading::session::{Backends, EventLog, SessionConfig, SessionReport, SimClock, run_session};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let config = SessionConfig::default();
    let clock = SimClock::new(config.start);

    // The memory backend expires cache entries on its own clock: make it follow simulated time.
    let manual = ManualClock::new();
    let memory = Memory::with_clock(manual.clone());
    clock.on_advance(move |d| manual.advance(d));

    let records: Either<Memory, Memory> = Either::Left(memory.clone());
    let series: Either<Memory, Memory> = Either::Left(memory.clone());
    let cache: Either<Memory, Memory> = Either::Left(memory);
    let events = EventLog::new(10_000);

    let simulated = config.tick * config.ticks;
    println!(
        "dal trading demo: paper session, {} traders, {} tokens, {} ticks of {} ms ({:.1} s simulated)",
        config.traders,
        config.tokens,
        config.ticks,
        config.tick.as_millis(),
        simulated.as_secs_f64()
    );
    println!("stores:");
    println!(
        "  records (trader configs, tokens, order rules, node health)  {}",
        records.name()
    );
    println!(
        "  time series (trades, positions, metrics, MEV events)        {}",
        series.name()
    );
    println!(
        "  cache (prices, pool states)                                 {}",
        cache.name()
    );
    println!("  trade events                                                in-process log");

    let mut bar = ProgressBar::new();
    let backends = Backends {
        records,
        series,
        cache,
    };
    let report = run_session(&config, backends, &events, &clock, |done, total| {
        bar.update(done, total)
    })
    .await?;
    bar.finish();
    print_report(&report);
    Ok(())
}

fn print_report(r: &SessionReport) {
    let rows = &r.rows;
    println!("rows written:");
    for (what, n, store) in [
        ("trades", rows.trades, "TradeStore"),
        ("metric points", rows.metric_points, "MetricsStore"),
        ("MEV events", rows.mev_events, "MetricsStore"),
        ("positions", rows.positions, "TimeSeriesStore<Position>"),
        ("prices", rows.prices, "PriceCache"),
        ("pool states", rows.pool_states, "PriceCache"),
        ("trader configs", rows.trader_configs, "ConfigStore"),
        ("tokens", rows.tokens, "RecordStore<TokenInfo>"),
        ("order rules", rows.order_rules, "RecordStore<OrderRule>"),
        ("node health", rows.node_health, "RecordStore<NodeHealth>"),
        ("trade events", rows.events, "event stream"),
    ] {
        println!("  {what:<16}{n:>8}  {store}");
    }
    println!("latency per operation (wall clock, round trip included):");
    println!(
        "  {:<24}{:>7}{:>12}{:>12}",
        "operation", "calls", "p50", "p99"
    );
    for (op, s) in &r.latencies {
        println!(
            "  {op:<24}{:>7}{:>12}{:>12}",
            s.count,
            fmt_duration(s.p50),
            fmt_duration(s.p99)
        );
    }
    println!(
        "cache: {:.1} % hit rate (price {} hits / {} misses, pool state fallback {} hits / {} misses)",
        r.cache_hit_rate() * 100.0,
        r.price_hits,
        r.price_misses,
        r.pool_hits,
        r.pool_misses
    );
    println!(
        "trades not made: {} without any cached price, {} over the trader's slippage limit; {} stop-loss rules fired",
        r.skipped_no_price, r.rejected_slippage, r.rules_fired
    );
    println!(
        "p99 of batch_save_trades: {:.3} ms from the metrics store, {:.3} ms computed locally",
        r.store_p99_ms, r.local_p99_ms
    );
    println!(
        "read back: {} trades in the session window, {} of the busiest token, {} trader configs, {} order rules",
        r.trades_read_back, r.trades_by_token, r.configs_listed, r.rules_listed
    );
    println!(
        "done: {:.1} s simulated in {:.2} s wall clock",
        r.simulated.as_secs_f64(),
        r.wall.as_secs_f64()
    );
}

fn fmt_duration(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1_000.0 {
        format!("{us:.1} us")
    } else {
        format!("{:.2} ms", us / 1_000.0)
    }
}

/// A one-line progress bar on stderr, drawn only on a terminal and only once the session has
/// taken more than a moment.
struct ProgressBar {
    started: Instant,
    visible: bool,
    enabled: bool,
}

impl ProgressBar {
    const WIDTH: u32 = 30;

    fn new() -> Self {
        ProgressBar {
            started: Instant::now(),
            visible: false,
            enabled: std::io::stderr().is_terminal(),
        }
    }

    fn update(&mut self, done: u32, total: u32) {
        if !self.enabled || (!self.visible && self.started.elapsed() < Duration::from_millis(300)) {
            return;
        }
        self.visible = true;
        let filled = (done * Self::WIDTH)
            .checked_div(total)
            .unwrap_or(Self::WIDTH);
        let bar: String = (0..Self::WIDTH)
            .map(|i| if i < filled { '#' } else { '-' })
            .collect();
        let mut err = std::io::stderr().lock();
        // A failed write to stderr only loses the bar.
        let _ = write!(err, "\r  [{bar}] {done}/{total} ticks");
        let _ = err.flush();
    }

    fn finish(&mut self) {
        if self.visible {
            let _ = writeln!(std::io::stderr());
        }
    }
}

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
use dal_backends::postgres::{self, Postgres};
use dal_backends::questdb::QuestDb;
use dal_backends::redis::{Redis, RedisStream};
use trading::either::Either;
use trading::models::Trade;
use trading::session::{
    Backends, EventLog, SessionConfig, SessionReport, SimClock, TradeEvents, run_session,
};
use trading::stores::DbError;

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

/// Trade events: an in-process log, or the seed's Redis stream.
enum Events {
    Log(EventLog),
    Redis(RedisStream<Trade>),
}

impl TradeEvents for Events {
    async fn publish(&self, trades: &[Trade]) -> Result<usize, DbError> {
        match self {
            Events::Log(log) => log.publish(trades).await,
            Events::Redis(stream) => TradeEvents::publish(stream, trades).await,
        }
    }
}

fn env_set(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| !v.is_empty())
}

async fn run() -> Result<(), DbError> {
    let config = SessionConfig::default();
    let clock = SimClock::new(config.start);

    // The memory backend expires cache entries on its own clock: make it follow simulated time.
    let manual = ManualClock::new();
    let memory = Memory::with_clock(manual.clone());
    clock.on_advance(move |d| manual.advance(d));

    let postgres = if env_set("DATABASE_URL") {
        let pg = Postgres::from_env().await?;
        postgres::migrate(&pg).await?;
        Some(pg)
    } else {
        None
    };
    let questdb = QuestDb::from_env()?;
    let redis = if env_set("REDIS_URL") {
        Some(Redis::from_env().await?)
    } else {
        None
    };

    let (records, records_at): (Either<Memory, Postgres>, _) = match &postgres {
        Some(pg) => (Either::Right(pg.clone()), "postgres (migrated)"),
        None => (Either::Left(memory.clone()), "memory"),
    };
    type Series = Either<Memory, Either<Postgres, QuestDb>>;
    let (series, series_at): (Series, _) = match (&questdb, &postgres) {
        (Some(qdb), _) => (Either::Right(Either::Right(qdb.clone())), "questdb"),
        (None, Some(pg)) => (Either::Right(Either::Left(pg.clone())), "postgres"),
        (None, None) => (Either::Left(memory.clone()), "memory"),
    };
    let (cache, cache_at): (Either<Memory, Redis>, _) = match &redis {
        Some(r) => (Either::Right(r.clone()), "redis (TTLs in real time)"),
        None => (Either::Left(memory), "memory (TTLs in simulated time)"),
    };
    let (events, events_at) = match &redis {
        Some(r) => (
            Events::Redis(RedisStream::new(r, "trades").with_max_len(10_000)),
            "redis stream `trades` (MAXLEN ~ 10000)",
        ),
        None => (
            Events::Log(EventLog::new(10_000)),
            "in-process log (newest 10000)",
        ),
    };

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
    println!("  records (trader configs, tokens, order rules, node health)  {records_at}");
    println!("  time series (trades, positions, metrics, MEV events)        {series_at}");
    println!("  cache (prices, pool states)                                 {cache_at}");
    println!("  trade events                                                {events_at}");

    let mut bar = ProgressBar::new();
    let backends = Backends {
        records,
        series,
        cache,
    };
    let report = run_session(&config, backends, &events, &clock, |done, total| {
        bar.update(done, total)
    })
    .await;
    bar.finish();
    // Flush QuestDB's batch writer and close the pools whatever happened; a session error is
    // the one worth reporting, a close error only when the session went well.
    let closed = match &questdb {
        Some(qdb) => qdb.close().await,
        None => Ok(()),
    };
    if let Some(pg) = &postgres {
        pg.close().await;
    }
    print_report(&report?);
    closed
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

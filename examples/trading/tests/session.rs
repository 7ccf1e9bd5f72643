//! The demo's session on the memory backend: its counts add up, what it wrote reads back, and the
//! same seed gives the same session.

use std::time::Duration;

use chrono::{DateTime, Utc};
use dal::Memory;
use dal::memory::ManualClock;
use trading::session::{Backends, EventLog, SessionConfig, SessionReport, SimClock, run_session};

fn config() -> SessionConfig {
    SessionConfig {
        traders: 3,
        tokens: 5,
        ticks: 40,
        tick: Duration::from_millis(100),
        trades_per_trader_tick: 10,
        seed: 42,
        start: DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(20_000),
    }
}

/// One session on a fresh memory store whose TTL clock follows the simulated clock.
async fn session(config: &SessionConfig) -> (SessionReport, EventLog, Vec<(u32, u32)>) {
    let clock = SimClock::new(config.start);
    let manual = ManualClock::new();
    let memory = Memory::with_clock(manual.clone());
    clock.on_advance(move |d| manual.advance(d));
    let backends = Backends {
        records: memory.clone(),
        series: memory.clone(),
        cache: memory,
    };
    let events = EventLog::new(500);
    let mut progress = Vec::new();
    let report = run_session(config, backends, &events, &clock, |done, total| {
        progress.push((done, total))
    })
    .await
    .expect("a memory session does not fail");
    (report, events, progress)
}

#[tokio::test]
async fn counts_add_up_and_everything_written_reads_back() {
    let config = config();
    let (r, events, progress) = session(&config).await;
    let rows = r.rows;
    let attempted = config.traders * config.ticks as usize * config.trades_per_trader_tick;

    // Every attempted trade was made, skipped for want of a price, or rejected for slippage.
    assert_eq!(
        rows.trades + r.skipped_no_price + r.rejected_slippage,
        attempted
    );
    assert!(rows.trades > attempted / 2, "{rows:?}");
    assert_eq!(r.trades_read_back, rows.trades);
    // The busiest of 5 tokens has at least a fifth of the trades, more than the limit of 100.
    assert_eq!(r.trades_by_token, 100);

    // One slippage sample per trade, one latency sample per batch (one batch per tick here).
    assert_eq!(rows.metric_points, rows.trades + config.ticks as usize);
    assert_eq!(rows.events, rows.trades);
    assert_eq!(events.len(), 500, "the event log keeps only its newest 500");

    // The cache: every price lookup is a hit or a miss; the illiquid token misses sometimes, and
    // a miss falls back to the pool state.
    assert_eq!(r.price_hits + r.price_misses, attempted);
    assert_eq!(r.pool_hits + r.pool_misses, r.price_misses);
    assert_eq!(r.pool_misses, r.skipped_no_price);
    assert!(
        r.price_misses > 0 && r.pool_hits > 0 && r.pool_misses > 0,
        "{r:?}"
    );
    assert!(r.cache_hit_rate() > 0.5 && r.cache_hit_rate() < 1.0);

    // Reference data and once-a-second rows.
    assert_eq!(rows.trader_configs, config.traders);
    assert_eq!(r.configs_listed, config.traders);
    assert_eq!(rows.tokens, config.tokens);
    assert_eq!(r.rules_listed, config.traders);
    assert_eq!(rows.order_rules, config.traders + r.rules_fired);
    assert_eq!(rows.node_health, 4);
    assert!(rows.positions > 0);

    // The metrics store's p99 equals the local one: memory's quantiles are exact.
    assert!(r.local_p99_ms > 0.0);
    assert_eq!(r.store_p99_ms, r.local_p99_ms);

    // Latency stats cover each operation once per call.
    assert_eq!(r.latencies["get_price"].count, attempted);
    assert_eq!(
        r.latencies["batch_save_trades"].count,
        config.ticks as usize
    );
    assert!(r.latencies.values().all(|s| s.p50 <= s.p99));

    assert_eq!(r.simulated, config.tick * config.ticks);
    assert_eq!(progress.len(), config.ticks as usize);
    assert_eq!(progress.last(), Some(&(config.ticks, config.ticks)));
}

#[tokio::test]
async fn the_same_seed_gives_the_same_session() {
    let config = config();
    let (a, _, _) = session(&config).await;
    let (b, _, _) = session(&config).await;
    assert_eq!(a.rows, b.rows);
    assert_eq!(
        (
            a.price_hits,
            a.pool_hits,
            a.skipped_no_price,
            a.rejected_slippage
        ),
        (
            b.price_hits,
            b.pool_hits,
            b.skipped_no_price,
            b.rejected_slippage
        )
    );

    let other = SessionConfig { seed: 43, ..config };
    let (c, _, _) = session(&other).await;
    assert_ne!((a.rows, a.rejected_slippage), (c.rows, c.rejected_slippage));
}

#[tokio::test]
async fn a_session_without_tokens_is_refused_before_touching_a_store() {
    let config = SessionConfig {
        tokens: 0,
        ..config()
    };
    let memory = Memory::new();
    let backends = Backends {
        records: memory.clone(),
        series: memory.clone(),
        cache: memory,
    };
    let clock = SimClock::new(config.start);
    let events = EventLog::new(10);
    let err = run_session(&config, backends, &events, &clock, |_, _| {})
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            dal::Error::Validation {
                entity: "SessionConfig",
                ..
            }
        ),
        "{err}"
    );
    assert!(events.is_empty());
}

//! The demo's session on the real stores the demo uses: Postgres (migrated, in a schema of its
//! own) for records and time series, Redis (under a namespace of its own) for the cache and the
//! trade stream. Each test skips with a notice when its URL is not set, and fails under CI=true.

use std::time::Duration;

use chrono::Utc;
use dal::Memory;
use dal::memory::ManualClock;
use dal_backends::postgres::{self, Postgres, PostgresOptions};
use dal_backends::redis::{Redis, RedisStream};
use trading::models::Trade;
use trading::session::{Backends, EventLog, SessionConfig, SessionReport, SimClock, run_session};

/// The URL in `var`; `None` after a notice when unset, a panic when CI requires the store.
fn store_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1")) => {
            panic!("{var} is not set, and CI=true requires the real store")
        }
        _ => {
            eprintln!("SKIPPED: {var} is not set; set it to run this test against the real store");
            None
        }
    }
}

fn namespace(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// A session small enough for a test: 2 traders x 20 ticks x 5 trades.
fn config() -> SessionConfig {
    SessionConfig {
        traders: 2,
        tokens: 3,
        ticks: 20,
        tick: Duration::from_millis(100),
        trades_per_trader_tick: 5,
        seed: 11,
        start: Utc::now(),
    }
}

fn check_counts(config: &SessionConfig, r: &SessionReport) {
    let attempted = config.traders * config.ticks as usize * config.trades_per_trader_tick;
    let rows = r.rows;
    assert_eq!(
        rows.trades + r.skipped_no_price + r.rejected_slippage,
        attempted
    );
    assert!(rows.trades > 0);
    assert_eq!(
        r.trades_read_back, rows.trades,
        "every trade written reads back"
    );
    assert_eq!(rows.metric_points, rows.trades + config.ticks as usize);
    assert_eq!(r.configs_listed, config.traders);
    assert_eq!(r.rules_listed, config.traders);
    assert_eq!(rows.node_health, 2);
    assert_eq!(r.price_hits + r.price_misses, attempted);
    // Both stores compute percentile_cont exactly; allow for float rounding in the server.
    let tolerance = r.local_p99_ms.abs() * 1e-9;
    assert!(
        (r.store_p99_ms - r.local_p99_ms).abs() <= tolerance,
        "store p99 {} vs local {}",
        r.store_p99_ms,
        r.local_p99_ms
    );
}

#[tokio::test]
async fn session_on_postgres_after_migrations() {
    let Some(url) = store_url("DATABASE_URL") else {
        return;
    };
    let options = PostgresOptions::new(url).schema(namespace("trading_demo"));
    let pg = Postgres::connect_with(options).await.expect("connect");
    postgres::migrate(&pg).await.expect("the migrations apply");

    let config = config();
    let clock = SimClock::new(config.start);
    let manual = ManualClock::new();
    let memory = Memory::with_clock(manual.clone());
    clock.on_advance(move |d| manual.advance(d));
    let backends = Backends {
        records: pg.clone(),
        series: pg.clone(),
        cache: memory,
    };
    let events = EventLog::new(10_000);
    let report = run_session(&config, backends, &events, &clock, |_, _| {}).await;
    let dropped = pg.drop_schema().await;
    let report = report.expect("the session runs on Postgres");
    check_counts(&config, &report);
    assert_eq!(report.rows.events, report.rows.trades);
    dropped.expect("the test schema is dropped");
}

#[tokio::test]
async fn session_with_the_cache_and_trade_stream_on_redis() {
    let Some(url) = store_url("REDIS_URL") else {
        return;
    };
    let redis = Redis::connect(&url)
        .await
        .expect("connect")
        .namespaced(&namespace("trading_demo"))
        .expect("a valid namespace");
    let stream: RedisStream<Trade> = RedisStream::new(&redis, "trades").with_max_len(10_000);

    let config = config();
    let clock = SimClock::new(config.start);
    let memory = Memory::new();
    let backends = Backends {
        records: memory.clone(),
        series: memory,
        cache: redis.clone(),
    };
    let report = run_session(&config, backends, &stream, &clock, |_, _| {}).await;
    let published = stream.len().await;
    let destroyed = stream.destroy().await;
    let report = report.expect("the session runs with Redis");
    check_counts(&config, &report);
    // TTLs run in real time on Redis: a short session finds the feed's prices cached.
    assert!(report.price_hits > 0);
    assert_eq!(published.expect("XLEN"), report.rows.trades as u64);
    assert!(destroyed.expect("the stream is deleted"));
}

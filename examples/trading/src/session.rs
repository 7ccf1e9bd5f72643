//! A short paper-trading session driven through the four domain stores, on whatever backends the
//! caller hands in.
//!
//! A price feed refreshes token prices and pool states in the cache every tick (10 Hz, as in the
//! seed's PRD); traders read their configuration, price each trade from the cache (falling back
//! to the pool state, skipping the trade when both are missing), reject fills above their
//! slippage limit, and write trades in one batch per tick; slippage, batch latency and MEV events
//! go to the metrics store, position snapshots and node health once per simulated second. Time is
//! simulated ([`SimClock`]), so a session of a few seconds runs as fast as the stores allow and
//! its counts are reproducible from the seed. The demo binary and the integration test both run
//! [`run_session`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dal::{
    CacheBackend, Entity, MetricsBackend, RecordBackend, RecordStore, RecordStoreExt, Repository,
    TimeSeriesBackend, TimeSeriesStore,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use uuid::Uuid;

use crate::models::{
    Action, CircuitBreakerStatus, MevEvent, Mode, NodeHealth, OrderRule, PoolState, Position,
    RuleType, TokenInfo, Trade, TraderConfig,
};
use crate::stores::{
    Clock, ConfigStore, Configs, DbError, Metrics, MetricsStore, PriceCache, Prices, TradeStore,
    Trades,
};

/// The operation whose latency the session records in the metrics store and asks p99 of.
pub const BATCH_OP: &str = "batch_save_trades";

/// A simulated clock shared by the session and the stores it drives.
///
/// Listeners registered with [`SimClock::on_advance`] follow it (the memory backend's manual
/// clock, so cache TTLs expire in simulated time).
#[derive(Clone)]
pub struct SimClock {
    micros: Arc<AtomicI64>,
    listeners: Arc<Mutex<Vec<Listener>>>,
}

type Listener = Box<dyn Fn(Duration) + Send + Sync>;

impl std::fmt::Debug for SimClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimClock")
            .field("now", &self.now())
            .finish()
    }
}

impl SimClock {
    /// A clock standing at `start` (microsecond precision, as every store keeps).
    pub fn new(start: DateTime<Utc>) -> Self {
        SimClock {
            micros: Arc::new(AtomicI64::new(start.timestamp_micros())),
            listeners: Arc::default(),
        }
    }

    /// The simulated now.
    pub fn now(&self) -> DateTime<Utc> {
        let us = self.micros.load(Ordering::Acquire);
        DateTime::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    }

    /// Moves the clock forward and tells every listener.
    pub fn advance(&self, by: Duration) {
        let us = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.micros.fetch_add(us, Ordering::AcqRel);
        let listeners = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        for listener in listeners.iter() {
            listener(by);
        }
    }

    /// Calls `f` with every step the clock advances by.
    pub fn on_advance(&self, f: impl Fn(Duration) + Send + Sync + 'static) {
        let mut listeners = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        listeners.push(Box::new(f));
    }

    /// This clock as the stores' [`Clock`].
    pub fn as_clock(&self) -> Clock {
        let this = self.clone();
        Arc::new(move || this.now())
    }
}

/// Where the session publishes each trade for live consumers (a TUI, a risk monitor).
pub trait TradeEvents: Send + Sync {
    /// Publishes the trades, in order; how many were published.
    fn publish(&self, trades: &[Trade]) -> impl Future<Output = Result<usize, DbError>> + Send;
}

/// An in-process event log capped like the seed's Redis stream (oldest entries dropped).
#[derive(Debug, Clone)]
pub struct EventLog {
    entries: Arc<Mutex<VecDeque<Uuid>>>,
    cap: usize,
}

impl EventLog {
    /// A log keeping the newest `cap` trade ids.
    pub fn new(cap: usize) -> Self {
        EventLog {
            entries: Arc::default(),
            cap,
        }
    }

    /// Entries currently kept.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl TradeEvents for EventLog {
    async fn publish(&self, trades: &[Trade]) -> Result<usize, DbError> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        for trade in trades {
            if entries.len() == self.cap {
                entries.pop_front();
            }
            entries.push_back(trade.id);
        }
        Ok(trades.len())
    }
}

/// The seed's Redis event stream: each trade one entry (`XADD .. MAXLEN ~`), one pipeline per
/// batch.
impl TradeEvents for dal_backends::redis::RedisStream<Trade> {
    async fn publish(&self, trades: &[Trade]) -> Result<usize, DbError> {
        Ok(self.publish_all(trades).await?.len())
    }
}

/// Size and shape of a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Number of traders.
    pub traders: usize,
    /// Number of tokens (the last one is illiquid: its price is refreshed every 3 s only).
    pub tokens: usize,
    /// Number of ticks.
    pub ticks: u32,
    /// Simulated time per tick.
    pub tick: Duration,
    /// Trades each trader attempts per tick.
    pub trades_per_trader_tick: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Simulated start time.
    pub start: DateTime<Utc>,
}

impl Default for SessionConfig {
    /// 4 traders, 8 tokens, 50 ticks of 100 ms (5 simulated seconds), 15 trades per trader and
    /// tick: 3,000 attempted trades, starting now.
    fn default() -> Self {
        SessionConfig {
            traders: 4,
            tokens: 8,
            ticks: 50,
            tick: Duration::from_millis(100),
            trades_per_trader_tick: 15,
            seed: 7,
            start: Utc::now(),
        }
    }
}

/// The backends a session runs on.
#[derive(Debug, Clone)]
pub struct Backends<R, S, C> {
    /// Trader configuration, tokens, order rules, node health.
    pub records: R,
    /// Trades, positions, metrics, MEV events.
    pub series: S,
    /// Prices and pool states.
    pub cache: C,
}

/// Latency of one operation as observed by the session (wall time, store round trip included).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyStats {
    /// Number of calls.
    pub count: usize,
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

/// Rows written per store during a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rows {
    /// Trades (`TradeStore`).
    pub trades: usize,
    /// Metric samples: one slippage per trade, one latency per tick (`MetricsStore`).
    pub metric_points: usize,
    /// MEV events (`MetricsStore`).
    pub mev_events: usize,
    /// Position snapshots.
    pub positions: usize,
    /// Prices cached (`PriceCache`).
    pub prices: usize,
    /// Pool states cached (`PriceCache`).
    pub pool_states: usize,
    /// Trader configurations saved (`ConfigStore`).
    pub trader_configs: usize,
    /// Token metadata rows.
    pub tokens: usize,
    /// Order rule writes (creation and firing).
    pub order_rules: usize,
    /// Node health samples.
    pub node_health: usize,
    /// Trade events published.
    pub events: usize,
}

/// What a session did.
#[derive(Debug, Clone)]
pub struct SessionReport {
    /// Rows written per store.
    pub rows: Rows,
    /// Wall-clock latency per operation, by operation name.
    pub latencies: BTreeMap<&'static str, LatencyStats>,
    /// Price lookups that found a price.
    pub price_hits: usize,
    /// Price lookups that found none (never cached, or expired).
    pub price_misses: usize,
    /// Pool-state lookups (after a price miss) that found a state.
    pub pool_hits: usize,
    /// Pool-state lookups that found none.
    pub pool_misses: usize,
    /// Trades not made because neither price nor pool state was cached.
    pub skipped_no_price: usize,
    /// Trades not made because the fill's slippage exceeded the trader's limit.
    pub rejected_slippage: usize,
    /// Order rules that fired.
    pub rules_fired: usize,
    /// Trades read back over the whole session window after the session.
    pub trades_read_back: usize,
    /// Trades of the most traded token read back by `get_trades_by_token` (at most 100).
    pub trades_by_token: usize,
    /// Configurations listed after the session.
    pub configs_listed: usize,
    /// Order rules listed after the session.
    pub rules_listed: usize,
    /// p99 of the batch latency as computed by the metrics store over the session.
    pub store_p99_ms: f64,
    /// p99 of the same samples computed locally (equal for exact-quantile stores).
    pub local_p99_ms: f64,
    /// Simulated duration.
    pub simulated: Duration,
    /// Wall-clock duration.
    pub wall: Duration,
}

impl SessionReport {
    /// Cache hit rate over price and pool-state lookups.
    pub fn cache_hit_rate(&self) -> f64 {
        let hits = self.price_hits + self.pool_hits;
        let all = hits + self.price_misses + self.pool_misses;
        if all == 0 {
            0.0
        } else {
            hits as f64 / all as f64
        }
    }
}

#[derive(Default)]
struct Latencies(BTreeMap<&'static str, Vec<Duration>>);

impl Latencies {
    async fn time<F: Future>(&mut self, op: &'static str, f: F) -> F::Output {
        let started = Instant::now();
        let out = f.await;
        self.0.entry(op).or_default().push(started.elapsed());
        out
    }

    fn stats(mut self) -> BTreeMap<&'static str, LatencyStats> {
        self.0
            .iter_mut()
            .map(|(op, samples)| {
                samples.sort_unstable();
                let secs: Vec<f64> = samples.iter().map(Duration::as_secs_f64).collect();
                let q = |p| {
                    dal::query::percentile_cont(&secs, p)
                        .map(Duration::from_secs_f64)
                        .unwrap_or_default()
                };
                let stats = LatencyStats {
                    count: samples.len(),
                    p50: q(0.5),
                    p99: q(0.99),
                };
                (*op, stats)
            })
            .collect()
    }
}

const USDC: &str = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";
const SOL: &str = "So11111111111111111111111111111111111111112";
const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

fn pubkey(rng: &mut StdRng) -> String {
    (0..44)
        .map(|_| char::from(BASE58[rng.random_range(0..BASE58.len())]))
        .collect()
}

// Configurations and rules get ids from the seed, so a rerun upserts the same records; rows of
// the time series get fresh ids, so a rerun on a persistent store adds rows instead of
// colliding with the previous run's.
fn uuid(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

fn decimal(v: f64) -> Decimal {
    Decimal::from_f64(v).unwrap_or_default().round_dp(8)
}

struct Token {
    info: TokenInfo,
    pool: String,
    price: f64,
    // Refresh periods in ticks: 1 for liquid tokens; for the illiquid one the oracle price comes
    // every 30 ticks and the pool state every 25, so with a 2 s TTL both sometimes expire.
    price_every: u32,
    pool_every: u32,
}

struct Holding {
    amount: f64,
    cost_basis: f64,
}

/// Runs a session on `backends`, calling `progress(done, total)` after every tick.
///
/// The stores must be empty for the session's tables (a fresh namespace or database), since the
/// read-back counts cover the session's whole window.
///
/// # Errors
/// [`DbError::Validation`] for a configuration without tokens or with a zero tick; otherwise the
/// first store error (the session stops there).
pub async fn run_session<R, S, C, E>(
    config: &SessionConfig,
    backends: Backends<R, S, C>,
    events: &E,
    clock: &SimClock,
    mut progress: impl FnMut(u32, u32),
) -> Result<SessionReport, DbError>
where
    R: RecordBackend,
    S: TimeSeriesBackend + MetricsBackend,
    C: CacheBackend,
    E: TradeEvents,
{
    if config.tokens == 0 || config.tick.is_zero() {
        return Err(DbError::invalid(
            "SessionConfig",
            "a session needs at least one token and a positive tick",
        ));
    }
    let wall = Instant::now();
    let mut rng = StdRng::seed_from_u64(config.seed);
    let start = clock.now();

    // The four domain stores of the seed, on the given backends.
    let trades = Trades::new(backends.series.clone());
    let metrics = Metrics::with_clock(backends.series.clone(), clock.as_clock());
    let prices = Prices::with_clock(backends.cache, clock.as_clock());
    let configs = Configs::new(backends.records.clone());
    // What the seed keeps beside them, straight on repositories.
    let positions: Repository<Position, S> = Repository::new(backends.series);
    let tokens_repo: Repository<TokenInfo, R> = Repository::new(backends.records.clone());
    let rules_repo: Repository<OrderRule, R> = Repository::new(backends.records.clone());
    let health_repo: Repository<NodeHealth, R> = Repository::new(backends.records);

    let mut lat = Latencies::default();
    let mut rows = Rows::default();
    let mut report = SessionReport {
        rows,
        latencies: BTreeMap::new(),
        price_hits: 0,
        price_misses: 0,
        pool_hits: 0,
        pool_misses: 0,
        skipped_no_price: 0,
        rejected_slippage: 0,
        rules_fired: 0,
        trades_read_back: 0,
        trades_by_token: 0,
        configs_listed: 0,
        rules_listed: 0,
        store_p99_ms: 0.0,
        local_p99_ms: 0.0,
        simulated: Duration::ZERO,
        wall: Duration::ZERO,
    };

    // Reference data: tokens (SOL first) and trader configurations.
    let mut tokens = Vec::with_capacity(config.tokens);
    for i in 0..config.tokens {
        let address = if i == 0 {
            SOL.to_owned()
        } else {
            pubkey(&mut rng)
        };
        let illiquid = i + 1 == config.tokens && config.tokens > 1;
        let transfer_fee_bps = (i % 3 == 2).then_some(25);
        let info = TokenInfo {
            address,
            symbol: if i == 0 {
                "SOL".to_owned()
            } else {
                format!("TOK{i}")
            },
            name: Some(if i == 0 {
                "Wrapped SOL".to_owned()
            } else {
                format!("Token {i}")
            }),
            decimals: if i == 0 { 9 } else { 6 },
            has_transfer_fee: transfer_fee_bps.is_some(),
            transfer_fee_bps,
            extensions: transfer_fee_bps.map(
                |bps| serde_json::json!({ "transferFeeConfig": { "transferFeeBasisPoints": bps } }),
            ),
            last_updated: start,
        };
        lat.time("save_token", tokens_repo.save(&info)).await?;
        rows.tokens += 1;
        tokens.push(Token {
            info,
            pool: pubkey(&mut rng),
            price: rng.random_range(0.5..200.0),
            price_every: if illiquid { 30 } else { 1 },
            pool_every: if illiquid { 25 } else { 1 },
        });
    }

    let mut traders = Vec::with_capacity(config.traders);
    for i in 0..config.traders {
        let cfg = TraderConfig {
            id: uuid(&mut rng),
            name: format!("paper-trader-{i}"),
            mode: Mode::Paper,
            max_position_size: Decimal::from(10_000),
            max_daily_loss: Decimal::from(500),
            max_slippage_bps: 30 + 10 * i32::try_from(i % 4).unwrap_or(0),
            mev_protection_enabled: i % 2 == 0,
            created_at: start,
            updated_at: start,
        };
        lat.time("save_trader_config", configs.save_trader_config(&cfg))
            .await?;
        rows.trader_configs += 1;
        traders.push(cfg);
    }

    // One stop-loss per trader on SOL, 0.5 %, 1 %, 1.5 % ... under the opening price.
    let mut rules = Vec::with_capacity(traders.len());
    if let Some(sol) = tokens.first() {
        for (i, trader) in traders.iter().enumerate() {
            let below = 0.005 * (1 + i % 4) as f64;
            let rule = OrderRule {
                id: uuid(&mut rng),
                trader_id: trader.id,
                position_token: sol.info.address.clone(),
                rule_type: RuleType::StopLoss,
                trigger_price: decimal(sol.price * (1.0 - below)),
                amount: Decimal::from(1),
                created_at: start,
                triggered_at: None,
            };
            lat.time("save_order_rule", rules_repo.save(&rule)).await?;
            rows.order_rules += 1;
            rules.push(rule);
        }
    }

    let mut holdings: HashMap<(usize, usize), Holding> = HashMap::new();
    let mut batch_latencies_ms = Vec::with_capacity(config.ticks as usize);
    let mut trades_per_token = vec![0usize; tokens.len()];
    let ticks_per_second = (1_000_000 / config.tick.as_micros().max(1)).max(1) as u32;
    let ttl = Duration::from_secs(2);

    for tick in 0..config.ticks {
        let now = clock.now();

        // Price feed: random walk, pushed to the cache with the seed's 2 s TTL.
        for token in tokens.iter_mut() {
            token.price *= 1.0 + rng.random_range(-0.004..0.004);
            let base_reserve = rng.random_range(50_000.0..150_000.0);
            if tick % token.price_every == 0 {
                let put = prices.cache_price(&token.info.address, token.price, ttl);
                lat.time("cache_price", put).await?;
                rows.prices += 1;
            }
            if tick % token.pool_every != 0 {
                continue;
            }
            let state = PoolState {
                pool: token.pool.clone(),
                base_token: token.info.address.clone(),
                quote_token: USDC.to_owned(),
                base_reserve,
                quote_reserve: base_reserve * token.price,
                fee_bps: 25,
                slot: 250_000_000 + i64::from(tick),
            };
            lat.time(
                "cache_pool_state",
                prices.cache_pool_state(&token.pool, state, ttl),
            )
            .await?;
            rows.pool_states += 1;
        }

        // Traders: read the configuration, price each trade from the cache, batch the tick.
        let mut batch = Vec::new();
        for (t, trader_id) in traders.iter().map(|c| c.id).enumerate() {
            let cfg = lat
                .time(
                    "get_trader_config",
                    configs.get_trader_config(&trader_id.to_string()),
                )
                .await?
                .ok_or_else(|| DbError::NotFound {
                    entity: TraderConfig::META.name,
                    key: trader_id.to_string(),
                })?;
            for k in 0..config.trades_per_trader_tick {
                let ti = rng.random_range(0..tokens.len());
                let token = &tokens[ti];
                let cached = lat
                    .time("get_price", prices.get_price(&token.info.address))
                    .await?;
                let price = match cached {
                    Some(p) => {
                        report.price_hits += 1;
                        Some(p)
                    }
                    None => {
                        report.price_misses += 1;
                        let state = lat
                            .time("get_pool_state", prices.get_pool_state(&token.pool))
                            .await?;
                        match state {
                            Some(s) if s.base_reserve > 0.0 => {
                                report.pool_hits += 1;
                                Some(s.quote_reserve / s.base_reserve)
                            }
                            _ => {
                                report.pool_misses += 1;
                                None
                            }
                        }
                    }
                };
                let Some(price) = price else {
                    report.skipped_no_price += 1;
                    continue;
                };
                let slippage_bps = rng.random_range(0..60);
                if slippage_bps > cfg.max_slippage_bps {
                    report.rejected_slippage += 1;
                    continue;
                }
                let holding = holdings.entry((t, ti)).or_insert(Holding {
                    amount: 0.0,
                    cost_basis: 0.0,
                });
                let amount = rng.random_range(0.1..5.0);
                let action = if holding.amount >= amount && rng.random_bool(0.4) {
                    Action::Sell
                } else {
                    Action::Buy
                };
                let slippage = f64::from(slippage_bps) / 10_000.0;
                let fill = match action {
                    Action::Sell => price * (1.0 - slippage),
                    _ => price * (1.0 + slippage),
                };
                match action {
                    Action::Sell => holding.amount -= amount,
                    _ => {
                        let cost = holding.amount * holding.cost_basis + amount * fill;
                        holding.amount += amount;
                        holding.cost_basis = cost / holding.amount;
                    }
                }
                let notional = amount * fill;
                let priority_fee = if cfg.mev_protection_enabled {
                    10_000
                } else {
                    0
                };
                let ts = now + chrono::Duration::microseconds(i64::try_from(k).unwrap_or(0));
                let trade = Trade {
                    id: Uuid::new_v4(),
                    timestamp: ts,
                    trader_id: trader_id.to_string(),
                    mode: cfg.mode,
                    action,
                    base_token: token.info.address.clone(),
                    quote_token: USDC.to_owned(),
                    amount,
                    price: fill,
                    slippage,
                    fee: notional * 0.0025,
                    priority_fee,
                    transfer_fee: token
                        .info
                        .transfer_fee_bps
                        .map(|bps| notional * f64::from(bps) / 10_000.0),
                    tx_signature: None,
                    latency_ms: rng.random_range(1..40),
                    mev_protected: cfg.mev_protection_enabled,
                };
                lat.time(
                    "record_slippage",
                    metrics.record_slippage(&token.info.address, slippage_bps),
                )
                .await?;
                rows.metric_points += 1;
                if rng.random_bool(0.05) {
                    let event = MevEvent {
                        id: Uuid::new_v4(),
                        timestamp: ts,
                        trader_id: trade.trader_id.clone(),
                        sandwich_probability: rng.random_range(0.3..1.0),
                        estimated_loss_bps: rng.random_range(5..120),
                        avoided: cfg.mev_protection_enabled,
                        priority_fee,
                    };
                    lat.time("record_mev_event", metrics.record_mev_event(&event))
                        .await?;
                    rows.mev_events += 1;
                }
                trades_per_token[ti] += 1;
                batch.push(trade);
            }
        }

        // One batch per tick, like the seed's 100 ms QuestDB writer; its latency is a metric.
        if !batch.is_empty() {
            let started = Instant::now();
            trades.batch_save_trades(&batch).await?;
            let took = started.elapsed();
            lat.0.entry(BATCH_OP).or_default().push(took);
            rows.trades += batch.len();
            let ms = took.as_secs_f64() * 1_000.0;
            lat.time("record_latency", metrics.record_latency(BATCH_OP, ms))
                .await?;
            rows.metric_points += 1;
            batch_latencies_ms.push(ms);
            rows.events += lat.time("publish_events", events.publish(&batch)).await?;
        }

        // Once per simulated second: positions, node health, stop-losses, a p99 check.
        if (tick + 1) % ticks_per_second == 0 {
            let snapshots: Vec<Position> = holdings
                .iter()
                .filter(|(_, h)| h.amount > 0.0)
                .map(|(&(t, ti), h)| Position {
                    id: Uuid::new_v4(),
                    timestamp: now,
                    trader_id: traders[t].id.to_string(),
                    token: tokens[ti].info.address.clone(),
                    amount: h.amount,
                    cost_basis: h.cost_basis,
                    current_price: tokens[ti].price,
                    unrealized_pnl: (tokens[ti].price - h.cost_basis) * h.amount,
                })
                .collect();
            if !snapshots.is_empty() {
                let report = lat
                    .time("append_positions", positions.append_all(&snapshots))
                    .await?;
                rows.positions += report.into_result()?;
            }
            let sample = NodeHealth {
                timestamp: now,
                latency_ms: rng.random_range(5..80),
                error_rate: Some(Decimal::new(rng.random_range(0..200), 4)),
                circuit_breaker_status: CircuitBreakerStatus::Closed,
                last_failure: None,
            };
            lat.time("save_node_health", health_repo.save(&sample))
                .await?;
            rows.node_health += 1;
            if let Some(sol) = tokens.first() {
                let sol_price = decimal(sol.price);
                for rule in rules.iter_mut().filter(|r| r.triggered_at.is_none()) {
                    if sol_price <= rule.trigger_price {
                        rule.triggered_at = Some(now);
                        lat.time("save_order_rule", rules_repo.save(rule)).await?;
                        rows.order_rules += 1;
                        report.rules_fired += 1;
                    }
                }
            }
            // A second without a batch has no sample: NotFound is an answer here, not a failure.
            let window = Duration::from_secs(1);
            match lat
                .time("get_p99_latency", metrics.get_p99_latency(BATCH_OP, window))
                .await
            {
                Ok(_) | Err(DbError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }

        clock.advance(config.tick);
        progress(tick + 1, config.ticks);
    }

    // Read back what the session wrote.
    lat.time("flush", trades.flush_trades()).await?;
    lat.time("flush", metrics.flush_metrics()).await?;
    positions.flush().await?;
    let end = clock.now();
    let read = lat.time(
        "get_trades_in_timerange",
        trades.get_trades_in_timerange(start, end),
    );
    report.trades_read_back = read.await?.len();
    let busiest = (0..tokens.len()).max_by_key(|&i| (trades_per_token[i], std::cmp::Reverse(i)));
    if let Some(i) = busiest {
        let by_token = trades.get_trades_by_token(&tokens[i].info.address, 100);
        report.trades_by_token = lat.time("get_trades_by_token", by_token).await?.len();
    }
    report.configs_listed = lat
        .time("list_trader_configs", configs.list_trader_configs())
        .await?
        .len();
    report.rules_listed = rules_repo.list_all(dal::Filter::all()).await?.len();
    if !batch_latencies_ms.is_empty() {
        let whole = end
            .signed_duration_since(start)
            .to_std()
            .unwrap_or_default();
        report.store_p99_ms = lat
            .time("get_p99_latency", metrics.get_p99_latency(BATCH_OP, whole))
            .await?;
        batch_latencies_ms.sort_by(f64::total_cmp);
        report.local_p99_ms = dal::query::percentile_cont(&batch_latencies_ms, 0.99).unwrap_or(0.0);
    }

    report.rows = rows;
    report.latencies = lat.stats();
    report.simulated = end
        .signed_duration_since(start)
        .to_std()
        .unwrap_or_default();
    report.wall = wall.elapsed();
    Ok(report)
}

//! The seed's four domain traits (`seeds/000_*.txt`), each implemented in a few lines on top of
//! dal repositories.
//!
//! The traits keep the seed's signatures (`Pubkey` is a `String`, `DbError` is [`dal::Error`]);
//! the implementations are generic over the backend, so one `Trades<B>` serves trades on memory,
//! Postgres or QuestDB alike. This is the proof that the generic layer serves the application:
//! nothing here knows which store it talks to.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use dal::{
    CacheBackend, CacheStore, Entity, Filter, MetricQuery, RangeQuery, RecordBackend, RecordStore,
    RecordStoreExt, Repository, TimeSeriesBackend, TimeSeriesStore,
};
use uuid::Uuid;

use crate::models::{MetricPoint, MevEvent, PoolState, Price, Trade, TraderConfig};

/// The seed's error type: dal's one error type.
pub type DbError = dal::Error;

/// A Solana address, as base58 text.
pub type Pubkey = String;

/// Where a store reads "now" from: the wall clock, or a simulation's clock.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// Trade history (seed: `TradeStore`).
pub trait TradeStore: Send + Sync + 'static {
    /// Stores one trade.
    fn save_trade(&self, trade: &Trade) -> impl Future<Output = Result<(), DbError>> + Send;
    /// The newest `limit` trades whose base token is `token`, newest first.
    fn get_trades_by_token(
        &self,
        token: &Pubkey,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Trade>, DbError>> + Send;
    /// Trades with `start <= timestamp < end`, oldest first.
    fn get_trades_in_timerange(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<Trade>, DbError>> + Send;
    /// Stores many trades in as few round trips as the store allows; the first rejected trade's
    /// error if any was rejected (the others are stored).
    fn batch_save_trades(
        &self,
        trades: &[Trade],
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    /// Not in the seed: returns once every trade saved before is readable (QuestDB batches
    /// writes). Stores that write through need not override it.
    fn flush_trades(&self) -> impl Future<Output = Result<(), DbError>> + Send {
        async { Ok(()) }
    }
}

/// Latency, slippage and MEV metrics (seed: `MetricsStore`).
pub trait MetricsStore: Send + Sync + 'static {
    /// Records how long `operation` took.
    fn record_latency(
        &self,
        operation: &str,
        latency_ms: f64,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    /// Records the slippage of a fill in `token`.
    fn record_slippage(
        &self,
        token: &Pubkey,
        slippage_bps: i32,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    /// Records a detected MEV threat.
    fn record_mev_event(
        &self,
        event: &MevEvent,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    /// The 99th percentile of `operation`'s latency over the last `window`.
    ///
    /// # Errors
    /// [`DbError::NotFound`] when the window holds no sample of `operation`.
    fn get_p99_latency(
        &self,
        operation: &str,
        window: Duration,
    ) -> impl Future<Output = Result<f64, DbError>> + Send;
    /// Not in the seed: returns once every sample recorded before is readable.
    fn flush_metrics(&self) -> impl Future<Output = Result<(), DbError>> + Send {
        async { Ok(()) }
    }
}

/// Short-lived prices and pool states (seed: `PriceCache`).
pub trait PriceCache: Send + Sync + 'static {
    /// Caches `token`'s price for `ttl`.
    fn cache_price(
        &self,
        token: &Pubkey,
        price: f64,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    /// `token`'s cached price, unless it expired.
    fn get_price(
        &self,
        token: &Pubkey,
    ) -> impl Future<Output = Result<Option<f64>, DbError>> + Send;
    /// Caches `pool`'s state for `ttl` (the state's own `pool` field is set to `pool`).
    fn cache_pool_state(
        &self,
        pool: &Pubkey,
        state: PoolState,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    /// `pool`'s cached state, unless it expired.
    fn get_pool_state(
        &self,
        pool: &Pubkey,
    ) -> impl Future<Output = Result<Option<PoolState>, DbError>> + Send;
}

/// Trader configuration (seed: `ConfigStore`).
pub trait ConfigStore: Send + Sync + 'static {
    /// Inserts or replaces the configuration with the same id.
    fn save_trader_config(
        &self,
        config: &TraderConfig,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    /// The configuration with this id (a UUID in text form).
    ///
    /// # Errors
    /// [`DbError::Validation`] when `id` is not a UUID.
    fn get_trader_config(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<TraderConfig>, DbError>> + Send;
    /// Every configuration, ascending by id.
    fn list_trader_configs(
        &self,
    ) -> impl Future<Output = Result<Vec<TraderConfig>, DbError>> + Send;
}

// The seed's `get_trades_by_token` has no time bounds; these cover any trade a store can hold
// (Postgres TIMESTAMPTZ and QuestDB both accept them, unlike chrono's MIN/MAX).
fn all_time() -> (DateTime<Utc>, DateTime<Utc>) {
    let end = Utc
        .with_ymd_and_hms(9999, 12, 31, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    (DateTime::<Utc>::UNIX_EPOCH, end)
}

/// [`TradeStore`] on any time-series backend.
#[derive(Debug, Clone)]
pub struct Trades<B> {
    trades: Repository<Trade, B>,
}

impl<B: TimeSeriesBackend> Trades<B> {
    /// Trades stored on `backend`.
    pub fn new(backend: B) -> Self {
        Trades {
            trades: Repository::new(backend),
        }
    }
}

impl<B: TimeSeriesBackend> TradeStore for Trades<B> {
    async fn save_trade(&self, trade: &Trade) -> Result<(), DbError> {
        self.trades.append(trade).await
    }

    async fn get_trades_by_token(
        &self,
        token: &Pubkey,
        limit: usize,
    ) -> Result<Vec<Trade>, DbError> {
        let (start, end) = all_time();
        let query = RangeQuery::new(start, end)
            .filter(Trade::BASE_TOKEN.eq(token.clone()))
            .newest_first()
            .limit(limit);
        self.trades.range(&query).await
    }

    async fn get_trades_in_timerange(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<Trade>, DbError> {
        self.trades.range(&RangeQuery::new(start, end)).await
    }

    async fn batch_save_trades(&self, trades: &[Trade]) -> Result<(), DbError> {
        self.trades
            .append_all(trades)
            .await?
            .into_result()
            .map(drop)
    }

    async fn flush_trades(&self) -> Result<(), DbError> {
        self.trades.flush().await
    }
}

/// [`MetricsStore`] on any backend that stores and aggregates time series.
///
/// Samples are [`MetricPoint`]s named `latency_ms.<operation>` and `slippage_bps.<token>`, so a
/// percentile of one operation is a filter on one symbol.
#[derive(Clone)]
pub struct Metrics<B> {
    points: Repository<MetricPoint, B>,
    mev: Repository<MevEvent, B>,
    clock: Clock,
}

impl<B: TimeSeriesBackend + dal::MetricsBackend> Metrics<B> {
    /// Metrics stored on `backend`, timestamped by the wall clock.
    pub fn new(backend: B) -> Self {
        Self::with_clock(backend, system_clock())
    }

    /// Metrics timestamped (and windowed) by `clock`.
    pub fn with_clock(backend: B, clock: Clock) -> Self {
        Metrics {
            points: Repository::new(backend.clone()),
            mev: Repository::new(backend),
            clock,
        }
    }

    async fn record(
        &self,
        metric_name: String,
        value: f64,
        label: (&str, &str),
    ) -> Result<(), DbError> {
        let point = MetricPoint {
            id: Uuid::new_v4(),
            timestamp: (self.clock)(),
            metric_name,
            value,
            labels: BTreeMap::from([(label.0.to_owned(), label.1.to_owned())]),
        };
        self.points.append(&point).await
    }
}

impl<B> std::fmt::Debug for Metrics<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// The metric name under which [`MetricsStore::record_latency`] stores `operation`.
pub fn latency_metric(operation: &str) -> String {
    format!("latency_ms.{operation}")
}

impl<B: TimeSeriesBackend + dal::MetricsBackend> MetricsStore for Metrics<B> {
    async fn record_latency(&self, operation: &str, latency_ms: f64) -> Result<(), DbError> {
        self.record(
            latency_metric(operation),
            latency_ms,
            ("operation", operation),
        )
        .await
    }

    async fn record_slippage(&self, token: &Pubkey, slippage_bps: i32) -> Result<(), DbError> {
        let name = format!("slippage_bps.{token}");
        self.record(name, f64::from(slippage_bps), ("token", token))
            .await
    }

    async fn record_mev_event(&self, event: &MevEvent) -> Result<(), DbError> {
        self.mev.append(event).await
    }

    async fn get_p99_latency(&self, operation: &str, window: Duration) -> Result<f64, DbError> {
        let now = (self.clock)();
        let window = chrono::Duration::from_std(window)
            .map_err(|_| DbError::invalid(MetricPoint::META.name, "latency window is too long"))?;
        // The window ends just after `now` so a sample taken at `now` counts.
        let end = now + chrono::Duration::microseconds(1);
        let name = latency_metric(operation);
        let query = MetricQuery::new(MetricPoint::VALUE, now - window, end)
            .filter(MetricPoint::METRIC_NAME.eq(name.clone()));
        dal::MetricsStore::quantile(&self.points, &query, 0.99)
            .await?
            .ok_or(DbError::NotFound {
                entity: MetricPoint::META.name,
                key: name,
            })
    }

    async fn flush_metrics(&self) -> Result<(), DbError> {
        self.points.flush().await?;
        self.mev.flush().await
    }
}

/// [`PriceCache`] on any TTL cache backend.
#[derive(Clone)]
pub struct Prices<B> {
    prices: Repository<Price, B>,
    pools: Repository<PoolState, B>,
    clock: Clock,
}

impl<B: CacheBackend> Prices<B> {
    /// Prices cached on `backend`, stamped by the wall clock.
    pub fn new(backend: B) -> Self {
        Self::with_clock(backend, system_clock())
    }

    /// Prices stamped (`Price::updated_at`) by `clock`.
    pub fn with_clock(backend: B, clock: Clock) -> Self {
        Prices {
            prices: Repository::new(backend.clone()),
            pools: Repository::new(backend),
            clock,
        }
    }
}

impl<B> std::fmt::Debug for Prices<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prices").finish_non_exhaustive()
    }
}

impl<B: CacheBackend> PriceCache for Prices<B> {
    async fn cache_price(&self, token: &Pubkey, price: f64, ttl: Duration) -> Result<(), DbError> {
        let entry = Price {
            token: token.clone(),
            price,
            updated_at: (self.clock)(),
        };
        self.prices.put_with_ttl(&entry, ttl).await
    }

    async fn get_price(&self, token: &Pubkey) -> Result<Option<f64>, DbError> {
        Ok(self.prices.lookup(token).await?.map(|p| p.price))
    }

    async fn cache_pool_state(
        &self,
        pool: &Pubkey,
        mut state: PoolState,
        ttl: Duration,
    ) -> Result<(), DbError> {
        // The key comes from the argument, as in the seed; the stored row must agree with it.
        state.pool.clone_from(pool);
        self.pools.put_with_ttl(&state, ttl).await
    }

    async fn get_pool_state(&self, pool: &Pubkey) -> Result<Option<PoolState>, DbError> {
        self.pools.lookup(pool).await
    }
}

/// [`ConfigStore`] on any record backend.
#[derive(Debug, Clone)]
pub struct Configs<B> {
    configs: Repository<TraderConfig, B>,
}

impl<B: RecordBackend> Configs<B> {
    /// Configurations stored on `backend`.
    pub fn new(backend: B) -> Self {
        Configs {
            configs: Repository::new(backend),
        }
    }
}

impl<B: RecordBackend> ConfigStore for Configs<B> {
    async fn save_trader_config(&self, config: &TraderConfig) -> Result<(), DbError> {
        self.configs.save(config).await
    }

    async fn get_trader_config(&self, id: &str) -> Result<Option<TraderConfig>, DbError> {
        let id = Uuid::parse_str(id).map_err(|e| {
            DbError::invalid_field(
                TraderConfig::ID.field(),
                format_args!("trader config id {id:?} is not a UUID: {e}"),
            )
        })?;
        self.configs.get(&id).await
    }

    async fn list_trader_configs(&self) -> Result<Vec<TraderConfig>, DbError> {
        self.configs.list_all(Filter::all()).await
    }
}

#[cfg(test)]
mod tests {
    use dal::Memory;
    use dal::memory::{Fault, ManualClock, Op};
    use rust_decimal::Decimal;

    use super::*;
    use crate::models::{Action, Mode};

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH
            + chrono::Duration::days(20_000)
            + chrono::Duration::seconds(secs)
    }

    fn trade(secs: i64, token: &str) -> Trade {
        Trade {
            id: Uuid::new_v4(),
            timestamp: at(secs),
            trader_id: "t1".into(),
            mode: Mode::Paper,
            action: Action::Buy,
            base_token: token.into(),
            quote_token: "USDC".into(),
            amount: 1.0,
            price: 100.0 + secs as f64,
            slippage: 0.001,
            fee: 0.25,
            priority_fee: 5_000,
            transfer_fee: None,
            tx_signature: None,
            latency_ms: 12,
            mev_protected: true,
        }
    }

    fn fixed_clock(t: DateTime<Utc>) -> Clock {
        Arc::new(move || t)
    }

    #[tokio::test]
    async fn trades_by_token_are_newest_first_and_limited() {
        let trades = Trades::new(Memory::new());
        trades.save_trade(&trade(0, "SOL")).await.unwrap();
        let batch: Vec<Trade> = (1..=5)
            .map(|i| trade(i, if i % 2 == 0 { "BONK" } else { "SOL" }))
            .collect();
        trades.batch_save_trades(&batch).await.unwrap();

        let sol = trades.get_trades_by_token(&"SOL".into(), 2).await.unwrap();
        let secs: Vec<i64> = sol
            .iter()
            .map(|t| (t.timestamp - at(0)).num_seconds())
            .collect();
        assert_eq!(secs, [5, 3]);
        assert!(sol.iter().all(|t| t.base_token == "SOL"));
        let bonk = trades
            .get_trades_by_token(&"BONK".into(), 10)
            .await
            .unwrap();
        assert_eq!(bonk.len(), 2);
        assert_eq!(bonk[0], batch[3]);
    }

    #[tokio::test]
    async fn timerange_includes_start_and_excludes_end() {
        let trades = Trades::new(Memory::new());
        let batch: Vec<Trade> = (0..10).map(|i| trade(i, "SOL")).collect();
        trades.batch_save_trades(&batch).await.unwrap();
        let got = trades.get_trades_in_timerange(at(2), at(5)).await.unwrap();
        assert_eq!(got, batch[2..5].to_vec());
    }

    #[tokio::test]
    async fn a_failing_store_surfaces_as_the_seeds_db_error() {
        let memory = Memory::new();
        memory.inject(Fault::on(Op::AppendAll).times(1));
        let trades = Trades::new(memory);
        let err = trades
            .batch_save_trades(&[trade(0, "SOL")])
            .await
            .unwrap_err();
        assert!(err.is_transient(), "{err}");
        // The fault was for one call only: the retry goes through.
        trades.batch_save_trades(&[trade(0, "SOL")]).await.unwrap();
        assert_eq!(
            trades
                .get_trades_by_token(&"SOL".into(), 10)
                .await
                .unwrap()
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn p99_latency_is_per_operation_and_windowed() {
        let memory = Memory::new();
        let early = Metrics::with_clock(memory.clone(), fixed_clock(at(0)));
        for ms in 1..=100 {
            early
                .record_latency("save_trade", f64::from(ms))
                .await
                .unwrap();
        }
        early.record_latency("get_price", 1_000.0).await.unwrap();
        let p99 = early
            .get_p99_latency("save_trade", Duration::from_secs(1))
            .await
            .unwrap();
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(Some(p99), dal::query::percentile_cont(&values, 0.99));

        // Ten seconds later the one-second window is empty; a wider one still sees them.
        let later = Metrics::with_clock(memory, fixed_clock(at(10)));
        let err = later
            .get_p99_latency("save_trade", Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                DbError::NotFound {
                    entity: "MetricPoint",
                    ..
                }
            ),
            "{err}"
        );
        let wide = later
            .get_p99_latency("save_trade", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(wide, p99);
    }

    #[tokio::test]
    async fn slippage_and_mev_events_are_stored_as_rows() {
        let memory = Memory::new();
        let metrics = Metrics::with_clock(memory.clone(), fixed_clock(at(0)));
        metrics.record_slippage(&"SOL".into(), 12).await.unwrap();
        let event = MevEvent {
            id: Uuid::new_v4(),
            timestamp: at(0),
            trader_id: "t1".into(),
            sandwich_probability: 0.8,
            estimated_loss_bps: 40,
            avoided: true,
            priority_fee: 10_000,
        };
        metrics.record_mev_event(&event).await.unwrap();

        let points: Repository<MetricPoint, Memory> = Repository::new(memory.clone());
        let rows = points.range(&RangeQuery::new(at(0), at(1))).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].metric_name, "slippage_bps.SOL");
        assert_eq!(rows[0].value, 12.0);
        assert_eq!(rows[0].labels.get("token").map(String::as_str), Some("SOL"));
        let events: Repository<MevEvent, Memory> = Repository::new(memory);
        assert_eq!(
            events.range(&RangeQuery::new(at(0), at(1))).await.unwrap(),
            [event]
        );
    }

    #[tokio::test]
    async fn prices_expire_after_their_ttl() {
        let clock = ManualClock::new();
        let prices = Prices::with_clock(Memory::with_clock(clock.clone()), fixed_clock(at(0)));
        let sol = "SOL".to_string();
        prices
            .cache_price(&sol, 151.5, Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(prices.get_price(&sol).await.unwrap(), Some(151.5));
        assert_eq!(prices.get_price(&"BONK".into()).await.unwrap(), None);
        clock.advance(Duration::from_millis(1_999));
        assert_eq!(prices.get_price(&sol).await.unwrap(), Some(151.5));
        clock.advance(Duration::from_millis(1));
        assert_eq!(prices.get_price(&sol).await.unwrap(), None);
    }

    #[tokio::test]
    async fn pool_state_is_keyed_by_the_argument() {
        let prices = Prices::new(Memory::new());
        let state = PoolState {
            pool: "wrong".into(),
            base_token: "SOL".into(),
            quote_token: "USDC".into(),
            base_reserve: 1_000.0,
            quote_reserve: 150_000.0,
            fee_bps: 25,
            slot: 1,
        };
        let pool = "pool:with:colons{and braces}".to_string();
        prices
            .cache_pool_state(&pool, state.clone(), Duration::from_secs(2))
            .await
            .unwrap();
        let got = prices.get_pool_state(&pool).await.unwrap().unwrap();
        assert_eq!(got.pool, pool);
        assert_eq!(got.quote_reserve, state.quote_reserve);
        assert_eq!(prices.get_pool_state(&"wrong".into()).await.unwrap(), None);
    }

    fn config(n: u128, name: &str) -> TraderConfig {
        TraderConfig {
            id: Uuid::from_u128(n),
            name: name.into(),
            mode: Mode::Paper,
            max_position_size: Decimal::new(1_000_012_345_678, 8),
            max_daily_loss: Decimal::from(500),
            max_slippage_bps: 30,
            mev_protection_enabled: true,
            created_at: at(0),
            updated_at: at(0),
        }
    }

    #[tokio::test]
    async fn configs_upsert_get_and_list_in_id_order() {
        let configs = Configs::new(Memory::new());
        for (n, name) in [(3, "c"), (1, "a"), (2, "b")] {
            configs.save_trader_config(&config(n, name)).await.unwrap();
        }
        let mut live = config(2, "b");
        live.mode = Mode::Live;
        configs.save_trader_config(&live).await.unwrap();

        let id = Uuid::from_u128(2).to_string();
        assert_eq!(configs.get_trader_config(&id).await.unwrap(), Some(live));
        let missing = Uuid::from_u128(9).to_string();
        assert_eq!(configs.get_trader_config(&missing).await.unwrap(), None);
        let names: Vec<String> = configs
            .list_trader_configs()
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn a_config_id_that_is_not_a_uuid_is_a_validation_error_naming_the_field() {
        let configs = Configs::new(Memory::new());
        let err = configs.get_trader_config("trader-1").await.unwrap_err();
        match &err {
            DbError::Validation { entity, field, .. } => {
                assert_eq!((*entity, *field), ("TraderConfig", Some("id")));
            }
            other => panic!("expected a validation error, got {other}"),
        }
        assert!(err.to_string().contains("trader-1"), "{err}");
    }
}

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

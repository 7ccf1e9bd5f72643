//! The trading platform's models, as derived entities.
//!
//! Column names and types follow the seed schemas (`seeds/001_*.txt`): QuestDB time series
//! (`trades`, `positions`, `metrics`, `mev_events`), Redis cache entries (`price:{token}`,
//! `pool:{pool}`) and Postgres records (`trader_config`, `tokens`, `order_rules`, `node_health`).
//! Every QuestDB entity carries a UUID `id` so its table dedups on `(timestamp, id)`: a batch
//! retried after a failed flush replaces its rows instead of doubling them. The Postgres migrations
//! in `migrations/postgres` are written from these structs; keep names and types stable.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dal::{Entity, TextEnum};
use rust_decimal::Decimal;
use uuid::Uuid;

/// Whether a trader runs against simulated fills or the chain (`paper` | `live`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, TextEnum)]
#[text(rename_all = "snake_case")]
pub enum Mode {
    /// Simulated fills, no transactions sent.
    Paper,
    /// Real transactions.
    Live,
}

/// What a trade did (`buy` | `sell` | `swap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, TextEnum)]
#[text(rename_all = "snake_case")]
pub enum Action {
    /// Bought the base token with the quote token.
    Buy,
    /// Sold the base token for the quote token.
    Sell,
    /// A token-to-token swap.
    Swap,
}

/// The kind of an order rule (`stop_loss` | `take_profit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, TextEnum)]
#[text(rename_all = "snake_case")]
pub enum RuleType {
    /// Sell when the price falls to the trigger.
    StopLoss,
    /// Sell when the price rises to the trigger.
    TakeProfit,
}

/// State of an RPC node's circuit breaker (`closed` | `open` | `half_open`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, TextEnum)]
#[text(rename_all = "snake_case")]
pub enum CircuitBreakerStatus {
    /// Requests flow.
    Closed,
    /// Requests are refused after too many failures.
    Open,
    /// A probe request is allowed through.
    HalfOpen,
}

/// One executed trade (QuestDB `trades`, partitioned by day, kept 30 days).
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "trades", questdb(partition = "day", ttl = "30d", dedup))]
pub struct Trade {
    /// Trade id; with `timestamp`, the dedup key.
    #[entity(id)]
    pub id: Uuid,
    /// Execution time (the designated timestamp).
    #[entity(timestamp)]
    pub timestamp: DateTime<Utc>,
    /// The trader that executed it.
    #[entity(symbol)]
    pub trader_id: String,
    /// Paper or live.
    #[entity(symbol)]
    pub mode: Mode,
    /// Buy, sell or swap.
    #[entity(symbol)]
    pub action: Action,
    /// Mint of the token traded.
    #[entity(symbol)]
    pub base_token: String,
    /// Mint of the token paid or received.
    #[entity(symbol)]
    pub quote_token: String,
    /// Base token amount.
    pub amount: f64,
    /// Price in quote token per base token.
    pub price: f64,
    /// Realised slippage, as a fraction of the expected price.
    pub slippage: f64,
    /// Transaction fee in quote token.
    pub fee: f64,
    /// MEV-protection priority fee in lamports.
    pub priority_fee: i64,
    /// Token-2022 transfer fee, when the token charges one.
    pub transfer_fee: Option<f64>,
    /// Transaction signature (none for paper trades).
    pub tx_signature: Option<String>,
    /// Time from decision to confirmation.
    pub latency_ms: i32,
    /// Whether the trade went through an MEV-protected route.
    pub mev_protected: bool,
}

/// A snapshot of one trader's position in one token (QuestDB `positions`, partitioned by hour).
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "positions", questdb(partition = "hour", ttl = "30d", dedup))]
pub struct Position {
    /// Snapshot id; with `timestamp`, the dedup key.
    #[entity(id)]
    pub id: Uuid,
    /// Snapshot time (the designated timestamp).
    #[entity(timestamp)]
    pub timestamp: DateTime<Utc>,
    /// The trader holding the position.
    #[entity(symbol)]
    pub trader_id: String,
    /// Mint of the token held.
    #[entity(symbol)]
    pub token: String,
    /// Amount held.
    pub amount: f64,
    /// Average entry price.
    pub cost_basis: f64,
    /// Price at snapshot time.
    pub current_price: f64,
    /// `(current_price - cost_basis) * amount`.
    pub unrealized_pnl: f64,
}

/// One sample of a named system metric (QuestDB `metrics`, partitioned by day).
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "metrics", questdb(partition = "day", ttl = "30d", dedup))]
pub struct MetricPoint {
    /// Sample id; with `timestamp`, the dedup key.
    #[entity(id)]
    pub id: Uuid,
    /// Sample time (the designated timestamp).
    #[entity(timestamp)]
    pub timestamp: DateTime<Utc>,
    /// Metric name, e.g. `latency_ms.save_trade` or `slippage_bps.<mint>`.
    #[entity(symbol)]
    pub metric_name: String,
    /// The sampled value.
    pub value: f64,
    /// Free-form labels, stored as JSON text.
    #[entity(json)]
    pub labels: BTreeMap<String, String>,
}

/// A detected MEV threat and whether it was avoided (QuestDB `mev_events`, partitioned by day).
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "mev_events", questdb(partition = "day", ttl = "30d", dedup))]
pub struct MevEvent {
    /// Event id; with `timestamp`, the dedup key.
    #[entity(id)]
    pub id: Uuid,
    /// Detection time (the designated timestamp).
    #[entity(timestamp)]
    pub timestamp: DateTime<Utc>,
    /// The trader whose transaction was at risk.
    #[entity(symbol)]
    pub trader_id: String,
    /// Estimated probability of a sandwich attack, 0..=1.
    pub sandwich_probability: f64,
    /// Estimated loss had the attack succeeded, in basis points.
    pub estimated_loss_bps: i32,
    /// Whether protection avoided it.
    pub avoided: bool,
    /// Priority fee paid for protection, in lamports.
    pub priority_fee: i64,
}

/// The latest price of a token (Redis `price:{token}`, 2 s TTL).
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "prices", redis(key = "price:{token}", ttl = "2s"))]
pub struct Price {
    /// Token mint.
    #[entity(id)]
    pub token: String,
    /// Price in USD.
    pub price: f64,
    /// When the feed observed it.
    pub updated_at: DateTime<Utc>,
}

/// Reserves of an AMM pool (Redis `pool:{pool}`, 2 s TTL).
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "pool_states", redis(key = "pool:{pool}", ttl = "2s"))]
pub struct PoolState {
    /// Pool address.
    #[entity(id)]
    pub pool: String,
    /// Mint of the pool's base token.
    pub base_token: String,
    /// Mint of the pool's quote token.
    pub quote_token: String,
    /// Base token reserve.
    pub base_reserve: f64,
    /// Quote token reserve.
    pub quote_reserve: f64,
    /// Swap fee in basis points.
    pub fee_bps: i32,
    /// Slot at which the reserves were read.
    pub slot: i64,
}

/// A trader's risk configuration (Postgres `trader_config`).
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "trader_config")]
pub struct TraderConfig {
    /// Trader id.
    #[entity(id)]
    pub id: Uuid,
    /// Display name.
    #[entity(max_len = 255)]
    pub name: String,
    /// Paper or live.
    #[entity(max_len = 20)]
    pub mode: Mode,
    /// Largest position, in quote token.
    #[entity(precision = 20, scale = 8)]
    pub max_position_size: Decimal,
    /// Daily loss at which trading stops, in quote token.
    #[entity(precision = 20, scale = 8)]
    pub max_daily_loss: Decimal,
    /// Largest accepted slippage, in basis points.
    pub max_slippage_bps: i32,
    /// Whether trades go through MEV-protected routes.
    pub mev_protection_enabled: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change (the migration's trigger also sets it on UPDATE).
    pub updated_at: DateTime<Utc>,
}

/// Token metadata with Token-2022 extension data (Postgres `tokens`).
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "tokens")]
pub struct TokenInfo {
    /// Mint address.
    #[entity(id, max_len = 50)]
    pub address: String,
    /// Ticker, indexed for lookups by symbol.
    #[entity(symbol, max_len = 20)]
    pub symbol: String,
    /// Full name.
    #[entity(max_len = 255)]
    pub name: Option<String>,
    /// Decimal places of the mint.
    pub decimals: i32,
    /// Whether the mint has the Token-2022 transfer-fee extension.
    pub has_transfer_fee: bool,
    /// The transfer fee, when there is one.
    pub transfer_fee_bps: Option<i32>,
    /// Raw Token-2022 extension data.
    #[entity(json)]
    pub extensions: Option<serde_json::Value>,
    /// Last refresh of this row.
    pub last_updated: DateTime<Utc>,
}

/// A stop-loss or take-profit rule on a position (Postgres `order_rules`).
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "order_rules")]
pub struct OrderRule {
    /// Rule id.
    #[entity(id)]
    pub id: Uuid,
    /// The trader ([`TraderConfig::id`]) the rule belongs to.
    pub trader_id: Uuid,
    /// Mint of the position's token.
    #[entity(max_len = 50)]
    pub position_token: String,
    /// Stop-loss or take-profit.
    #[entity(max_len = 20)]
    pub rule_type: RuleType,
    /// Price that fires the rule.
    #[entity(precision = 20, scale = 8)]
    pub trigger_price: Decimal,
    /// Amount to sell when it fires.
    #[entity(precision = 20, scale = 8)]
    pub amount: Decimal,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When the rule fired, if it has.
    pub triggered_at: Option<DateTime<Utc>>,
}

/// One health sample of the RPC node (Postgres `node_health`, keyed by sample time).
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "node_health")]
pub struct NodeHealth {
    /// Sample time.
    #[entity(id)]
    pub timestamp: DateTime<Utc>,
    /// Round-trip latency of the probe.
    pub latency_ms: i32,
    /// Share of failed requests in the last window, 0..=1.
    #[entity(precision = 5, scale = 4)]
    pub error_rate: Option<Decimal>,
    /// Circuit breaker state.
    #[entity(max_len = 20)]
    pub circuit_breaker_status: CircuitBreakerStatus,
    /// Time of the last failed request.
    pub last_failure: Option<DateTime<Utc>>,
}

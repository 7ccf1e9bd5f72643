//! `append` called directly on Redis, which stores records and caches but no time series.

use chrono::{DateTime, Utc};
use dal::{Entity, Repository};
use dal_backends::redis::Redis;

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id)]
    pub id: i64,
    #[entity(timestamp)]
    pub ts: DateTime<Utc>,
    pub price: f64,
}

pub async fn record(trades: &Repository<Trade, Redis>, trade: &Trade) -> dal::Result<()> {
    trades.append(trade).await
}

fn main() {}

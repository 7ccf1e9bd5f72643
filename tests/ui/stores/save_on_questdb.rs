//! `save` called directly on QuestDB, which stores time series but no keyed records.

use chrono::{DateTime, Utc};
use dal::{Entity, RecordStore, Repository};
use dal_backends::questdb::QuestDb;

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id)]
    pub id: i64,
    #[entity(timestamp)]
    pub ts: DateTime<Utc>,
    pub price: f64,
}

// The store trait is in scope (and used): the direct call still names the missing backend trait.
pub fn needs_records(_: &impl RecordStore<Trade>) {}

pub async fn keep(trades: &Repository<Trade, QuestDb>, trade: &Trade) -> dal::Result<()> {
    trades.save(trade).await
}

fn main() {}

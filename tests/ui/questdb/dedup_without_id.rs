use chrono::{DateTime, Utc};
use dal::Entity;

#[derive(Clone, Entity)]
#[entity(questdb(dedup))]
pub struct Trade {
    #[entity(timestamp)]
    pub ts: DateTime<Utc>,
    pub price: f64,
}

fn main() {}

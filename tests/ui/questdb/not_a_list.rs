use chrono::{DateTime, Utc};
use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
#[entity(questdb = "day")]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
    #[entity(timestamp)]
    pub ts: DateTime<Utc>,
    pub price: f64,
}

fn main() {}

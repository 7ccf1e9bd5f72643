use chrono::{DateTime, Utc};
use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
#[entity(questdb())]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
    #[entity(timestamp)]
    pub ts: DateTime<Utc>,
    pub payload: Vec<u8>,
}

fn main() {}

use chrono::{DateTime, Utc};
use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Tick {
    #[entity(id)]
    pub id: Uuid,
    #[entity(timestamp, json)]
    pub at: DateTime<Utc>,
}

fn main() {}

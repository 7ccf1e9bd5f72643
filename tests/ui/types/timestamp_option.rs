use chrono::{DateTime, Utc};
use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Tick {
    #[entity(id)]
    pub id: Uuid,
    #[entity(timestamp)]
    pub at: Option<DateTime<Utc>>,
}

fn main() {}

use chrono::{DateTime, Utc};
use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
    #[entity(timestamp)]
    pub opened_at: DateTime<Utc>,
    #[entity(timestamp)]
    pub closed_at: DateTime<Utc>,
}

fn main() {}

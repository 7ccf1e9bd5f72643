use chrono::{DateTime, Local};
use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Tick {
    #[entity(id)]
    pub id: Uuid,
    #[entity(timestamp)]
    pub at: DateTime<Local>,
}

fn main() {}

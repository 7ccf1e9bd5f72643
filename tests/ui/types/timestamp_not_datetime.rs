use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Tick {
    #[entity(id)]
    pub id: Uuid,
    #[entity(timestamp)]
    pub at: i64,
}

fn main() {}

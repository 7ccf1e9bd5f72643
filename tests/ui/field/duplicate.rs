use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id)]
    #[entity(id)]
    pub id: Uuid,
}

fn main() {}

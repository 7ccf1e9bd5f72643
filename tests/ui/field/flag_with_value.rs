use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id = true)]
    pub id: Uuid,
}

fn main() {}

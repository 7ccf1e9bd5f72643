use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
#[entity(table = 5)]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
}

fn main() {}

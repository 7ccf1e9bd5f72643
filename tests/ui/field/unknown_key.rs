use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(primary_key)]
    pub id: Uuid,
}

fn main() {}

use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Trädes {
    #[entity(id)]
    pub id: Uuid,
}

fn main() {}

use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id, rename = "trade id")]
    pub id: Uuid,
}

fn main() {}

use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
    #[entity(json, with = "as_text")]
    pub extra: Vec<u32>,
}

fn main() {}

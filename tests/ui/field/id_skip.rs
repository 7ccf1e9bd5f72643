use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id, skip)]
    pub id: Uuid,
    pub price: f64,
}

fn main() {}

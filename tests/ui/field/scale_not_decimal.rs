use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
    #[entity(scale = 8)]
    pub price: Option<f64>,
}

fn main() {}

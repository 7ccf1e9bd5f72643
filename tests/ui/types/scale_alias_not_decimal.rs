use dal::Entity;
use uuid::Uuid;

pub type Price = f64;

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
    #[entity(precision = 18, scale = 8)]
    pub price: Price,
}

fn main() {}

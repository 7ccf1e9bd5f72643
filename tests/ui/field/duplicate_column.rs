use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
    pub price: f64,
    #[entity(rename = "price")]
    pub fill_price: f64,
}

fn main() {}

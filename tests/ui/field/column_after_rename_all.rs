use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
#[entity(rename_all = "UPPERCASE")]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
    pub price: f64,
    #[entity(rename = "PRICE")]
    pub fill_price: f64,
}

fn main() {}

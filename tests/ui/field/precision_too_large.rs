use dal::Entity;
use rust_decimal::Decimal;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
    #[entity(precision = 38, scale = 8)]
    pub price: Decimal,
}

fn main() {}

use dal::Entity;
use rust_decimal::Decimal;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
    #[entity(precision = 4, scale = 6)]
    pub price: Decimal,
}

fn main() {}

use dal::Entity;
use rust_decimal::Decimal;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
    #[entity(skip, precision = 18, scale = 8)]
    pub cached_fee: Decimal,
}

fn main() {}

use dal::Entity;
use rust_decimal::Decimal;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
    #[entity(json, scale = 8)]
    pub fees: Vec<Decimal>,
}

fn main() {}

use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Quote {
    #[entity(id)]
    pub id: Uuid,
    pub bid_ask: (f64, f64),
}

fn main() {}

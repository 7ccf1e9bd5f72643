use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
#[entity(table = "trades", table = "fills")]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
}

fn main() {}

use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
#[entity(name = "Trade V2")]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
}

fn main() {}

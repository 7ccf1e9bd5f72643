use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
#[entity(crate = "my dal")]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
}

fn main() {}

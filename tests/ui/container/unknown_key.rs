use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
#[entity(tabel = "trades")]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
}

fn main() {}

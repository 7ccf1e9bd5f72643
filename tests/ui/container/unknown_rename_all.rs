use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
#[entity(rename_all = "kebab-case")]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
}

fn main() {}

use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
#[entity(table = "my trades", rename_all = "Title Case")]
pub struct Trade {
    #[entity(id, primary)]
    pub id: Uuid,
    #[entity(max_len = 0)]
    pub venue: String,
}

fn main() {}

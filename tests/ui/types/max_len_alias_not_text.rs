use dal::Entity;
use uuid::Uuid;

pub type Size = i32;

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
    #[entity(max_len = 8)]
    pub size: Size,
}

fn main() {}

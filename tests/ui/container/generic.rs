use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Reading<T> {
    #[entity(id)]
    pub id: Uuid,
    pub value: T,
}

fn main() {}

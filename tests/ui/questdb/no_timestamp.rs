use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
#[entity(questdb(partition = "day"))]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
    pub price: f64,
}

fn main() {}

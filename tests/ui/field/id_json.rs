use dal::Entity;

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id, json)]
    pub id: Vec<String>,
}

fn main() {}

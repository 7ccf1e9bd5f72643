use dal::Entity;

#[derive(Clone, Entity)]
pub struct Price {
    #[entity(id)]
    pub level: f64,
}

fn main() {}

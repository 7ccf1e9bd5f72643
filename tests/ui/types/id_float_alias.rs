use dal::Entity;

type Level = f64;

#[derive(Clone, Entity)]
pub struct Price {
    #[entity(id)]
    pub level: Level,
}

fn main() {}

use dal::Entity;

#[derive(Clone, Entity)]
pub struct Scratch {
    #[entity(skip)]
    pub count: u32,
}

fn main() {}

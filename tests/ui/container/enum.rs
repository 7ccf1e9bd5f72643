use dal::Entity;

#[derive(Clone, Entity)]
pub enum Mode {
    Paper,
    Live,
}

fn main() {}

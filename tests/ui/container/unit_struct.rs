use dal::Entity;

#[derive(Clone, Entity)]
pub struct Marker;

fn main() {}

use dal::Entity;

#[derive(Clone, Entity)]
pub struct Wide {
    #[entity(id)] pub a: i32,
    #[entity(id)] pub b: i32,
    #[entity(id)] pub c: i32,
    #[entity(id)] pub d: i32,
    #[entity(id)] pub e: i32,
    #[entity(id)] pub f: i32,
    #[entity(id)] pub g: i32,
    #[entity(id)] pub h: i32,
    #[entity(id)] pub i: i32,
}

fn main() {}

use dal::Entity;

#[derive(Clone, Copy, Entity)]
pub union Bits {
    a: u32,
    b: f32,
}

fn main() {}

use dal::Entity;

#[derive(Clone, Entity)]
#[entity(redis(key = ""))]
pub struct Price {
    #[entity(id)]
    pub token: String,
    pub usd: f64,
}

fn main() {}

use dal::Entity;

#[derive(Clone, Entity)]
#[entity(redis(prefix = "price"))]
pub struct Price {
    #[entity(id)]
    pub token: String,
    pub usd: f64,
}

fn main() {}

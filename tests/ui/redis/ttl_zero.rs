use dal::Entity;

#[derive(Clone, Entity)]
#[entity(redis(ttl = "0s"))]
pub struct Price {
    #[entity(id)]
    pub token: String,
    pub usd: f64,
}

fn main() {}

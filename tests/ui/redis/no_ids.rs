use dal::Entity;

#[derive(Clone, Entity)]
#[entity(redis(ttl = "2s"))]
pub struct Price {
    pub token: String,
    pub usd: f64,
}

fn main() {}

use dal::Entity;

#[derive(Clone, Entity)]
#[entity(redis(ttl = "2sec"))]
pub struct Price {
    #[entity(id)]
    pub token: String,
    pub usd: f64,
}

fn main() {}

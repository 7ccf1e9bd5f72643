use dal::Entity;

#[derive(Clone, Entity)]
#[entity(redis(key = "price:{token}:{usd}"))]
pub struct Price {
    #[entity(id)]
    pub token: String,
    pub usd: f64,
}

fn main() {}

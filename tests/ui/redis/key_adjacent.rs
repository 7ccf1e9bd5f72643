use dal::Entity;

#[derive(Clone, Entity)]
#[entity(redis(key = "price:{venue}-{token}"))]
pub struct Price {
    #[entity(id)]
    pub venue: String,
    #[entity(id)]
    pub token: String,
    pub usd: f64,
}

fn main() {}

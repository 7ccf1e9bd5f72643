use dal::Entity;

#[derive(Clone, Entity)]
pub struct Token {
    #[entity(id, max_len = "20")]
    pub symbol: String,
}

fn main() {}

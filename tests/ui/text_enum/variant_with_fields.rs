use dal::TextEnum;

#[derive(Debug, Clone, TextEnum)]
pub enum Order {
    Market,
    Limit { price: f64 },
}

fn main() {}

use dal::TextEnum;

#[derive(Clone, TextEnum)]
pub struct Mode {
    pub live: bool,
}

fn main() {}

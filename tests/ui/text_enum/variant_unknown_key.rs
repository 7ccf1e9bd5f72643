use dal::TextEnum;

#[derive(Debug, Clone, TextEnum)]
pub enum Mode {
    #[text(alias = "p")]
    Paper,
    Live,
}

fn main() {}

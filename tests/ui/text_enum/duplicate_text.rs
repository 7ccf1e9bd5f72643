use dal::TextEnum;

#[derive(Debug, Clone, TextEnum)]
#[text(rename_all = "lowercase")]
pub enum Mode {
    Paper,
    Live,
    #[text(rename = "paper")]
    Simulated,
}

fn main() {}

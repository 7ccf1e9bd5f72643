use dal::TextEnum;

#[derive(Debug, Clone, TextEnum)]
#[text(rename_al = "snake_case")]
pub enum Mode {
    Paper,
    Live,
}

fn main() {}

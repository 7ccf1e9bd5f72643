use dal::TextEnum;

#[derive(Debug, Clone, TextEnum)]
#[text(rename_all = "snake")]
pub enum Mode {
    Paper,
    Live,
}

fn main() {}

use dal::TextEnum;

#[derive(Debug, Clone, TextEnum)]
pub enum Never {}

fn main() {}

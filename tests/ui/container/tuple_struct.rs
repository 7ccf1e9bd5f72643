use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Trade(Uuid, f64);

fn main() {}

use std::collections::HashMap;

use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
    pub legs: HashMap<String, f64>,
}

fn main() {}

//! The type's name does not tell the derive it is an integer: the check runs on its storage kind.

use dal::Entity;
use uuid::Uuid;

pub type VenueId = i64;

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
    #[entity(symbol)]
    pub venue: VenueId,
}

fn main() {}

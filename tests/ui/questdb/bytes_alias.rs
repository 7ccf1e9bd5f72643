use chrono::{DateTime, Utc};
use dal::Entity;

pub type Signature = Vec<u8>;

#[derive(Clone, Entity)]
#[entity(questdb())]
pub struct Trade {
    #[entity(timestamp)]
    pub ts: DateTime<Utc>,
    pub signature: Signature,
}

fn main() {}

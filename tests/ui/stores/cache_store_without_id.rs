#[path = "../support/every_store.rs"]
mod every_store;

use chrono::{DateTime, Utc};
use dal::{CacheStore, Entity, Keyed, Repository};
use every_store::Every;

#[derive(Clone, Entity)]
pub struct LogLine {
    #[entity(timestamp)]
    pub ts: DateTime<Utc>,
    pub message: String,
}

fn needs_cache<T: Keyed, S: CacheStore<T>>(_: &S) {}

fn main() {
    needs_cache(&Repository::<LogLine, Every>::new(Every));
}

#[path = "../support/every_store.rs"]
mod every_store;

use chrono::{DateTime, Utc};
use dal::{Entity, Keyed, RecordStore, Repository};
use every_store::Every;

#[derive(Clone, Entity)]
pub struct LogLine {
    #[entity(timestamp)]
    pub ts: DateTime<Utc>,
    pub message: String,
}

fn needs_records<T: Keyed, S: RecordStore<T>>(_: &S) {}

fn main() {
    needs_records(&Repository::<LogLine, Every>::new(Every));
}

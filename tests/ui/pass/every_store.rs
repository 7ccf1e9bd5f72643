//! The positive control for stores/: a derived entity with ids and a timestamp is every store.

#[path = "../support/every_store.rs"]
mod every_store;

use chrono::{DateTime, Utc};
use dal::{
    CacheStore, Entity, Keyed, MetricsStore, RecordStore, Repository, TimeSeries, TimeSeriesStore,
};
use every_store::Every;

#[derive(Clone, Entity)]
#[entity(redis(key = "fill:{venue}:{id}", ttl = "500ms"))]
pub struct Fill {
    #[entity(id)]
    pub venue: String,
    #[entity(id)]
    pub id: i64,
    #[entity(timestamp)]
    pub ts: DateTime<Utc>,
    pub qty: f64,
}

fn needs_all<T, S>(_: &S)
where
    T: Keyed + TimeSeries,
    S: RecordStore<T> + TimeSeriesStore<T> + MetricsStore<T> + CacheStore<T>,
{
}

fn main() {
    needs_all(&Repository::<Fill, Every>::new(Every));
    let key: <Fill as Keyed>::Key = ("v:1".to_owned(), 7);
    let mut rendered = String::new();
    dal::key::encode_key::<Fill>(&key, &mut rendered).unwrap();
    assert_eq!(rendered, "fill:v%3A1:7");
    assert_eq!(
        Fill::META.default_ttl,
        Some(std::time::Duration::from_millis(500))
    );
    assert_eq!(Fill::META.id_fields, &[0, 1]);
}

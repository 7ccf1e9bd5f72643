#[path = "../support/every_store.rs"]
mod every_store;

use dal::{Entity, MetricsStore, Repository, TimeSeries};
use every_store::Every;

#[derive(Clone, Entity)]
pub struct TokenInfo {
    #[entity(id)]
    pub mint: String,
    pub decimals: i16,
}

fn needs_metrics<T: TimeSeries, S: MetricsStore<T>>(_: &S) {}

fn main() {
    needs_metrics(&Repository::<TokenInfo, Every>::new(Every));
}

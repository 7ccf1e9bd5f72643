#[path = "../support/every_store.rs"]
mod every_store;

use dal::{Entity, Repository, TimeSeries, TimeSeriesStore};
use every_store::Every;

#[derive(Clone, Entity)]
pub struct TokenInfo {
    #[entity(id)]
    pub mint: String,
    pub decimals: i16,
}

fn needs_series<T: TimeSeries, S: TimeSeriesStore<T>>(_: &S) {}

fn main() {
    needs_series(&Repository::<TokenInfo, Every>::new(Every));
}

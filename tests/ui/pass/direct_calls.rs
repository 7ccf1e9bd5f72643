//! Store methods called directly on repositories: without importing the store traits, with them
//! imported (no ambiguity, no unused import), and through one generic bound.

#![deny(warnings)]

use chrono::{DateTime, TimeZone, Utc};
use dal::{Entity, Filter, Keyed, Memory, RangeQuery, Repository};

#[derive(Debug, Clone, PartialEq, Entity)]
pub struct Fill {
    #[entity(id)]
    pub id: i64,
    #[entity(timestamp)]
    pub ts: DateTime<Utc>,
    pub qty: f64,
}

fn fill(id: i64) -> Fill {
    Fill {
        id,
        ts: Utc.timestamp_opt(1_700_000_000 + id, 0).unwrap(),
        qty: id as f64,
    }
}

/// No store trait in scope.
async fn direct(fills: &Repository<Fill, Memory>) -> dal::Result<()> {
    fills.save(&fill(1)).await?;
    assert_eq!(fills.get(&1).await?, Some(fill(1)));
    assert_eq!(fills.get_required(&1).await?, fill(1));
    assert_eq!(fills.list_all(Filter::all()).await?, vec![fill(1)]);
    fills.append(&fill(2)).await?;
    let start = Utc.timestamp_opt(1_600_000_000, 0).unwrap();
    let end = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
    assert_eq!(fills.range(&RangeQuery::new(start, end)).await?, vec![fill(2)]);
    fills.put(&fill(3)).await?;
    assert_eq!(fills.lookup(&3).await?, Some(fill(3)));
    Ok(())
}

/// The traits in scope: the same calls resolve to the trait methods.
mod imported {
    use super::*;
    use dal::{CacheStore, RecordStore, RecordStoreExt};

    pub(super) async fn direct(fills: &Repository<Fill, Memory>) -> dal::Result<()> {
        assert!(fills.delete(&1).await?);
        assert!(fills.get_required(&1).await.is_err());
        assert!(fills.invalidate(&3).await?);
        Ok(())
    }

    /// Generic code over one store bound still works.
    pub(super) async fn generic<T: Keyed, S: RecordStore<T> + CacheStore<T>>(
        store: &S,
        item: &T,
    ) -> dal::Result<bool> {
        store.save(item).await?;
        store.put(item).await?;
        Ok(store.get(&item.key()).await?.is_some() && store.lookup(&item.key()).await?.is_some())
    }
}

/// Generic code over the repository with backend bounds, no trait in scope.
async fn generic_repository<T: Keyed, B: dal::RecordBackend>(
    repo: &Repository<T, B>,
    item: &T,
) -> dal::Result<bool> {
    repo.save(item).await?;
    Ok(repo.get(&item.key()).await?.is_some())
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let fills = Repository::<Fill, Memory>::new(Memory::new());
        direct(&fills).await.unwrap();
        imported::direct(&fills).await.unwrap();
        assert!(imported::generic(&fills, &fill(4)).await.unwrap());
        assert!(generic_repository(&fills, &fill(5)).await.unwrap());
    });
}

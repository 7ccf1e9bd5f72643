//! Operation sequences over a TTL cache.
//!
//! TTLs are long (no entry expires during a sequence: expiry itself is pinned by the example
//! cases with a controlled clock), so every difference is one of value or bookkeeping;
//! `remaining_ttl` is compared to within a few seconds of the reference.

use std::time::Duration;

use proptest::prelude::*;

use super::Shape;
use super::compare::{
    as_stored, check_batch, check_many, check_one, check_write, read_failed, same_opt,
    with_first_batch,
};
use super::records::{KeyPick, key_pick};
use crate::backend::CacheBackend;
use crate::entity::Keyed;
use crate::memory::Memory;
use crate::repository::Repository;
use crate::store::CacheStore;

/// How far `remaining_ttl` may be from the reference's: both count down from the same TTL in
/// the same sequence, a few round trips apart.
const TTL_SLACK: Duration = Duration::from_secs(5);

/// One operation of a cache sequence. A TTL of 0 seconds must be refused by both.
#[derive(Debug, Clone)]
pub(super) enum CacheOp<T> {
    Put(T),
    PutWithTtl(T, u64),
    PutAll(Vec<T>),
    Lookup(KeyPick<T>),
    LookupMany(Vec<KeyPick<T>>),
    Invalidate(KeyPick<T>),
    RemainingTtl(KeyPick<T>),
}

pub(super) fn sequence<T: Shape + Keyed>(max_ops: usize) -> BoxedStrategy<Vec<CacheOp<T>>> {
    let ttl = prop_oneof![6 => 60u64..86_400, 1 => Just(0u64)];
    let op = prop_oneof![
        3 => T::strategy().prop_map(CacheOp::Put),
        2 => (T::strategy(), ttl).prop_map(|(row, ttl)| CacheOp::PutWithTtl(row, ttl)),
        2 => proptest::collection::vec(T::strategy(), 0..6).prop_map(CacheOp::PutAll),
        3 => key_pick::<T>().prop_map(CacheOp::Lookup),
        1 => proptest::collection::vec(key_pick::<T>(), 0..5).prop_map(CacheOp::LookupMany),
        1 => key_pick::<T>().prop_map(CacheOp::Invalidate),
        1 => key_pick::<T>().prop_map(CacheOp::RemainingTtl),
    ];
    with_first_batch(T::strategy(), op, 1..4, max_ops, CacheOp::PutAll)
}

pub(super) async fn run<T: Shape + Keyed, B: CacheBackend>(
    backend: B,
    reference: Memory,
    ops: Vec<CacheOp<T>>,
) -> Result<(), String> {
    let caps = backend.capabilities();
    let b: Repository<T, B> = Repository::new(backend);
    let m: Repository<T, Memory> = Repository::new(reference);
    let mut seen: Vec<T> = Vec::new();
    for (n, op) in ops.iter().enumerate() {
        let at = |s: String| format!("operation {n}: {s}");
        match op {
            CacheOp::Put(row) => {
                seen.push(row.clone());
                let expected = caps.limits.check(row);
                let got = b.put(row).await;
                if check_write("put", row, &expected, &got).map_err(at)? {
                    m.put(&as_stored(row, &caps))
                        .await
                        .map_err(|e| at(format!("the reference refused it: {e}")))?;
                }
            }
            CacheOp::PutWithTtl(row, secs) => {
                seen.push(row.clone());
                let ttl = Duration::from_secs(*secs);
                let got = b.put_with_ttl(row, ttl).await;
                if *secs == 0 {
                    let want = m.put_with_ttl(&as_stored(row, &caps), ttl).await;
                    let both_refused = matches!(
                        (&want, &got),
                        (
                            Err(crate::Error::Validation { .. }),
                            Err(crate::Error::Validation { .. })
                        )
                    );
                    if !both_refused {
                        return Err(at(format!(
                            "a zero TTL gave {got:?}, the reference {want:?}"
                        )));
                    }
                    continue;
                }
                let expected = caps.limits.check(row);
                if check_write("put_with_ttl", row, &expected, &got).map_err(at)? {
                    m.put_with_ttl(&as_stored(row, &caps), ttl)
                        .await
                        .map_err(|e| at(format!("the reference refused it: {e}")))?;
                }
            }
            CacheOp::PutAll(rows) => {
                seen.extend(rows.iter().cloned());
                let report = b.put_all(rows).await;
                let kept = check_batch("put_all", rows, &caps, report).map_err(at)?;
                m.put_all(&kept)
                    .await
                    .map_err(|e| at(format!("the reference refused it: {e}")))?;
            }
            CacheOp::Lookup(pick) => {
                let Some(key) = pick.key(&seen) else { continue };
                let want = m.lookup(&key).await.map_err(|e| at(e.to_string()))?;
                let got = b.lookup(&key).await;
                check_one::<T, _>("lookup", &key, &caps, got, &want, same_opt, want.is_none())
                    .map_err(at)?;
            }
            CacheOp::LookupMany(picks) => {
                let keys: Vec<T::Key> = picks.iter().filter_map(|p| p.key(&seen)).collect();
                let want = m.lookup_many(&keys).await.map_err(|e| at(e.to_string()))?;
                let got = b.lookup_many(&keys).await;
                check_many("lookup_many", &keys, &caps, got, &want).map_err(at)?;
            }
            CacheOp::Invalidate(pick) => {
                let Some(key) = pick.key(&seen) else { continue };
                let want = m.invalidate(&key).await.map_err(|e| at(e.to_string()))?;
                let got = b.invalidate(&key).await;
                check_one::<T, _>("invalidate", &key, &caps, got, &want, bool::eq, !want)
                    .map_err(at)?;
            }
            CacheOp::RemainingTtl(pick) => {
                let Some(key) = pick.key(&seen) else { continue };
                let want = m.remaining_ttl(&key).await.map_err(|e| at(e.to_string()))?;
                let got = match b.remaining_ttl(&key).await {
                    Ok(got) => got,
                    Err(_) if want.is_none() && caps.limits.check_key::<T>(&key).is_err() => {
                        continue;
                    }
                    Err(e) => return Err(at(read_failed("remaining_ttl", &e))),
                };
                let ok = match (got, want) {
                    (Some(g), Some(w)) => g.abs_diff(w) <= TTL_SLACK,
                    (None, None) => true,
                    _ => false,
                };
                if !ok {
                    return Err(at(format!(
                        "remaining_ttl({key:?}) returned {got:?}, the reference {want:?}"
                    )));
                }
            }
        }
    }
    let keys: Vec<T::Key> = seen.iter().map(Keyed::key).collect();
    let want = m.lookup_many(&keys).await.map_err(|e| e.to_string())?;
    let got = b
        .lookup_many(&keys)
        .await
        .map_err(|e| read_failed("lookup_many of every key at the end", &e))?;
    if got.len() != want.len() || !got.iter().zip(&want).all(|(g, w)| same_opt(g, w)) {
        return Err(format!(
            "at the end, lookup_many returned\n{got:#?}\nthe reference\n{want:#?}"
        ));
    }
    Ok(())
}

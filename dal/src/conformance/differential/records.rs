//! Operation sequences over a record store.

use proptest::prelude::*;
use proptest::sample::Index;

use super::Shape;
use super::compare::with_first_batch;
use super::compare::{
    FilterPick, as_stored, as_stored_filter, build_filter, check_batch, check_many, check_one,
    check_write, difference, read_failed, same_list, same_opt,
};
use crate::backend::RecordBackend;
use crate::entity::Keyed;
use crate::memory::Memory;
use crate::query::ListQuery;
use crate::repository::Repository;
use crate::store::RecordStore;

/// A key: one of a row seen earlier in the sequence (so reads hit), or of a fresh row.
#[derive(Debug, Clone)]
pub(super) enum KeyPick<T> {
    Seen(Index),
    Fresh(T),
}

impl<T: Keyed> KeyPick<T> {
    /// The key; `None` for `Seen` before any row (the operation is then skipped).
    pub(super) fn key(&self, seen: &[T]) -> Option<T::Key> {
        match self {
            KeyPick::Seen(_) if seen.is_empty() => None,
            KeyPick::Seen(i) => Some(i.get(seen).key()),
            KeyPick::Fresh(row) => Some(row.key()),
        }
    }
}

pub(super) fn key_pick<T: Shape + Keyed>() -> impl Strategy<Value = KeyPick<T>> {
    prop_oneof![
        3 => any::<Index>().prop_map(KeyPick::Seen),
        1 => T::strategy().prop_map(KeyPick::Fresh),
    ]
}

pub(super) fn filter_pick() -> impl Strategy<Value = Option<FilterPick>> {
    proptest::option::weighted(
        0.7,
        (any::<Index>(), any::<u8>(), any::<Index>()).prop_map(|(field, op, row)| FilterPick {
            field,
            op,
            row,
        }),
    )
}

/// One operation of a record sequence.
#[derive(Debug, Clone)]
pub(super) enum RecordOp<T> {
    Save(T),
    SaveAll(Vec<T>),
    Get(KeyPick<T>),
    GetMany(Vec<KeyPick<T>>),
    List {
        filter: Option<FilterPick>,
        page: usize,
    },
    Delete(KeyPick<T>),
}

pub(super) fn sequence<T: Shape + Keyed>(max_ops: usize) -> BoxedStrategy<Vec<RecordOp<T>>> {
    let rows = || proptest::collection::vec(T::strategy(), 0..6);
    let op = prop_oneof![
        3 => T::strategy().prop_map(RecordOp::Save),
        2 => rows().prop_map(RecordOp::SaveAll),
        2 => key_pick::<T>().prop_map(RecordOp::Get),
        1 => proptest::collection::vec(key_pick::<T>(), 0..5).prop_map(RecordOp::GetMany),
        2 => (filter_pick(), 1usize..5).prop_map(|(filter, page)| RecordOp::List { filter, page }),
        1 => key_pick::<T>().prop_map(RecordOp::Delete),
    ];
    with_first_batch(T::strategy(), op, 1..4, max_ops, RecordOp::SaveAll)
}

/// Every page of `list` with `filter`, to the end.
async fn list_all<T: Keyed, S: RecordStore<T>>(
    store: &S,
    filter: &crate::query::Filter<T>,
    page: usize,
    bound: usize,
) -> Result<Vec<T>, String> {
    let mut out = Vec::new();
    let mut cursor = None;
    for _ in 0..=bound + 1 {
        let query = ListQuery::new(filter.clone(), page).after(cursor.take());
        let got = store
            .list(&query)
            .await
            .map_err(|e| read_failed("list", &e))?;
        if got.items.len() > page {
            return Err(format!(
                "list returned {} items for a page of {page}",
                got.items.len()
            ));
        }
        out.extend(got.items);
        match got.next {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
    Err(format!(
        "list did not end within {} pages of {page}",
        bound + 2
    ))
}

pub(super) async fn run<T: Shape + Keyed, B: RecordBackend>(
    backend: B,
    reference: Memory,
    ops: Vec<RecordOp<T>>,
) -> Result<(), String> {
    let caps = backend.capabilities();
    let b: Repository<T, B> = Repository::new(backend);
    let m: Repository<T, Memory> = Repository::new(reference);
    let mut seen: Vec<T> = Vec::new();
    for (n, op) in ops.iter().enumerate() {
        let at = |s: String| format!("operation {n} ({}): {s}", op_name(op));
        match op {
            RecordOp::Save(row) => {
                seen.push(row.clone());
                let expected = caps.limits.check(row);
                let got = b.save(row).await;
                if check_write("save", row, &expected, &got).map_err(at)? {
                    m.save(&as_stored(row, &caps))
                        .await
                        .map_err(|e| at(format!("the reference refused it: {e}")))?;
                }
            }
            RecordOp::SaveAll(rows) => {
                seen.extend(rows.iter().cloned());
                let report = b.save_all(rows).await;
                let kept = check_batch("save_all", rows, &caps, report).map_err(at)?;
                m.save_all(&kept)
                    .await
                    .map_err(|e| at(format!("the reference refused it: {e}")))?;
            }
            RecordOp::Get(pick) => {
                let Some(key) = pick.key(&seen) else { continue };
                let want = m.get(&key).await.map_err(|e| at(e.to_string()))?;
                let got = b.get(&key).await;
                check_one::<T, _>("get", &key, &caps, got, &want, same_opt, want.is_none())
                    .map_err(at)?;
            }
            RecordOp::GetMany(picks) => {
                let keys: Vec<T::Key> = picks.iter().filter_map(|p| p.key(&seen)).collect();
                let want = m.get_many(&keys).await.map_err(|e| at(e.to_string()))?;
                check_many("get_many", &keys, &caps, b.get_many(&keys).await, &want).map_err(at)?;
            }
            RecordOp::List { filter, page } => {
                let filter = build_filter(filter, &seen);
                let reference_filter = as_stored_filter(&filter, &caps);
                let want = list_all(&m, &reference_filter, *page, seen.len())
                    .await
                    .map_err(at)?;
                let got = list_all(&b, &filter, *page, seen.len()).await.map_err(at)?;
                if !same_list(&got, &want) {
                    return Err(at(format!(
                        "list({:?}, page {page}) returned {}",
                        filter.conditions(),
                        difference(&got, &want)
                    )));
                }
            }
            RecordOp::Delete(pick) => {
                let Some(key) = pick.key(&seen) else { continue };
                let want = m.delete(&key).await.map_err(|e| at(e.to_string()))?;
                let got = b.delete(&key).await;
                check_one::<T, _>("delete", &key, &caps, got, &want, bool::eq, !want)
                    .map_err(at)?;
            }
        }
    }
    // Whatever was accepted must still read back, every row at once.
    let all = crate::query::Filter::all();
    let want = list_all(&m, &all, 1000, seen.len()).await?;
    let got = list_all(&b, &all, 1000, seen.len()).await?;
    if !same_list(&got, &want) {
        return Err(format!(
            "at the end, list returned {}",
            difference(&got, &want)
        ));
    }
    Ok(())
}

fn op_name<T>(op: &RecordOp<T>) -> &'static str {
    match op {
        RecordOp::Save(_) => "save",
        RecordOp::SaveAll(_) => "save_all",
        RecordOp::Get(_) => "get",
        RecordOp::GetMany(_) => "get_many",
        RecordOp::List { .. } => "list",
        RecordOp::Delete(_) => "delete",
    }
}

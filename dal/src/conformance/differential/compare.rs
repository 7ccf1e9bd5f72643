//! How the differential suite compares a backend's answers with the reference's, and what it
//! does to the reference's input so that declared differences do not count.

use std::fmt::Debug;
use std::time::Duration;

use chrono::{DateTime, Utc};
use proptest::sample::Index;

use crate::backend::Capabilities;
use crate::entity::{Entity, EntityMeta, FieldKind, FieldMeta};
use crate::error::{Error, Result};
use crate::query::{CmpOp, Condition, Filter};
use crate::value::{RowCapture, RowDecoder, Value};

/// The captured values of an entity, in field order.
pub(super) fn row_of<T: Entity>(entity: &T) -> Vec<Value> {
    let mut capture = RowCapture(Vec::with_capacity(T::META.fields.len()));
    // A shape's encode only fails for values no strategy draws (a JSON serializer error).
    match entity.encode(&mut capture) {
        Ok(()) => capture.0,
        Err(_) => Vec::new(),
    }
}

/// Equal as stored: floats bit for bit (any NaN equals any NaN), decimals with their scale.
pub(super) fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::F64(x), Value::F64(y)) => (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits(),
        (Value::F32(x), Value::F32(y)) => (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits(),
        (Value::Decimal(x), Value::Decimal(y)) => x == y && x.scale() == y.scale(),
        (Value::Json(x), Value::Json(y)) => {
            x == y
                || serde_json::from_str::<serde_json::Value>(x).ok()
                    == serde_json::from_str::<serde_json::Value>(y).ok()
        }
        _ => a == b,
    }
}

/// Equal rows, by [`same_value`].
pub(super) fn same_row<T: Entity>(a: &T, b: &T) -> bool {
    let (a, b) = (row_of(a), row_of(b));
    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| same_value(x, y))
}

/// Equal optional rows.
pub(super) fn same_opt<T: Entity>(a: &Option<T>, b: &Option<T>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => same_row(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// The same rows in the same order.
pub(super) fn same_list<T: Entity>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_row(x, y))
}

/// The same rows in any order.
pub(super) fn same_multiset<T: Entity>(a: &[T], b: &[T]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut used = vec![false; b.len()];
    a.iter().all(|x| {
        let found = (0..b.len()).find(|&i| !used[i] && same_row(x, &b[i]));
        found.map(|i| used[i] = true).is_some()
    })
}

/// What differs between two lists of rows, for a failure message: the rows each side has that
/// the other lacks (as multisets), or the first position where the order differs.
pub(super) fn difference<T: Entity + Debug>(got: &[T], want: &[T]) -> String {
    let unmatched = |a: &[T], b: &[T]| -> Vec<String> {
        let mut used = vec![false; b.len()];
        a.iter()
            .filter(
                |x| match (0..b.len()).find(|&i| !used[i] && same_row(*x, &b[i])) {
                    Some(i) => {
                        used[i] = true;
                        false
                    }
                    None => true,
                },
            )
            .map(|x| format!("{:?}", row_of(x)))
            .collect()
    };
    let only_got = unmatched(got, want);
    let only_want = unmatched(want, got);
    if only_got.is_empty() && only_want.is_empty() {
        let at = got.iter().zip(want).position(|(g, w)| !same_row(g, w));
        return format!(
            "the same {} rows in another order (first difference at position {at:?})",
            got.len()
        );
    }
    format!(
        "{} rows against the reference's {}\nonly in the backend:\n  {}\nonly in the reference:\n  {}",
        got.len(),
        want.len(),
        only_got.join("\n  "),
        only_want.join("\n  ")
    )
}

/// Floors `ts` to a multiple of `step` since the Unix epoch.
pub(super) fn floor_timestamp(ts: DateTime<Utc>, step: Duration) -> DateTime<Utc> {
    let step = step.as_nanos().max(1) as i128;
    let nanos =
        i128::from(ts.timestamp()) * 1_000_000_000 + i128::from(ts.timestamp_subsec_nanos());
    let floored = nanos.div_euclid(step) * step;
    let secs = floored.div_euclid(1_000_000_000);
    let sub = floored.rem_euclid(1_000_000_000);
    i64::try_from(secs)
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, sub as u32))
        .unwrap_or(ts)
}

/// What the backend is expected to store for `entity`: every timestamp floored to its precision.
/// The reference gets this row, so a declared truncation is no difference.
pub(super) fn as_stored<T: Entity + Clone>(entity: &T, caps: &Capabilities) -> T {
    if caps.timestamp_precision <= Duration::from_nanos(1) {
        return entity.clone();
    }
    let mut row = row_of(entity);
    for v in &mut row {
        if let Value::Timestamp(ts) = v {
            *ts = floor_timestamp(*ts, caps.timestamp_precision);
        }
    }
    T::decode(&mut RowDecoder::new(&row)).unwrap_or_else(|_| entity.clone())
}

/// A query timestamp as the store sees it: truncated like a stored one (so a bound or filter
/// value with nanoseconds on a microsecond store means its microsecond).
pub(super) fn as_stored_ts(ts: DateTime<Utc>, caps: &Capabilities) -> DateTime<Utc> {
    if caps.timestamp_precision <= Duration::from_nanos(1) {
        return ts;
    }
    floor_timestamp(ts, caps.timestamp_precision)
}

/// The reference's copy of a filter: timestamp values truncated as the store truncates them.
pub(super) fn as_stored_filter<T>(filter: &Filter<T>, caps: &Capabilities) -> Filter<T> {
    let fix = |v: &Value| match v {
        Value::Timestamp(ts) => Value::Timestamp(as_stored_ts(*ts, caps)),
        other => other.clone(),
    };
    let conditions = filter
        .conditions()
        .iter()
        .map(|c| match c {
            Condition::Cmp { field, op, value } => Condition::Cmp {
                field,
                op: *op,
                value: fix(value),
            },
            Condition::In { field, values } => Condition::In {
                field,
                values: values.iter().map(fix).collect(),
            },
            other => other.clone(),
        })
        .collect();
    Filter::__from_conditions(conditions)
}

/// Whether `e` is a refusal the contract allows for a value outside the limits: a validation
/// error naming this entity and one of its fields.
pub(super) fn is_field_refusal(meta: &EntityMeta, e: &Error) -> bool {
    matches!(e, Error::Validation { entity, field: Some(f), .. }
        if *entity == meta.name && meta.field(f).is_some())
}

/// Checks one write's outcome against what the limits say about the row.
pub(super) fn check_write<T: Entity + Debug>(
    what: &str,
    row: &T,
    expected: &Result<()>,
    got: &Result<()>,
) -> std::result::Result<bool, String> {
    match (expected, got) {
        (Ok(()), Ok(())) => Ok(true),
        (Err(_), Err(e)) if is_field_refusal(T::META, e) => Ok(false),
        (Err(why), Err(e)) => Err(format!(
            "{what} of a value outside the declared limits ({why}) failed with `{e}`, not a \
             Validation error naming {} and the field: {row:?}",
            T::META.name
        )),
        (Ok(()), Err(e)) => Err(format!(
            "{what} refused a value its declared Limits allow: `{e}` ({e:?}); declare the \
             limit or store the value: {row:?}"
        )),
        (Err(why), Ok(())) => Err(format!(
            "{what} accepted a value outside its declared limits ({why}): {row:?}"
        )),
    }
}

/// Checks a batch report against the items the limits refuse; returns the accepted items as the
/// store keeps them ([`as_stored`]), for the reference.
pub(super) fn check_batch<T: Entity + Debug>(
    what: &str,
    rows: &[T],
    caps: &Capabilities,
    report: Result<crate::query::BatchReport>,
) -> std::result::Result<Vec<T>, String> {
    let expected: Vec<Result<()>> = rows.iter().map(|r| caps.limits.check(r)).collect();
    let report = report.map_err(|e| {
        format!("{what} failed as a whole (`{e}`); a batch reports refused items one by one")
    })?;
    let mut accepted = vec![true; rows.len()];
    for (index, e) in &report.failed {
        let Some(slot) = accepted.get_mut(*index) else {
            return Err(format!("{what} reported item {index} of {}", rows.len()));
        };
        *slot = false;
        if expected[*index].is_ok() {
            return Err(format!(
                "{what} refused item {index}, which the declared Limits allow: `{e}`: {:?}",
                rows[*index]
            ));
        }
        if !is_field_refusal(T::META, e) {
            return Err(format!(
                "{what} refused item {index} with `{e}`, not a Validation error naming the field"
            ));
        }
    }
    for (index, ok) in accepted.iter().enumerate() {
        if *ok && expected[index].is_err() {
            return Err(format!(
                "{what} accepted item {index}, outside the declared limits ({:?}): {:?}",
                expected[index].as_ref().err(),
                rows[index]
            ));
        }
    }
    let kept: Vec<T> = rows
        .iter()
        .zip(&accepted)
        .filter(|(_, ok)| **ok)
        .map(|(r, _)| as_stored(r, caps))
        .collect();
    if report.written != kept.len() {
        return Err(format!(
            "{what} says {} written, but {} items were not refused",
            report.written,
            kept.len()
        ));
    }
    Ok(kept)
}

/// Checks a single-key answer (`get`, `lookup`: the row; `delete`, `invalidate`: whether it
/// existed) against the reference's; a key the store cannot hold may fail instead, when the
/// reference found nothing.
pub(super) fn check_one<T: crate::Keyed, R: Debug>(
    what: &str,
    key: &T::Key,
    caps: &Capabilities,
    got: Result<R>,
    want: &R,
    same: impl Fn(&R, &R) -> bool,
    absent: bool,
) -> std::result::Result<(), String> {
    match got {
        Ok(got) if same(&got, want) => Ok(()),
        Ok(got) => Err(format!(
            "{what}({key:?}) returned {got:?}, the reference {want:?}"
        )),
        Err(_) if absent && caps.limits.check_key::<T>(key).is_err() => Ok(()),
        Err(e) => Err(read_failed(what, &e)),
    }
}

/// A sequence that starts with a batch of rows (`first`), so later picks have rows to pick from.
pub(super) fn with_first_batch<T: Debug + Clone + 'static, Op: Debug + Clone + 'static>(
    rows: proptest::strategy::BoxedStrategy<T>,
    op: impl proptest::strategy::Strategy<Value = Op> + 'static,
    batch: std::ops::Range<usize>,
    max_ops: usize,
    first: fn(Vec<T>) -> Op,
) -> proptest::strategy::BoxedStrategy<Vec<Op>> {
    use proptest::strategy::Strategy;
    (
        proptest::collection::vec(rows, batch).prop_map(first),
        proptest::collection::vec(op, 0..max_ops),
    )
        .prop_map(|(first, mut rest)| {
            rest.insert(0, first);
            rest
        })
        .boxed()
}

/// Checks a multi-key read (`get_many`, `lookup_many`): one slot per key, each as the
/// reference's; a read that names a key the store cannot hold may fail instead.
pub(super) fn check_many<T: crate::Keyed + Debug>(
    what: &str,
    keys: &[T::Key],
    caps: &Capabilities,
    got: Result<Vec<Option<T>>>,
    want: &[Option<T>],
) -> std::result::Result<(), String> {
    match got {
        Ok(got) if got.len() == want.len() && got.iter().zip(want).all(|(g, w)| same_opt(g, w)) => {
            Ok(())
        }
        Ok(got) => Err(format!(
            "{what}({keys:?}) returned {got:?}, the reference {want:?}"
        )),
        Err(_) if keys.iter().any(|k| caps.limits.check_key::<T>(k).is_err()) => Ok(()),
        Err(e) => Err(read_failed(what, &e)),
    }
}

/// A generated filter: a field, an operator and a value taken from a row seen in the sequence.
#[derive(Debug, Clone)]
pub(super) struct FilterPick {
    pub(super) field: Index,
    pub(super) op: u8,
    pub(super) row: Index,
}

/// Fields a generated filter may compare. JSON is compared by equality only (a JSONB order is
/// not a text order).
fn filterable(field: &FieldMeta) -> bool {
    !matches!(field.kind, FieldKind::Bytes)
}

/// The filter a pick names, over rows seen so far (`None`: every row).
pub(super) fn build_filter<T: Entity>(pick: &Option<FilterPick>, seen: &[T]) -> Filter<T> {
    let fields: Vec<&'static FieldMeta> = T::META.fields.iter().filter(|f| filterable(f)).collect();
    let (Some(pick), false, false) = (pick, seen.is_empty(), fields.is_empty()) else {
        return Filter::all();
    };
    let field = fields[pick.field.index(fields.len())];
    let value = row_of(pick.row.get(seen))
        .get(field.index)
        .cloned()
        .unwrap_or(Value::Null);
    let ops = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ];
    let condition = match pick.op % 9 {
        n @ 0..=5 => {
            let op = if field.kind == FieldKind::Json {
                ops[usize::from(n % 2)]
            } else {
                ops[usize::from(n)]
            };
            Condition::Cmp { field, op, value }
        }
        6 => Condition::In {
            field,
            values: vec![value],
        },
        7 => Condition::IsNull {
            field,
            negated: false,
        },
        _ => Condition::IsNull {
            field,
            negated: true,
        },
    };
    Filter::__from_conditions(vec![condition])
}

/// A short description of a read failure for the report.
pub(super) fn read_failed(what: &str, e: &Error) -> String {
    format!("{what} failed after accepted writes: `{e}` ({e:?})")
}

/// Two floats from aggregates: equal, both NaN, or within 1e-9 relative.
pub(super) fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300)
}

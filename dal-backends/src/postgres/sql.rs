//! Statement text built at run time: queries whose text depends on their shape (which filter
//! conditions, which order, whether there is a limit) and the batch statements. Each distinct
//! shape is built once per entity and cached, so the hot path only binds values, and sqlx's
//! per-connection prepared-statement cache sees one text per shape.
//!
//! Values are always bind parameters, never spliced into the text. Text comparisons and key
//! order use `COLLATE "C"` so results order exactly as [`dal::Value::total_cmp`] (bytewise),
//! whatever the database's default collation.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use dal::query::{CmpOp, Condition};
use dal::{Aggregate, Entity, EntityMeta, FieldKind, FieldMeta, Order};

use super::ddl::{TableRole, push_ident};

/// An entity (its Rust type: `T::META` is a `const`, whose address is not stable across crates
/// and codegen units) and a statement shape.
type ShapeKey = (TypeId, Vec<u32>);

/// Cached statement text per (entity, shape).
#[derive(Default)]
pub(crate) struct StatementCache {
    map: RwLock<HashMap<ShapeKey, Arc<str>>>,
}

impl StatementCache {
    /// The statement for `T` and `shape`, built by `build` on first use.
    pub(crate) fn get<T: Entity>(
        &self,
        shape: Vec<u32>,
        build: impl FnOnce() -> String,
    ) -> Arc<str> {
        let key = (TypeId::of::<T>(), shape);
        if let Some(s) = self.map.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Arc::clone(s);
        }
        let text: Arc<str> = build().into();
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        Arc::clone(map.entry(key).or_insert(text))
    }

    /// How many statements are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Shape codes: the first element of a shape says which statement it is.
pub(crate) mod kind {
    pub(crate) const LIST: u32 = 1;
    pub(crate) const RANGE: u32 = 2;
    pub(crate) const LATEST: u32 = 3;
    pub(crate) const QUANTILE: u32 = 4;
    pub(crate) const SUMMARY: u32 = 5;
    pub(crate) const DOWNSAMPLE: u32 = 6;
    pub(crate) const GET_MANY: u32 = 7;
    pub(crate) const UNNEST_INSERT: u32 = 9;
    pub(crate) const UNNEST_UPSERT: u32 = 10;
    pub(crate) const STAGE_UPSERT: u32 = 11;
    pub(crate) const UNNEST_APPEND: u32 = 12;
    pub(crate) const STAGE_APPEND: u32 = 13;
    pub(crate) const WINDOW_VALUES: u32 = 14;
}

/// Appends the shape of `conditions` (field and operator of each).
pub(crate) fn shape_conditions(shape: &mut Vec<u32>, conditions: &[Condition]) {
    for c in conditions {
        let (field, tag) = match c {
            Condition::Cmp { field, op, .. } => (field, *op as u32),
            Condition::In { field, .. } => (field, 16),
            Condition::IsNull { field, negated } => (field, 17 + u32::from(*negated)),
        };
        shape.push(u32::try_from(field.index).unwrap_or(u32::MAX) << 8 | tag);
    }
}

/// A column reference, with `COLLATE "C"` for text so comparisons and order are bytewise.
fn push_col(sql: &mut String, f: &FieldMeta) {
    push_ident(sql, f.column);
    if f.kind == FieldKind::Text {
        sql.push_str(" COLLATE \"C\"");
    }
}

fn push_param(sql: &mut String, n: &mut usize) {
    *n += 1;
    sql.push('$');
    sql.push_str(&n.to_string());
}

fn is_float(f: &FieldMeta) -> bool {
    matches!(f.kind, FieldKind::F32 | FieldKind::F64)
}

/// The IEEE total order of a float as an integer (`f64::total_cmp`: the bits, with every bit
/// but the sign flipped for negative values), for comparisons where Postgres' float order
/// differs from it.
fn push_float_key(sql: &mut String, f: &FieldMeta, expr: &str) {
    let (send, bits, mask) = match f.kind {
        FieldKind::F32 => ("float4send", "32)::int4", "2147483647"),
        _ => ("float8send", "64)::int8", "9223372036854775807"),
    };
    let bits = format!("('x' || encode({send}({expr}), 'hex'))::bit({bits}");
    sql.push_str(&format!(
        "(CASE WHEN {bits} < 0 THEN {bits} # {mask} ELSE {bits} END)"
    ));
}

/// Whether a float expression is one where Postgres' order differs from IEEE total order:
/// Postgres has `-0 = 0` and every NaN equal, above every number.
fn push_float_special(sql: &mut String, expr: &str) {
    sql.push_str(&format!("{expr} = 'NaN' OR {expr} = 0"));
}

/// `column op $n` on a float column, in IEEE total order as filters compare
/// ([`dal::Value::total_cmp`]: `-0 < 0`, NaN by sign and payload). Outside zeros and NaN both
/// orders agree, so only those rows (or such a filter value) pay for the exact comparison.
/// Float columns are never indexed (no float ids or symbols), so no index is lost.
fn push_float_cmp(sql: &mut String, f: &FieldMeta, op: &str, param: &str) {
    let mut col = String::new();
    push_ident(&mut col, f.column);
    sql.push_str("(CASE WHEN ");
    push_float_special(sql, &col);
    sql.push_str(" OR ");
    push_float_special(sql, param);
    sql.push_str(" THEN ");
    push_float_key(sql, f, &col);
    sql.push_str(&format!(" {op} "));
    push_float_key(sql, f, param);
    sql.push_str(&format!(" ELSE {col} {op} {param} END)"));
}

/// `column = ANY($n)` on a float column, with equality in IEEE total order (see
/// [`push_float_cmp`]): a zero or NaN row equals only a list value with the same bits.
fn push_float_in(sql: &mut String, f: &FieldMeta, param: &str) {
    let mut col = String::new();
    push_ident(&mut col, f.column);
    sql.push_str("(CASE WHEN ");
    push_float_special(sql, &col);
    sql.push_str(" THEN ");
    push_float_key(sql, f, &col);
    sql.push_str(" = ANY(ARRAY(SELECT ");
    push_float_key(sql, f, "dal_e");
    sql.push_str(&format!(
        " FROM unnest({param}) AS dal_e)) ELSE {col} = ANY({param}) END)"
    ));
}

/// Appends ` AND cond` for each condition, numbering parameters after `n`.
pub(crate) fn push_conditions(sql: &mut String, conditions: &[Condition], n: &mut usize) {
    for c in conditions {
        sql.push_str(" AND ");
        match c {
            Condition::Cmp { field, op, .. } if is_float(field) => {
                let mut param = String::new();
                push_param(&mut param, n);
                push_float_cmp(sql, field, op.as_sql(), &param);
            }
            Condition::In { field, .. } if is_float(field) => {
                let mut param = String::new();
                push_param(&mut param, n);
                push_float_in(sql, field, &param);
            }
            Condition::Cmp { field, op, .. } => {
                match op {
                    CmpOp::Eq | CmpOp::Ne => push_ident(sql, field.column),
                    _ => push_col(sql, field),
                }
                sql.push(' ');
                sql.push_str(op.as_sql());
                sql.push(' ');
                push_param(sql, n);
            }
            Condition::In { field, .. } => {
                push_ident(sql, field.column);
                sql.push_str(" = ANY(");
                push_param(sql, n);
                sql.push(')');
            }
            Condition::IsNull { field, negated } => {
                push_ident(sql, field.column);
                sql.push_str(if *negated { " IS NOT NULL" } else { " IS NULL" });
            }
        }
    }
}

fn push_table(sql: &mut String, meta: &EntityMeta) {
    push_ident(sql, meta.table);
}

/// `SELECT cols FROM t WHERE TRUE [AND conds] [AND (ids) > ($..)] ORDER BY ids LIMIT $n`.
pub(crate) fn list(meta: &EntityMeta, conditions: &[Condition], after: bool) -> String {
    let mut sql = String::from(meta.pg.select);
    sql.push_str(" WHERE TRUE");
    let mut n = 0;
    push_conditions(&mut sql, conditions, &mut n);
    if after {
        sql.push_str(" AND (");
        for (i, f) in meta.ids().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            push_col(&mut sql, f);
        }
        sql.push_str(") > (");
        for (i, _) in meta.ids().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            push_param(&mut sql, &mut n);
        }
        sql.push(')');
    }
    sql.push_str(" ORDER BY ");
    for (i, f) in meta.ids().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        push_col(&mut sql, f);
    }
    sql.push_str(" LIMIT ");
    push_param(&mut sql, &mut n);
    sql
}

/// Appends `"ts" >= $a AND "ts" < $b` with the next two parameters.
fn push_window(sql: &mut String, ts: &FieldMeta, n: &mut usize) {
    push_ident(sql, ts.column);
    sql.push_str(" >= ");
    push_param(sql, n);
    sql.push_str(" AND ");
    push_ident(sql, ts.column);
    sql.push_str(" < ");
    push_param(sql, n);
}

/// `SELECT cols FROM t WHERE ts >= $1 AND ts < $2 [AND conds] ORDER BY ts [DESC] [LIMIT $n]`.
pub(crate) fn range(
    meta: &EntityMeta,
    ts: &FieldMeta,
    conditions: &[Condition],
    order: Order,
    limit: bool,
) -> String {
    let mut sql = String::from(meta.pg.select);
    sql.push_str(" WHERE ");
    let mut n = 0;
    push_window(&mut sql, ts, &mut n);
    push_conditions(&mut sql, conditions, &mut n);
    sql.push_str(" ORDER BY ");
    push_ident(&mut sql, ts.column);
    if order == Order::Desc {
        sql.push_str(" DESC");
    }
    if limit {
        sql.push_str(" LIMIT ");
        push_param(&mut sql, &mut n);
    }
    sql
}

/// `SELECT DISTINCT ON (by) cols FROM t WHERE TRUE [AND conds] ORDER BY by NULLS FIRST, ts DESC`
/// (a float `by` by its IEEE total order).
pub(crate) fn latest(
    meta: &EntityMeta,
    by: &FieldMeta,
    ts: &FieldMeta,
    conditions: &[Condition],
) -> String {
    let mut by_expr = String::new();
    if is_float(by) {
        // Groups as Value::total_cmp does: -0 and 0 apart, each NaN by its bits.
        let mut col = String::new();
        push_ident(&mut col, by.column);
        push_float_key(&mut by_expr, by, &col);
    } else {
        push_col(&mut by_expr, by);
    }
    let mut sql = format!("SELECT DISTINCT ON ({by_expr}) {} FROM ", meta.pg.columns);
    push_table(&mut sql, meta);
    sql.push_str(" WHERE TRUE");
    let mut n = 0;
    push_conditions(&mut sql, conditions, &mut n);
    sql.push_str(" ORDER BY ");
    sql.push_str(&by_expr);
    // NULL first, as in Value::total_cmp.
    sql.push_str(" NULLS FIRST, ");
    push_ident(&mut sql, ts.column);
    sql.push_str(" DESC");
    sql
}

/// The FROM/WHERE part of aggregates over `value` in a window; parameters `$first`.. are
/// start, end, then the conditions.
fn push_metric_from(
    sql: &mut String,
    meta: &EntityMeta,
    ts: &FieldMeta,
    value: &FieldMeta,
    conditions: &[Condition],
    n: &mut usize,
) {
    sql.push_str(" FROM ");
    push_table(sql, meta);
    sql.push_str(" WHERE ");
    push_window(sql, ts, n);
    sql.push_str(" AND ");
    push_ident(sql, value.column);
    sql.push_str(" IS NOT NULL");
    push_conditions(sql, conditions, n);
}

/// `SELECT percentile_cont($1) WITHIN GROUP (ORDER BY value) FROM t WHERE window ..`.
pub(crate) fn quantile(
    meta: &EntityMeta,
    ts: &FieldMeta,
    value: &FieldMeta,
    conditions: &[Condition],
) -> String {
    let mut sql = String::from("SELECT percentile_cont($1) WITHIN GROUP (ORDER BY ");
    push_ident(&mut sql, value.column);
    sql.push_str("::float8)");
    let mut n = 1;
    push_metric_from(&mut sql, meta, ts, value, conditions, &mut n);
    sql
}

/// `SELECT v::float8 [, bucket] FROM t WHERE window .. ORDER BY [bucket,] ts`: the window's
/// values as the aggregates of [`summary`] and [`downsample`] read them. Every value is converted
/// to `float8` before it is summed, as the memory backend sums in `f64` (`sum(real)` would sum in
/// single precision), and they come in time order, so a float sum adds in the order the memory
/// backend adds (and gives the same answer on every run: a parallel plan would not). A subquery
/// with `ORDER BY` is never flattened, and an aggregate over it consumes its rows in that order.
fn push_window_values(
    sql: &mut String,
    meta: &EntityMeta,
    ts: &FieldMeta,
    value: &FieldMeta,
    conditions: &[Condition],
    bucket: bool,
    n: &mut usize,
) {
    sql.push_str("(SELECT ");
    push_ident(sql, value.column);
    sql.push_str("::float8 AS dal_v");
    if bucket {
        sql.push_str(", floor(extract(epoch FROM ");
        push_ident(sql, ts.column);
        sql.push_str(") * 1000000 / $1)::int8 AS dal_bucket");
    }
    push_metric_from(sql, meta, ts, value, conditions, n);
    sql.push_str(" ORDER BY ");
    if bucket {
        sql.push_str("dal_bucket, ");
    }
    push_ident(sql, ts.column);
    sql.push_str(") AS dal_window");
}

/// `SELECT count, min, max, sum (as float8) FROM (window values in time order)`; the mean is the
/// sum divided by the count, computed by the caller as the memory backend computes it (`avg`
/// raises an overflow error where the sum of squares it keeps overflows, and `/` an underflow
/// error on a subnormal quotient). Postgres raises `22003` where the sum of finite values
/// overflows: the caller then aggregates [`window_values`] itself.
pub(crate) fn summary(
    meta: &EntityMeta,
    ts: &FieldMeta,
    value: &FieldMeta,
    conditions: &[Condition],
) -> String {
    let mut sql = String::from("SELECT count(dal_v), min(dal_v), max(dal_v), sum(dal_v) FROM ");
    let mut n = 0;
    push_window_values(&mut sql, meta, ts, value, conditions, false, &mut n);
    sql
}

/// Buckets by `floor(epoch_µs / width_µs)` (exact numeric arithmetic, floored also before
/// 1970), one aggregate and the count per non-empty bucket, ascending. `Mean` selects the sum
/// (the caller divides by the count, as for [`summary`]); each bucket's values are summed in
/// time order.
pub(crate) fn downsample(
    meta: &EntityMeta,
    ts: &FieldMeta,
    value: &FieldMeta,
    aggregate: Aggregate,
    conditions: &[Condition],
) -> String {
    let agg = match aggregate {
        Aggregate::Count => "count(dal_v)::float8",
        Aggregate::Min => "min(dal_v)",
        Aggregate::Max => "max(dal_v)",
        Aggregate::Mean | Aggregate::Sum => "sum(dal_v)",
    };
    let mut sql = format!("SELECT dal_bucket, {agg}, count(dal_v) FROM ");
    let mut n = 1;
    push_window_values(&mut sql, meta, ts, value, conditions, true, &mut n);
    sql.push_str(" GROUP BY dal_bucket ORDER BY dal_bucket");
    sql
}

/// `SELECT ts, v::float8 FROM t WHERE window .. ORDER BY ts`: the values of a window for the
/// caller to aggregate, in the order the memory backend aggregates them.
pub(crate) fn window_values(
    meta: &EntityMeta,
    ts: &FieldMeta,
    value: &FieldMeta,
    conditions: &[Condition],
) -> String {
    let mut sql = String::from("SELECT ");
    push_ident(&mut sql, ts.column);
    sql.push_str(", ");
    push_ident(&mut sql, value.column);
    sql.push_str("::float8");
    let mut n = 0;
    push_metric_from(&mut sql, meta, ts, value, conditions, &mut n);
    sql.push_str(" ORDER BY ");
    push_ident(&mut sql, ts.column);
    sql
}

/// Rows for a list of keys in one round trip: the keys are unnested with their position and
/// joined to the table, so each row comes back with the slot it fills (`dal_ord`, 1-based).
pub(crate) fn get_many(meta: &EntityMeta) -> String {
    let mut sql = String::from("SELECT ");
    for (i, f) in meta.fields.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str("dal_row.");
        push_ident(&mut sql, f.column);
    }
    sql.push_str(", dal_key.dal_ord FROM UNNEST(");
    let mut n = 0;
    for (i, _) in meta.ids().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        push_param(&mut sql, &mut n);
    }
    sql.push_str(") WITH ORDINALITY AS dal_key(");
    for i in 0..meta.id_fields.len() {
        sql.push_str(&format!("dal_k{i}, "));
    }
    sql.push_str("dal_ord) JOIN ");
    push_table(&mut sql, meta);
    sql.push_str(" AS dal_row ON ");
    for (i, f) in meta.ids().enumerate() {
        if i > 0 {
            sql.push_str(" AND ");
        }
        sql.push_str("dal_row.");
        push_ident(&mut sql, f.column);
        sql.push_str(&format!(" = dal_key.dal_k{i}"));
    }
    sql
}

/// `COPY t (cols) FROM STDIN (FORMAT binary)`, into the table or into its stage.
pub(crate) fn copy_in(meta: &EntityMeta, stage: Option<&str>) -> String {
    let mut sql = String::from("COPY ");
    match stage {
        Some(stage) => sql.push_str(stage),
        None => push_table(&mut sql, meta),
    }
    sql.push_str(&format!(
        " ({}) FROM STDIN (FORMAT binary)",
        meta.pg.columns
    ));
    sql
}

/// The session's temporary stage of a table, for upserts of large batches (`pg_temp` first, so
/// a table of the same name elsewhere is never used).
pub(crate) fn stage_table(meta: &EntityMeta) -> String {
    let mut sql = String::from("pg_temp.");
    push_ident(&mut sql, &format!("dal_stage_{}", meta.table));
    sql
}

/// Creates the stage if this session has none yet, and empties it.
pub(crate) fn stage_prelude(meta: &EntityMeta, stage: &str) -> String {
    let mut sql = format!("CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE ");
    push_table(&mut sql, meta);
    sql.push_str(&format!(" INCLUDING DEFAULTS); TRUNCATE {stage}"));
    sql
}

/// Moves the stage into the table: `INSERT .. SELECT .. FROM stage ON CONFLICT .. DO UPDATE`,
/// on the key of `role`.
pub(crate) fn stage_upsert(meta: &EntityMeta, stage: &str, role: TableRole) -> String {
    let mut sql = String::from("INSERT INTO ");
    push_table(&mut sql, meta);
    let cols = meta.pg.columns;
    sql.push_str(&format!(" ({cols}) SELECT {cols} FROM {stage}"));
    push_on_conflict(&mut sql, meta, role);
    sql
}

/// `INSERT INTO t (cols) SELECT * FROM UNNEST($1, .., $n)` plus, for an upsert, the
/// `ON CONFLICT` clause on the key of `role`.
pub(crate) fn unnest_insert(meta: &EntityMeta, upsert: Option<TableRole>) -> String {
    let mut sql = String::from("INSERT INTO ");
    push_table(&mut sql, meta);
    sql.push_str(&format!(" ({}) SELECT * FROM UNNEST(", meta.pg.columns));
    let mut n = 0;
    for (i, _) in meta.fields.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        push_param(&mut sql, &mut n);
    }
    sql.push(')');
    if let Some(role) = upsert {
        push_on_conflict(&mut sql, meta, role);
    }
    sql
}

/// The single-row append of a time series with ids: `INSERT .. VALUES ($1..) ON CONFLICT (ids..,
/// ts) DO UPDATE ..`, so rows with the same ids and timestamp replace each other and distinct
/// timestamps are distinct rows. (The derived `upsert` conflicts on the ids alone: the record
/// role.)
pub(crate) fn append_upsert(meta: &EntityMeta) -> String {
    let mut sql = String::from(meta.pg.insert);
    push_on_conflict(&mut sql, meta, TableRole::TimeSeries);
    sql
}

/// ` ON CONFLICT (key) DO UPDATE SET c = EXCLUDED.c, ..` on the key of `role` (`DO NOTHING`
/// when every column is in the key; nothing without a key).
fn push_on_conflict(sql: &mut String, meta: &EntityMeta, role: TableRole) {
    let key = super::ddl::key_fields(meta, role);
    if key.is_empty() {
        return;
    }
    sql.push_str(" ON CONFLICT (");
    for (i, f) in key.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        push_ident(sql, f.column);
    }
    sql.push(')');
    let mut first = true;
    for f in meta
        .fields
        .iter()
        .filter(|f| !key.iter().any(|k| k.index == f.index))
    {
        sql.push_str(if first { " DO UPDATE SET " } else { ", " });
        first = false;
        push_ident(sql, f.column);
        sql.push_str(" = EXCLUDED.");
        push_ident(sql, f.column);
    }
    if first {
        sql.push_str(" DO NOTHING");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dal::conformance::{Record, Tick};

    /// What every call site does: look a statement up generically, by the entity's type.
    fn lookup<T: Entity>(cache: &StatementCache, text: &str) -> Arc<str> {
        cache.get::<T>(vec![kind::RANGE], || text.to_owned())
    }

    #[test]
    fn two_lookups_of_one_entity_share_one_cache_entry() {
        let cache = StatementCache::default();
        let a = lookup::<Tick>(&cache, "first");
        let b = lookup::<Tick>(&cache, "built again");
        assert!(Arc::ptr_eq(&a, &b), "{a} / {b}");
        assert_eq!(cache.len(), 1);
        let other = lookup::<Record>(&cache, "another entity");
        assert_eq!(&*other, "another entity");
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn time_series_appends_conflict_on_ids_and_timestamp() {
        let meta = Tick::META;
        let key = r#"ON CONFLICT ("id", "ts") DO UPDATE SET "symbol" = EXCLUDED."symbol""#;
        assert!(append_upsert(meta).contains(key), "{}", append_upsert(meta));
        assert!(append_upsert(meta).starts_with(meta.pg.insert));
        let unnest = unnest_insert(meta, Some(TableRole::TimeSeries));
        assert!(unnest.contains(key), "{unnest}");
        let stage = stage_upsert(meta, "pg_temp.s", TableRole::TimeSeries);
        assert!(stage.contains(key), "{stage}");
        // The record role conflicts on the ids alone and updates the timestamp.
        let record = unnest_insert(meta, Some(TableRole::Record));
        assert!(
            record.contains(r#"ON CONFLICT ("id") DO UPDATE SET "ts" = EXCLUDED."ts""#),
            "{record}"
        );
        assert!(!unnest_insert(meta, None).contains("ON CONFLICT"));
    }
}

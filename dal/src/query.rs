//! Typed queries: filters on columns, keyset pagination, time ranges, metric windows.
//!
//! `#[derive(Entity)]` generates one associated constant per stored field, named after the field
//! in SCREAMING_SNAKE_CASE (`Trade::BASE_TOKEN: Column<Trade, String>`), so a filter can only
//! compare a column with a value of the column's own Rust type.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::entity::{Entity, FieldMeta};
use crate::error::{Error, Result};
use crate::value::{FieldValue, Value};

/// A typed handle on one stored field of entity `T` whose Rust type is `V`.
pub struct Column<T, V> {
    field: &'static FieldMeta,
    _marker: PhantomData<fn() -> (T, V)>,
}

impl<T, V> Clone for Column<T, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T, V> Copy for Column<T, V> {}

impl<T, V> fmt::Debug for Column<T, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Column({}.{})", self.field.entity, self.field.name)
    }
}

impl<T, V> Column<T, V> {
    /// Used by generated code: the column for `T::META.fields[index]`. Unbounded, so that a field
    /// type that is not a `FieldValue` is reported once (by the rest of the generated code), not
    /// a second time for its column constant.
    #[doc(hidden)]
    pub const fn __new(field: &'static FieldMeta) -> Self {
        Column {
            field,
            _marker: PhantomData,
        }
    }
}

impl<T: Entity, V: FieldValue> Column<T, V> {
    /// The field's metadata.
    pub const fn field(&self) -> &'static FieldMeta {
        self.field
    }

    fn value(&self, v: &V) -> Value {
        // Encoding a plain value into a capture cannot fail except for JSON serialization, which
        // typed columns do not offer; fall back to NULL rather than panic.
        v.to_value(self.field).unwrap_or(Value::Null)
    }

    /// `column = value`
    pub fn eq(self, v: V) -> Filter<T> {
        Filter::cmp(self.field, CmpOp::Eq, self.value(&v))
    }
    /// `column <> value`
    pub fn ne(self, v: V) -> Filter<T> {
        Filter::cmp(self.field, CmpOp::Ne, self.value(&v))
    }
    /// `column < value`
    pub fn lt(self, v: V) -> Filter<T> {
        Filter::cmp(self.field, CmpOp::Lt, self.value(&v))
    }
    /// `column <= value`
    pub fn le(self, v: V) -> Filter<T> {
        Filter::cmp(self.field, CmpOp::Le, self.value(&v))
    }
    /// `column > value`
    pub fn gt(self, v: V) -> Filter<T> {
        Filter::cmp(self.field, CmpOp::Gt, self.value(&v))
    }
    /// `column >= value`
    pub fn ge(self, v: V) -> Filter<T> {
        Filter::cmp(self.field, CmpOp::Ge, self.value(&v))
    }
    /// `column IN (values)`; an empty list matches nothing.
    pub fn is_in(self, values: impl IntoIterator<Item = V>) -> Filter<T> {
        let values = values.into_iter().map(|v| self.value(&v)).collect();
        Filter::new(Condition::In {
            field: self.field,
            values,
        })
    }
    /// `column IS NULL`
    pub fn is_null(self) -> Filter<T> {
        Filter::new(Condition::IsNull {
            field: self.field,
            negated: false,
        })
    }
    /// `column IS NOT NULL`
    pub fn is_not_null(self) -> Filter<T> {
        Filter::new(Condition::IsNull {
            field: self.field,
            negated: true,
        })
    }
}

/// A column without its value type, for APIs that only name a column (latest-by, aggregates).
#[derive(Debug, Clone, Copy)]
pub struct AnyColumn<T> {
    field: &'static FieldMeta,
    _marker: PhantomData<fn() -> T>,
}

impl<T> AnyColumn<T> {
    /// The field's metadata.
    pub const fn field(&self) -> &'static FieldMeta {
        self.field
    }
}

impl<T, V> From<Column<T, V>> for AnyColumn<T> {
    fn from(c: Column<T, V>) -> Self {
        AnyColumn {
            field: c.field,
            _marker: PhantomData,
        }
    }
}

/// Comparison operators of a [`Condition::Cmp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// The SQL operator.
    pub const fn as_sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// Whether `ord` (stored value compared with the filter value) satisfies the operator.
    pub fn matches(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Eq => ord == Equal,
            CmpOp::Ne => ord != Equal,
            CmpOp::Lt => ord == Less,
            CmpOp::Le => ord != Greater,
            CmpOp::Gt => ord == Greater,
            CmpOp::Ge => ord != Less,
        }
    }
}

/// One condition of a filter. SQL semantics: a comparison with NULL is never true.
#[derive(Debug, Clone)]
pub enum Condition {
    /// `field op value`
    Cmp {
        /// The column.
        field: &'static FieldMeta,
        /// The operator.
        op: CmpOp,
        /// The value compared with.
        value: Value,
    },
    /// `field IN (values)`
    In {
        /// The column.
        field: &'static FieldMeta,
        /// The accepted values.
        values: Vec<Value>,
    },
    /// `field IS [NOT] NULL`
    IsNull {
        /// The column.
        field: &'static FieldMeta,
        /// `IS NOT NULL` when true.
        negated: bool,
    },
}

impl Condition {
    /// Evaluates the condition on a captured row (memory backend, Redis list filtering).
    pub fn matches(&self, row: &[Value]) -> bool {
        match self {
            Condition::Cmp { field, op, value } => match row.get(field.index) {
                // Floats compare by IEEE total order, as Postgres does (NaN above every number).
                Some(stored) if !stored.is_null() && !value.is_null() => {
                    op.matches(stored.total_cmp(value))
                }
                _ => false,
            },
            Condition::In { field, values } => match row.get(field.index) {
                Some(stored) if !stored.is_null() => values
                    .iter()
                    .any(|v| stored.total_cmp(v) == std::cmp::Ordering::Equal),
                _ => false,
            },
            Condition::IsNull { field, negated } => {
                let is_null = row.get(field.index).is_none_or(Value::is_null);
                is_null != *negated
            }
        }
    }
}

/// A conjunction of conditions on entity `T` (empty: every row).
#[derive(Debug, Clone)]
pub struct Filter<T> {
    conditions: Vec<Condition>,
    _marker: PhantomData<fn() -> T>,
}

impl<T> Default for Filter<T> {
    fn default() -> Self {
        Filter {
            conditions: Vec::new(),
            _marker: PhantomData,
        }
    }
}

impl<T> Filter<T> {
    /// Matches every row.
    pub fn all() -> Self {
        Self::default()
    }

    fn new(c: Condition) -> Self {
        Filter {
            conditions: vec![c],
            _marker: PhantomData,
        }
    }

    fn cmp(field: &'static FieldMeta, op: CmpOp, value: Value) -> Self {
        Self::new(Condition::Cmp { field, op, value })
    }

    /// A filter from conditions built at run time (the differential suite's generated filters).
    /// Each condition's field MUST be a field of `T`'s metadata; nothing checks it.
    #[doc(hidden)]
    pub fn __from_conditions(conditions: Vec<Condition>) -> Self {
        Filter {
            conditions,
            _marker: PhantomData,
        }
    }

    /// Both this filter and `other`.
    pub fn and(mut self, other: Filter<T>) -> Self {
        self.conditions.extend(other.conditions);
        self
    }

    /// The conditions, all of which must hold.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// Whether a captured row satisfies every condition.
    pub fn matches(&self, row: &[Value]) -> bool {
        self.conditions.iter().all(|c| c.matches(row))
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Ascending (oldest first / smallest key first).
    #[default]
    Asc,
    /// Descending.
    Desc,
}

/// An opaque keyset-pagination position: the key of the last row of a page.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor(pub(crate) Vec<Value>);

impl Cursor {
    /// Used by backends: a cursor after the row whose key values are `key`.
    pub fn from_key_values(key: Vec<Value>) -> Self {
        Cursor(key)
    }

    /// The key values (id order) of the last row of the previous page.
    pub fn key_values(&self) -> &[Value] {
        &self.0
    }
}

/// A page of a keyset-paginated listing.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// Rows in ascending key order.
    pub items: Vec<T>,
    /// Where the next page starts; `None` when this page is the last one.
    pub next: Option<Cursor>,
}

/// Default and maximum page size of [`ListQuery`].
pub const MAX_PAGE_SIZE: usize = 10_000;

/// A listing of keyed records: filter, then ascending key order, then keyset pagination.
///
/// Keys compare as [`Value::total_cmp`] does: text by bytes (Postgres uses `COLLATE "C"`).
#[derive(Debug, Clone)]
pub struct ListQuery<T> {
    /// Rows must match this filter.
    pub filter: Filter<T>,
    /// At most this many rows per page (1..=[`MAX_PAGE_SIZE`]).
    pub limit: usize,
    /// Start after this position (from [`Page::next`]).
    pub after: Option<Cursor>,
}

impl<T> Default for ListQuery<T> {
    fn default() -> Self {
        ListQuery {
            filter: Filter::all(),
            limit: 100,
            after: None,
        }
    }
}

impl<T> ListQuery<T> {
    /// The first page of rows matching `filter`, `limit` rows per page.
    pub fn new(filter: Filter<T>, limit: usize) -> Self {
        ListQuery {
            filter,
            limit,
            after: None,
        }
    }

    /// The page after `cursor`.
    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.after = cursor;
        self
    }

    /// Checks the page size.
    ///
    /// # Errors
    /// [`Error::Validation`] when `limit` is 0 or above [`MAX_PAGE_SIZE`].
    pub fn validate(&self, entity: &'static str) -> Result<()> {
        if self.limit == 0 || self.limit > MAX_PAGE_SIZE {
            return Err(Error::invalid(
                entity,
                format_args!("page size {} is outside 1..={MAX_PAGE_SIZE}", self.limit),
            ));
        }
        Ok(())
    }
}

/// A time range of a time series: `start <= ts < end`, filtered, ordered by timestamp.
#[derive(Debug, Clone)]
pub struct RangeQuery<T> {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
    /// Rows must match this filter.
    pub filter: Filter<T>,
    /// Timestamp order (ties keep no particular order).
    pub order: Order,
    /// At most this many rows (`None`: all).
    pub limit: Option<usize>,
}

impl<T> RangeQuery<T> {
    /// All rows with `start <= ts < end`, oldest first.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        RangeQuery {
            start,
            end,
            filter: Filter::all(),
            order: Order::Asc,
            limit: None,
        }
    }

    /// Only rows matching `filter`.
    pub fn filter(mut self, filter: Filter<T>) -> Self {
        self.filter = filter;
        self
    }

    /// Newest first.
    pub fn newest_first(mut self) -> Self {
        self.order = Order::Desc;
        self
    }

    /// At most `n` rows.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }
}

/// A window of one numeric column of a time series, for aggregates.
#[derive(Debug, Clone)]
pub struct MetricQuery<T> {
    /// The numeric column aggregated (NULLs are ignored).
    pub value: AnyColumn<T>,
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
    /// Rows must match this filter.
    pub filter: Filter<T>,
}

impl<T> MetricQuery<T> {
    /// `value` over `start <= ts < end`.
    pub fn new(value: impl Into<AnyColumn<T>>, start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        MetricQuery {
            value: value.into(),
            start,
            end,
            filter: Filter::all(),
        }
    }

    /// Only rows matching `filter`.
    pub fn filter(mut self, filter: Filter<T>) -> Self {
        self.filter = filter;
        self
    }

    /// Checks that the column is numeric and the window is not reversed.
    ///
    /// # Errors
    /// [`Error::Validation`] naming the column.
    pub fn validate(&self) -> Result<()> {
        let f = self.value.field();
        if !f.kind.is_numeric() {
            return Err(Error::invalid_field(
                f,
                format_args!("aggregates need a numeric column, found {:?}", f.kind),
            ));
        }
        if self.end < self.start {
            return Err(Error::invalid(
                f.entity,
                "metric window ends before it starts",
            ));
        }
        Ok(())
    }
}

/// count/min/max/mean/sum of a metric window. Min/max/mean/sum are `None` when count is 0.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    /// Number of non-NULL values.
    pub count: u64,
    /// Smallest value.
    pub min: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
    /// Arithmetic mean.
    pub mean: Option<f64>,
    /// Sum.
    pub sum: Option<f64>,
}

/// The aggregate computed per bucket by `downsample`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Aggregate {
    Count,
    Min,
    Max,
    Mean,
    Sum,
}

/// One bucket of a downsampled series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Bucket start: `ts` floored to a multiple of the bucket width since the Unix epoch.
    pub start: DateTime<Utc>,
    /// The aggregate over the bucket's non-NULL values.
    pub value: f64,
    /// Number of non-NULL values in the bucket (buckets with none are not returned).
    pub count: u64,
}

/// Floors `ts` to a multiple of `width` since the Unix epoch (the bucket rule of `downsample`).
///
/// # Errors
/// [`Error::Validation`] when `width` is zero or not a whole number of microseconds.
pub fn bucket_start(
    entity: &'static str,
    ts: DateTime<Utc>,
    width: Duration,
) -> Result<DateTime<Utc>> {
    let w = i64::try_from(width.as_micros()).unwrap_or(i64::MAX);
    if w <= 0 || !width.as_nanos().is_multiple_of(1_000) {
        return Err(Error::invalid(
            entity,
            "bucket width must be a positive whole number of microseconds",
        ));
    }
    let us = ts.timestamp_micros();
    let start = us.div_euclid(w) * w;
    DateTime::from_timestamp_micros(start)
        .ok_or_else(|| Error::invalid(entity, "bucket start out of range"))
}

/// The arithmetic of `summary` and `downsample`, shared by every backend: values are converted
/// to `f64` and summed in the order given (time order), as IEEE arithmetic does (an overflow is
/// ±infinity, never an error); min and max order NaN above every number; the mean is the sum
/// divided by the count. The memory backend computes with it, and a backend whose own arithmetic
/// cannot give the same answer (Postgres raises an error where a float sum overflows) falls back
/// on it over the window's values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accumulator {
    count: u64,
    min: f64,
    max: f64,
    sum: f64,
}

impl Accumulator {
    /// The aggregate of one value.
    pub fn new(v: f64) -> Self {
        Accumulator {
            count: 1,
            min: v,
            max: v,
            sum: v,
        }
    }

    /// Adds the next value (in time order).
    pub fn add(&mut self, v: f64) {
        self.count += 1;
        self.sum += v;
        if cmp_nan_last(v, self.min) == std::cmp::Ordering::Less {
            self.min = v;
        }
        if cmp_nan_last(v, self.max) == std::cmp::Ordering::Greater {
            self.max = v;
        }
    }

    /// Adds `v` to an accumulator that may not have started yet.
    pub fn push(acc: &mut Option<Accumulator>, v: f64) {
        match acc {
            Some(acc) => acc.add(v),
            None => *acc = Some(Accumulator::new(v)),
        }
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The sum divided by the count.
    pub fn mean(&self) -> f64 {
        self.sum / self.count as f64
    }

    /// One aggregate of the values.
    pub fn get(&self, aggregate: Aggregate) -> f64 {
        match aggregate {
            Aggregate::Count => self.count as f64,
            Aggregate::Min => self.min,
            Aggregate::Max => self.max,
            Aggregate::Mean => self.mean(),
            Aggregate::Sum => self.sum,
        }
    }

    /// The summary of the values (of none: count 0).
    pub fn summary(acc: Option<Accumulator>) -> Summary {
        match acc {
            None => Summary::default(),
            Some(acc) => Summary {
                count: acc.count,
                min: Some(acc.min),
                max: Some(acc.max),
                mean: Some(acc.mean()),
                sum: Some(acc.sum),
            },
        }
    }
}

/// NaN above every number, as Postgres orders floats.
pub(crate) fn cmp_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        (false, false) => a.total_cmp(&b),
    }
}

/// `downsample` over values given in time order: one [`Accumulator`] per bucket
/// ([`bucket_start`]), buckets ascending.
#[derive(Debug)]
pub struct Downsampler {
    entity: &'static str,
    width: Duration,
    buckets: Vec<(DateTime<Utc>, Accumulator)>,
}

impl Downsampler {
    /// Buckets `width` wide, for `entity`'s error messages.
    ///
    /// # Errors
    /// [`Error::Validation`] when `width` is not a positive whole number of microseconds.
    pub fn new(entity: &'static str, width: Duration) -> Result<Self> {
        bucket_start(entity, DateTime::<Utc>::UNIX_EPOCH, width)?;
        Ok(Downsampler {
            entity,
            width,
            buckets: Vec::new(),
        })
    }

    /// Adds the value at `ts` (not older than the previous one).
    ///
    /// # Errors
    /// [`Error::Validation`] when the bucket start is out of range.
    pub fn add(&mut self, ts: DateTime<Utc>, v: f64) -> Result<()> {
        let start = bucket_start(self.entity, ts, self.width)?;
        match self.buckets.last_mut() {
            Some((s, acc)) if *s == start => acc.add(v),
            _ => self.buckets.push((start, Accumulator::new(v))),
        }
        Ok(())
    }

    /// The buckets with `aggregate` of each.
    pub fn finish(self, aggregate: Aggregate) -> Vec<Bucket> {
        self.buckets
            .into_iter()
            .map(|(start, acc)| Bucket {
                start,
                value: acc.get(aggregate),
                count: acc.count,
            })
            .collect()
    }
}

/// Per-item outcome of a batch write.
///
/// A batch either fails as a whole (the `Err` of the call: nothing was written) or reports here
/// which items were rejected; every item not listed in `failed` was written.
#[derive(Debug, Default)]
pub struct BatchReport {
    /// Number of items written.
    pub written: usize,
    /// Index (into the input slice) and reason of each rejected item, ascending by index.
    pub failed: Vec<(usize, Error)>,
}

impl BatchReport {
    /// Whether every item was written.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }

    /// Turns a partial failure into the first item's error.
    ///
    /// # Errors
    /// The first rejected item's error.
    pub fn into_result(self) -> Result<usize> {
        match self.failed.into_iter().next() {
            None => Ok(self.written),
            Some((_, e)) => Err(e),
        }
    }
}

/// Quantile by linear interpolation between closest ranks (Postgres `percentile_cont`).
///
/// `sorted` must be ascending with no NaN; `p` in `0.0..=1.0`. `None` when empty.
pub fn percentile_cont(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = p * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let frac = rank - lo as f64;
    if hi == lo {
        // An exact rank is the value itself, as in Postgres (interpolating would turn an
        // infinity into NaN).
        return Some(sorted[lo]);
    }
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// Checks a quantile argument.
///
/// # Errors
/// [`Error::Validation`] when `p` is not within `0.0..=1.0`.
pub fn check_quantile(entity: &'static str, p: f64) -> Result<()> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(Error::invalid(
            entity,
            format_args!("quantile {p} is outside 0.0..=1.0"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_cont_interpolates_like_postgres() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile_cont(&v, 0.5), Some(2.5));
        assert_eq!(percentile_cont(&v, 0.0), Some(1.0));
        assert_eq!(percentile_cont(&v, 1.0), Some(4.0));
        assert_eq!(percentile_cont(&[], 0.5), None);
        // An exact rank is the value, also an infinite one; between ranks, interpolation.
        let inf = [1.0, f64::INFINITY];
        assert_eq!(percentile_cont(&inf, 1.0), Some(f64::INFINITY));
        assert_eq!(percentile_cont(&inf, 0.5), Some(f64::INFINITY));
        let both = [f64::NEG_INFINITY, f64::INFINITY];
        assert_eq!(percentile_cont(&both, 0.0), Some(f64::NEG_INFINITY));
        assert!(percentile_cont(&both, 0.5).is_some_and(f64::is_nan));
    }

    #[test]
    fn buckets_floor_to_epoch_multiples() {
        let ts = DateTime::from_timestamp(3_661, 5_000).unwrap();
        let b = bucket_start("E", ts, Duration::from_secs(60)).unwrap();
        assert_eq!(b.timestamp(), 3_660);
        let neg = DateTime::from_timestamp(-1, 0).unwrap();
        assert_eq!(
            bucket_start("E", neg, Duration::from_secs(60))
                .unwrap()
                .timestamp(),
            -60
        );
        assert!(bucket_start("E", ts, Duration::ZERO).is_err());
    }
}

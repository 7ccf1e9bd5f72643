//! The backend-trait impls for [`QuestDb`]: appends through the batch writer, reads and DDL over
//! the PG wire with SQL generated from the entity's metadata.
//!
//! Every statement names its columns (never `SELECT *`: after a schema change QuestDB refuses a
//! cached plan whose result type changed) and binds user values as parameters. A statement that
//! fails with `cached plan must not change result type` is retried once after clearing the
//! connection's statement cache. QuestDB has no `= ANY($1)`, so `IN` lists get one placeholder
//! per value.

use std::fmt::Write as _;
use std::time::Duration;

use dal::query::{CmpOp, Condition, Order};
use dal::value::RowCapture;
use dal::{
    Aggregate, AnyColumn, Backend, BatchReport, Bucket, Capabilities, Entity, EntityMeta, Error,
    FieldMeta, Filter, MetricQuery, MetricsBackend, QuantileAccuracy, RangeQuery, Result, Summary,
    TimeSeries, TimeSeriesBackend,
};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Connection, Row};

use super::QuestDb;
use super::codec::{Bind, PgRowDecoder, bind_all, quote_ident, select_expr};
use super::ddl::{self, ShownColumn};
use super::error::{self, NAME};

/// Runs a statement and fetches every row, retrying once on a stale cached plan.
async fn fetch_all(db: &QuestDb, sql: String, binds: &[Bind]) -> Result<Vec<PgRow>> {
    let mut conn = db.acquire().await?;
    let first = bind_all(sqlx::query(AssertSqlSafe(sql.clone())), binds)
        .fetch_all(&mut *conn)
        .await;
    match first {
        Err(e) if error::is_stale_plan(&e) => {
            conn.clear_cached_statements().await.map_err(error::sql)?;
            bind_all(sqlx::query(AssertSqlSafe(sql)), binds)
                .fetch_all(&mut *conn)
                .await
                .map_err(error::sql)
        }
        other => other.map_err(error::sql),
    }
}

/// Runs a statement that returns nothing of interest.
pub(crate) async fn execute(db: &QuestDb, sql: String) -> Result<()> {
    let mut conn = db.acquire().await?;
    sqlx::query(AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(error::sql)
}

/// Every table name on the server.
pub(crate) async fn table_names(db: &QuestDb) -> Result<Vec<String>> {
    let rows = fetch_all(db, "SELECT table_name FROM tables()".to_owned(), &[]).await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(error::sql))
        .collect()
}

/// `CREATE TABLE IF NOT EXISTS` + `SHOW COLUMNS` check (see [`ddl`]).
pub(crate) async fn create_and_check(
    db: &QuestDb,
    meta: &'static EntityMeta,
    table: &str,
) -> Result<()> {
    execute(db, ddl::create_table_sql(meta, table)?).await?;
    let mut sql = String::from("SHOW COLUMNS FROM ");
    quote_ident(table, &mut sql);
    let rows = fetch_all(db, sql, &[]).await?;
    let mut shown = Vec::with_capacity(rows.len());
    for row in &rows {
        let get_str = |name: &str| row.try_get::<String, _>(name).map_err(error::sql);
        let get_bool = |name: &str| row.try_get::<bool, _>(name).map_err(error::sql);
        shown.push(ShownColumn {
            name: get_str("column")?,
            ty: get_str("type")?,
            designated: get_bool("designated")?,
            upsert_key: get_bool("upsertKey")?,
        });
    }
    ddl::check_columns(meta, table, &shown)
}

/// SQL text and its parameters, built together so placeholders and binds stay in step.
struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    fn new() -> Self {
        Sql {
            text: String::with_capacity(256),
            binds: Vec::new(),
        }
    }

    fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    fn ident(&mut self, name: &str) -> &mut Self {
        quote_ident(name, &mut self.text);
        self
    }

    fn bind(&mut self, field: &FieldMeta, b: Bind) -> &mut Self {
        self.binds.push(b);
        // Writing to a String cannot fail.
        let _ = write!(
            self.text,
            "${}{}",
            self.binds.len(),
            Bind::cast_suffix(field)
        );
        self
    }

    /// `SELECT <fields> FROM <table>`.
    fn select(meta: &EntityMeta, table: &str) -> Sql {
        let mut sql = Sql::new();
        sql.push("SELECT ");
        for (i, f) in meta.fields.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            select_expr(f, &mut sql.text);
        }
        sql.push(" FROM ").ident(table);
        sql
    }

    /// ` WHERE ts >= $a AND ts < $b` for the designated timestamp.
    fn window(
        &mut self,
        ts: &'static FieldMeta,
        start: chrono::DateTime<chrono::Utc>,
        end: chrono::DateTime<chrono::Utc>,
    ) -> &mut Self {
        self.push(" WHERE ").ident(ts.column).push(" >= ");
        self.bind(ts, Bind::Timestamp(start.naive_utc()));
        self.push(" AND ").ident(ts.column).push(" < ");
        self.bind(ts, Bind::Timestamp(end.naive_utc()));
        self
    }

    /// ` AND (<condition>)` per condition. `first` starts with `WHERE` instead.
    fn filter<T>(&mut self, filter: &Filter<T>, mut first: bool) -> Result<&mut Self> {
        for c in filter.conditions() {
            self.push(if first { " WHERE " } else { " AND " });
            first = false;
            match c {
                // QuestDB compares NULLs as values (`NULL <> 1` is true), so a comparison states
                // SQL's rule explicitly: it never matches a NULL.
                Condition::Cmp { field, op, value } => {
                    if value.is_null() {
                        self.push("1 = 0");
                        continue;
                    }
                    // QuestDB's BOOLEAN has = and <> only: an order (false < true) is spelled
                    // as the values it admits.
                    if let (dal::Value::Bool(v), false) = (value, field.nullable) {
                        let admits = |b: bool| op.matches(b.cmp(v));
                        match (admits(false), admits(true)) {
                            (true, true) => self.ident(field.column).push(" IS NOT NULL"),
                            (false, false) => self.push("1 = 0"),
                            (f, _) => self.ident(field.column).push(if f {
                                " = false"
                            } else {
                                " = true"
                            }),
                        };
                        continue;
                    }
                    // QuestDB orders UUIDs as signed 64-bit halves; dal orders them by bytes,
                    // which is the order of their lowercase text.
                    if let (dal::Value::Uuid(v), false) =
                        (value, matches!(op, CmpOp::Eq | CmpOp::Ne))
                    {
                        self.push("(cast(")
                            .ident(field.column)
                            .push(" as varchar) ")
                            .push(op.as_sql())
                            .push(" ");
                        self.bind(field, Bind::Text(v.hyphenated().to_string()));
                        self.push(" AND ").ident(field.column).push(" IS NOT NULL)");
                        continue;
                    }
                    let b = Bind::for_field(field, value)?;
                    self.push("(")
                        .ident(field.column)
                        .push(" ")
                        .push(op.as_sql())
                        .push(" ");
                    self.bind(field, b);
                    self.push(" AND ").ident(field.column).push(" IS NOT NULL)");
                }
                Condition::In { field, values } => {
                    let values: Vec<_> = values.iter().filter(|v| !v.is_null()).collect();
                    if values.is_empty() {
                        self.push("1 = 0");
                        continue;
                    }
                    // QuestDB has no IN between two DECIMAL types (the column's and the
                    // parameter's exact cast): a decimal list is a chain of equalities.
                    let decimal = field.kind == dal::FieldKind::Decimal;
                    self.push("((");
                    if !decimal {
                        self.ident(field.column).push(" IN (");
                    }
                    for (i, v) in values.into_iter().enumerate() {
                        if i > 0 {
                            self.push(if decimal { " OR " } else { ", " });
                        }
                        if decimal {
                            self.ident(field.column).push(" = ");
                        }
                        let b = Bind::for_field(field, v)?;
                        self.bind(field, b);
                    }
                    self.push(if decimal { ")" } else { "))" });
                    self.push(" AND ").ident(field.column).push(" IS NOT NULL)");
                }
                Condition::IsNull { field, negated } => {
                    self.ident(field.column).push(if *negated {
                        " IS NOT NULL"
                    } else {
                        " IS NULL"
                    });
                }
            }
        }
        Ok(self)
    }
}

fn ts_field<T: TimeSeries>() -> Result<&'static FieldMeta> {
    T::META.timestamp().ok_or_else(|| {
        Error::invalid(
            T::META.name,
            "a QuestDB time series needs an #[entity(timestamp)] field",
        )
    })
}

/// `SAMPLE BY` takes a 32-bit count of one unit: the largest unit that divides the width.
fn sample_unit(micros: i64) -> Option<(i32, char)> {
    const UNITS: [(i64, char); 6] = [
        (86_400_000_000, 'd'),
        (3_600_000_000, 'h'),
        (60_000_000, 'm'),
        (1_000_000, 's'),
        (1_000, 'T'),
        (1, 'U'),
    ];
    UNITS
        .iter()
        .find(|(size, _)| micros % size == 0)
        .and_then(|&(size, unit)| i32::try_from(micros / size).ok().map(|n| (n, unit)))
}

fn decode_rows<T: Entity>(rows: &[PgRow]) -> Result<Vec<T>> {
    rows.iter()
        .map(|row| T::decode(&mut PgRowDecoder::new(row)))
        .collect()
}

fn not_null_f64(row: &PgRow, i: usize) -> Result<Option<f64>> {
    row.try_get::<Option<f64>, _>(i).map_err(error::sql)
}

impl QuestDb {
    /// `T`'s table, created and checked on first use, and marked as written when `write` (so
    /// the next `flush` waits for it; marking before the write is harmless).
    async fn prepare<T: Entity>(&self, write: bool) -> Result<std::borrow::Cow<'static, str>> {
        let table = self.table_name(T::META);
        self.ensure_table::<T>(&table, write).await?;
        Ok(table)
    }

    /// Rows of the window with the filter and `value IS NOT NULL`, as `WHERE ...` text.
    fn metric_where<T: TimeSeries>(&self, sql: &mut Sql, q: &MetricQuery<T>) -> Result<()> {
        let ts = ts_field::<T>()?;
        let value = q.value.field();
        sql.window(ts, q.start, q.end);
        sql.filter(&q.filter, false)?;
        sql.push(" AND ").ident(value.column).push(" IS NOT NULL");
        Ok(())
    }
}

impl Backend for QuestDb {
    const NAME: &'static str = NAME;

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::none();
        c.quantiles = QuantileAccuracy::Exact;
        // What QuestDB holds and returns unchanged; the encoder refuses everything else.
        c.limits = super::codec::LIMITS;
        // Rows become visible when the WAL is applied, after `flush`.
        c.read_your_writes = false;
        // For entities declared with questdb(dedup): same timestamp + ids replace each other.
        c.time_series_dedup = true;
        c.timestamp_precision = Duration::from_micros(1);
        c.transactions = false;
        c.ttl_expiry = false;
        c
    }

    /// Checks both paths: reads (`SELECT 1` over the PG wire) and writes (the ILP endpoint
    /// answers with the configured credentials and protocol: [`super::BatchWriter::check_endpoint`]),
    /// and that the batch writer is not failing.
    async fn health_check(&self) -> Result<()> {
        let mut conn = self.acquire().await?;
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut *conn)
            .await
            .map_err(error::sql)?;
        drop(conn);
        if one != 1 {
            return Err(Error::backend(NAME, true, "SELECT 1 did not return 1"));
        }
        self.writer().check_endpoint().await?;
        if let Some(why) = self.writer().failing() {
            return Err(Error::unavailable(
                NAME,
                format!("the ILP writer cannot deliver: {why}"),
            ));
        }
        Ok(())
    }
}

impl TimeSeriesBackend for QuestDb {
    async fn append<T: TimeSeries>(&self, row: &T) -> Result<()> {
        let table = self.prepare::<T>(true).await?;
        self.writer().append(&table, row).await
    }

    async fn append_all<T: TimeSeries>(&self, rows: &[T]) -> Result<BatchReport> {
        if rows.is_empty() {
            return Ok(BatchReport::default());
        }
        let table = self.prepare::<T>(true).await?;
        self.writer().append_all(&table, rows).await
    }

    async fn range<T: TimeSeries>(&self, query: &RangeQuery<T>) -> Result<Vec<T>> {
        if query.limit == Some(0) || query.end <= query.start {
            return Ok(Vec::new());
        }
        let table = self.prepare::<T>(false).await?;
        let ts = ts_field::<T>()?;
        let mut sql = Sql::select(T::META, &table);
        sql.window(ts, query.start, query.end);
        sql.filter(&query.filter, false)?;
        sql.push(" ORDER BY ").ident(ts.column);
        sql.push(match query.order {
            Order::Asc => " ASC",
            Order::Desc => " DESC",
        });
        if let Some(n) = query.limit {
            let _ = write!(sql.text, " LIMIT {n}");
        }
        let rows = fetch_all(self, sql.text, &sql.binds).await?;
        decode_rows(&rows)
    }

    async fn latest<T: TimeSeries>(&self, by: AnyColumn<T>, filter: &Filter<T>) -> Result<Vec<T>> {
        let table = self.prepare::<T>(false).await?;
        let ts = ts_field::<T>()?;
        let by = by.field();
        let mut sql = Sql::select(T::META, &table);
        // QuestDB applies WHERE before LATEST ON, so this is "latest among matching rows".
        sql.filter(filter, true)?;
        sql.push(" LATEST ON ")
            .ident(ts.column)
            .push(" PARTITION BY ")
            .ident(by.column);
        let rows = fetch_all(self, sql.text, &sql.binds).await?;
        let mut out: Vec<(dal::Value, T)> = Vec::with_capacity(rows.len());
        for row in &rows {
            let entity = T::decode(&mut PgRowDecoder::new(row))?;
            let mut capture = RowCapture::default();
            entity.encode(&mut capture)?;
            let key = capture
                .0
                .into_iter()
                .nth(by.index)
                .unwrap_or(dal::Value::Null);
            out.push((key, entity));
        }
        // Ordered here, by the same total order every backend uses (QuestDB orders symbols by
        // their dictionary key, not their text).
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(out.into_iter().map(|(_, e)| e).collect())
    }

    async fn flush(&self) -> Result<()> {
        self.writer().flush().await?;
        let tables = self.take_dirty();
        for table in tables {
            // wait_wal_table takes the name as a literal (a bind is refused); names are
            // validated identifiers, and a quote inside one is doubled anyway.
            let sql = format!("SELECT wait_wal_table('{}')", table.replace('\'', "''"));
            let waited = tokio::time::timeout(self.apply_timeout(), execute(self, sql)).await;
            let result = match waited {
                Ok(r) => r,
                Err(_) => Err(Error::Timeout {
                    backend: NAME,
                    operation: format!("waiting for QuestDB to apply the WAL of {table}"),
                }),
            };
            if let Err(e) = result {
                // Keep the table dirty so the next flush waits for it again.
                self.redirty(&table);
                return Err(e);
            }
        }
        Ok(())
    }
}

impl MetricsBackend for QuestDb {
    async fn quantile<T: TimeSeries>(&self, query: &MetricQuery<T>, p: f64) -> Result<Option<f64>> {
        dal::query::check_quantile(T::META.name, p)?;
        if query.end <= query.start {
            return Ok(None);
        }
        let table = self.prepare::<T>(false).await?;
        let value = query.value.field();

        let mut count = Sql::new();
        count
            .push("SELECT count(")
            .ident(value.column)
            .push(") FROM ")
            .ident(&table);
        self.metric_where(&mut count, query)?;
        let rows = fetch_all(self, count.text, &count.binds).await?;
        let n: i64 = match rows.first() {
            Some(row) => row.try_get::<i64, _>(0).map_err(error::sql)?,
            None => 0,
        };
        if n <= 0 {
            return Ok(None);
        }
        // percentile_cont: interpolate between the values at the two closest ranks, fetched by
        // position from the sorted window (same arithmetic as dal::query::percentile_cont).
        let rank = p * (n - 1) as f64;
        let lo = rank.floor() as i64;
        let hi = rank.ceil() as i64;
        let mut sql = Sql::new();
        sql.push("SELECT cast(")
            .ident(value.column)
            .push(" as double) FROM ")
            .ident(&table);
        self.metric_where(&mut sql, query)?;
        sql.push(" ORDER BY ").ident(value.column);
        let _ = write!(sql.text, " LIMIT {lo}, {}", hi + 1);
        let rows = fetch_all(self, sql.text, &sql.binds).await?;
        let mut values = Vec::with_capacity(2);
        for row in &rows {
            if let Some(v) = not_null_f64(row, 0)? {
                values.push(v);
            }
        }
        let sorted: Vec<f64> = match values.as_slice() {
            [] => return Ok(None),
            [only] => vec![*only; 2],
            [a, b, ..] => vec![*a, *b],
        };
        if hi == lo {
            // An exact rank is the value itself (as dal::query::percentile_cont).
            return Ok(Some(sorted[0]));
        }
        let frac = rank - lo as f64;
        Ok(Some(sorted[0] + (sorted[1] - sorted[0]) * frac))
    }

    async fn summary<T: TimeSeries>(&self, query: &MetricQuery<T>) -> Result<Summary> {
        if query.end <= query.start {
            return Ok(Summary::default());
        }
        let table = self.prepare::<T>(false).await?;
        let v = query.value.field().column;
        let mut sql = Sql::new();
        sql.push("SELECT count(").ident(v);
        sql.push("), cast(min(")
            .ident(v)
            .push(") as double), cast(max(")
            .ident(v);
        // Sums and means add doubles, as Memory does: QuestDB's sum over a LONG wraps around on
        // overflow.
        sql.push(") as double), avg(cast(")
            .ident(v)
            .push(" as double)), sum(cast(")
            .ident(v);
        sql.push(" as double)) FROM ").ident(&table);
        self.metric_where(&mut sql, query)?;
        let rows = fetch_all(self, sql.text, &sql.binds).await?;
        let Some(row) = rows.first() else {
            return Ok(Summary::default());
        };
        let count: i64 = row.try_get(0).map_err(error::sql)?;
        if count <= 0 {
            return Ok(Summary::default());
        }
        Ok(Summary {
            count: u64::try_from(count).unwrap_or(0),
            min: not_null_f64(row, 1)?,
            max: not_null_f64(row, 2)?,
            mean: not_null_f64(row, 3)?,
            sum: not_null_f64(row, 4)?,
        })
    }

    async fn downsample<T: TimeSeries>(
        &self,
        query: &MetricQuery<T>,
        width: Duration,
        aggregate: Aggregate,
    ) -> Result<Vec<Bucket>> {
        let micros = i64::try_from(width.as_micros()).unwrap_or(i64::MAX);
        if micros <= 0 || !width.as_nanos().is_multiple_of(1_000) {
            return Err(Error::invalid(
                T::META.name,
                "bucket width must be a positive whole number of microseconds",
            ));
        }
        if query.end <= query.start {
            return Ok(Vec::new());
        }
        let table = self.prepare::<T>(false).await?;
        let ts = ts_field::<T>()?;
        let v = query.value.field().column;
        let mut sql = Sql::new();
        sql.push("SELECT ").ident(ts.column).push(", ");
        match aggregate {
            Aggregate::Count => sql.push("cast(count(").ident(v).push(") as double)"),
            Aggregate::Min => sql.push("cast(min(").ident(v).push(") as double)"),
            Aggregate::Max => sql.push("cast(max(").ident(v).push(") as double)"),
            Aggregate::Mean => sql.push("avg(cast(").ident(v).push(" as double))"),
            Aggregate::Sum => sql.push("sum(cast(").ident(v).push(" as double))"),
        };
        sql.push(", count(").ident(v).push(") FROM ").ident(&table);
        self.metric_where(&mut sql, query)?;
        // Buckets from an origin at the Unix epoch, so they start where
        // dal::query::bucket_start says, whatever the width.
        let (n, unit) = sample_unit(micros).ok_or_else(|| {
            Error::invalid(
                T::META.name,
                "bucket width too large for QuestDB's SAMPLE BY",
            )
        })?;
        let _ = write!(
            sql.text,
            " SAMPLE BY {n}{unit} FROM '1970-01-01T00:00:00.000000Z' ALIGN TO CALENDAR"
        );
        let rows = fetch_all(self, sql.text, &sql.binds).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let start: chrono::NaiveDateTime = row.try_get(0).map_err(error::sql)?;
            let count: i64 = row.try_get(2).map_err(error::sql)?;
            if count <= 0 {
                continue;
            }
            let Some(value) = not_null_f64(row, 1)? else {
                continue;
            };
            out.push(Bucket {
                start: start.and_utc(),
                value,
                count: u64::try_from(count).unwrap_or(0),
            });
        }
        out.sort_by_key(|b| b.start);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::sample_unit;

    #[test]
    fn sample_units_are_the_largest_exact_unit() {
        assert_eq!(sample_unit(7 * 86_400_000_000), Some((7, 'd')));
        assert_eq!(sample_unit(420_000_000), Some((7, 'm')));
        assert_eq!(sample_unit(1_500), Some((1_500, 'U')));
        assert_eq!(sample_unit(2_000), Some((2, 'T')));
        assert_eq!(sample_unit(i64::MAX), None);
    }
}

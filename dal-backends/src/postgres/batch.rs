//! Batch writes (`save_all`, `append_all`) at the speed Postgres allows, with a per-item outcome.
//!
//! Measured with raw sqlx in one run (`cargo run --release -p dal-bench -- --filter pg_`, the
//! example's `trades` table with its indexes): binary `COPY` is the fastest way in for large
//! batches, then `INSERT .. SELECT FROM UNNEST`, multi-row `VALUES`, one `INSERT` per row far
//! behind. For small batches `UNNEST` wins: it is one round trip, and a small `COPY` also waits
//! for a delayed ACK (see [`COPY_HOLD_BYTES`]). For upserts of existing keys, `COPY` into a
//! temporary table plus one `INSERT .. SELECT .. ON CONFLICT` beats `UNNEST .. ON CONFLICT`. So:
//! - a batch that encodes to [`COPY_MIN_BYTES`] or more is streamed through one binary `COPY`
//!   (started once that much is encoded, so encoding overlaps the server's work); a smaller
//!   one is one `INSERT .. SELECT FROM UNNEST($1, .., $n)` statement (one array parameter per
//!   column: never near the 65,535-parameter limit, one statement text per entity);
//! - upserts (`save_all` on the ids, and `append_all` of a time series with ids on its primary
//!   key, the ids and the timestamp) first `COPY` straight into the table, the common bulk load
//!   of new keys; if a key exists (a unique violation: the statement wrote nothing) they `COPY`
//!   into the session's temporary stage and upsert from it (from [`STAGE_MIN_BYTES`] on;
//!   `UNNEST .. ON CONFLICT` below), and remember that for the entity, so its later upserts skip
//!   the first attempt.
//!
//! Per-item outcome: every row is checked while it is encoded (NUL in text, `max_len`,
//! timestamps Postgres cannot hold); rejected rows are reported and the others written. Keys
//! repeated within one upsert batch are written once, the last occurrence winning (the
//! earlier ones count as written and replaced). When the server rejects the batch (a
//! constraint), nothing of it was written (one statement, or one transaction for several
//! chunks); the rows are then bisected under savepoints to find the rejected ones, and the
//! others are written, all inside one transaction, so nothing half-written ever remains.
//! Inside a [`super::PgTx`] the whole batch runs under a savepoint, so a rejection never aborts
//! the transaction.
//!
//! Upserts are idempotent, so a batch whose connection was lost is run again once on another
//! connection. An `append_all` without ids is not: when the connection is lost after the data
//! or the COMMIT was sent and before the reply, the batch fails with
//! [`Error::OutcomeUnknown`](dal::Error::OutcomeUnknown) (it was written entirely or not at all).

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use dal::{BatchReport, Entity, Error, FieldMeta, Keyed, Result, TimeSeries};
use sqlx::Connection as _;
use sqlx::postgres::{PgArgumentBuffer, PgArguments, PgConnection};

use super::codec::{ColumnSink, CopySink, Encoder, Scalar, Sink, write_field};
use super::ddl::TableRole;
use super::error::{self, Failure};
use super::sql::{self, kind};
use super::store::{Session, retry_stale};

/// Smallest batch written with `COPY` (below it, `UNNEST`'s single round trip wins).
pub(crate) const COPY_MIN_ROWS: usize = 64;
/// Rows per `UNNEST` statement (bounds the message size; several run in one transaction).
const UNNEST_CHUNK_ROWS: usize = 100_000;
/// `COPY` data held back until the end, so that the last piece sent is large: sqlx leaves
/// Nagle's algorithm on, and a small final `CopyData` followed by `CopyDone` waits for the
/// server's delayed ACK (40 ms; measured: a 10-row `COPY` took 45 ms).
const COPY_HOLD_BYTES: usize = 256 * 1024;
/// A batch is inserted with `COPY` when it encodes to at least this much, else with one
/// `UNNEST` statement (measured crossover: between 1,000 and 10,000 trade rows, ~300 B each).
const COPY_MIN_BYTES: usize = 1024 * 1024;
/// An upsert of existing keys goes through the stage from this size on (measured: 100k trades
/// 1.2x faster than `UNNEST .. ON CONFLICT`, 1,000 trades 2x slower).
const STAGE_MIN_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Plain inserts (a time series without ids).
    Insert,
    /// Upserts on the key of the table's role.
    Upsert(TableRole),
}

impl Mode {
    /// Whether a field is part of the key rows are deduplicated by.
    fn is_key(self, field: &FieldMeta) -> bool {
        match self {
            Mode::Insert => false,
            Mode::Upsert(TableRole::Record) => field.id,
            Mode::Upsert(TableRole::TimeSeries) => field.id || field.timestamp,
        }
    }
}

/// `save_all`: upsert every row, last occurrence of a key winning.
pub(crate) async fn save_all<S: Session, T: Keyed>(s: &S, rows: &[T]) -> Result<BatchReport> {
    if T::META.id_fields.is_empty() {
        return Err(Error::invalid(
            T::META.name,
            "save_all needs #[entity(id)] fields",
        ));
    }
    write_all(s, rows, Mode::Upsert(TableRole::Record)).await
}

/// `append_all`: for a time series with ids, upserts on (ids.., timestamp), so a retried batch
/// never doubles rows and a row with the same ids and timestamp replaces the stored one; plain
/// inserts without ids.
pub(crate) async fn append_all<S: Session, T: TimeSeries>(
    s: &S,
    rows: &[T],
) -> Result<BatchReport> {
    let mode = if T::META.id_fields.is_empty() {
        Mode::Insert
    } else {
        Mode::Upsert(TableRole::TimeSeries)
    };
    write_all(s, rows, mode).await
}

async fn write_all<S: Session, T: Entity>(s: &S, rows: &[T], mode: Mode) -> Result<BatchReport> {
    match mode {
        // The whole batch is atomic and an upsert: running it again is safe.
        Mode::Upsert(_) => retry_stale(s, || write(s, rows, mode)).await,
        // Without ids a batch whose commit was lost on the way back would be written twice.
        Mode::Insert => write(s, rows, mode).await,
    }
}

/// Rows that passed the checks, with the failures of the others.
struct Checked {
    /// Indices (into the input) of rows to write, ascending.
    rows: Vec<usize>,
    failed: Vec<(usize, Error)>,
}

async fn write<S: Session, T: Entity>(s: &S, rows: &[T], mode: Mode) -> Result<BatchReport> {
    if rows.is_empty() {
        return Ok(BatchReport::default());
    }
    let meta = T::META;
    let state = s.pg().entity_state::<T>();
    let mut conn = s.conn().await?;
    if let Mode::Upsert(role) = mode {
        s.pg().check_table_key::<T>(&state, &mut conn, role).await?;
    }
    // Inside a transaction a failed statement would abort it: give the batch a savepoint.
    let wrap = !s.pooled();
    // An insert batch outside a transaction is not repeated: a lost reply to what commits it
    // (the end of the COPY, the statement, the COMMIT) leaves its outcome unknown.
    let unknown_outcome = mode == Mode::Insert && !wrap;
    let fail_commit = |e: sqlx::Error| {
        if unknown_outcome {
            s.pg().fail_unknown(meta, "append_all", e)
        } else {
            s.pg().fail(Some(meta), e)
        }
    };

    // Set when COPY already showed the server rejects a row: go straight to bisection.
    let mut rejected = false;
    if rows.len() >= COPY_MIN_ROWS {
        // Upserts first COPY straight into the table (a bulk load of new keys); once an entity's
        // upserts are known to meet existing keys, they COPY into a temporary table and upsert
        // from there with one INSERT .. SELECT .. ON CONFLICT.
        let mut staged =
            matches!(mode, Mode::Upsert(_)) && state.upserts_conflict.load(Ordering::Relaxed);
        loop {
            let plan = copy_plan::<S, T>(s, mode, staged);
            let attempt = if wrap {
                let mut unit = conn.begin().await.map_err(|e| s.pg().fail(Some(meta), e))?;
                let r = copy_rows(&mut unit, rows, mode, &plan).await;
                if matches!(r, Ok(CopyOutcome::Written(_))) {
                    unit.commit()
                        .await
                        .map_err(|e| s.pg().fail(Some(meta), e))?;
                }
                r
            } else {
                copy_rows(&mut conn, rows, mode, &plan).await
            };
            let attempt = match attempt {
                // CopyDone of an insert was sent: the COPY may have committed.
                Err(CopyError::Finishing(e)) if unknown_outcome && error::reply_lost(&e) => {
                    return Err(fail_commit(e));
                }
                Err(CopyError::Finishing(e) | CopyError::Before(e)) => Err(e),
                Ok(outcome) => Ok(outcome),
            };
            match attempt {
                Ok(CopyOutcome::Written(checked)) => {
                    return Ok(report(rows.len(), checked.failed));
                }
                // Repeated keys (the UNNEST path writes each once) or too little data.
                Ok(CopyOutcome::Duplicates | CopyOutcome::TooSmall) => break,
                Err(e)
                    if matches!(mode, Mode::Upsert(_))
                        && !staged
                        && error::sqlstate(&e) == Some("23505") =>
                {
                    // Existing keys: the statement wrote nothing; upsert through the stage.
                    state.upserts_conflict.store(true, Ordering::Relaxed);
                    staged = true;
                }
                Err(e) if error::failure(&e) == Failure::Row => {
                    rejected = true;
                    break;
                }
                Err(e) => return Err(s.pg().fail(Some(meta), e)),
            }
        }
    }

    let (checked, mut encoded) = check_rows(rows, mode)?;
    if checked.rows.is_empty() {
        return Ok(report(rows.len(), checked.failed));
    }
    let chunks: Vec<&[usize]> = checked.rows.chunks(UNNEST_CHUNK_ROWS).collect();
    let statement = unnest_statement::<S, T>(s, mode);
    if rejected {
        let mut failed = checked.failed;
        bisect(
            s,
            &mut conn,
            &statement,
            rows,
            &checked.rows,
            &mut failed,
            &fail_commit,
        )
        .await?;
        return Ok(report(rows.len(), failed));
    }
    let attempt = if wrap || chunks.len() > 1 {
        let mut unit = conn.begin().await.map_err(|e| s.pg().fail(Some(meta), e))?;
        let r = unnest_chunks(&mut unit, &statement, rows, &chunks, encoded.take()).await;
        if r.is_ok() {
            unit.commit().await.map_err(fail_commit)?;
        }
        r
    } else {
        let r = unnest_chunks(&mut conn, &statement, rows, &chunks, encoded.take()).await;
        match r {
            // The one statement of an insert was sent: it may have committed.
            Err(e) if unknown_outcome && error::reply_lost(&e) => {
                return Err(fail_commit(e));
            }
            r => r,
        }
    };
    match attempt {
        Ok(()) => Ok(report(rows.len(), checked.failed)),
        Err(e) if error::failure(&e) == Failure::Row => {
            let mut failed = checked.failed;
            bisect(
                s,
                &mut conn,
                &statement,
                rows,
                &checked.rows,
                &mut failed,
                &fail_commit,
            )
            .await?;
            Ok(report(rows.len(), failed))
        }
        Err(e) => Err(s.pg().fail(Some(meta), e)),
    }
}

fn report(total: usize, mut failed: Vec<(usize, Error)>) -> BatchReport {
    failed.sort_by_key(|(i, _)| *i);
    BatchReport {
        written: total - failed.len(),
        failed,
    }
}

fn unnest_statement<S: Session, T: Entity>(s: &S, mode: Mode) -> std::sync::Arc<str> {
    let meta = T::META;
    let (k, upsert) = match mode {
        Mode::Insert => (kind::UNNEST_INSERT, None),
        Mode::Upsert(TableRole::Record) => (kind::UNNEST_UPSERT, Some(TableRole::Record)),
        Mode::Upsert(TableRole::TimeSeries) => (kind::UNNEST_APPEND, Some(TableRole::TimeSeries)),
    };
    s.pg()
        .statements()
        .get::<T>(vec![k], || sql::unnest_insert(meta, upsert))
}

/// A sink that also records the key fields' bytes (the identity of the row: its ids, plus the
/// timestamp in a time series).
struct WithKeys<'a, S> {
    inner: &'a mut S,
    keys: &'a mut PgArgumentBuffer,
    mode: Mode,
}

impl<S: Sink> Sink for WithKeys<'_, S> {
    fn value(&mut self, field: &'static FieldMeta, v: Option<Scalar<'_>>) -> Result<()> {
        if self.mode.is_key(field) {
            write_field(self.keys, v).map_err(|e| Error::codec(field, e))?;
        }
        self.inner.value(field, v)
    }
}

/// Key bytes of the rows written so far: `(start, end)` into a shared buffer, per row.
#[derive(Default)]
struct Keys {
    buf: PgArgumentBuffer,
    spans: Vec<(usize, usize, usize)>,
}

impl Keys {
    /// Rows whose key appears again later in the batch (they are replaced by the later row).
    fn superseded(&self) -> Vec<usize> {
        let mut seen: HashMap<&[u8], usize> = HashMap::with_capacity(self.spans.len());
        let mut out = Vec::new();
        for &(start, end, row) in &self.spans {
            if let Some(prev) = seen.insert(&self.buf[start..end], row) {
                out.push(prev);
            }
        }
        out
    }
}

enum CopyOutcome {
    Written(Checked),
    /// An upsert batch repeats a key; nothing was written.
    Duplicates,
    /// The batch encodes to less than the plan's `min_bytes`; nothing was sent.
    TooSmall,
}

/// The statements of one `COPY` write.
struct CopyPlan {
    /// Run once before the `COPY` starts (create and empty the stage).
    prelude: Option<String>,
    copy: String,
    /// Run after the `COPY` (move the stage into the table).
    finish: Option<std::sync::Arc<str>>,
    /// Below this much encoded data, `COPY` is not worth it.
    min_bytes: usize,
}

fn copy_plan<S: Session, T: Entity>(s: &S, mode: Mode, staged: bool) -> CopyPlan {
    let meta = T::META;
    if !staged {
        return CopyPlan {
            prelude: None,
            copy: sql::copy_in(meta, None),
            finish: None,
            min_bytes: COPY_MIN_BYTES,
        };
    }
    let stage = sql::stage_table(meta);
    // Only upserts are staged.
    let (k, role) = match mode {
        Mode::Upsert(TableRole::TimeSeries) => (kind::STAGE_APPEND, TableRole::TimeSeries),
        _ => (kind::STAGE_UPSERT, TableRole::Record),
    };
    CopyPlan {
        prelude: Some(sql::stage_prelude(meta, &stage)),
        copy: sql::copy_in(meta, Some(&stage)),
        finish: Some(
            s.pg()
                .statements()
                .get::<T>(vec![k], || sql::stage_upsert(meta, &stage, role)),
        ),
        min_bytes: STAGE_MIN_BYTES,
    }
}

/// Rows encoded for `COPY`, with the checks' outcome.
struct CopyEncoder {
    sink: CopySink,
    checked: Checked,
    width: usize,
}

impl CopyEncoder {
    fn push<T: Entity>(&mut self, i: usize, row: &T) {
        self.sink.begin_row(self.width);
        match row.encode(&mut Encoder::row(&mut self.sink)) {
            Ok(()) => self.checked.rows.push(i),
            Err(e) => {
                self.sink.undo_row();
                self.checked.failed.push((i, e));
            }
        }
    }
}

/// Whether an upsert batch repeats a key (rows whose key cannot be encoded are skipped: the
/// main pass reports them).
fn repeats_keys<T: Entity>(rows: &[T], mode: Mode) -> bool {
    struct Discard;
    impl Sink for Discard {
        fn value(&mut self, _: &'static FieldMeta, _: Option<Scalar<'_>>) -> Result<()> {
            Ok(())
        }
    }
    let mut keys = Keys::default();
    for (i, row) in rows.iter().enumerate() {
        let start = keys.buf.len();
        let r = row.encode(&mut Encoder::filter(&mut WithKeys {
            inner: &mut Discard,
            keys: &mut keys.buf,
            mode,
        }));
        match r {
            Ok(()) => keys.spans.push((start, keys.buf.len(), i)),
            Err(_) => keys.buf.truncate(start),
        }
    }
    !keys.superseded().is_empty()
}

/// Why a `COPY` write failed: before its end was sent (nothing can have been written), or while
/// finishing it (it may have been committed).
enum CopyError {
    Before(sqlx::Error),
    Finishing(sqlx::Error),
}

impl From<sqlx::Error> for CopyError {
    fn from(e: sqlx::Error) -> Self {
        CopyError::Before(e)
    }
}

/// Streams every row through one binary `COPY`, started once enough data is encoded; checks
/// each row as it is encoded.
async fn copy_rows<T: Entity>(
    conn: &mut PgConnection,
    rows: &[T],
    mode: Mode,
    plan: &CopyPlan,
) -> Result<CopyOutcome, CopyError> {
    // Repeated keys are found before anything is sent: aborting a COPY the server has already
    // failed leaves sqlx's connection out of step (its `abort` expects only its own error).
    if matches!(mode, Mode::Upsert(_)) && repeats_keys(rows, mode) {
        return Ok(CopyOutcome::Duplicates);
    }
    let mut enc = CopyEncoder {
        sink: CopySink::new(),
        checked: Checked {
            rows: Vec::with_capacity(rows.len()),
            failed: Vec::new(),
        },
        width: T::META.fields.len(),
    };
    let mut next = 0;
    let start_at = plan.min_bytes.max(2 * COPY_HOLD_BYTES);
    while next < rows.len() && enc.sink.buf.len() < start_at {
        enc.push(next, &rows[next]);
        next += 1;
    }
    if next == rows.len() && enc.sink.buf.len() < plan.min_bytes {
        return Ok(CopyOutcome::TooSmall);
    }
    if let Some(prelude) = &plan.prelude {
        sqlx::raw_sql(sqlx::AssertSqlSafe(prelude.clone()))
            .execute(&mut *conn)
            .await?;
    }
    {
        let mut copy = conn.copy_in_raw(&plan.copy).await?;
        loop {
            if enc.sink.buf.len() >= 2 * COPY_HOLD_BYTES {
                // COPY data may split rows anywhere: keep the last part for the final send.
                let cut = enc.sink.buf.len() - COPY_HOLD_BYTES;
                copy.send(&enc.sink.buf[..cut]).await?;
                enc.sink.buf.drain(..cut);
            }
            if next == rows.len() {
                break;
            }
            enc.push(next, &rows[next]);
            next += 1;
        }
        enc.sink.finish();
        copy.send(&enc.sink.buf[..]).await?;
        copy.finish().await.map_err(CopyError::Finishing)?;
    }
    if let Some(finish) = &plan.finish {
        sqlx::query(sqlx::AssertSqlSafe(finish.clone()))
            .execute(&mut *conn)
            .await
            .map_err(CopyError::Finishing)?;
    }
    Ok(CopyOutcome::Written(enc.checked))
}

/// Checks every row (and, for upserts, drops rows whose key comes again later), encoding the
/// good ones into column arrays on the way: when nothing was dropped and the batch is one
/// chunk, those arrays are what the statement binds (each row is encoded once).
fn check_rows<T: Entity>(rows: &[T], mode: Mode) -> Result<(Checked, Option<ColumnSink>)> {
    let fields: Vec<&'static FieldMeta> = T::META.fields.iter().collect();
    let mut sink = ColumnSink::new(&fields);
    let mut keys = Keys::default();
    let mut checked = Checked {
        rows: Vec::with_capacity(rows.len()),
        failed: Vec::new(),
    };
    for (i, row) in rows.iter().enumerate() {
        let key_start = keys.buf.len();
        sink.begin_row();
        let r = if matches!(mode, Mode::Upsert(_)) {
            row.encode(&mut Encoder::row(&mut WithKeys {
                inner: &mut sink,
                keys: &mut keys.buf,
                mode,
            }))
        } else {
            row.encode(&mut Encoder::row(&mut sink))
        };
        match r {
            Ok(()) => {
                checked.rows.push(i);
                keys.spans.push((key_start, keys.buf.len(), i));
            }
            Err(e) => {
                sink.undo_row();
                keys.buf.truncate(key_start);
                checked.failed.push((i, e));
            }
        }
    }
    let mut encoded = (checked.rows.len() <= UNNEST_CHUNK_ROWS).then_some(sink);
    if matches!(mode, Mode::Upsert(_)) {
        let mut superseded = keys.superseded();
        if !superseded.is_empty() {
            superseded.sort_unstable();
            checked
                .rows
                .retain(|i| superseded.binary_search(i).is_err());
            encoded = None;
        }
    }
    Ok((checked, encoded))
}

/// The column arrays of `part` (rows already checked).
fn columns<T: Entity>(rows: &[T], part: &[usize]) -> Result<ColumnSink> {
    let fields: Vec<&'static FieldMeta> = T::META.fields.iter().collect();
    let mut sink = ColumnSink::new(&fields);
    for &i in part {
        sink.begin_row();
        if let Err(e) = rows[i].encode(&mut Encoder::row(&mut sink)) {
            sink.undo_row();
            return Err(e);
        }
    }
    Ok(sink)
}

/// Why an `UNNEST` statement could not run: the rows (encoding), or the server.
enum StmtError {
    Encode(Error),
    Server(sqlx::Error),
}

async fn unnest_part<T: Entity>(
    conn: &mut PgConnection,
    statement: &std::sync::Arc<str>,
    rows: &[T],
    part: &[usize],
    encoded: Option<ColumnSink>,
) -> std::result::Result<(), StmtError> {
    let sink = match encoded {
        Some(sink) => sink,
        None => columns(rows, part).map_err(StmtError::Encode)?,
    };
    let mut args = PgArguments::default();
    sink.bind(&mut args)
        .map_err(|e| StmtError::Encode(Error::invalid(T::META.name, e)))?;
    sqlx::query_with(sqlx::AssertSqlSafe(statement.clone()), args)
        .execute(&mut *conn)
        .await
        .map_err(StmtError::Server)?;
    Ok(())
}

async fn unnest_chunks<T: Entity>(
    conn: &mut PgConnection,
    statement: &std::sync::Arc<str>,
    rows: &[T],
    chunks: &[&[usize]],
    mut encoded: Option<ColumnSink>,
) -> sqlx::Result<()> {
    for part in chunks {
        let pre = if chunks.len() == 1 {
            encoded.take()
        } else {
            None
        };
        match unnest_part(conn, statement, rows, part, pre).await {
            Ok(()) => {}
            Err(StmtError::Server(e)) => return Err(e),
            // Rows were checked before; an encoding failure here is a bug in the checks, so
            // surface it as a server-side data error would be: the bisect isolates the row.
            Err(StmtError::Encode(e)) => return Err(sqlx::Error::Encode(e.to_string().into())),
        }
    }
    Ok(())
}

/// Writes `include` in halves under savepoints until every rejected row is isolated; all in one
/// transaction (or savepoint), committed at the end (a failed COMMIT mapped by `fail_commit`).
async fn bisect<S: Session, T: Entity>(
    s: &S,
    conn: &mut PgConnection,
    statement: &std::sync::Arc<str>,
    rows: &[T],
    include: &[usize],
    failed: &mut Vec<(usize, Error)>,
    fail_commit: &(dyn Fn(sqlx::Error) -> Error + Sync),
) -> Result<()> {
    let meta = T::META;
    let fail = |e| s.pg().fail(Some(meta), e);
    let mut unit = conn.begin().await.map_err(fail)?;
    let mut stack: Vec<&[usize]> = include.chunks(UNNEST_CHUNK_ROWS).rev().collect();
    while let Some(part) = stack.pop() {
        let mut sp = unit.begin().await.map_err(fail)?;
        match unnest_part(&mut sp, statement, rows, part, None).await {
            Ok(()) => sp.commit().await.map_err(fail)?,
            Err(StmtError::Server(e)) if error::failure(&e) == Failure::Row => {
                sp.rollback().await.map_err(fail)?;
                if let [only] = part {
                    failed.push((*only, error::map_entity(meta, e)));
                } else {
                    let (a, b) = part.split_at(part.len() / 2);
                    stack.push(b);
                    stack.push(a);
                }
            }
            Err(StmtError::Server(e)) => return Err(fail(e)),
            Err(StmtError::Encode(e)) => {
                sp.rollback().await.map_err(fail)?;
                if let [only] = part {
                    failed.push((*only, e));
                } else {
                    let (a, b) = part.split_at(part.len() / 2);
                    stack.push(b);
                    stack.push(a);
                }
            }
        }
    }
    unit.commit().await.map_err(fail_commit)?;
    Ok(())
}

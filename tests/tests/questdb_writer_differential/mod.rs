//! The differential suite's QuestDB write path, against the loopback fake: QuestDB cannot run in
//! CI, so what the writer sends is checked line by line instead of read back.
//!
//! For every generated time-series shape ([`visit_series_shapes`], plus [`EveryKind`], which
//! holds every kind a time series can: the drawn shapes need not), proptest draws sequences of
//! `append`, `append_all` and `flush` with the suite's hostile values and plays them through a
//! real [`QuestDb`] handle whose writer points at [`FakeQuestDb`] (ILP over HTTP, the writer's
//! default protocol version 3; tables are not created, as the fake has no PG wire). Then:
//! 1. a row is refused at append exactly when the backend's declared
//!    [`Limits`](dal::Limits) refuse it, with a `Validation` error naming the entity and a field
//!    whose value is outside them (in a batch, item by item); every other row is accepted;
//! 2. after `flush`, the lines the fake received are exactly the accepted rows, each once, in
//!    append order, and each decodes ([`ilp`]) to the row as QuestDB stores it: table, every
//!    symbol and column (text exactly, escapes undone; integers; floats bit for bit; booleans, a
//!    nullable one as 0/1; UUIDs as text; timestamps and the designated timestamp in
//!    microseconds, floored; decimals at their declared scale; JSON text), a `None` absent.
//!
//! Budget as the differential suite's: `DAL_DIFFERENTIAL_CASES` (sequences per shape, 4),
//! `DAL_DIFFERENTIAL_SEED` (hex, printed), `DAL_DIFFERENTIAL_OPS` (longest sequence, 12),
//! `DAL_DIFFERENTIAL_SHRINK` (shrinking steps, 256).

mod ilp;

use std::fmt::Debug;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dal::conformance::differential::shapes::Doc;
use dal::conformance::differential::values as v;
use dal::conformance::differential::{Budget, SeriesShapeVisitor, Shape, visit_series_shapes};
use dal::value::RowCapture;
use dal::{
    Backend, BatchReport, Entity, Error, FieldKind, FieldMeta, Limits, Repository, TimeSeries,
    TimeSeriesStore, Value,
};
use dal_backends::questdb::{ProtocolVersion, QuestDb, QuestDbOptions};
use proptest::option::of;
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestError};
use rust_decimal::Decimal;
use uuid::Uuid;

use self::ilp::{IlpLine, IlpValue, parse_body};
use super::FakeQuestDb;

/// The namespace suffix of every table (checked in every line).
const NAMESPACE: &str = "wdiff";

/// Every kind a QuestDB time series holds, in an order that needs the encoder's two walks (text
/// and JSON before the symbols). The generated shapes are drawn at build time and need not
/// include a decimal or a boolean; this one always does.
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "dif_every_kind", questdb(partition = "day", dedup))]
struct EveryKind {
    #[entity(precision = 18, scale = 8)]
    price: Decimal,
    note: String,
    #[entity(json)]
    doc: Option<Doc>,
    #[entity(symbol)]
    venue: String,
    #[entity(id)]
    id: i64,
    flag: bool,
    maybe: Option<bool>,
    #[entity(scale = 4)]
    fee: Option<Decimal>,
    small: i16,
    ratio: f32,
    #[entity(timestamp)]
    ts: DateTime<Utc>,
    seen: Option<DateTime<Utc>>,
    #[entity(max_len = 8)]
    short: Option<String>,
    #[entity(symbol)]
    side: Option<String>,
    key: Uuid,
    count: i32,
    level: f64,
}

impl Shape for EveryKind {
    fn strategy() -> BoxedStrategy<Self> {
        (
            (
                v::decimal(),
                v::text(),
                of(v::doc()),
                v::symbol(),
                v::small_i64(),
                any::<bool>(),
                of(any::<bool>()),
                of(v::decimal()),
            ),
            (
                v::i16(),
                v::f32(),
                v::series_timestamp(),
                of(v::timestamp()),
                of(v::text()),
                of(v::symbol()),
                v::uuid(),
                v::i32(),
                v::f64(),
            ),
        )
            .prop_map(
                |(
                    (price, note, doc, venue, id, flag, maybe, fee),
                    (small, ratio, ts, seen, short, side, key, count, level),
                )| EveryKind {
                    price,
                    note,
                    doc,
                    venue,
                    id,
                    flag,
                    maybe,
                    fee,
                    small,
                    ratio,
                    ts,
                    seen,
                    short,
                    side,
                    key,
                    count,
                    level,
                },
            )
            .boxed()
    }
}

/// One operation of a write sequence.
#[derive(Debug, Clone)]
enum Op<S> {
    Append(S),
    AppendAll(Vec<S>),
    /// The writer's flush: sends what is staged (one request), so sequences span requests.
    Flush,
}

fn sequence<S: Shape>(max_ops: usize) -> BoxedStrategy<Vec<Op<S>>> {
    let op = prop_oneof![
        3 => S::strategy().prop_map(Op::Append),
        3 => proptest::collection::vec(S::strategy(), 0..8).prop_map(Op::AppendAll),
        1 => Just(Op::Flush),
    ];
    proptest::collection::vec(op, 1..=max_ops).boxed()
}

/// Text cut for a message: long hostile values are up to 1 MiB.
fn short(s: &str) -> String {
    if s.len() <= 80 {
        return format!("{s:?}");
    }
    let cut: String = s.chars().take(40).collect();
    format!("{cut:?}… ({} bytes)", s.len())
}

/// A `Debug` rendering with every over-long line cut.
fn short_debug(v: &impl Debug) -> String {
    format!("{v:#?}")
        .lines()
        .map(|l| {
            if l.len() <= 240 {
                l.to_owned()
            } else {
                let cut: String = l.chars().take(160).collect();
                format!("{cut}… ({} bytes)", l.len())
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The row's values in field order.
fn values_of<S: Entity>(row: &S) -> Result<Vec<Value>, String> {
    let mut capture = RowCapture(Vec::new());
    row.encode(&mut capture)
        .map_err(|e| format!("the row cannot be captured: {e}"))?;
    Ok(capture.0)
}

/// Whether this one value is outside `limits` (what a refusal naming its field must mean).
fn outside_limits(limits: &Limits, field: &'static FieldMeta, value: &Value) -> bool {
    match value {
        Value::I32(x) => limits.check_i32(field, *x).is_err(),
        Value::I64(x) => limits.check_i64(field, *x).is_err(),
        Value::F32(x) => limits.check_f64(field, f64::from(*x)).is_err(),
        Value::F64(x) => limits.check_f64(field, *x).is_err(),
        Value::Text(s) | Value::Json(s) => limits.check_text(field, s).is_err(),
        Value::Uuid(u) => limits.check_uuid(field, u).is_err(),
        Value::Timestamp(t) => limits.check_timestamp(field, t).is_err(),
        Value::Decimal(d) => field.fit_decimal(d).is_err(),
        Value::Null | Value::Bool(_) | Value::I16(_) | Value::Bytes(_) => false,
    }
}

/// Checks a refusal: a `Validation` error naming this entity and a field whose value is outside
/// the limits.
fn check_refusal<S: Shape>(limits: &Limits, row: &S, e: &Error) -> Result<(), String> {
    let named = match e {
        Error::Validation {
            entity,
            field: Some(f),
            ..
        } if *entity == S::META.name => S::META.field(f),
        _ => None,
    };
    let Some(field) = named else {
        return Err(format!(
            "a row outside the limits was refused with `{e}` ({}), not a Validation error naming {} and a field: {}",
            short_debug(e),
            S::META.name,
            short_debug(row)
        ));
    };
    let values = values_of(row)?;
    let value = values.get(field.index).unwrap_or(&Value::Null);
    if !outside_limits(limits, field, value) {
        return Err(format!(
            "the refusal `{e}` names field `{}`, whose value is inside the limits: {}",
            field.name,
            short_debug(row)
        ));
    }
    Ok(())
}

/// One `append`: refused exactly when the limits refuse the row. Returns whether it was accepted.
fn check_append<S: Shape>(limits: &Limits, row: &S, got: &dal::Result<()>) -> Result<bool, String> {
    match (limits.check(row), got) {
        (Ok(()), Ok(())) => Ok(true),
        (Err(_), Err(e)) => check_refusal(limits, row, e).map(|()| false),
        (Ok(()), Err(e)) => Err(format!(
            "append refused a row the declared Limits allow: `{e}` ({}); row: {}",
            short_debug(e),
            short_debug(row)
        )),
        (Err(why), Ok(())) => Err(format!(
            "append accepted a row outside the declared Limits ({why}): {}",
            short_debug(row)
        )),
    }
}

/// One `append_all`: the report lists exactly the rows the limits refuse. Returns which rows
/// were accepted.
fn check_batch<S: Shape>(
    limits: &Limits,
    rows: &[S],
    report: dal::Result<BatchReport>,
) -> Result<Vec<bool>, String> {
    let report = report.map_err(|e| {
        format!("append_all failed as a whole (`{e}`); a batch reports refused rows one by one")
    })?;
    let mut accepted = vec![true; rows.len()];
    let mut last = None;
    for (index, e) in &report.failed {
        if last.is_some_and(|l| l >= *index) {
            return Err(format!(
                "append_all reported item {index} out of order or twice: {:?}",
                report.failed.iter().map(|(i, _)| i).collect::<Vec<_>>()
            ));
        }
        last = Some(*index);
        let Some(slot) = accepted.get_mut(*index) else {
            return Err(format!(
                "append_all reported item {index} of {}",
                rows.len()
            ));
        };
        *slot = false;
        let row = &rows[*index];
        if limits.check(row).is_ok() {
            return Err(format!(
                "append_all refused item {index}, which the declared Limits allow: `{e}` ({}); row: {}",
                short_debug(e),
                short_debug(row)
            ));
        }
        check_refusal(limits, row, e).map_err(|m| format!("append_all item {index}: {m}"))?;
    }
    for (index, (row, ok)) in rows.iter().zip(&accepted).enumerate() {
        if let (true, Err(why)) = (ok, limits.check(row)) {
            return Err(format!(
                "append_all accepted item {index}, outside the declared Limits ({why}): {}",
                short_debug(row)
            ));
        }
    }
    let written = accepted.iter().filter(|ok| **ok).count();
    if report.written != written {
        return Err(format!(
            "append_all says {} written, but {written} rows were not refused",
            report.written
        ));
    }
    Ok(accepted)
}

/// Where a field's value must be in a line, and what it must be.
#[derive(Debug, PartialEq)]
enum Want {
    Absent,
    Symbol(String),
    Column(IlpValue),
}

/// What QuestDB must receive for one field's value.
fn want(field: &'static FieldMeta, value: &Value) -> Result<Want, String> {
    Ok(match value {
        Value::Null => Want::Absent,
        Value::Text(s) if field.symbol => Want::Symbol(s.clone()),
        Value::Text(s) | Value::Json(s) => Want::Column(IlpValue::Str(s.clone())),
        // QuestDB's BOOLEAN has no NULL: a nullable boolean is an INT holding 0 or 1.
        Value::Bool(b) if field.nullable => Want::Column(IlpValue::Int(i64::from(*b))),
        Value::Bool(b) => Want::Column(IlpValue::Bool(*b)),
        Value::I16(x) => Want::Column(IlpValue::Int(i64::from(*x))),
        Value::I32(x) => Want::Column(IlpValue::Int(i64::from(*x))),
        Value::I64(x) => Want::Column(IlpValue::Int(*x)),
        Value::F32(x) => Want::Column(IlpValue::F64(f64::from(*x).to_bits())),
        Value::F64(x) => Want::Column(IlpValue::F64(x.to_bits())),
        // QuestDB's UUID column parses the hyphenated text.
        Value::Uuid(u) => Want::Column(IlpValue::Str(u.hyphenated().to_string())),
        Value::Timestamp(t) => Want::Column(IlpValue::Micros(t.timestamp_micros())),
        Value::Decimal(d) => {
            let spec = field.decimal.ok_or_else(|| {
                format!(
                    "field `{}` is a decimal without a declared scale",
                    field.name
                )
            })?;
            let fitted = field
                .fit_decimal(d)
                .map_err(|e| format!("an accepted decimal does not fit: {e}"))?;
            if fitted.scale() != spec.scale {
                return Err(format!(
                    "fit_decimal gave scale {} for declared scale {}",
                    fitted.scale(),
                    spec.scale
                ));
            }
            Want::Column(IlpValue::Decimal {
                mantissa: fitted.mantissa(),
                scale: spec.scale as u8,
            })
        }
        Value::Bytes(_) => {
            return Err(format!(
                "field `{}` holds bytes, which QuestDB cannot",
                field.name
            ));
        }
    })
}

/// Checks that `line` is `row` as QuestDB stores it, in table `table`.
fn check_line<S: Shape + TimeSeries>(table: &str, line: &IlpLine, row: &S) -> Result<(), String> {
    if line.table != table {
        return Err(format!("table {:?}, not {table:?}", line.table));
    }
    let values = values_of(row)?;
    let mut names: Vec<&str> = line.symbols.iter().map(|(n, _)| n.as_str()).collect();
    names.extend(line.columns.iter().map(|(n, _)| n.as_str()));
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(format!("column `{n}` is sent twice"));
        }
        let known = S::META
            .fields
            .iter()
            .any(|f| f.column == *n && !f.timestamp);
        if !known {
            return Err(format!(
                "column `{n}` is not a non-designated column of {}",
                S::META.name
            ));
        }
    }
    for field in S::META.fields {
        let value = values.get(field.index).unwrap_or(&Value::Null);
        if field.timestamp {
            let Value::Timestamp(ts) = value else {
                return Err(format!("designated `{}` holds {value:?}", field.name));
            };
            let want = IlpValue::Micros(ts.timestamp_micros());
            if line.at != want {
                return Err(format!(
                    "designated timestamp `{}`: sent {}, the row holds {ts:?}, so {want}",
                    field.name, line.at
                ));
            }
            continue;
        }
        let symbol = line
            .symbols
            .iter()
            .find(|(n, _)| n == field.column)
            .map(|(_, v)| Want::Symbol(v.clone()));
        let column = line
            .columns
            .iter()
            .find(|(n, _)| n == field.column)
            .map(|(_, v)| Want::Column(v.clone()));
        let got = symbol.or(column).unwrap_or(Want::Absent);
        let expected = want(field, value)?;
        if got != expected {
            let show = |w: &Want| match w {
                Want::Absent => "absent".to_owned(),
                Want::Symbol(s) => format!("symbol {}", short(s)),
                Want::Column(v) => format!("column {v}"),
            };
            return Err(format!(
                "field `{}` ({:?}{}): sent {}, the row holds {}, so {}",
                field.name,
                field.kind,
                if field.nullable { ", Option" } else { "" },
                show(&got),
                match value {
                    Value::Text(s) | Value::Json(s) => short(s),
                    other => format!("{other:?}"),
                },
                show(&expected)
            ));
        }
    }
    Ok(())
}

/// What a run checked, summed over its cases.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    /// Lines decoded and compared with their rows.
    lines: u64,
    /// Rows refused at append.
    refused: u64,
    /// Requests the fake answered.
    requests: u64,
}

/// Plays one sequence through a fresh handle on a fresh fake and checks everything it sent.
async fn run_case<S: Shape + TimeSeries>(ops: Vec<Op<S>>) -> Result<Tally, String> {
    let server = FakeQuestDb::start();
    let mut writer = super::options();
    // Only `flush` sends, so requests follow the sequence's flushes.
    writer.flush_interval = Duration::from_secs(3600);
    let options = QuestDbOptions::new(
        format!("http::addr={};", server.addr),
        // Never contacted: tables are not created, and nothing is read.
        "postgres://admin:quest@127.0.0.1:9/qdb",
    )
    .namespace(NAMESPACE)
    .create_tables(false)
    .writer(writer);
    let db = QuestDb::connect(options).map_err(|e| format!("connect: {e}"))?;
    let checked = play_and_check(&server, &db, &ops).await;
    // Stop the writer while its fake still runs, also after a failure: rows left staged would
    // otherwise be retried in the background and could reach a later case's fake on a reused
    // port.
    let stopped = db.writer().shutdown().await;
    let tally = checked?;
    stopped.map_err(|e| format!("shutdown: {e}"))?;
    Ok(tally)
}

async fn play_and_check<S: Shape + TimeSeries>(
    server: &FakeQuestDb,
    db: &QuestDb,
    ops: &[Op<S>],
) -> Result<Tally, String> {
    if db.writer().protocol_version() != ProtocolVersion::V3 {
        return Err(format!(
            "the writer uses {:?}, not its default V3 (decimals need it)",
            db.writer().protocol_version()
        ));
    }
    let limits = db.capabilities().limits;
    let table = format!("{}_{NAMESPACE}", S::META.table);
    let repo: Repository<S, QuestDb> = Repository::new(db.clone());
    let mut accepted: Vec<S> = Vec::new();
    let mut refused = 0u64;
    for (n, op) in ops.iter().enumerate() {
        let at = |m: String| format!("operation {n}: {m}");
        match op {
            Op::Append(row) => {
                let got = repo.append(row).await;
                if check_append(&limits, row, &got).map_err(at)? {
                    accepted.push(row.clone());
                } else {
                    refused += 1;
                }
            }
            Op::AppendAll(rows) => {
                let report = repo.append_all(rows).await;
                let ok = check_batch(&limits, rows, report).map_err(at)?;
                refused += ok.iter().filter(|ok| !**ok).count() as u64;
                accepted.extend(
                    rows.iter()
                        .zip(ok)
                        .filter(|(_, ok)| *ok)
                        .map(|(r, _)| r.clone()),
                );
            }
            Op::Flush => db
                .writer()
                .flush()
                .await
                .map_err(|e| at(format!("flush failed: `{e}`")))?,
        }
    }
    db.writer()
        .flush()
        .await
        .map_err(|e| format!("the final flush failed: `{e}`"))?;
    let stats = db.writer().stats();
    let (bodies, failed) = server.with(|r| (r.bodies.clone(), r.failed));
    if failed != 0 || stats.rejected_rows != 0 || stats.retries != 0 {
        return Err(format!(
            "{failed} failed request(s) at the fake, writer stats {stats:?}"
        ));
    }
    let mut lines = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let parsed = parse_body(body).map_err(|e| {
            format!(
                "request {i} is not ILP as QuestDB reads it: {e}\n{}",
                short(&String::from_utf8_lossy(body))
            )
        })?;
        lines.extend(parsed);
    }
    for (i, (line, row)) in lines.iter().zip(&accepted).enumerate() {
        check_line(&table, line, row).map_err(|e| {
            format!(
                "line {i} (the {i}th accepted row): {e}\nline: {}\nrow: {}",
                short(&String::from_utf8_lossy(&line.raw)),
                short_debug(row)
            )
        })?;
    }
    if lines.len() != accepted.len() || stats.delivered_rows != accepted.len() as u64 {
        let detail = match (lines.get(accepted.len()), accepted.get(lines.len())) {
            (Some(extra), _) => {
                let again = lines[..accepted.len()]
                    .iter()
                    .position(|l| l.raw == extra.raw);
                format!(
                    "; the first extra line{}: {}",
                    again.map_or(String::new(), |i| format!(" (a duplicate of line {i})")),
                    short(&String::from_utf8_lossy(&extra.raw))
                )
            }
            (None, Some(lost)) => format!("; the first row with no line: {}", short_debug(lost)),
            (None, None) => String::new(),
        };
        return Err(format!(
            "{} rows accepted, {} delivered by the writer's count, {} lines received{detail}",
            accepted.len(),
            stats.delivered_rows,
            lines.len()
        ));
    }
    Ok(Tally {
        lines: lines.len() as u64,
        refused,
        requests: bodies.len() as u64,
    })
}

/// Runs the budget's cases on each shape it visits and collects the failures.
struct WriterDifferential<'a> {
    runtime: &'a tokio::runtime::Runtime,
    budget: Budget,
    shapes: Vec<&'static str>,
    failures: Vec<String>,
    tally: Tally,
}

impl SeriesShapeVisitor for WriterDifferential<'_> {
    fn visit<S: Shape + TimeSeries>(&mut self) {
        let name = S::META.name;
        self.shapes.push(name);
        let mut runner = self.budget.runner();
        let runtime = self.runtime;
        // Counted over every case run (shrinking steps included, when a case fails).
        let tally = std::cell::Cell::new(Tally::default());
        let result = runner.run(&sequence::<S>(self.budget.max_ops), |ops| {
            let t = runtime
                .block_on(run_case::<S>(ops))
                .map_err(TestCaseError::fail)?;
            let sum = tally.get();
            tally.set(Tally {
                lines: sum.lines + t.lines,
                refused: sum.refused + t.refused,
                requests: sum.requests + t.requests,
            });
            Ok(())
        });
        let t = tally.get();
        self.tally.lines += t.lines;
        self.tally.refused += t.refused;
        self.tally.requests += t.requests;
        match result {
            Ok(()) => {}
            Err(TestError::Fail(reason, case)) => self.failures.push(format!(
                "{name}: {reason}\n\nminimal failing sequence:\n{}\n\n{name}: {reason}\n\
                 reproduce with {}",
                short_debug(&case),
                self.budget.reproduce()
            )),
            Err(TestError::Abort(reason)) => self.failures.push(format!(
                "{name}: aborted: {reason} ({})",
                self.budget.reproduce()
            )),
        }
    }
}

#[test]
fn writer_differential_over_every_shape() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let budget = Budget::from_env();
    eprintln!(
        "writer_differential_over_every_shape: {}, sequences of up to {} operations",
        budget.reproduce(),
        budget.max_ops
    );
    // The fake offers what the writer speaks, as QuestDB 9.3 does.
    runtime.block_on(async {
        let server = FakeQuestDb::start();
        let writer = dal_backends::questdb::BatchWriter::start(
            &format!("http::addr={};", server.addr),
            super::options(),
        )
        .expect("writer");
        writer
            .check_endpoint()
            .await
            .expect("the fake offers protocol version 3");
    });
    let mut visitor = WriterDifferential {
        runtime: &runtime,
        budget,
        shapes: Vec::new(),
        failures: Vec::new(),
        tally: Tally::default(),
    };
    visit_series_shapes(&mut visitor);
    visitor.visit::<EveryKind>();
    assert!(
        visitor.shapes.len() >= 2,
        "no generated shapes: {:?}",
        visitor.shapes
    );
    eprintln!(
        "writer_differential_over_every_shape: {} shapes, {:?}",
        visitor.shapes.len(),
        visitor.tally
    );
    assert!(
        visitor.failures.is_empty(),
        "{} of {} shapes failed:\n\n{}",
        visitor.failures.len(),
        visitor.shapes.len(),
        visitor.failures.join("\n\n----\n\n")
    );
    // Dozens of sequences of hostile rows: some rows are sent, some refused.
    assert!(visitor.tally.lines > 0, "{:?}", visitor.tally);
    assert!(visitor.tally.refused > 0, "{:?}", visitor.tally);
}

/// `EveryKind` holds every kind a QuestDB time series can (all but bytes), whatever the
/// generated shapes hold.
#[test]
fn every_kind_holds_every_series_kind() {
    let kinds = [
        FieldKind::Bool,
        FieldKind::I16,
        FieldKind::I32,
        FieldKind::I64,
        FieldKind::F32,
        FieldKind::F64,
        FieldKind::Text,
        FieldKind::Uuid,
        FieldKind::Timestamp,
        FieldKind::Decimal,
        FieldKind::Json,
    ];
    for field in EveryKind::META.fields {
        assert!(kinds.contains(&field.kind), "{:?}", field.kind);
    }
    for kind in kinds {
        assert!(
            EveryKind::META.fields.iter().any(|f| f.kind == kind),
            "EveryKind has no {kind:?} field"
        );
    }
}

/// The bounds of the designated timestamp, where the declared limit and the encoder once
/// disagreed (the nanoseconds after the last microsecond QuestDB accepts): at and around each
/// bound, `Limits::check` and `encode_row` agree, and an accepted row's line holds its
/// microsecond.
#[test]
fn the_designated_timestamp_bounds_are_what_the_encoder_accepts() {
    use dal_backends::questdb::codec::{DESIGNATED_MAX_MICROS, DESIGNATED_MIN_MICROS, LIMITS};
    use dal_backends::questdb::{Buffer, encode_row};
    let at = |micros: i64, nanos: i64| {
        DateTime::from_timestamp_micros(micros).expect("in range")
            + chrono::Duration::nanoseconds(nanos)
    };
    let cases = [
        (at(DESIGNATED_MIN_MICROS, -1), false),
        (at(DESIGNATED_MIN_MICROS, 0), true),
        (at(DESIGNATED_MIN_MICROS, 999), true),
        (at(DESIGNATED_MAX_MICROS, 0), true),
        (at(DESIGNATED_MAX_MICROS, 999), true),
        (at(DESIGNATED_MAX_MICROS, 1_000), false),
    ];
    for (ts, holds) in cases {
        let mut row = super::row(1);
        row.ts = ts;
        assert_eq!(LIMITS.check(&row).is_ok(), holds, "Limits::check at {ts:?}");
        let mut buf = Buffer::new(ProtocolVersion::V3);
        let encoded = encode_row(&mut buf, "wt", &row);
        assert_eq!(encoded.is_ok(), holds, "encode_row at {ts:?}: {encoded:?}");
        if holds {
            let lines = parse_body(buf.as_bytes()).expect("a line");
            assert_eq!(lines.len(), 1);
            assert_eq!(lines[0].at, IlpValue::Micros(ts.timestamp_micros()));
        } else {
            assert!(
                buf.as_bytes().is_empty(),
                "nothing of a refused row is written"
            );
        }
    }
}

//! Every field order encodes: entities generated from permutations of field kinds, checked
//! against the exact ILP bytes (no server needed) and, when `QDB_CLIENT_CONF` and `QDB_PG_URL`
//! are set, written to a real QuestDB and read back.
//!
//! ILP wants every symbol before the first column and the designated timestamp last, while an
//! entity may declare its fields in any order; the encoder reorders them with a compile-time
//! plan (one walk, one walk holding a few scalars back, or two walks). A text column declared
//! before a symbol once made every append fail. The shapes below are not hand-picked: a
//! `macro_rules!` expands every permutation of each kind set into its own entity type, so the
//! designated timestamp, ids, symbols (`Some` and `None`), text, JSON and scalars meet in every
//! relative order.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use dal::{Entity, RangeQuery, Repository, TimeSeries, TimeSeriesStore};
use dal_backends::questdb::{Buffer, ProtocolVersion, QuestDb, QuestDbOptions, encode_row};
use rust_decimal::Decimal;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use uuid::Uuid;

const T0: i64 = 1_700_000_000_000_001;

fn at(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros)
        .single()
        .expect("valid timestamp")
}

/// Where a field goes in an ILP line.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    Symbol,
    Column,
    /// The designated timestamp (written with `at`, last).
    Designated,
    /// `None`: the field is left out of the line.
    Omitted,
}

/// `name=` followed by a protocol-3 binary double.
fn f64_frag(name: &str, v: f64) -> Vec<u8> {
    let mut out = format!("{name}=").into_bytes();
    out.extend_from_slice(&[b'=', 16]);
    out.extend_from_slice(&v.to_le_bytes());
    out
}

fn frag(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// The line the encoder must write: symbols in declaration order, then columns in declaration
/// order, then the designated timestamp (protocol 3: micros with a `t`).
fn expected_line(table: &str, fields: &[(Role, Vec<u8>)]) -> Vec<u8> {
    let mut out = table.as_bytes().to_vec();
    for (_, f) in fields.iter().filter(|(r, _)| *r == Role::Symbol) {
        out.push(b',');
        out.extend_from_slice(f);
    }
    let columns: Vec<&Vec<u8>> = fields
        .iter()
        .filter(|(r, _)| *r == Role::Column)
        .map(|(_, f)| f)
        .collect();
    for (i, f) in columns.iter().enumerate() {
        out.push(if i == 0 { b' ' } else { b',' });
        out.extend_from_slice(f);
    }
    out.extend_from_slice(format!(" {T0}t\n").as_bytes());
    out
}

fn check_golden<T: Entity>(row: &T, fields: &[(Role, Vec<u8>)]) {
    let order: Vec<&str> = T::META.fields.iter().map(|f| f.name).collect();
    let mut buf = Buffer::new(ProtocolVersion::V3);
    encode_row(&mut buf, "qdb_order", row)
        .unwrap_or_else(|e| panic!("field order {order:?} does not encode: {e}"));
    let want = expected_line("qdb_order", fields);
    assert_eq!(
        buf.as_bytes(),
        want.as_slice(),
        "field order {order:?}\n got: {}\nwant: {}",
        String::from_utf8_lossy(buf.as_bytes()),
        String::from_utf8_lossy(&want)
    );
    // A second row goes after the first, whole: the encoder leaves the buffer ready.
    encode_row(&mut buf, "qdb_order", row).expect("second row");
    assert_eq!(buf.row_count(), 2);
}

/// Builds one entity type from a list of `(name Type)` fields, whose name also says the field's
/// kind, and hands it to the mode: `(golden Entity)` checks its bytes, `(live $set $limit
/// Entity)` spawns a round trip on a real QuestDB.
///
/// Each name is passed twice to `@kind`: once matched as a literal (the kind), once captured and
/// used as the field's name, so the name keeps the span of the list at the call site (a name
/// written inside this macro would carry its hygiene into the derive's generated code).
macro_rules! shape {
    (@acc $d:tt $v:tt $f:tt $mode:tt ; ($k:ident $($t:tt)*) $($rest:tt)*) => {
        shape!(@kind $k $k [$($t)*] $d $v $f $mode ; $($rest)*)
    };
    (@kind ts $n:ident [$($t:tt)*] [$($d:tt)*] [$($v:tt)*] [$($f:tt)*] $mode:tt ; $($rest:tt)*) => {
        shape!(@acc [$($d)* #[entity(timestamp)] $n: $($t)*,] [$($v)* $n: at(T0),]
            [$($f)* (Role::Designated, Vec::new()),] $mode ; $($rest)*)
    };
    (@kind venue $n:ident [$($t:tt)*] [$($d:tt)*] [$($v:tt)*] [$($f:tt)*] $mode:tt ; $($rest:tt)*) => {
        shape!(@acc [$($d)* #[entity(symbol)] $n: $($t)*,] [$($v)* $n: "X NYS,1".into(),]
            [$($f)* (Role::Symbol, frag("venue=X\\ NYS\\,1")),] $mode ; $($rest)*)
    };
    (@kind side $n:ident [$($t:tt)*] [$($d:tt)*] [$($v:tt)*] [$($f:tt)*] $mode:tt ; $($rest:tt)*) => {
        shape!(@acc [$($d)* #[entity(symbol)] $n: $($t)*,] [$($v)* $n: Some("buy".into()),]
            [$($f)* (Role::Symbol, frag("side=buy")),] $mode ; $($rest)*)
    };
    (@kind lane $n:ident [$($t:tt)*] [$($d:tt)*] [$($v:tt)*] [$($f:tt)*] $mode:tt ; $($rest:tt)*) => {
        shape!(@acc [$($d)* #[entity(symbol)] $n: $($t)*,] [$($v)* $n: None,]
            [$($f)* (Role::Omitted, Vec::new()),] $mode ; $($rest)*)
    };
    (@kind note $n:ident [$($t:tt)*] [$($d:tt)*] [$($v:tt)*] [$($f:tt)*] $mode:tt ; $($rest:tt)*) => {
        shape!(@acc [$($d)* $n: $($t)*,] [$($v)* $n: "hello, \"world\"".into(),]
            [$($f)* (Role::Column, frag("note=\"hello, \\\"world\\\"\"")),] $mode ; $($rest)*)
    };
    (@kind memo $n:ident [$($t:tt)*] [$($d:tt)*] [$($v:tt)*] [$($f:tt)*] $mode:tt ; $($rest:tt)*) => {
        shape!(@acc [$($d)* $n: $($t)*,] [$($v)* $n: Some("m=1 2".into()),]
            [$($f)* (Role::Column, frag("memo=\"m=1 2\"")),] $mode ; $($rest)*)
    };
    (@kind key $n:ident [$($t:tt)*] [$($d:tt)*] [$($v:tt)*] [$($f:tt)*] $mode:tt ; $($rest:tt)*) => {
        shape!(@acc [$($d)* #[entity(id)] $n: $($t)*,] [$($v)* $n: "k-1".into(),]
            [$($f)* (Role::Column, frag("key=\"k-1\"")),] $mode ; $($rest)*)
    };
    (@kind meta $n:ident [$($t:tt)*] [$($d:tt)*] [$($v:tt)*] [$($f:tt)*] $mode:tt ; $($rest:tt)*) => {
        shape!(@acc [$($d)* #[entity(json)] $n: $($t)*,]
            [$($v)* $n: BTreeMap::from([("a".to_owned(), 1)]),]
            [$($f)* (Role::Column, frag("meta=\"{\\\"a\\\":1}\"")),] $mode ; $($rest)*)
    };
    (@kind price $n:ident [$($t:tt)*] [$($d:tt)*] [$($v:tt)*] [$($f:tt)*] $mode:tt ; $($rest:tt)*) => {
        shape!(@acc [$($d)* $n: $($t)*,] [$($v)* $n: -1.5,]
            [$($f)* (Role::Column, f64_frag("price", -1.5)),] $mode ; $($rest)*)
    };
    (@kind seq $n:ident [$($t:tt)*] [$($d:tt)*] [$($v:tt)*] [$($f:tt)*] $mode:tt ; $($rest:tt)*) => {
        shape!(@acc [$($d)* #[entity(id)] $n: $($t)*,] [$($v)* $n: 42,]
            [$($f)* (Role::Column, frag("seq=42i")),] $mode ; $($rest)*)
    };
    (@kind qty $n:ident [$($t:tt)*] [$($d:tt)*] [$($v:tt)*] [$($f:tt)*] $mode:tt ; $($rest:tt)*) => {
        shape!(@acc [$($d)* $n: $($t)*,] [$($v)* $n: -7,]
            [$($f)* (Role::Column, frag("qty=-7i")),] $mode ; $($rest)*)
    };
    (@kind flag $n:ident [$($t:tt)*] [$($d:tt)*] [$($v:tt)*] [$($f:tt)*] $mode:tt ; $($rest:tt)*) => {
        shape!(@acc [$($d)* $n: $($t)*,] [$($v)* $n: true,]
            [$($f)* (Role::Column, frag("flag=t")),] $mode ; $($rest)*)
    };
    (@kind uid $n:ident [$($t:tt)*] [$($d:tt)*] [$($v:tt)*] [$($f:tt)*] $mode:tt ; $($rest:tt)*) => {
        shape!(@acc [$($d)* $n: $($t)*,] [$($v)* $n: Uuid::from_u128(1),]
            [$($f)* (Role::Column, frag("uid=\"00000000-0000-0000-0000-000000000001\"")),] $mode ; $($rest)*)
    };
    (@kind amount $n:ident [$($t:tt)*] [$($d:tt)*] [$($v:tt)*] [$($f:tt)*] $mode:tt ; $($rest:tt)*) => {
        // 12.5 at the declared scale 8: mantissa 1_250_000_000 = 0x4A817C80.
        shape!(@acc [$($d)* #[entity(precision = 18, scale = 8)] $n: $($t)*,]
            [$($v)* $n: Decimal::new(125, 1),]
            [$($f)* (Role::Column, [&b"amount="[..], &[b'=', 23, 8, 4, 0x4A, 0x81, 0x7C, 0x80]].concat()),]
            $mode ; $($rest)*)
    };
    (@kind seen $n:ident [$($t:tt)*] [$($d:tt)*] [$($v:tt)*] [$($f:tt)*] $mode:tt ; $($rest:tt)*) => {
        shape!(@acc [$($d)* $n: $($t)*,] [$($v)* $n: at(-86_400_000_001),]
            [$($f)* (Role::Column, frag("seen=-86400000001t")),] $mode ; $($rest)*)
    };
    (@acc [$($d:tt)*] [$($v:tt)*] [$($f:tt)*] (golden [$($derive:tt)*]) ;) => {{
        $($derive)*
        #[entity(table = "qdb_order", questdb(partition = "day"))]
        struct Shape { $($d)* }
        // A function per shape keeps each stack frame small.
        fn run() {
            let row = Shape { $($v)* };
            let fields: Vec<(Role, Vec<u8>)> = vec![$($f)*];
            check_golden(&row, &fields);
        }
        run();
        1usize
    }};
    (@acc [$($d:tt)*] [$($v:tt)*] [$($f:tt)*] (live $set:ident $limit:ident [$($derive:tt)*]) ;) => {{
        $($derive)*
        #[entity(table = "qdb_order", questdb(partition = "day"))]
        struct Shape { $($d)* }
        fn run(set: &mut JoinSet<()>, limit: &Arc<Semaphore>) {
            let row = Shape { $($v)* };
            let limit = limit.clone();
            set.spawn(async move {
                let _permit = limit.acquire_owned().await.expect("semaphore");
                live_round_trip(row).await
            });
        }
        run(&mut $set, &$limit);
        1usize
    }};
}

/// Expands `shape!` once per permutation of the fields (a tt-muncher: pick each remaining field
/// in turn, recurse on the rest), summing how many shapes it made.
macro_rules! permutations {
    ($mode:tt [$($kind:tt)+]) => {
        permutations!(@perm [] [$($kind)+] $mode)
    };
    (@perm [$($done:tt)*] [] $mode:tt) => {
        shape!(@acc [] [] [] $mode ; $($done)*)
    };
    (@perm [$($done:tt)*] [$($rest:tt)+] $mode:tt) => {
        permutations!(@pick [$($done)*] [] [$($rest)+] $mode)
    };
    (@pick [$($done:tt)*] [$($before:tt)*] [] $mode:tt) => { 0usize };
    (@pick [$($done:tt)*] [$($before:tt)*] [$x:tt $($after:tt)*] $mode:tt) => {
        permutations!(@perm [$($done)* $x] [$($before)* $($after)*] $mode)
            + permutations!(@pick [$($done)*] [$($before)* $x] [$($after)*] $mode)
    };
}

/// Expands `shape!` once per position of the first field among the others (which keep their
/// order).
macro_rules! insertions {
    ($mode:tt [$x:tt $($rest:tt)*]) => {
        insertions!(@at [] [$($rest)*] $x $mode)
    };
    (@at [$($before:tt)*] [] $x:tt $mode:tt) => {
        shape!(@acc [] [] [] $mode ; $($before)* $x)
    };
    (@at [$($before:tt)*] [$next:tt $($after:tt)*] $x:tt $mode:tt) => {
        shape!(@acc [] [] [] $mode ; $($before)* $x $next $($after)*)
            + insertions!(@at [$($before)* $next] [$($after)*] $x $mode)
    };
}

/// Defines the golden and the live test over the kind sets given (every permutation of each
/// `permutations` set, every position of the first name of each `insertions` set).
macro_rules! field_order_tests {
    (derive $e:tt; expect $n:expr; permutations { $($p:tt)* } insertions { $($i:tt)* }) => {
        #[test]
        fn every_field_order_encodes_symbols_then_columns_then_the_timestamp() {
            let shapes: usize =
                0 $(+ permutations!((golden $e) $p))* $(+ insertions!((golden $e) $i))*;
            assert_eq!(shapes, $n, "every shape was expanded");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn every_field_order_round_trips_on_questdb() {
            if QuestDbOptions::from_env().is_none() {
                eprintln!(
                    "SKIPPED (QuestDB field orders): set QDB_CLIENT_CONF and QDB_PG_URL to run this test against a real QuestDB, e.g. \
                     QDB_CLIENT_CONF='http::addr=127.0.0.1:9000;' QDB_PG_URL='postgres://admin:quest@127.0.0.1:8812/qdb'"
                );
                return;
            }
            let limit = Arc::new(Semaphore::new(8));
            let mut set = JoinSet::new();
            let shapes: usize =
                0 $(+ permutations!((live set limit $e) $p))*
                    $(+ insertions!((live set limit $e) $i))*;
            let mut done = 0;
            while let Some(joined) = set.join_next().await {
                joined.expect("a shape's round trip panicked");
                done += 1;
            }
            assert_eq!(done, shapes);
        }
    };
}

// Field names choose the kind (see `shape!`). The types and the derive's name are written here,
// at the call site: the derive places generated code on the type's span and its own, which must
// share one hygiene context.
field_order_tests! {
    derive [#[derive(Debug, Clone, PartialEq, Entity)]];
    expect 3 * 120 + 8;
    permutations {
        // Text and optional text around two symbols (the reported failure: text before a symbol).
        [(ts DateTime<Utc>) (venue String) (side Option<String>) (note String) (memo Option<String>)]
        // A text id, JSON and a scalar around a symbol.
        [(ts DateTime<Utc>) (venue String) (key String) (meta BTreeMap<String, i64>) (price f64)]
        // A symbol that is None, as the only symbol, among held-back scalars and a decimal.
        [(ts DateTime<Utc>) (lane Option<String>) (seq i64) (uid Uuid) (amount Decimal)]
    }
    insertions {
        // One symbol at every position among six scalars: more than the encoder holds back.
        [(venue String) (ts DateTime<Utc>) (price f64) (seq i64) (flag bool) (uid Uuid)
         (seen DateTime<Utc>) (qty i32)]
    }
}

/// Writes one row of a shape to its own table, reads it back, drops the table.
async fn live_round_trip<T: TimeSeries + PartialEq + std::fmt::Debug>(row: T) {
    let options = QuestDbOptions::from_env().expect("checked by the caller");
    let mut options = options.namespace(dal_tests::unique_namespace("qdb_order"));
    options.max_connections = 1;
    let db = QuestDb::connect(options).expect("handle");
    let repo: Repository<T, QuestDb> = Repository::new(db.clone());
    let order: Vec<&str> = T::META.fields.iter().map(|f| f.name).collect();
    repo.append(&row)
        .await
        .unwrap_or_else(|e| panic!("append of field order {order:?}: {e}"));
    repo.flush()
        .await
        .unwrap_or_else(|e| panic!("flush of field order {order:?}: {e}"));
    let back = repo
        .range(&RangeQuery::new(at(T0), at(T0 + 1)))
        .await
        .unwrap_or_else(|e| panic!("range of field order {order:?}: {e}"));
    assert_eq!(back, [row], "field order {order:?}");
    db.drop_table::<T>().await.expect("drop");
    db.close().await.expect("close");
}

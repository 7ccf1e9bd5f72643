//! Layer (a) of the QuestDB backend: the exact ILP bytes the derived encoder writes and the exact
//! DDL text, checked against QuestDB's documented line protocol and SQL. No server needed.
//!
//! ILP reference (questdb.com/docs/reference/api/ilp/advanced-settings): a row is
//! `table,sym=v,sym2=v2 col=v,col2=v2 timestamp\n`; table names, symbol names and values escape
//! space, comma, equals sign, newline, CR and backslash with a backslash; string values are in
//! double quotes and escape `"`, `\`, newline and CR; integers end in `i`; a timestamp column ends
//! in `t` (microseconds); booleans are `t`/`f`. Protocol version 1 writes floats as text (`NaN`,
//! `Infinity`, `-Infinity` included) and the designated timestamp in nanoseconds without a
//! suffix; versions 2 and 3 write floats as `=` + type 16 + 8 little-endian bytes and the
//! designated timestamp with its unit suffix (`t` = micros); version 3 adds binary decimals:
//! `=` + type 23 + scale + length + big-endian two's complement mantissa.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use dal::{Entity, Error};
use dal_backends::questdb::ddl::{self, ShownColumn};
use dal_backends::questdb::{Buffer, ProtocolVersion, encode_row};
use rust_decimal::Decimal;
use trading::models::{Action, MetricPoint, MevEvent, Mode, Position, Trade};
use uuid::Uuid;

/// Every storage class QuestDB can hold, symbols declared after a column (two-pass encoding).
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "golden_all", questdb(partition = "hour", ttl = "7d", dedup))]
struct AllKinds {
    #[entity(id)]
    id: i64,
    #[entity(timestamp)]
    ts: DateTime<Utc>,
    flag: bool,
    #[entity(symbol)]
    venue: String,
    #[entity(symbol)]
    side: Option<String>,
    maybe: Option<bool>,
    small: i16,
    medium: i32,
    large: Option<i64>,
    ratio32: f32,
    ratio: Option<f64>,
    #[entity(max_len = 8)]
    note: Option<String>,
    uid: Option<Uuid>,
    at: Option<DateTime<Utc>>,
    #[entity(precision = 18, scale = 8)]
    amount: Option<Decimal>,
    #[entity(json)]
    meta: Option<BTreeMap<String, i64>>,
}

/// No partition: no WAL, TTL or DEDUP in the DDL.
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "golden_plain", questdb(partition = "none"))]
struct Plain {
    #[entity(timestamp)]
    at: DateTime<Utc>,
    value: f64,
}

fn ts(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros)
        .single()
        .expect("valid test timestamp")
}

fn all_none() -> AllKinds {
    AllKinds {
        id: 7,
        ts: ts(1_700_000_000_123_456),
        flag: false,
        venue: "XNYS".into(),
        side: None,
        maybe: None,
        small: -3,
        medium: 40,
        large: None,
        ratio32: 0.5,
        ratio: None,
        note: None,
        uid: None,
        at: None,
        amount: None,
        meta: None,
    }
}

fn encode<T: Entity>(version: ProtocolVersion, table: &str, rows: &[T]) -> Vec<u8> {
    let mut buf = Buffer::new(version);
    for row in rows {
        encode_row(&mut buf, table, row).expect("row encodes");
    }
    buf.as_bytes().to_vec()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// ILP v2/v3 binary double: `=`, type 16, 8 bytes little-endian.
fn f64b(v: f64) -> Vec<u8> {
    let mut out = vec![b'=', 16];
    out.extend_from_slice(&v.to_le_bytes());
    out
}

fn sample_trade() -> Trade {
    Trade {
        id: Uuid::from_u128(0x6f0c2b1e_8a1d_4a51_9e0f_2a7f0f6f9c01),
        timestamp: ts(1_700_000_000_000_001),
        trader_id: "trader-1".into(),
        mode: Mode::Paper,
        action: Action::Buy,
        base_token: "SOL".into(),
        quote_token: "USDC".into(),
        amount: 1.5,
        price: 101.25,
        slippage: 0.001,
        fee: 0.25,
        priority_fee: 5000,
        transfer_fee: None,
        tx_signature: Some("5sig".into()),
        latency_ms: 42,
        mev_protected: true,
    }
}

#[test]
fn trade_row_v1_text_symbols_first_then_columns_then_timestamp() {
    let line = text(&encode(ProtocolVersion::V1, "trades", &[sample_trade()]));
    // id (a UUID column) is declared before the symbols; ILP still gets the symbols first.
    assert_eq!(
        line,
        "trades,trader_id=trader-1,mode=paper,action=buy,base_token=SOL,quote_token=USDC \
         id=\"6f0c2b1e-8a1d-4a51-9e0f-2a7f0f6f9c01\",amount=1.5,price=101.25,slippage=0.001,\
         fee=0.25,priority_fee=5000i,tx_signature=\"5sig\",latency_ms=42i,mev_protected=t \
         1700000000000001000\n"
    );
}

#[test]
fn trade_row_v3_binary_doubles_and_micros_timestamp() {
    let bytes = encode(ProtocolVersion::V3, "trades", &[sample_trade()]);
    let mut want =
        b"trades,trader_id=trader-1,mode=paper,action=buy,base_token=SOL,quote_token=USDC \
id=\"6f0c2b1e-8a1d-4a51-9e0f-2a7f0f6f9c01\",amount="
            .to_vec();
    want.extend(f64b(1.5));
    want.extend_from_slice(b",price=");
    want.extend(f64b(101.25));
    want.extend_from_slice(b",slippage=");
    want.extend(f64b(0.001));
    want.extend_from_slice(b",fee=");
    want.extend(f64b(0.25));
    want.extend_from_slice(
        b",priority_fee=5000i,tx_signature=\"5sig\",latency_ms=42i,mev_protected=t 1700000000000001t\n",
    );
    assert_eq!(
        bytes,
        want,
        "\n got: {}\nwant: {}",
        text(&bytes),
        text(&want)
    );
}

#[test]
fn nones_are_omitted_and_nullable_bool_is_an_integer() {
    let mut row = all_none();
    assert_eq!(
        text(&encode(ProtocolVersion::V1, "golden_all", &[row.clone()])),
        "golden_all,venue=XNYS id=7i,flag=f,small=-3i,medium=40i,ratio32=0.5 1700000000123456000\n"
    );
    row.maybe = Some(true);
    row.side = Some("buy".into());
    assert_eq!(
        text(&encode(ProtocolVersion::V1, "golden_all", &[row])),
        "golden_all,venue=XNYS,side=buy id=7i,flag=f,maybe=1i,small=-3i,medium=40i,ratio32=0.5 \
         1700000000123456000\n"
    );
}

#[test]
fn every_kind_some_v3() {
    let mut row = all_none();
    row.side = Some("sell".into());
    row.maybe = Some(false);
    row.large = Some(i64::MAX);
    row.ratio = Some(-2.25);
    row.note = Some("ok".into());
    row.uid = Some(Uuid::from_u128(1));
    row.at = Some(ts(86_400_000_001));
    row.amount = Some(Decimal::new(-12345, 2)); // -123.45, sent at the declared scale 8
    row.meta = Some(BTreeMap::from([("a".to_owned(), 1)]));
    let bytes = encode(ProtocolVersion::V3, "golden_all", &[row]);
    let mut want = b"golden_all,venue=XNYS,side=sell id=7i,flag=f,maybe=0i,small=-3i,medium=40i,large=9223372036854775807i,ratio32=".to_vec();
    want.extend(f64b(0.5));
    want.extend_from_slice(b",ratio=");
    want.extend(f64b(-2.25));
    want.extend_from_slice(
        b",note=\"ok\",uid=\"00000000-0000-0000-0000-000000000001\",at=86400000001t,amount=",
    );
    // -123.45000000: mantissa -12_345_000_000 = 0xFD202E3FC0 in two's complement, scale 8.
    want.extend_from_slice(&[b'=', 23, 8, 5, 0xFD, 0x20, 0x2E, 0x3F, 0xC0]);
    want.extend_from_slice(b",meta=\"{\\\"a\\\":1}\" 1700000000123456t\n");
    assert_eq!(
        bytes,
        want,
        "\n got: {}\nwant: {}",
        text(&bytes),
        text(&want)
    );
}

#[test]
fn symbols_and_strings_are_escaped_as_documented() {
    let mut row = all_none();
    row.venue = "a b,c=d\ne\\f".into();
    row.note = Some("q\"\\\nü".into());
    let line = text(&encode(ProtocolVersion::V1, "golden_all", &[row]));
    assert_eq!(
        line,
        "golden_all,venue=a\\ b\\,c\\=d\\\ne\\\\f id=7i,flag=f,small=-3i,medium=40i,ratio32=0.5,\
         note=\"q\\\"\\\\\\\nü\" 1700000000123456000\n"
    );
}

#[test]
fn unicode_passes_through_unescaped() {
    let mut row = all_none();
    row.venue = "東京🚀".into();
    row.note = Some("é—😀".into());
    let line = text(&encode(ProtocolVersion::V1, "golden_all", &[row]));
    assert!(line.starts_with("golden_all,venue=東京🚀 "), "{line}");
    assert!(line.contains(",note=\"é—😀\" "), "{line}");
}

/// Encodes `row` into a fresh buffer and returns the validation error's field, asserting the
/// buffer stayed empty.
fn refused_field(row: &AllKinds) -> Option<&'static str> {
    let mut buf = Buffer::new(ProtocolVersion::V3);
    match encode_row(&mut buf, "golden_all", row) {
        Err(Error::Validation { entity, field, .. }) => {
            assert_eq!(entity, "AllKinds");
            assert!(buf.is_empty(), "a refused row left bytes behind");
            field
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

/// QuestDB reads NaN and ±inf in a DOUBLE/FLOAT, and i32::MIN/i64::MIN in an INT/LONG, back as
/// NULL: in a non-Option field that read fails, in an Option it silently becomes None. Both are
/// refused at encoding, naming the field.
#[test]
fn values_questdb_reads_back_as_null_are_refused() {
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut row = all_none();
        row.ratio = Some(v);
        assert_eq!(refused_field(&row), Some("ratio"), "{v}");
    }
    for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut row = all_none();
        row.ratio32 = v;
        assert_eq!(refused_field(&row), Some("ratio32"), "{v}");
    }
    let mut row = all_none();
    row.medium = i32::MIN;
    assert_eq!(refused_field(&row), Some("medium"));
    let mut row = all_none();
    row.large = Some(i64::MIN);
    assert_eq!(refused_field(&row), Some("large"));
    let mut row = all_none();
    row.uid = Some(Uuid::from_u128(0x8000_0000_0000_0000_8000_0000_0000_0000));
    assert_eq!(refused_field(&row), Some("uid"));

    // The values next to them are stored as they are; i16 widens to INT, so i16::MIN is fine.
    let mut row = all_none();
    row.ratio = Some(f64::MAX);
    row.ratio32 = f32::MIN_POSITIVE;
    row.medium = i32::MIN + 1;
    row.large = Some(i64::MIN + 1);
    row.small = i16::MIN;
    row.uid = Some(Uuid::from_u128(0x8000_0000_0000_0000_8000_0000_0000_0001));
    let line = text(&encode(ProtocolVersion::V1, "golden_all", &[row]));
    assert!(
        line.contains("small=-32768i,medium=-2147483647i,large=-9223372036854775807i"),
        "{line}"
    );
}

#[test]
fn timestamps_are_checked_at_both_ends() {
    // The designated timestamp: 1970-01-01 ..= 9999-12-31T23:59:59.999999, both ends included.
    for ok in [0, 253_402_300_799_999_999] {
        let mut row = all_none();
        row.ts = ts(ok);
        let line = text(&encode(ProtocolVersion::V3, "golden_all", &[row]));
        assert!(line.ends_with(&format!(" {ok}t\n")), "{line}");
    }
    for bad in [-1, 253_402_300_800_000_000] {
        let mut row = all_none();
        row.ts = ts(bad);
        assert_eq!(refused_field(&row), Some("ts"), "{bad}");
    }
    // A TIMESTAMP column holds any DateTime<Utc>, before 1970 and after 9999 included.
    for at in [DateTime::<Utc>::MIN_UTC, ts(-1), DateTime::<Utc>::MAX_UTC] {
        let mut row = all_none();
        row.at = Some(at);
        let line = text(&encode(ProtocolVersion::V1, "golden_all", &[row]));
        assert!(
            line.contains(&format!(",at={}t", at.timestamp_micros())),
            "{line}"
        );
    }
}

#[test]
fn text_symbol_and_row_sizes_are_bounded() {
    use dal_backends::questdb::codec::{ROW_MAX_BYTES, SYMBOL_MAX_BYTES, TEXT_MAX_BYTES};
    let mut row = all_none();
    row.venue = "v".repeat(SYMBOL_MAX_BYTES);
    encode(ProtocolVersion::V3, "golden_all", &[row.clone()]);
    row.venue.push('v');
    assert_eq!(refused_field(&row), Some("venue"));

    let mut row = all_none();
    row.meta = Some(BTreeMap::from([("k".repeat(TEXT_MAX_BYTES - 8), 1)]));
    encode(ProtocolVersion::V3, "golden_all", &[row.clone()]);
    row.meta = Some(BTreeMap::from([("k".repeat(TEXT_MAX_BYTES), 1)]));
    assert_eq!(refused_field(&row), Some("meta"));

    // Each value fits, the row does not: the error names the longest text field.
    #[derive(Debug, Clone, PartialEq, Entity)]
    #[entity(table = "golden_wide", questdb(partition = "day"))]
    struct Wide {
        #[entity(timestamp)]
        ts: DateTime<Utc>,
        a: String,
        b: String,
    }
    let wide = Wide {
        ts: ts(1),
        a: "a".repeat(ROW_MAX_BYTES / 2),
        b: "b".repeat(TEXT_MAX_BYTES),
    };
    const {
        assert!(
            ROW_MAX_BYTES / 2 + TEXT_MAX_BYTES > ROW_MAX_BYTES
                && ROW_MAX_BYTES / 2 < TEXT_MAX_BYTES
        )
    };
    let mut buf = Buffer::new(ProtocolVersion::V3);
    match encode_row(&mut buf, "golden_wide", &wide) {
        Err(Error::Validation { field, message, .. }) => {
            assert_eq!(field, Some("b"));
            assert!(message.contains("PG-wire"), "{message}");
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert!(buf.is_empty());
}

#[test]
fn decimals_are_sent_at_the_declared_scale() {
    let scaled = |d: Decimal| {
        let mut row = all_none();
        row.amount = Some(d);
        encode(ProtocolVersion::V3, "golden_all", &[row])
    };
    // 12.5, 12.500 and 12.50000000 are one value at scale 8: 1_250_000_000 = 0x4A817C80.
    let want: &[u8] = &[b'=', 23, 8, 4, 0x4A, 0x81, 0x7C, 0x80];
    for d in [
        Decimal::new(125, 1),
        Decimal::new(12_500, 3),
        Decimal::new(1_250_000_000, 8),
    ] {
        let bytes = scaled(d);
        assert!(
            bytes.windows(want.len()).any(|w| w == want),
            "{d}: {}",
            text(&bytes)
        );
    }
    // Zero keeps the scale too: mantissa 0, scale 8.
    let zero = scaled(Decimal::new(0, 3));
    assert!(
        zero.windows(5).any(|w| w == [b'=', 23, 8, 1, 0]),
        "{}",
        text(&zero)
    );
    // More fractional digits than the scale, or more integer digits than precision - scale.
    let mut row = all_none();
    row.amount = Some(Decimal::new(1, 9));
    assert_eq!(refused_field(&row), Some("amount"));
    row.amount = Some(Decimal::new(10_000_000_000, 0));
    assert_eq!(refused_field(&row), Some("amount"));
}

/// A QuestDB DECIMAL column has one scale, so a Decimal field must declare it; one that does not
/// is refused when its table is made and when a row is written, even a row where it is None.
#[test]
fn an_undeclared_decimal_is_refused_naming_the_field() {
    #[derive(Debug, Clone, PartialEq, Entity)]
    #[entity(table = "golden_free_decimal", questdb(partition = "day"))]
    struct FreeDecimal {
        #[entity(timestamp)]
        ts: DateTime<Utc>,
        price: Option<Decimal>,
    }
    let ddl = ddl::create_table_sql(FreeDecimal::META, "golden_free_decimal").unwrap_err();
    assert!(
        matches!(
            &ddl,
            Error::Validation { entity: "FreeDecimal", field: Some("price"), message }
                if message.contains("precision = 18, scale = 8")
        ),
        "{ddl}"
    );
    for price in [None, Some(Decimal::ONE)] {
        let mut buf = Buffer::new(ProtocolVersion::V3);
        let e = encode_row(
            &mut buf,
            "golden_free_decimal",
            &FreeDecimal { ts: ts(1), price },
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Validation {
                    entity: "FreeDecimal",
                    field: Some("price"),
                    ..
                }
            ),
            "{e}"
        );
        assert!(buf.is_empty());
    }
}

#[test]
fn namespaced_table_and_several_rows() {
    let mut a = all_none();
    let mut b = all_none();
    a.id = 1;
    b.id = 2;
    b.ts = ts(1);
    let lines = text(&encode(ProtocolVersion::V1, "golden_all_ns1", &[a, b]));
    assert_eq!(
        lines,
        "golden_all_ns1,venue=XNYS id=1i,flag=f,small=-3i,medium=40i,ratio32=0.5 1700000000123456000\n\
         golden_all_ns1,venue=XNYS id=2i,flag=f,small=-3i,medium=40i,ratio32=0.5 1000\n"
    );
}

#[test]
fn a_refused_row_leaves_the_buffer_untouched() {
    let mut buf = Buffer::new(ProtocolVersion::V3);
    encode_row(&mut buf, "golden_all", &all_none()).expect("first row");
    let before = buf.as_bytes().to_vec();

    // A JSON field whose text is too long, discovered after symbols and columns were written.
    let mut long_json = all_none();
    long_json.meta = Some(BTreeMap::from([("k".repeat(1 << 20), 1)]));
    match encode_row(&mut buf, "golden_all", &long_json) {
        Err(Error::Validation { entity, field, .. }) => {
            assert_eq!((entity, field), ("AllKinds", Some("meta")))
        }
        other => panic!("expected a validation error on meta, got {other:?}"),
    }
    assert_eq!(buf.as_bytes(), before.as_slice());
    assert_eq!(buf.row_count(), 1);

    // Text over max_len: a validation error naming the field.
    let mut long = all_none();
    long.note = Some("123456789".into());
    match encode_row(&mut buf, "golden_all", &long) {
        Err(Error::Validation { entity, field, .. }) => {
            assert_eq!((entity, field), ("AllKinds", Some("note")))
        }
        other => panic!("expected a validation error on note, got {other:?}"),
    }
    // NUL in a symbol (QuestDB's parser refuses it), found after other fields were written.
    let mut nul = all_none();
    nul.side = Some("a\0b".into());
    assert!(matches!(
        encode_row(&mut buf, "golden_all", &nul),
        Err(Error::Validation {
            field: Some("side"),
            ..
        })
    ));
    assert_eq!(buf.as_bytes(), before.as_slice());

    // The buffer is still usable.
    encode_row(&mut buf, "golden_all", &all_none()).expect("row after failures");
    assert_eq!(buf.row_count(), 2);
}

#[test]
fn strings_keep_nul_characters() {
    let mut row = all_none();
    row.note = Some("a\0b".into());
    let line = text(&encode(ProtocolVersion::V1, "golden_all", &[row]));
    assert!(line.contains(",note=\"a\0b\" "), "{line:?}");
}

#[test]
fn decimals_need_protocol_v3() {
    let mut row = all_none();
    row.amount = Some(Decimal::ONE);
    let mut buf = Buffer::new(ProtocolVersion::V2);
    assert!(matches!(
        encode_row(&mut buf, "golden_all", &row),
        Err(Error::Codec {
            field: "amount",
            ..
        })
    ));
    assert!(buf.is_empty());
    // The widest value of DECIMAL(18, 8): 9999999999.99999999.
    row.amount = Some(Decimal::new(999_999_999_999_999_999, 8));
    let bytes = encode(ProtocolVersion::V3, "golden_all", &[row]);
    let want: &[u8] = &[
        b'=', 23, 8, 8, 0x0D, 0xE0, 0xB6, 0xB3, 0xA7, 0x63, 0xFF, 0xFF,
    ];
    assert!(
        bytes.windows(want.len()).any(|w| w == want),
        "{}",
        text(&bytes)
    );
}

const TRADES_DDL: &str = r#"CREATE TABLE IF NOT EXISTS "trades" (
    "id" UUID,
    "timestamp" TIMESTAMP,
    "trader_id" SYMBOL,
    "mode" SYMBOL,
    "action" SYMBOL,
    "base_token" SYMBOL,
    "quote_token" SYMBOL,
    "amount" DOUBLE,
    "price" DOUBLE,
    "slippage" DOUBLE,
    "fee" DOUBLE,
    "priority_fee" LONG,
    "transfer_fee" DOUBLE,
    "tx_signature" VARCHAR,
    "latency_ms" INT,
    "mev_protected" BOOLEAN
) TIMESTAMP("timestamp") PARTITION BY DAY TTL 30 DAYS WAL
DEDUP UPSERT KEYS("timestamp", "id")"#;

#[test]
fn ddl_of_the_trades_table() {
    assert_eq!(
        ddl::create_table_sql(Trade::META, "trades").expect("ddl"),
        TRADES_DDL
    );
}

#[test]
fn ddl_of_every_kind_and_of_an_unpartitioned_table() {
    assert_eq!(
        ddl::create_table_sql(AllKinds::META, "golden_all_x").expect("ddl"),
        r#"CREATE TABLE IF NOT EXISTS "golden_all_x" (
    "id" LONG,
    "ts" TIMESTAMP,
    "flag" BOOLEAN,
    "venue" SYMBOL,
    "side" SYMBOL,
    "maybe" INT,
    "small" INT,
    "medium" INT,
    "large" LONG,
    "ratio32" FLOAT,
    "ratio" DOUBLE,
    "note" VARCHAR,
    "uid" UUID,
    "at" TIMESTAMP,
    "amount" DECIMAL(18, 8),
    "meta" VARCHAR
) TIMESTAMP("ts") PARTITION BY HOUR TTL 7 DAYS WAL
DEDUP UPSERT KEYS("ts", "id")"#
    );
    assert_eq!(
        ddl::create_table_sql(Plain::META, "golden_plain").expect("ddl"),
        "CREATE TABLE IF NOT EXISTS \"golden_plain\" (\n    \"at\" TIMESTAMP,\n    \"value\" DOUBLE\n) TIMESTAMP(\"at\") PARTITION BY NONE"
    );
}

/// The files in migrations/questdb are the library's DDL for the example's tables, verbatim.
#[test]
fn migrations_match_the_entities() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/questdb");
    let cases: [(&str, &dal::EntityMeta); 4] = [
        ("001_trades.sql", Trade::META),
        ("002_positions.sql", Position::META),
        ("003_metrics.sql", MetricPoint::META),
        ("004_mev_events.sql", MevEvent::META),
    ];
    for (file, meta) in cases {
        let want = format!(
            "-- {} ({}): generated from the entity by dal_backends::questdb::ddl.\n{};\n",
            meta.table,
            meta.name,
            ddl::create_table_sql(meta, meta.table).expect("ddl")
        );
        let path = format!("{dir}/{file}");
        if std::env::var_os("DAL_BLESS").is_some() {
            std::fs::write(&path, &want).expect("write migration");
        }
        let got = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(got, want, "{path} differs (DAL_BLESS=1 rewrites it)");
    }
}

fn shown(cols: &[(&str, &str, bool, bool)]) -> Vec<ShownColumn> {
    cols.iter()
        .map(|(n, t, d, u)| ShownColumn {
            name: (*n).into(),
            ty: (*t).into(),
            designated: *d,
            upsert_key: *u,
        })
        .collect()
}

#[test]
fn existing_tables_are_checked_column_by_column() {
    let good = shown(&[
        ("timestamp", "TIMESTAMP", true, true),
        ("id", "UUID", false, true),
        ("metric_name", "SYMBOL", false, false),
        ("value", "DOUBLE", false, false),
        ("labels", "STRING", false, false),
        ("extra", "LONG", false, false),
    ]);
    ddl::check_columns(MetricPoint::META, "metrics", &good).expect("a matching table passes");

    let mut wrong_type = good.clone();
    wrong_type[3].ty = "FLOAT".into();
    let e = ddl::check_columns(MetricPoint::META, "metrics", &wrong_type).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Validation {
                field: Some("value"),
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string().contains("FLOAT") && e.to_string().contains("DOUBLE"),
        "{e}"
    );

    let missing: Vec<_> = good
        .iter()
        .filter(|c| c.name != "labels")
        .cloned()
        .collect();
    let e = ddl::check_columns(MetricPoint::META, "metrics", &missing).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Validation {
                field: Some("labels"),
                ..
            }
        ),
        "{e}"
    );

    let mut no_dedup = good.clone();
    no_dedup[1].upsert_key = false;
    let e = ddl::check_columns(MetricPoint::META, "metrics", &no_dedup).unwrap_err();
    assert!(e.to_string().contains("DEDUP"), "{e}");

    let mut auto_created = good;
    auto_created[0].designated = false;
    let e = ddl::check_columns(MetricPoint::META, "metrics", &auto_created).unwrap_err();
    assert!(e.to_string().contains("designated"), "{e}");
}

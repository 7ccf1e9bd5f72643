//! Layer (c) of the QuestDB backend: against a real QuestDB server, when `QDB_CLIENT_CONF`
//! (questdb-rs configuration, e.g. `http::addr=127.0.0.1:9000;`) and `QDB_PG_URL` (e.g.
//! `postgres://admin:quest@127.0.0.1:8812/qdb`) are set. Without them every test prints a loud
//! SKIPPED line and passes, also under `CI=true`: CI has no QuestDB.
//!
//! Each test works in its own tables (`<table>_<namespace>`) and drops them at the end.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use dal::query::{bucket_start, percentile_cont};
use dal::{
    Aggregate, Backend, Entity, Error, Filter, MetricQuery, MetricsStore, RangeQuery, Repository,
    TimeSeriesStore,
};
use dal_backends::questdb::codec::{
    DESIGNATED_MAX_MICROS, ROW_MAX_BYTES, SYMBOL_MAX_BYTES, TEXT_MAX_BYTES,
};
use dal_backends::questdb::{QuestDb, QuestDbOptions};
use rust_decimal::Decimal;
use uuid::Uuid;

/// The options for a live server, or `None` after a loud skip notice.
fn live(namespace: &str) -> Option<QuestDbOptions> {
    match QuestDbOptions::from_env() {
        Some(o) => Some(o.namespace(namespace)),
        None => {
            eprintln!(
                "SKIPPED (QuestDB): set QDB_CLIENT_CONF and QDB_PG_URL to run this test against a real QuestDB, e.g. \
                 QDB_CLIENT_CONF='http::addr=127.0.0.1:9000;' QDB_PG_URL='postgres://admin:quest@127.0.0.1:8812/qdb'"
            );
            None
        }
    }
}

fn connect(prefix: &str) -> Option<QuestDb> {
    let ns = dal_tests::unique_namespace(prefix);
    let options = live(&ns)?;
    Some(QuestDb::connect(options).expect("QuestDB handle"))
}

/// Every storage class, nullable, symbols after a column.
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "live_all", questdb(partition = "day", ttl = "30d", dedup))]
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
    small: Option<i16>,
    medium: Option<i32>,
    large: Option<i64>,
    ratio32: Option<f32>,
    ratio: Option<f64>,
    note: Option<String>,
    uid: Option<Uuid>,
    at: Option<DateTime<Utc>>,
    #[entity(precision = 18, scale = 8)]
    amount: Option<Decimal>,
    #[entity(json)]
    meta: Option<BTreeMap<String, i64>>,
}

/// A metric series.
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "live_metric", questdb(partition = "day", dedup))]
struct Sample {
    #[entity(id)]
    id: i64,
    #[entity(timestamp)]
    ts: DateTime<Utc>,
    #[entity(symbol)]
    name: String,
    value: f64,
    qty: Option<i64>,
}

fn at(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros)
        .single()
        .expect("valid timestamp")
}

const T0: i64 = 1_700_000_000_000_000; // 2023-11-14T22:13:20Z

fn bare(id: i64, ts: i64, venue: &str) -> AllKinds {
    AllKinds {
        id,
        ts: at(ts),
        flag: id % 2 == 0,
        venue: venue.into(),
        side: None,
        maybe: None,
        small: None,
        medium: None,
        large: None,
        ratio32: None,
        ratio: None,
        note: None,
        uid: None,
        at: None,
        amount: None,
        meta: None,
    }
}

fn full(id: i64, ts: i64) -> AllKinds {
    AllKinds {
        side: Some("sell, =side".into()),
        maybe: Some(true),
        small: Some(i16::MIN),
        medium: Some(i32::MAX),
        large: Some(i64::MAX),
        ratio32: Some(1.5),
        ratio: Some(-0.1),
        note: Some("line\nbreak \"quoted\" \\ 東京 😀".into()),
        uid: Some(Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef)),
        at: Some(at(1)),
        amount: Some(Decimal::new(-999_999_999_999_999_999, 8)),
        meta: Some(BTreeMap::from([("depth".to_owned(), -3)])),
        ..bare(id, ts, "XNYS venue")
    }
}

#[tokio::test]
async fn health_check_and_capabilities() {
    let Some(db) = connect("qdb_health") else {
        return;
    };
    db.health_check().await.expect("health check");
    let caps = db.capabilities();
    assert!(!caps.read_your_writes);
    assert!(caps.time_series_dedup);
    assert!(!caps.limits.non_finite_floats);
    assert!(!caps.limits.integer_min);
    assert_eq!(caps.limits.symbol_max_bytes, Some(SYMBOL_MAX_BYTES));
    assert_eq!(caps.limits.text_max_bytes, Some(TEXT_MAX_BYTES));
}

#[tokio::test]
async fn every_type_round_trips() {
    let Some(db) = connect("qdb_types") else {
        return;
    };
    let repo: Repository<AllKinds, _> = Repository::new(db.clone());
    let rows = vec![
        bare(1, T0, "A"),
        full(2, T0 + 1),
        AllKinds {
            maybe: Some(false),
            small: Some(0),
            ratio: Some(0.0),
            note: Some(String::new()),
            amount: Some(Decimal::new(1, 8)),
            ..bare(3, T0 + 2, "B")
        },
    ];
    let report = repo.append_all(&rows).await.expect("append_all");
    assert!(report.is_complete(), "{:?}", report.failed);
    repo.flush().await.expect("flush");
    let back = repo
        .range(&RangeQuery::new(at(T0), at(T0 + 10)))
        .await
        .expect("range");
    assert_eq!(back, rows);
    // Decimal equality ignores the scale: every amount comes back at the declared scale.
    for r in &back {
        assert!(r.amount.is_none_or(|d| d.scale() == 8), "{:?}", r.amount);
    }
    db.drop_table::<AllKinds>().await.expect("drop");
}

#[tokio::test]
async fn ranges_filters_order_and_limit() {
    let Some(db) = connect("qdb_range") else {
        return;
    };
    let repo: Repository<AllKinds, _> = Repository::new(db.clone());
    let rows: Vec<_> = (0..20)
        .map(|i| AllKinds {
            medium: (i % 3 != 0).then_some(i as i32),
            ..bare(i, T0 + i * 1_000, if i % 2 == 0 { "even" } else { "odd" })
        })
        .collect();
    repo.append_all(&rows).await.expect("append_all");
    repo.flush().await.expect("flush");

    // start inclusive, end exclusive
    let got = repo
        .range(&RangeQuery::new(at(T0 + 5_000), at(T0 + 10_000)))
        .await
        .expect("range");
    assert_eq!(
        got.iter().map(|r| r.id).collect::<Vec<_>>(),
        [5, 6, 7, 8, 9]
    );

    let got = repo
        .range(
            &RangeQuery::new(at(T0), at(T0 + 1_000_000))
                .newest_first()
                .limit(3),
        )
        .await
        .expect("range desc");
    assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), [19, 18, 17]);

    let odd = Filter::all().and(AllKinds::VENUE.is_in(["odd".to_owned()]));
    let got = repo
        .range(&RangeQuery::new(at(T0), at(T0 + 1_000_000)).filter(odd))
        .await
        .expect("range by symbol");
    assert_eq!(got.len(), 10);
    assert!(got.iter().all(|r| r.venue == "odd"));

    let nulls = repo
        .range(&RangeQuery::new(at(T0), at(T0 + 1_000_000)).filter(AllKinds::MEDIUM.is_null()))
        .await
        .expect("is null");
    assert_eq!(
        nulls.iter().map(|r| r.id).collect::<Vec<_>>(),
        [0, 3, 6, 9, 12, 15, 18]
    );
    // A comparison never matches NULL, `<>` included.
    let ne = repo
        .range(&RangeQuery::new(at(T0), at(T0 + 1_000_000)).filter(AllKinds::MEDIUM.ne(Some(1))))
        .await
        .expect("ne");
    assert_eq!(ne.len(), 20 - 7 - 1);
    let ge = repo
        .range(
            &RangeQuery::new(at(T0), at(T0 + 1_000_000))
                .filter(AllKinds::MEDIUM.ge(Some(10)).and(AllKinds::FLAG.eq(true))),
        )
        .await
        .expect("ge and bool");
    assert_eq!(ge.iter().map(|r| r.id).collect::<Vec<_>>(), [10, 14, 16]);
    let empty_in = repo
        .range(&RangeQuery::new(at(T0), at(T0 + 1_000_000)).filter(AllKinds::VENUE.is_in([])))
        .await
        .expect("empty in");
    assert!(empty_in.is_empty());
    db.drop_table::<AllKinds>().await.expect("drop");
}

#[tokio::test]
async fn filters_on_every_column_type() {
    let Some(db) = connect("qdb_filters") else {
        return;
    };
    let repo: Repository<AllKinds, _> = Repository::new(db.clone());
    let rows: Vec<_> = (0..6)
        .map(|i| AllKinds {
            maybe: (i % 3 != 2).then_some(i % 2 == 0),
            small: Some(i as i16 - 3),
            ratio32: Some(i as f32 / 2.0),
            uid: Some(Uuid::from_u128(i as u128)),
            at: Some(at(T0 + i * 10)),
            amount: Some(Decimal::new(i * 125, 2)),
            note: Some(format!("n{i}")),
            meta: Some(BTreeMap::from([("i".to_owned(), i)])),
            ..bare(i, T0 + i, "V")
        })
        .collect();
    repo.append_all(&rows).await.expect("append_all");
    repo.flush().await.expect("flush");
    let all = || RangeQuery::new(at(T0), at(T0 + 100));
    let ids = |v: Vec<AllKinds>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let q = |f| all().filter(f);
    assert_eq!(
        ids(repo
            .range(&q(AllKinds::UID.eq(Some(Uuid::from_u128(4)))))
            .await
            .expect("uuid")),
        [4]
    );
    assert_eq!(
        ids(repo
            .range(&q(AllKinds::AMOUNT.ge(Some(Decimal::new(375, 2)))))
            .await
            .expect("decimal")),
        [3, 4, 5]
    );
    assert_eq!(
        ids(repo
            .range(&q(AllKinds::AT.lt(Some(at(T0 + 20)))))
            .await
            .expect("timestamp")),
        [0, 1]
    );
    assert_eq!(
        ids(repo
            .range(&q(AllKinds::MAYBE.eq(Some(true))))
            .await
            .expect("nullable bool")),
        [0, 4]
    );
    assert_eq!(
        ids(repo
            .range(&q(AllKinds::MAYBE.is_null()))
            .await
            .expect("bool is null")),
        [2, 5]
    );
    assert_eq!(
        ids(repo
            .range(&q(AllKinds::SMALL.gt(Some(0))))
            .await
            .expect("i16")),
        [4, 5]
    );
    assert_eq!(
        ids(repo
            .range(&q(AllKinds::RATIO32.le(Some(1.0))))
            .await
            .expect("f32")),
        [0, 1, 2]
    );
    assert_eq!(
        ids(repo
            .range(&q(
                AllKinds::NOTE.is_in(["n1".to_owned(), "n3".to_owned()].map(Some))
            ))
            .await
            .expect("text in")),
        [1, 3]
    );
    db.drop_table::<AllKinds>().await.expect("drop");
}

#[tokio::test]
async fn latest_per_symbol_respects_the_filter() {
    let Some(db) = connect("qdb_latest") else {
        return;
    };
    let repo: Repository<Sample, _> = Repository::new(db.clone());
    let mut rows = Vec::new();
    for (i, name) in ["b", "a", "c", "a", "b", "a"].iter().enumerate() {
        rows.push(Sample {
            id: i as i64,
            ts: at(T0 + i as i64),
            name: (*name).into(),
            value: i as f64,
            qty: None,
        });
    }
    repo.append_all(&rows).await.expect("append_all");
    repo.flush().await.expect("flush");
    let latest = repo
        .latest(Sample::NAME, &Filter::all())
        .await
        .expect("latest");
    assert_eq!(
        latest
            .iter()
            .map(|r| (r.name.as_str(), r.id))
            .collect::<Vec<_>>(),
        [("a", 5), ("b", 4), ("c", 2)]
    );
    let latest = repo
        .latest(Sample::NAME, &Sample::VALUE.lt(4.0))
        .await
        .expect("latest filtered");
    assert_eq!(
        latest
            .iter()
            .map(|r| (r.name.as_str(), r.id))
            .collect::<Vec<_>>(),
        [("a", 3), ("b", 0), ("c", 2)]
    );
    db.drop_table::<Sample>().await.expect("drop");
}

#[tokio::test]
async fn quantiles_are_exact_and_summary_and_downsample_match() {
    let Some(db) = connect("qdb_metrics") else {
        return;
    };
    let repo: Repository<Sample, _> = Repository::new(db.clone());
    // Deterministic pseudo-random values, negatives included, over ~3 hours.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let rows: Vec<Sample> = (0..2_000)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Sample {
                id: i,
                ts: at(T0 + i * 5_400_000 + (x % 1_000) as i64),
                name: if i % 4 == 0 { "lat" } else { "slip" }.into(),
                value: (x % 100_000) as f64 / 7.0 - 5_000.0,
                qty: (i % 5 != 0).then_some((x % 1000) as i64 - 500),
            }
        })
        .collect();
    repo.append_all(&rows).await.expect("append_all");
    repo.flush().await.expect("flush");

    let (start, end) = (at(T0 + 1_000_000_000), at(T0 + 9_000_000_000));
    let in_window: Vec<&Sample> = rows
        .iter()
        .filter(|r| r.ts >= start && r.ts < end && r.name == "slip")
        .collect();
    let q = MetricQuery::new(Sample::VALUE, start, end).filter(Sample::NAME.eq("slip".into()));
    let mut sorted: Vec<f64> = in_window.iter().map(|r| r.value).collect();
    sorted.sort_by(f64::total_cmp);
    for p in [0.0, 0.01, 0.5, 0.95, 0.99, 1.0] {
        let got = repo.quantile(&q, p).await.expect("quantile");
        assert_eq!(got, percentile_cont(&sorted, p), "p = {p}");
    }
    let s = repo.summary(&q).await.expect("summary");
    assert_eq!(s.count, sorted.len() as u64);
    assert_eq!(s.min, sorted.first().copied());
    assert_eq!(s.max, sorted.last().copied());
    let sum: f64 = sorted.iter().sum();
    assert!((s.sum.expect("sum") - sum).abs() < 1e-6 * sum.abs().max(1.0));
    assert!((s.mean.expect("mean") - sum / sorted.len() as f64).abs() < 1e-6);

    // An integer column with NULLs.
    let qty = MetricQuery::new(Sample::QTY, start, end);
    let mut qs: Vec<f64> = rows
        .iter()
        .filter(|r| r.ts >= start && r.ts < end)
        .filter_map(|r| r.qty.map(|v| v as f64))
        .collect();
    qs.sort_by(f64::total_cmp);
    assert_eq!(
        repo.quantile(&qty, 0.5).await.expect("median"),
        percentile_cont(&qs, 0.5)
    );
    assert_eq!(
        repo.summary(&qty).await.expect("summary").count,
        qs.len() as u64
    );

    // Buckets of 7 minutes and of a week start at multiples of the width since the epoch.
    for width in [Duration::from_secs(420), Duration::from_secs(7 * 86_400)] {
        for agg in [
            Aggregate::Count,
            Aggregate::Sum,
            Aggregate::Min,
            Aggregate::Max,
        ] {
            let got = repo.downsample(&q, width, agg).await.expect("downsample");
            let mut want: BTreeMap<DateTime<Utc>, Vec<f64>> = BTreeMap::new();
            for r in &in_window {
                let b = bucket_start("Sample", r.ts, width).expect("bucket");
                want.entry(b).or_default().push(r.value);
            }
            assert_eq!(got.len(), want.len(), "{width:?} {agg:?}");
            for (bucket, (start, values)) in got.iter().zip(want) {
                assert_eq!(bucket.start, start, "{width:?} {agg:?}");
                assert_eq!(bucket.count, values.len() as u64);
                let expected = match agg {
                    Aggregate::Count => values.len() as f64,
                    Aggregate::Sum => values.iter().sum(),
                    Aggregate::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
                    Aggregate::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    Aggregate::Mean => unreachable!(),
                };
                assert!(
                    (bucket.value - expected).abs() < 1e-6,
                    "{agg:?} {bucket:?} {expected}"
                );
            }
        }
    }
    // An empty window.
    let empty = MetricQuery::new(Sample::VALUE, at(T0 - 10), at(T0 - 5));
    assert_eq!(repo.quantile(&empty, 0.5).await.expect("empty"), None);
    assert_eq!(repo.summary(&empty).await.expect("empty").count, 0);
    db.drop_table::<Sample>().await.expect("drop");
}

#[tokio::test]
async fn same_id_and_timestamp_replace_each_other() {
    let Some(db) = connect("qdb_dedup") else {
        return;
    };
    let repo: Repository<Sample, _> = Repository::new(db.clone());
    let first = Sample {
        id: 1,
        ts: at(T0),
        name: "a".into(),
        value: 1.0,
        qty: Some(1),
    };
    let second = Sample {
        value: 2.0,
        qty: None,
        ..first.clone()
    };
    repo.append(&first).await.expect("append");
    repo.flush().await.expect("flush");
    repo.append(&second).await.expect("append again");
    repo.append(&Sample {
        id: 2,
        ..first.clone()
    })
    .await
    .expect("other id");
    repo.flush().await.expect("flush");
    let got = repo
        .range(&RangeQuery::new(at(T0), at(T0 + 1)))
        .await
        .expect("range");
    let mut ids: Vec<_> = got.iter().map(|r| (r.id, r.value, r.qty)).collect();
    ids.sort_by_key(|r| r.0);
    assert_eq!(ids, [(1, 2.0, None), (2, 1.0, Some(1))]);
    db.drop_table::<Sample>().await.expect("drop");
}

#[tokio::test]
async fn an_existing_table_with_another_schema_is_reported() {
    let Some(db) = connect("qdb_schema") else {
        return;
    };
    let table = db.table_name(Sample::META);
    let sql = format!(
        "CREATE TABLE \"{table}\" (\"id\" LONG, \"ts\" TIMESTAMP, \"name\" SYMBOL, \"value\" LONG, \"qty\" LONG) \
         TIMESTAMP(\"ts\") PARTITION BY DAY WAL DEDUP UPSERT KEYS(\"ts\", \"id\")"
    );
    db.execute(&sql).await.expect("create a mismatching table");
    let e = db
        .create_table::<Sample>()
        .await
        .expect_err("value is LONG, not DOUBLE");
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
    // The append path checks too, before anything is sent.
    let repo: Repository<Sample, _> = Repository::new(db.clone());
    let row = Sample {
        id: 1,
        ts: at(T0),
        name: "a".into(),
        value: 1.0,
        qty: None,
    };
    assert!(repo.append(&row).await.is_err());
    db.drop_table::<Sample>().await.expect("drop");
}

#[tokio::test]
async fn the_example_tables_are_created_and_written() {
    use trading::models::{Action, MetricPoint, MevEvent, Mode, Position, Trade};
    let Some(db) = connect("qdb_trading") else {
        return;
    };
    let trades: Repository<Trade, _> = Repository::new(db.clone());
    let trade = Trade {
        id: Uuid::from_u128(7),
        timestamp: at(T0),
        trader_id: "t1".into(),
        mode: Mode::Live,
        action: Action::Swap,
        base_token: "SOL".into(),
        quote_token: "USDC".into(),
        amount: 2.0,
        price: 150.5,
        slippage: 0.002,
        fee: 0.1,
        priority_fee: 10_000,
        transfer_fee: Some(0.01),
        tx_signature: None,
        latency_ms: 12,
        mev_protected: false,
    };
    trades.append(&trade).await.expect("trade");
    let points: Repository<MetricPoint, _> = Repository::new(db.clone());
    let point = MetricPoint {
        id: Uuid::from_u128(8),
        timestamp: at(T0),
        metric_name: "latency_ms.save_trade".into(),
        value: 0.7,
        labels: BTreeMap::from([("node".to_owned(), "a".to_owned())]),
    };
    points.append(&point).await.expect("metric");
    let positions: Repository<Position, _> = Repository::new(db.clone());
    let position = Position {
        id: Uuid::from_u128(9),
        timestamp: at(T0),
        trader_id: "t1".into(),
        token: "SOL".into(),
        amount: 2.0,
        cost_basis: 150.0,
        current_price: 151.0,
        unrealized_pnl: 2.0,
    };
    positions.append(&position).await.expect("position");
    let mev: Repository<MevEvent, _> = Repository::new(db.clone());
    let event = MevEvent {
        id: Uuid::from_u128(10),
        timestamp: at(T0),
        trader_id: "t1".into(),
        sandwich_probability: 0.3,
        estimated_loss_bps: 12,
        avoided: true,
        priority_fee: 5_000,
    };
    mev.append(&event).await.expect("mev");
    // One flush covers every table written through the handle.
    trades.flush().await.expect("flush");
    let window = RangeQuery::new(at(T0), at(T0 + 1));
    assert_eq!(trades.range(&window).await.expect("trades"), [trade]);
    assert_eq!(
        points
            .range(&RangeQuery::new(at(T0), at(T0 + 1)))
            .await
            .expect("metrics"),
        [point]
    );
    assert_eq!(
        positions
            .range(&RangeQuery::new(at(T0), at(T0 + 1)))
            .await
            .expect("positions"),
        [position]
    );
    assert_eq!(
        mev.range(&RangeQuery::new(at(T0), at(T0 + 1)))
            .await
            .expect("mev"),
        [event]
    );
    db.close().await.expect("close");
    db.drop_table::<Trade>().await.expect("drop");
    db.drop_table::<MetricPoint>().await.expect("drop");
    db.drop_table::<Position>().await.expect("drop");
    db.drop_table::<MevEvent>().await.expect("drop");
}

/// A TCP proxy in front of QuestDB's ILP/HTTP port that can cut every connection and refuse new
/// ones, so an outage can be staged without stopping the (shared) server. Cutting a connection
/// in the middle of a request can lose the response of a request QuestDB committed: the writer
/// then sends the batch again, and DEDUP keeps one copy.
struct CutProxy {
    addr: std::net::SocketAddr,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl CutProxy {
    fn start(upstream: std::net::SocketAddr) -> CutProxy {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let down = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<std::net::TcpStream>>> = Arc::default();
        let (d, s, c) = (down.clone(), stop.clone(), conns.clone());
        std::thread::spawn(move || {
            let mut listener = Some(listener);
            while !s.load(Ordering::SeqCst) {
                match (&listener, d.load(Ordering::SeqCst)) {
                    (Some(_), true) => listener = None,
                    (None, false) => listener = std::net::TcpListener::bind(addr).ok(),
                    _ => {}
                }
                let accepted = match &listener {
                    Some(l) if l.set_nonblocking(true).is_ok() => l.accept().ok(),
                    _ => None,
                };
                let Some((client, _)) = accepted else {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                };
                let _ = client.set_nonblocking(false);
                let Ok(server) = std::net::TcpStream::connect(upstream) else {
                    continue;
                };
                if let (Ok(c1), Ok(s1), Ok(c2), Ok(s2)) = (
                    client.try_clone(),
                    server.try_clone(),
                    client.try_clone(),
                    server.try_clone(),
                ) {
                    c.lock().expect("conns").extend([c2, s2]);
                    std::thread::spawn(move || pump(c1, s1));
                    std::thread::spawn(move || pump(server, client));
                }
            }
        });
        CutProxy {
            addr,
            down,
            stop,
            conns,
        }
    }

    /// Closes every open connection and refuses new ones.
    fn cut(&self) {
        self.down.store(true, std::sync::atomic::Ordering::SeqCst);
        for c in self.conns.lock().expect("conns").drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.down.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.cut();
    }
}

fn pump(mut from: std::net::TcpStream, mut to: std::net::TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// `host:port` of the `addr=` key of a questdb-rs configuration string.
fn conf_addr(conf: &str) -> Option<(String, std::net::SocketAddr)> {
    use std::net::ToSocketAddrs;
    let (scheme, params) = conf.split_once("::")?;
    let addr = params
        .split(';')
        .find_map(|kv| kv.trim().strip_prefix("addr="))?;
    let resolved = addr.to_socket_addrs().ok()?.next()?;
    Some((scheme.to_owned(), resolved))
}

#[tokio::test]
async fn rows_sent_equal_rows_stored_across_an_outage() {
    let ns = dal_tests::unique_namespace("qdb_outage");
    let Some(mut options) = live(&ns) else { return };
    let Some((scheme, upstream)) = conf_addr(&options.client_conf) else {
        eprintln!("SKIPPED (QuestDB outage): QDB_CLIENT_CONF has no addr=host:port");
        return;
    };
    if scheme != "http" {
        eprintln!("SKIPPED (QuestDB outage): the staged outage needs plain http, not {scheme}");
        return;
    }
    let proxy = CutProxy::start(upstream);
    options.client_conf = format!("http::addr={};", proxy.addr);
    options.writer.max_pending_rows = 2_000;
    options.writer.retry.max_backoff = Duration::from_millis(100);
    let db = QuestDb::connect(options).expect("handle");
    db.create_table::<Sample>().await.expect("table");
    let repo: Repository<Sample, _> = Repository::new(db.clone());

    let total = 20_000i64;
    let producer = {
        let repo = repo.clone();
        tokio::spawn(async move {
            let rows: Vec<Sample> = (0..total)
                .map(|i| Sample {
                    id: i,
                    ts: at(T0 + i * 1_000),
                    name: format!("n{}", i % 7),
                    value: i as f64,
                    qty: Some(i),
                })
                .collect();
            for chunk in rows.chunks(200) {
                let report = repo.append_all(chunk).await.expect("append_all");
                assert!(report.is_complete());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    // Two outages while rows flow: connections cut mid-request, then refused for a while.
    for pause in [Duration::from_millis(300), Duration::from_millis(700)] {
        tokio::time::sleep(Duration::from_millis(250)).await;
        proxy.cut();
        tokio::time::sleep(pause).await;
        proxy.restore();
    }
    producer.await.expect("producer");
    repo.flush().await.expect("flush after the outages");
    let stats = db.writer().stats();
    assert!(stats.retries >= 1, "the outage was not noticed: {stats:?}");
    assert_eq!(stats.delivered_rows, total as u64);

    let stored = repo
        .range(&RangeQuery::new(at(T0), at(T0 + total * 1_000)))
        .await
        .expect("range");
    let mut ids: Vec<i64> = stored.iter().map(|r| r.id).collect();
    let rows = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), rows, "a row is stored twice");
    assert_eq!(rows, total as usize, "rows sent = rows stored");
    db.drop_table::<Sample>().await.expect("drop");
}

/// `host:port` of a `postgres://user:pass@host:port/db` URL.
fn url_addr(url: &str) -> Option<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host_port.to_socket_addrs().ok()?.next()
}

/// The first append of an entity creates its table over the PG wire. When the PG wire cannot be
/// reached it fails at once, naming the address and the cause (it used to wait up to the flush
/// timeout, 60 s, for the server); once the server is reachable the same append succeeds.
#[tokio::test]
async fn the_first_append_reports_an_unreachable_pg_wire_at_once() {
    let ns = dal_tests::unique_namespace("qdb_late");
    let Some(mut options) = live(&ns) else { return };
    let Some(pg) = url_addr(&options.pg_url) else {
        eprintln!("SKIPPED (QuestDB late start): QDB_PG_URL has no host:port");
        return;
    };
    let proxy = CutProxy::start(pg);
    proxy.cut();
    // The proxy closes its port on its next turn.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (user_part, rest) = options.pg_url.split_once("://").expect("url");
    let auth = rest.split('/').next().unwrap_or_default();
    let creds = auth
        .rsplit_once('@')
        .map(|(c, _)| format!("{c}@"))
        .unwrap_or_default();
    let path = rest.split_once('/').map(|(_, p)| p).unwrap_or("qdb");
    options.pg_url = format!("{user_part}://{creds}{}/{path}", proxy.addr);
    // Long waits everywhere: the error must come from knowing the cause.
    options.connect_timeout = Duration::from_secs(600);
    options.writer.flush_timeout = Some(Duration::from_secs(600));
    let db = QuestDb::connect(options).expect("a handle while QuestDB is unreachable");
    let limit = Duration::from_secs(60);
    let health = tokio::time::timeout(limit, db.health_check())
        .await
        .expect("health reports at once");
    let repo: Repository<Sample, _> = Repository::new(db.clone());
    let row = Sample {
        id: 1,
        ts: at(T0),
        name: "a".into(),
        value: 1.0,
        qty: None,
    };
    let append = tokio::time::timeout(limit, repo.append(&row))
        .await
        .expect("the append reports at once");
    for e in [health.expect_err("cut"), append.expect_err("cut")] {
        assert!(matches!(e, Error::Unavailable { .. }), "{e}");
        let shown = e.to_string();
        assert!(shown.contains(&proxy.addr.to_string()), "{shown}");
        assert!(shown.to_lowercase().contains("refused"), "{shown}");
    }
    proxy.restore();
    // The proxy opens its port again on its next turn.
    let started = std::time::Instant::now();
    while db.health_check().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still unreachable"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    repo.append(&row).await.expect("append once reachable");
    repo.flush().await.expect("flush");
    let got = repo
        .range(&RangeQuery::new(at(T0), at(T0 + 1)))
        .await
        .expect("range");
    assert_eq!(got, [row]);
    db.drop_table::<Sample>().await.expect("drop");
}

/// `health_check` covers the write path: with reads fine and the ILP endpoint unreachable, the
/// handle is not healthy, and the error names the ILP address.
#[tokio::test]
async fn health_check_covers_the_ilp_endpoint() {
    let ns = dal_tests::unique_namespace("qdb_ilp_health");
    let Some(mut options) = live(&ns) else { return };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    options.client_conf = format!("http::addr=127.0.0.1:{port};");
    let db = QuestDb::connect(options).expect("handle");
    let e = db.health_check().await.expect_err("no ILP endpoint");
    assert!(e.is_transient(), "{e}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
}

/// Every kind of value QuestDB cannot hold, or would change, is refused at `append` naming its
/// field, and nothing of that row is stored; the values at the limits round-trip.
#[tokio::test]
async fn values_at_the_limits_round_trip_and_beyond_them_are_refused() {
    let Some(db) = connect("qdb_limits") else {
        return;
    };
    let repo: Repository<AllKinds, _> = Repository::new(db.clone());
    let max_micros = |t: DateTime<Utc>| at(t.timestamp_micros());
    let mut good = vec![
        AllKinds {
            ratio: Some(f64::MAX),
            ratio32: Some(f32::MIN_POSITIVE),
            medium: Some(i32::MIN + 1),
            large: Some(i64::MIN + 1),
            small: Some(i16::MIN),
            at: Some(max_micros(DateTime::<Utc>::MIN_UTC)),
            note: Some("nul \0 inside".into()),
            side: Some(String::new()),
            ..bare(1, T0 + 4, "lower bounds")
        },
        AllKinds {
            ratio: Some(f64::from_bits(1)), // the smallest subnormal
            at: Some(max_micros(DateTime::<Utc>::MAX_UTC)),
            uid: Some(Uuid::from_u128(0x8000_0000_0000_0000_8000_0000_0000_0001)),
            ..bare(2, T0 + 3, "upper bounds")
        },
        AllKinds {
            note: Some("t".repeat(TEXT_MAX_BYTES)),
            ..bare(3, T0, &"s".repeat(SYMBOL_MAX_BYTES))
        },
        AllKinds {
            // Each value within its limit, the row just under the row limit.
            note: Some("t".repeat(TEXT_MAX_BYTES)),
            meta: Some(BTreeMap::from([(
                "m".repeat(ROW_MAX_BYTES - TEXT_MAX_BYTES - SYMBOL_MAX_BYTES - 1024),
                1,
            )])),
            ..bare(4, T0 + 1, &"s".repeat(SYMBOL_MAX_BYTES))
        },
        AllKinds {
            at: Some(at(-1)), // before 1970 in a TIMESTAMP column
            ..bare(5, T0 + 2, "pre-1970 column")
        },
    ];
    // AllKinds' table has a TTL, which QuestDB counts back from its newest row: a row at 9999
    // would expire every other partition. The designated bounds go to a table without one.
    #[derive(Debug, Clone, PartialEq, Entity)]
    #[entity(table = "live_bounds", questdb(partition = "year", dedup))]
    struct Bound {
        #[entity(id)]
        id: i64,
        #[entity(timestamp)]
        ts: DateTime<Utc>,
    }
    let bounds: Repository<Bound, _> = Repository::new(db.clone());
    let edges = [
        Bound { id: 1, ts: at(0) },
        Bound {
            id: 2,
            ts: at(DESIGNATED_MAX_MICROS),
        },
    ];
    bounds.append_all(&edges).await.expect("append_all");
    for (id, ts) in [(3, -1), (4, DESIGNATED_MAX_MICROS + 1)] {
        let e = bounds
            .append(&Bound { id, ts: at(ts) })
            .await
            .expect_err("out of range");
        assert!(
            matches!(
                e,
                Error::Validation {
                    field: Some("ts"),
                    ..
                }
            ),
            "{e}"
        );
    }
    bounds.flush().await.expect("flush");
    let mut stored = bounds
        .range(&RangeQuery::new(at(0), at(DESIGNATED_MAX_MICROS)))
        .await
        .expect("range");
    // A row at the designated maximum is beyond `range`'s exclusive end; `latest` reaches it.
    stored.extend(
        bounds
            .latest(Bound::ID, &Bound::ID.eq(2))
            .await
            .expect("latest"),
    );
    assert_eq!(stored, edges);
    db.drop_table::<Bound>().await.expect("drop");

    let report = repo.append_all(&good).await.expect("append_all");
    assert!(report.is_complete(), "{:?}", report.failed);
    let bad: Vec<(AllKinds, &str)> = vec![
        (
            AllKinds {
                ratio: Some(f64::NAN),
                ..bare(10, T0 + 10, "x")
            },
            "ratio",
        ),
        (
            AllKinds {
                ratio: Some(f64::INFINITY),
                ..bare(11, T0 + 11, "x")
            },
            "ratio",
        ),
        (
            AllKinds {
                ratio32: Some(f32::NEG_INFINITY),
                ..bare(12, T0 + 12, "x")
            },
            "ratio32",
        ),
        (
            AllKinds {
                medium: Some(i32::MIN),
                ..bare(13, T0 + 13, "x")
            },
            "medium",
        ),
        (
            AllKinds {
                large: Some(i64::MIN),
                ..bare(14, T0 + 14, "x")
            },
            "large",
        ),
        (
            AllKinds {
                uid: Some(Uuid::from_u128(0x8000_0000_0000_0000_8000_0000_0000_0000)),
                ..bare(15, T0 + 15, "x")
            },
            "uid",
        ),
        (bare(16, -1, "x"), "ts"),
        (bare(17, DESIGNATED_MAX_MICROS + 1, "x"), "ts"),
        (
            bare(18, T0 + 18, &"s".repeat(SYMBOL_MAX_BYTES + 1)),
            "venue",
        ),
        (bare(19, T0 + 19, "a\0b"), "venue"),
        (
            AllKinds {
                note: Some("t".repeat(TEXT_MAX_BYTES + 1)),
                ..bare(20, T0 + 20, "x")
            },
            "note",
        ),
        (
            AllKinds {
                amount: Some(Decimal::new(1, 9)),
                ..bare(21, T0 + 21, "x")
            },
            "amount",
        ),
        (
            AllKinds {
                amount: Some(Decimal::new(1, 0) * Decimal::from(10_000_000_000i64)),
                ..bare(22, T0 + 22, "x")
            },
            "amount",
        ),
    ];
    for (row, field) in &bad {
        let e = repo.append(row).await.expect_err(field);
        assert!(
            matches!(e, Error::Validation { entity: "AllKinds", field: Some(f), .. } if f == *field),
            "{field}: {e}"
        );
    }
    repo.flush().await.expect("flush");
    let mut back = repo
        .range(&RangeQuery::new(at(0), at(DESIGNATED_MAX_MICROS)))
        .await
        .expect("every stored row reads back");
    back.sort_by_key(|r| r.id);
    good.sort_by_key(|r| r.id);
    assert_eq!(back.len(), good.len(), "only the good rows are stored");
    for (got, want) in back.iter().zip(&good) {
        assert_eq!(got, want, "row {}", want.id);
    }
    assert_eq!(back[1].ratio.map(f64::to_bits), Some(1), "subnormal kept");
    db.drop_table::<AllKinds>().await.expect("drop");
}

/// A row QuestDB refuses although dal let it through (here: a table whose column was changed
/// outside dal) does not block the rows around it: they are stored, the refused one is reported
/// by `flush` and by `take_refused`.
#[tokio::test]
async fn a_row_questdb_refuses_does_not_block_the_others() {
    let Some(db) = connect("qdb_refused") else {
        return;
    };
    /// Writes into Sample's table with `qty` as text, which a LONG column refuses.
    #[derive(Debug, Clone, PartialEq, Entity)]
    #[entity(table = "live_metric", questdb(partition = "day", dedup))]
    struct WrongQty {
        #[entity(id)]
        id: i64,
        #[entity(timestamp)]
        ts: DateTime<Utc>,
        #[entity(symbol)]
        name: String,
        value: f64,
        qty: Option<String>,
    }
    db.create_table::<Sample>().await.expect("table");
    let table = db.table_name(Sample::META);
    let repo: Repository<Sample, _> = Repository::new(db.clone());
    let good: Vec<Sample> = (0..104)
        .map(|i| Sample {
            id: i,
            ts: at(T0 + i),
            name: "ok".into(),
            value: i as f64,
            qty: Some(i),
        })
        .collect();
    repo.append_all(&good[..50]).await.expect("append_all");
    let wrong = WrongQty {
        id: 1_000,
        ts: at(T0 + 1_000),
        name: "bad".into(),
        value: 0.0,
        qty: Some("not a number".into()),
    };
    db.writer().append(&table, &wrong).await.expect("queued");
    repo.append_all(&good[50..]).await.expect("append_all");
    let e = repo.flush().await.expect_err("one row was refused");
    assert!(!e.is_transient(), "{e}");
    assert!(e.to_string().contains("1 queued row(s)"), "{e}");
    let refused = db.take_refused();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].entity, "WrongQty");
    assert!(
        refused[0].key.starts_with("id=1000, "),
        "{}",
        refused[0].key
    );
    repo.flush().await.expect("the refusal was reported once");
    let back = repo
        .range(&RangeQuery::new(at(T0), at(T0 + 2_000)))
        .await
        .expect("range");
    assert_eq!(back, good, "every other row is stored");
    db.drop_table::<Sample>().await.expect("drop");
}

/// Rows written outside dal with QuestDB's NULL in a non-Option DOUBLE or LONG read back as the
/// values QuestDB stores for them (NaN, i64::MIN) instead of failing every read of the window.
#[tokio::test]
async fn nulls_in_non_option_fields_written_outside_dal_read_back() {
    let Some(db) = connect("qdb_nulls") else {
        return;
    };
    db.create_table::<Sample>().await.expect("table");
    let table = db.table_name(Sample::META);
    db.execute(&format!(
        "INSERT INTO \"{table}\" (id, ts, name, value, qty) VALUES (NULL, '2023-11-14T22:13:20.000000Z', 'n', NULL, NULL)"
    ))
    .await
    .expect("insert");
    db.execute(&format!("SELECT wait_wal_table('{table}')"))
        .await
        .expect("wait");
    let repo: Repository<Sample, _> = Repository::new(db.clone());
    let back = repo
        .range(&RangeQuery::new(at(T0 - 1_000_000), at(T0 + 1_000_000)))
        .await
        .expect("the window reads");
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].id, i64::MIN);
    assert!(back[0].value.is_nan());
    assert_eq!(back[0].qty, None);
    db.drop_table::<Sample>().await.expect("drop");
}

/// A declared decimal comes back at exactly its declared scale: 12.5 and 12.500 as 12.500, 0 as
/// 0.000 (QuestDB used to return 12.5 and 0), and filters compare values, not text.
#[tokio::test]
async fn decimals_keep_the_declared_scale() {
    let Some(db) = connect("qdb_decimal") else {
        return;
    };
    #[derive(Debug, Clone, PartialEq, Entity)]
    #[entity(table = "live_decimal", questdb(partition = "day", dedup))]
    struct Priced {
        #[entity(id)]
        id: i64,
        #[entity(timestamp)]
        ts: DateTime<Utc>,
        #[entity(precision = 18, scale = 3)]
        price: rust_decimal::Decimal,
        #[entity(scale = 8)]
        fee: Option<rust_decimal::Decimal>,
    }
    let repo: Repository<Priced, _> = Repository::new(db.clone());
    let prices = [
        Decimal::new(125, 1),
        Decimal::new(12_500, 3),
        Decimal::new(0, 0),
        Decimal::new(-1, 3),
        Decimal::new(999_999_999_999_999_999, 3),
    ];
    for (i, p) in prices.iter().enumerate() {
        repo.append(&Priced {
            id: i as i64,
            ts: at(T0 + i as i64),
            price: *p,
            fee: (i % 2 == 0).then(|| Decimal::new(5, 1)),
        })
        .await
        .expect("append");
    }
    let e = repo
        .append(&Priced {
            id: 9,
            ts: at(T0 + 9),
            price: Decimal::new(12_345, 4),
            fee: None,
        })
        .await
        .expect_err("four fractional digits in a scale-3 field");
    assert!(
        matches!(
            e,
            Error::Validation {
                field: Some("price"),
                ..
            }
        ),
        "{e}"
    );
    repo.flush().await.expect("flush");
    let back = repo
        .range(&RangeQuery::new(at(T0), at(T0 + 100)))
        .await
        .expect("range");
    let shown: Vec<String> = back.iter().map(|r| r.price.to_string()).collect();
    assert_eq!(
        shown,
        ["12.500", "12.500", "0.000", "-0.001", "999999999999999.999"]
    );
    for r in &back {
        assert_eq!(r.price.scale(), 3);
        assert!(
            r.fee.is_none_or(|f| f.to_string() == "0.50000000"),
            "{:?}",
            r.fee
        );
    }
    let twelve = repo
        .range(
            &RangeQuery::new(at(T0), at(T0 + 100)).filter(Priced::PRICE.eq(Decimal::new(125, 1))),
        )
        .await
        .expect("filter");
    assert_eq!(twelve.iter().map(|r| r.id).collect::<Vec<_>>(), [0, 1]);
    db.drop_table::<Priced>().await.expect("drop");
}

#[tokio::test]
async fn reads_survive_a_schema_change() {
    let Some(db) = connect("qdb_alter") else {
        return;
    };
    let repo: Repository<Sample, _> = Repository::new(db.clone());
    let row = Sample {
        id: 1,
        ts: at(T0),
        name: "a".into(),
        value: 1.0,
        qty: Some(2),
    };
    repo.append(&row).await.expect("append");
    repo.flush().await.expect("flush");
    let window = RangeQuery::new(at(T0), at(T0 + 1));
    // Prepared and cached on the pool's connections...
    for _ in 0..3 {
        assert_eq!(
            repo.range(&window).await.expect("range"),
            std::slice::from_ref(&row)
        );
    }
    // ...then the table changes under them.
    let table = db.table_name(Sample::META);
    db.execute(&format!("ALTER TABLE \"{table}\" ADD COLUMN extra LONG"))
        .await
        .expect("alter");
    db.execute(&format!("ALTER TABLE \"{table}\" DROP COLUMN qty"))
        .await
        .expect("drop column");
    db.execute(&format!("ALTER TABLE \"{table}\" ADD COLUMN qty LONG"))
        .await
        .expect("re-add column");
    // Schema changes of a WAL table are applied asynchronously too.
    db.execute(&format!("SELECT wait_wal_table('{table}')"))
        .await
        .expect("wait");
    for _ in 0..3 {
        let got = repo
            .range(&window)
            .await
            .expect("range after the schema change");
        assert_eq!(
            got,
            [Sample {
                qty: None,
                ..row.clone()
            }]
        );
    }
    db.drop_table::<Sample>().await.expect("drop");
}

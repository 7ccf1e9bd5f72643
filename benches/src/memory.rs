//! `mem_` pairs: the memory backend through `Repository` beside a hand-written store doing the
//! same work (`RwLock<HashMap>` for records and the cache, a sorted `Vec` for time series).
//!
//! The baselines keep typed structs and clone them; the memory backend encodes every row into
//! `Value`s through the entity visitor and decodes it on the way out, like a real backend, and
//! keys records by the key codec string. The ratio is what that fidelity costs.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dal::{
    CacheStore, Memory, MetricQuery, MetricsStore, RangeQuery, RecordStore, Repository,
    TimeSeriesStore,
};
use rust_decimal::Decimal;
use trading::models::{Action, MetricPoint, Mode, Price, Trade, TraderConfig};
use uuid::Uuid;

use crate::harness::Harness;

const KEYS: usize = 10_000;
const ROWS: usize = 10_000;
const BATCH: usize = 1_000;

/// Stops the run on a store error: a benchmark that silently measures failures measures nothing.
fn ok<T>(r: dal::Result<T>) -> T {
    r.unwrap_or_else(|e| {
        eprintln!("memory bench: {e}");
        std::process::exit(1)
    })
}

fn t0() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(20_000)
}

fn config(i: usize) -> TraderConfig {
    TraderConfig {
        id: Uuid::from_u128(i as u128 + 1),
        name: format!("trader-{i}"),
        mode: Mode::Paper,
        max_position_size: Decimal::new(1_000_000, 2),
        max_daily_loss: Decimal::from(500),
        max_slippage_bps: 30,
        mev_protection_enabled: true,
        created_at: t0(),
        updated_at: t0(),
    }
}

fn trade(i: usize) -> Trade {
    Trade {
        id: Uuid::from_u128(i as u128 + 1),
        timestamp: t0() + chrono::Duration::milliseconds(i as i64),
        trader_id: format!("trader-{}", i % 4),
        mode: Mode::Paper,
        action: if i.is_multiple_of(3) {
            Action::Sell
        } else {
            Action::Buy
        },
        base_token: format!("TOKEN{}", i % 8),
        quote_token: "USDC".to_owned(),
        amount: 1.5,
        price: 100.0 + (i % 100) as f64,
        slippage: 0.001,
        fee: 0.25,
        priority_fee: 10_000,
        transfer_fee: None,
        tx_signature: None,
        latency_ms: 12,
        mev_protected: true,
    }
}

fn metric(i: usize) -> MetricPoint {
    MetricPoint {
        id: Uuid::from_u128(i as u128 + 1),
        timestamp: t0() + chrono::Duration::milliseconds(i as i64),
        metric_name: format!("latency_ms.op{}", i % 4),
        value: ((i * 7_919) % 1_000) as f64 / 10.0,
        labels: BTreeMap::new(),
    }
}

fn price(i: usize) -> Price {
    Price {
        token: format!("TOKEN{i}"),
        price: 100.0 + i as f64,
        updated_at: t0(),
    }
}

/// Runs every `mem_` pair selected by the filter.
pub(crate) async fn run(h: &mut Harness) {
    records(h).await;
    time_series(h).await;
    metrics(h).await;
    cache(h).await;
}

async fn records(h: &mut Harness) {
    let configs: Vec<TraderConfig> = (0..KEYS).map(config).collect();
    let repo: Repository<TraderConfig, Memory> = Repository::new(Memory::new());
    let map: RwLock<HashMap<Uuid, TraderConfig>> = RwLock::new(HashMap::new());
    for c in &configs {
        ok(repo.save(c).await);
        map.write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(c.id, c.clone());
    }
    let (repo, map, configs) = (&repo, &map, &configs);
    let next = Cell::new(0usize);
    let next = &next;
    let pick = move || {
        let i = next.get();
        next.set((i + 7_919) % KEYS);
        &configs[i]
    };

    // Upsert of an existing key.
    h.pair(
        "mem_save",
        1,
        || async move { ok(repo.save(pick()).await) },
        || async move {
            let c = pick();
            map.write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(c.id, c.clone());
        },
    )
    .await;

    h.pair(
        "mem_get",
        1,
        || async move {
            let got = ok(repo.get(&pick().id).await);
            std::hint::black_box(got);
        },
        || async move {
            let id = pick().id;
            let got = map
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&id)
                .cloned();
            std::hint::black_box(got);
        },
    )
    .await;
}

async fn time_series(h: &mut Harness) {
    let batch: Vec<Trade> = (0..BATCH).map(trade).collect();
    let batch = &batch;

    // A fresh store per call keeps memory bounded while rounds repeat.
    h.pair(
        "mem_append_all_1000",
        BATCH as u64,
        || async move {
            let repo: Repository<Trade, Memory> = Repository::new(Memory::new());
            ok(ok(repo.append_all(batch).await).into_result());
            std::hint::black_box(repo);
        },
        || async move {
            let store: RwLock<Vec<Trade>> = RwLock::new(Vec::new());
            let mut rows = store.write().unwrap_or_else(|e| e.into_inner());
            for t in batch {
                let at = rows.partition_point(|r| r.timestamp <= t.timestamp);
                rows.insert(at, t.clone());
            }
            drop(rows);
            std::hint::black_box(store);
        },
    )
    .await;

    let rows: Vec<Trade> = (0..ROWS).map(trade).collect();
    let repo: Repository<Trade, Memory> = Repository::new(Memory::new());
    ok(ok(repo.append_all(&rows).await).into_result());
    let sorted: RwLock<Vec<Trade>> = RwLock::new(rows);
    let (repo, sorted) = (&repo, &sorted);
    let next = Cell::new(0usize);
    let next = &next;
    // A 100 ms window (100 rows) at a moving offset, filtered to one token (about 12 rows).
    let window = move || {
        let i = next.get();
        next.set((i + 997) % (ROWS - 100));
        let start = t0() + chrono::Duration::milliseconds(i as i64);
        (start, start + chrono::Duration::milliseconds(100))
    };
    h.pair(
        "mem_range_100",
        1,
        || async move {
            let (start, end) = window();
            let q = RangeQuery::new(start, end).filter(Trade::BASE_TOKEN.eq("TOKEN3".to_owned()));
            std::hint::black_box(ok(repo.range(&q).await));
        },
        || async move {
            let (start, end) = window();
            let rows = sorted.read().unwrap_or_else(|e| e.into_inner());
            let lo = rows.partition_point(|r| r.timestamp < start);
            let hi = rows.partition_point(|r| r.timestamp < end);
            let got: Vec<Trade> = rows[lo..hi]
                .iter()
                .filter(|r| r.base_token == "TOKEN3")
                .cloned()
                .collect();
            std::hint::black_box(got);
        },
    )
    .await;
}

async fn metrics(h: &mut Harness) {
    let points: Vec<MetricPoint> = (0..ROWS).map(metric).collect();
    let repo: Repository<MetricPoint, Memory> = Repository::new(Memory::new());
    ok(ok(repo.append_all(&points).await).into_result());
    let sorted = RwLock::new(points);
    let (repo, sorted) = (&repo, &sorted);
    let (start, end) = (t0(), t0() + chrono::Duration::seconds(60));

    // p99 of one metric (a quarter of the rows) over the whole window.
    h.pair(
        "mem_quantile_p99_10k",
        1,
        || async move {
            let q = MetricQuery::new(MetricPoint::VALUE, start, end)
                .filter(MetricPoint::METRIC_NAME.eq("latency_ms.op1".to_owned()));
            std::hint::black_box(ok(repo.quantile(&q, 0.99).await));
        },
        || async move {
            let rows = sorted.read().unwrap_or_else(|e| e.into_inner());
            let lo = rows.partition_point(|r| r.timestamp < start);
            let hi = rows.partition_point(|r| r.timestamp < end);
            let mut values: Vec<f64> = rows[lo..hi]
                .iter()
                .filter(|r| r.metric_name == "latency_ms.op1")
                .map(|r| r.value)
                .collect();
            drop(rows);
            values.sort_unstable_by(f64::total_cmp);
            std::hint::black_box(dal::query::percentile_cont(&values, 0.99));
        },
    )
    .await;
}

async fn cache(h: &mut Harness) {
    let prices: Vec<Price> = (0..KEYS).map(price).collect();
    let repo: Repository<Price, Memory> = Repository::new(Memory::new());
    let map: RwLock<HashMap<String, (Price, Instant)>> = RwLock::new(HashMap::new());
    let ttl = Duration::from_secs(3_600);
    for p in &prices {
        ok(repo.put_with_ttl(p, ttl).await);
        let expires = Instant::now() + ttl;
        map.write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(p.token.clone(), (p.clone(), expires));
    }
    let (repo, map, prices) = (&repo, &map, &prices);
    let next = Cell::new(0usize);
    let next = &next;
    let pick = move || {
        let i = next.get();
        next.set((i + 7_919) % KEYS);
        &prices[i]
    };

    h.pair(
        "mem_put",
        1,
        || async move { ok(repo.put_with_ttl(pick(), ttl).await) },
        || async move {
            let p = pick();
            let expires = Instant::now() + ttl;
            map.write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(p.token.clone(), (p.clone(), expires));
        },
    )
    .await;

    h.pair(
        "mem_lookup",
        1,
        || async move {
            std::hint::black_box(ok(repo.lookup(&pick().token).await));
        },
        || async move {
            let token = &pick().token;
            let now = Instant::now();
            let got = map
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(token)
                .filter(|(_, expires)| *expires > now)
                .map(|(p, _)| p.clone());
            std::hint::black_box(got);
        },
    )
    .await;
}

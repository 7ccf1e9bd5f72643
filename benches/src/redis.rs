//! Redis pairs: dal's `Repository<Price, Redis>` beside hand-written redis-crate code on the same
//! server, in the same run.
//!
//! The baselines are deliberately strict: they send pre-built keys and pre-encoded bytes, so every
//! ratio charges dal with its whole overhead (key escaping, value encoding, schema check, size
//! check, error mapping). Single reads and the `_bytes_only` and `_vs_pipeline` batch reads do not
//! even decode their replies. `redis_lookup_many_1000`, the batch read with a target, compares
//! equal outcomes: its baseline turns the MGET reply into the same `Vec<Option<Price>>` with the
//! cheapest decoder one could write by hand (a fixed 16-byte value of price bits and nanoseconds,
//! the token taken from the requested key), so the pair measures dal's costs beyond materializing
//! the entities that any cache read must return. Baseline connections are plain
//! `MultiplexedConnection`s (no reconnect layer). Pairs are skipped without `REDIS_URL`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ::redis::aio::MultiplexedConnection;
use chrono::Utc;
use dal::{CacheStore, Repository};
use dal_backends::redis::{Redis, RedisOptions, codec};
use trading::models::Price;

use crate::harness::Harness;

const NAMES: [&str; 8] = [
    "redis_get",
    "redis_put",
    "redis_lookup_many_1000",
    "redis_lookup_many_1000_bytes_only",
    "redis_lookup_many_1000_vs_pipeline",
    "redis_put_all_1000",
    "redis_get_concurrent64",
    "redis_get_concurrent64_pool4",
];

const BATCH: usize = 1_000;
const TASKS: usize = 64;

fn price(i: usize) -> Price {
    Price {
        token: format!("So1anaMint{i:06}TokenAddressXXXXXXXXXXXXXX"),
        price: 100.0 + i as f64 / 7.0,
        updated_at: Utc::now(),
    }
}

pub(crate) async fn run(h: &mut Harness) {
    if !NAMES.iter().any(|n| h.wants(n)) {
        return;
    }
    let url = match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => return h.skip("redis_*", "REDIS_URL is not set"),
    };
    if let Err(e) = run_pairs(h, &url).await {
        h.skip("redis_*", &format!("error: {e}"));
    }
}

async fn run_pairs(h: &mut Harness, url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let ns = format!("bench_{}", std::process::id());
    let redis =
        Redis::connect_with(url, RedisOptions::default().with_namespace(ns.clone())).await?;
    let prices: Repository<Price, Redis> = Repository::new(redis.clone());
    let raw: MultiplexedConnection = ::redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?;

    let batch: Vec<Price> = (0..BATCH).map(price).collect();
    let keys: Vec<String> = batch.iter().map(|p| p.token.clone()).collect();
    let raw_keys: Vec<String> = keys
        .iter()
        .map(|k| redis.key_for::<Price>(k))
        .collect::<dal::Result<_>>()?;
    let raw_values: Vec<Vec<u8>> = batch
        .iter()
        .map(|p| {
            let mut v = Vec::new();
            codec::encode_value(p, &mut v).map(|()| v)
        })
        .collect::<dal::Result<_>>()?;
    // Long TTL for the data the read pairs use, so nothing expires mid-run.
    let ttl = Duration::from_secs(600);
    for p in &batch {
        prices.put_with_ttl(p, ttl).await?;
    }

    // Single GET.
    let key0 = keys[0].clone();
    let raw_key0 = raw_keys[0].clone();
    h.pair(
        "redis_get",
        1,
        || {
            let prices = prices.clone();
            let key = key0.clone();
            async move {
                let hit = prices.lookup(&key).await.expect("lookup");
                assert!(hit.is_some());
            }
        },
        || {
            let mut conn = raw.clone();
            let key = raw_key0.clone();
            async move {
                let v: Option<Vec<u8>> = ::redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .expect("GET");
                assert!(v.is_some());
            }
        },
    )
    .await;

    // Single SET PX (the entity's default TTL, 2 s).
    let p0 = batch[0].clone();
    let v0 = raw_values[0].clone();
    let put_key = raw_keys[0].clone();
    h.pair(
        "redis_put",
        1,
        || {
            let prices = prices.clone();
            let p = p0.clone();
            async move { prices.put(&p).await.expect("put") }
        },
        || {
            let mut conn = raw.clone();
            let (key, value) = (put_key.clone(), v0.clone());
            async move {
                ::redis::cmd("SET")
                    .arg(&key)
                    .arg(&value)
                    .arg("PX")
                    .arg(2_000)
                    .exec_async(&mut conn)
                    .await
                    .expect("SET")
            }
        },
    )
    .await;
    // The put pair shortened the TTL of key 0: restore it for the read pairs below.
    prices.put_with_ttl(&batch[0], ttl).await?;

    // MGET of 1,000 keys, both sides returning `Vec<Option<Price>>`. The baseline's values are
    // its own hand-rolled 16 bytes under its own keys.
    let keys = Arc::new(keys);
    let raw_keys = Arc::new(raw_keys);
    let hand_keys: Arc<Vec<String>> =
        Arc::new(keys.iter().map(|k| format!("{ns}:hand:{k}")).collect());
    let mut pipe = ::redis::pipe();
    for (k, p) in hand_keys.iter().zip(&batch) {
        pipe.cmd("SET")
            .arg(k)
            .arg(&hand_encode(p)[..])
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .ignore();
    }
    pipe.exec_async(&mut raw.clone()).await?;
    // dal's side of the three lookup pairs below.
    let dal_lookup_many = || {
        let prices = prices.clone();
        let keys = Arc::clone(&keys);
        async move {
            let got = prices.lookup_many(&keys).await.expect("lookup_many");
            assert!(got.iter().all(Option::is_some));
        }
    };
    h.pair(
        "redis_lookup_many_1000",
        BATCH as u64,
        &dal_lookup_many,
        || {
            let mut conn = raw.clone();
            let (keys, hand_keys) = (Arc::clone(&keys), Arc::clone(&hand_keys));
            async move {
                let got: Vec<Option<Vec<u8>>> = ::redis::cmd("MGET")
                    .arg(&hand_keys[..])
                    .query_async(&mut conn)
                    .await
                    .expect("MGET");
                let prices: Vec<Option<Price>> = got
                    .iter()
                    .zip(keys.iter())
                    .map(|(v, k)| v.as_deref().map(|v| hand_decode(k, v)))
                    .collect();
                assert!(prices.iter().all(Option::is_some));
            }
        },
    )
    .await;

    // The same MGET against a baseline that does not decode at all (dal's decoding included).
    h.pair(
        "redis_lookup_many_1000_bytes_only",
        BATCH as u64,
        &dal_lookup_many,
        || {
            let mut conn = raw.clone();
            let keys = Arc::clone(&raw_keys);
            async move {
                let got: Vec<Option<Vec<u8>>> = ::redis::cmd("MGET")
                    .arg(&keys[..])
                    .query_async(&mut conn)
                    .await
                    .expect("MGET");
                assert_eq!(got.len(), BATCH);
            }
        },
    )
    .await;

    // The same lookup against what a hand-written cache often does instead: a GET pipeline.
    h.pair(
        "redis_lookup_many_1000_vs_pipeline",
        BATCH as u64,
        &dal_lookup_many,
        || {
            let mut conn = raw.clone();
            let keys = Arc::clone(&raw_keys);
            async move {
                let mut pipe = ::redis::pipe();
                for k in keys.iter() {
                    pipe.cmd("GET").arg(k);
                }
                let got: Vec<Option<Vec<u8>>> = pipe.query_async(&mut conn).await.expect("GETs");
                assert_eq!(got.len(), BATCH);
            }
        },
    )
    .await;

    // 1,000 SET PX in one pipeline.
    let batch = Arc::new(batch);
    let raw_values = Arc::new(raw_values);
    h.pair(
        "redis_put_all_1000",
        BATCH as u64,
        || {
            let prices = prices.clone();
            let batch = Arc::clone(&batch);
            async move {
                let report = prices.put_all(&batch).await.expect("put_all");
                assert_eq!(report.written, BATCH);
            }
        },
        || {
            let mut conn = raw.clone();
            let (keys, values) = (Arc::clone(&raw_keys), Arc::clone(&raw_values));
            async move {
                let mut pipe = ::redis::pipe();
                for (k, v) in keys.iter().zip(values.iter()) {
                    pipe.cmd("SET").arg(k).arg(v).arg("PX").arg(2_000).ignore();
                }
                pipe.exec_async(&mut conn).await.expect("SET pipeline");
            }
        },
    )
    .await;
    for p in batch.iter() {
        prices.put_with_ttl(p, ttl).await?;
    }

    // 64 tasks doing lookups at once on one multiplexed connection.
    if h.wants("redis_get_concurrent64") {
        let (f, b) = concurrent_pair(h, &prices, &raw, &keys, &raw_keys).await;
        print_latency("redis_get_concurrent64", &f, &b);
        h.record("redis_get_concurrent64", f.rate, b.rate);
    }
    // The same with a pool of 4 connections behind the handle (is one connection enough?).
    if h.wants("redis_get_concurrent64_pool4") {
        let pooled = Redis::connect_with(
            url,
            RedisOptions::default()
                .with_namespace(ns.clone())
                .with_connections(4),
        )
        .await?;
        let pooled: Repository<Price, Redis> = Repository::new(pooled);
        let (f, b) = concurrent_pair(h, &pooled, &raw, &keys, &raw_keys).await;
        print_latency("redis_get_concurrent64_pool4", &f, &b);
        h.record("redis_get_concurrent64_pool4", f.rate, b.rate);
    }

    // Leave nothing behind.
    let mut conn = redis.connection();
    let _: u64 = ::redis::cmd("DEL")
        .arg(&raw_keys[..])
        .arg(&hand_keys[..])
        .query_async(&mut conn)
        .await?;
    Ok(())
}

/// The hand-written baseline's value: price bits and nanoseconds since the epoch, little endian.
fn hand_encode(p: &Price) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&p.price.to_le_bytes());
    let nanos = p.updated_at.timestamp_nanos_opt().unwrap_or_default();
    v[8..].copy_from_slice(&nanos.to_le_bytes());
    v
}

/// Decodes [`hand_encode`]'s value; like code written for one type, it trusts its input.
fn hand_decode(token: &str, v: &[u8]) -> Price {
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&v[at..at + 8]);
        w
    };
    Price {
        token: token.to_owned(),
        price: f64::from_le_bytes(word(0)),
        updated_at: chrono::DateTime::from_timestamp_nanos(i64::from_le_bytes(word(8))),
    }
}

/// Throughput and per-operation latencies of one concurrent round.
struct Round {
    rate: f64,
    latencies_us: Vec<u32>,
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn print_latency(name: &str, f: &Round, b: &Round) {
    println!(
        "# {name} p50={}us p99={}us (raw: p50={}us p99={}us) ops/s={:.0} (raw {:.0})",
        percentile(&f.latencies_us, 0.50),
        percentile(&f.latencies_us, 0.99),
        percentile(&b.latencies_us, 0.50),
        percentile(&b.latencies_us, 0.99),
        f.rate,
        b.rate,
    );
}

/// `h.rounds` rounds, the sides taking turns to go first; the round with the median ratio counts
/// (as in the harness).
async fn concurrent_pair(
    h: &Harness,
    prices: &Repository<Price, Redis>,
    raw: &MultiplexedConnection,
    keys: &Arc<Vec<String>>,
    raw_keys: &Arc<Vec<String>>,
) -> (Round, Round) {
    let mut rounds: Vec<(Round, Round)> = Vec::new();
    for r in 0..h.rounds {
        let raw_round = || {
            let (raw, raw_keys) = (raw.clone(), Arc::clone(raw_keys));
            concurrent_round(h.round, move |i| {
                let mut conn = raw.clone();
                let key = raw_keys[i % raw_keys.len()].clone();
                async move {
                    let v: Option<Vec<u8>> = ::redis::cmd("GET")
                        .arg(&key)
                        .query_async(&mut conn)
                        .await
                        .expect("GET");
                    assert!(v.is_some());
                }
            })
        };
        let dal_round = || {
            let (prices, keys) = (prices.clone(), Arc::clone(keys));
            concurrent_round(h.round, move |i| {
                let prices = prices.clone();
                let key = keys[i % keys.len()].clone();
                async move {
                    let hit = prices.lookup(&key).await.expect("lookup");
                    assert!(hit.is_some());
                }
            })
        };
        let (f, b) = if r.is_multiple_of(2) {
            let b = raw_round().await;
            (dal_round().await, b)
        } else {
            let f = dal_round().await;
            (f, raw_round().await)
        };
        rounds.push((f, b));
    }
    rounds.sort_by(|x, y| (x.0.rate / x.1.rate).total_cmp(&(y.0.rate / y.1.rate)));
    let mid = rounds.len() / 2;
    rounds.swap_remove(mid)
}

/// Runs [`TASKS`] tasks, each calling `op` in a loop for `budget`.
async fn concurrent_round<F, Fut>(budget: Duration, op: F) -> Round
where
    F: Fn(usize) -> Fut + Send + Sync + 'static + Clone,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(TASKS);
    for t in 0..TASKS {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(8_192);
            let mut i = t * 7;
            while start.elapsed() < budget {
                let t0 = Instant::now();
                op(i).await;
                lat.push(t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                i += 1;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("bench task"));
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    Round {
        rate: all.len() as f64 / elapsed,
        latencies_us: all,
    }
}

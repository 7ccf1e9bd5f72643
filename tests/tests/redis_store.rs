//! The Redis cache and record stores against the real server (`REDIS_URL`): round trips, TTLs,
//! key codec edge cases, listing, wrong-type / corrupted / oversized values.

mod redis_common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use dal::Entity;
use dal::{Backend, CacheStore, Error, ListQuery, RecordStore, RecordStoreExt, Repository};
use dal_backends::redis::driver::{self, AsyncCommands};
use dal_backends::redis::{Redis, RedisOptions, codec};
use redis_common::*;
use rust_decimal::Decimal;

#[tokio::test]
async fn cache_round_trip_with_default_and_explicit_ttl() {
    let Some(redis) = redis("rs_cache").await else {
        return;
    };
    redis.health_check().await.expect("PING");
    let prices: Repository<Price, Redis> = Repository::new(redis.clone());

    let mut sol = price("SOL", 151.25);
    sol.note = None;
    prices.put(&sol).await.expect("put");
    assert_eq!(
        prices.lookup(&"SOL".to_string()).await.expect("lookup"),
        Some(sol.clone())
    );

    // Default TTL (2 s) was written with the value.
    let left = prices
        .remaining_ttl(&"SOL".into())
        .await
        .expect("pttl")
        .expect("has a TTL");
    assert!(
        left > Duration::from_millis(1_000) && left <= Duration::from_secs(2),
        "{left:?}"
    );

    // An explicit short TTL really expires.
    let eth = price("ETH", f64::NAN);
    prices
        .put_with_ttl(&eth, Duration::from_millis(80))
        .await
        .expect("put_with_ttl");
    let got = prices
        .lookup(&"ETH".into())
        .await
        .expect("lookup")
        .expect("present");
    assert!(got.usd.is_nan(), "NaN round-trips");
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(prices.lookup(&"ETH".into()).await.expect("lookup"), None);
    assert_eq!(
        prices.remaining_ttl(&"ETH".into()).await.expect("pttl"),
        None
    );

    // Zero TTL is refused; invalidate reports whether something was removed.
    let zero = prices.put_with_ttl(&sol, Duration::ZERO).await;
    assert!(
        matches!(
            zero,
            Err(Error::Validation {
                entity: "Price",
                ..
            })
        ),
        "{zero:?}"
    );
    assert!(prices.invalidate(&"SOL".into()).await.expect("del"));
    assert!(!prices.invalidate(&"SOL".into()).await.expect("del again"));
    clear_namespace(&redis).await;
}

#[tokio::test]
async fn batches_are_pipelined_and_keep_request_order() {
    let Some(redis) = redis("rs_batch").await else {
        return;
    };
    let prices: Repository<Price, Redis> = Repository::new(redis.clone());
    let batch: Vec<Price> = (0..500)
        .map(|i| price(&format!("T{i}"), f64::from(i)))
        .collect();
    let report = prices.put_all(&batch).await.expect("put_all");
    assert_eq!((report.written, report.failed.len()), (500, 0));

    let keys: Vec<String> = ["T7", "missing", "T499", "T0", "T7"]
        .map(String::from)
        .to_vec();
    let got = prices.lookup_many(&keys).await.expect("lookup_many");
    let usd: Vec<Option<f64>> = got.iter().map(|p| p.as_ref().map(|p| p.usd)).collect();
    assert_eq!(usd, [Some(7.0), None, Some(499.0), Some(0.0), Some(7.0)]);
    assert!(prices.lookup_many(&[]).await.expect("empty").is_empty());

    // More keys than one MGET carries (256): pipelined chunks, still one slot per key in order.
    let wanted: Vec<(String, Option<f64>)> = (0..700)
        .map(|i| {
            if i % 7 == 0 {
                (format!("missing{i}"), None)
            } else {
                let t = (i * 37) % 500;
                (format!("T{t}"), Some(f64::from(t)))
            }
        })
        .collect();
    let keys: Vec<String> = wanted.iter().map(|(k, _)| k.clone()).collect();
    let got = prices.lookup_many(&keys).await.expect("lookup_many 700");
    let usd: Vec<Option<f64>> = got.iter().map(|p| p.as_ref().map(|p| p.usd)).collect();
    let expected: Vec<Option<f64>> = wanted.iter().map(|(_, v)| *v).collect();
    assert_eq!(usd, expected);

    // Every cached entry carries the entity's default TTL.
    let left = prices.remaining_ttl(&"T250".into()).await.expect("pttl");
    assert!(
        left.is_some_and(|d| d <= Duration::from_secs(2)),
        "{left:?}"
    );
    clear_namespace(&redis).await;
}

#[tokio::test]
async fn records_have_no_ttl_and_upsert() {
    let Some(redis) = redis("rs_rec").await else {
        return;
    };
    let pools: Repository<Pool, Redis> = Repository::new(redis.clone());
    let key = ("sol".to_string(), "AbC".to_string());
    let mut p = Pool {
        chain: key.0.clone(),
        address: key.1.clone(),
        reserve: 1,
    };
    pools.save(&p).await.expect("save");
    p.reserve = 2;
    pools.save(&p).await.expect("upsert");
    assert_eq!(pools.get(&key).await.expect("get"), Some(p.clone()));
    assert_eq!(
        pools
            .get_required(&key)
            .await
            .expect("get_required")
            .reserve,
        2
    );
    let left = CacheStore::remaining_ttl(&pools, &key).await.expect("pttl");
    assert_eq!(left, None, "records never expire");
    assert!(pools.delete(&key).await.expect("delete"));
    assert!(matches!(
        pools.get_required(&key).await,
        Err(Error::NotFound { .. })
    ));
    clear_namespace(&redis).await;
}

/// Id parts made of separators, braces, spaces, unicode and empty strings: every one gets its
/// own key, no key contains a hash tag, and each reads back exactly.
#[tokio::test]
async fn awkward_key_parts_round_trip_without_collisions() {
    let Some(redis) = redis("rs_keys").await else {
        return;
    };
    let pools: Repository<Pool, Redis> = Repository::new(redis.clone());
    let parts: &[(&str, &str)] = &[
        ("a", "b"),
        ("a:b", ""),
        ("a", ":b"),
        ("a:", "b"),
        ("", "a:b"),
        ("", ""),
        (":", ""),
        ("", ":"),
        ("{a}", "b"),
        ("a", "{b}"),
        ("{", "}"),
        ("}{", ""),
        ("%3A", ""),
        ("%", "3A"),
        ("sp ace", "tab\there"),
        ("ünï", "cødé 🚀"),
        ("*", "?"),
        ("[ab]", "\\"),
        ("nul\0", "x"),
    ];
    let all: Vec<Pool> = parts
        .iter()
        .enumerate()
        .map(|(i, (c, a))| Pool {
            chain: (*c).into(),
            address: (*a).into(),
            reserve: i as i64,
        })
        .collect();
    let report = pools.save_all(&all).await.expect("save_all");
    assert!(report.is_complete(), "{:?}", report.failed);

    let keys = namespace_keys(&redis).await;
    assert_eq!(
        keys.len(),
        parts.len(),
        "one distinct Redis key per entity: {keys:#?}"
    );
    for k in &keys {
        let local = k.split_once(':').map(|(_, rest)| rest).unwrap_or(k);
        assert!(
            !local.contains('{') && !local.contains('}'),
            "hash tag in {k:?}"
        );
    }
    for p in &all {
        let got = pools
            .get(&(p.chain.clone(), p.address.clone()))
            .await
            .expect("get");
        assert_eq!(
            got.as_ref(),
            Some(p),
            "key parts {:?}/{:?}",
            p.chain,
            p.address
        );
    }
    // Listing sees every one exactly once, in key order.
    let listed = pools.list_all(dal::Filter::all()).await.expect("list_all");
    let mut expected = all.clone();
    expected.sort_by(|x, y| {
        (x.chain.as_bytes(), x.address.as_bytes()).cmp(&(y.chain.as_bytes(), y.address.as_bytes()))
    });
    assert_eq!(listed, expected);
    clear_namespace(&redis).await;
}

#[tokio::test]
async fn list_scans_filters_and_pages_in_key_order() {
    let Some(redis) = redis("rs_list").await else {
        return;
    };
    let pools: Repository<Pool, Redis> = Repository::new(redis.clone());
    let all: Vec<Pool> = (0..57)
        .map(|i| Pool {
            chain: format!("c{}", i % 3),
            address: format!("a{i:03}"),
            reserve: i,
        })
        .collect();
    pools.save_all(&all).await.expect("save_all");
    // Another entity in the same namespace, even with a colliding prefix, is not listed.
    let prices: Repository<Price, Redis> = Repository::new(redis.clone());
    prices.put(&price("pool", 1.0)).await.expect("put");

    let filter = Pool::RESERVE.ge(10);
    let mut query = ListQuery::new(filter.clone(), 10);
    let mut seen: Vec<Pool> = Vec::new();
    let mut pages = 0;
    loop {
        let page = pools.list(&query).await.expect("list");
        pages += 1;
        assert!(page.items.len() <= 10);
        seen.extend(page.items);
        match page.next {
            Some(c) => query.after = Some(c),
            None => break,
        }
    }
    let mut expected: Vec<Pool> = all.iter().filter(|p| p.reserve >= 10).cloned().collect();
    expected.sort_by(|x, y| (&x.chain, &x.address).cmp(&(&y.chain, &y.address)));
    assert_eq!(seen, expected);
    assert_eq!(pages, 5, "47 rows at 10 per page");
    // Past one MGET chunk (256 keys): every record once, in key order.
    let more: Vec<Pool> = (57..400)
        .map(|i| Pool {
            chain: format!("c{}", i % 3),
            address: format!("a{i:03}"),
            reserve: i,
        })
        .collect();
    pools.save_all(&more).await.expect("save_all more");
    let everything = pools
        .list(&ListQuery::new(dal::Filter::all(), 1_000))
        .await
        .expect("list all");
    let mut expected: Vec<Pool> = all.iter().chain(&more).cloned().collect();
    expected.sort_by(|x, y| (&x.chain, &x.address).cmp(&(&y.chain, &y.address)));
    assert_eq!(everything.items, expected);
    assert!(everything.next.is_none());
    let bad = pools.list(&ListQuery::new(dal::Filter::all(), 0)).await;
    assert!(matches!(bad, Err(Error::Validation { .. })), "{bad:?}");
    clear_namespace(&redis).await;
}

#[tokio::test]
async fn another_entitys_value_under_the_key_is_a_typed_error() {
    let Some(redis) = redis("rs_wrong").await else {
        return;
    };
    let impostors: Repository<Impostor, Redis> = Repository::new(redis.clone());
    let prices: Repository<Price, Redis> = Repository::new(redis.clone());
    impostors
        .save(&Impostor {
            token: "SOL".into(),
            text: "not a price".into(),
        })
        .await
        .expect("save");
    assert_eq!(
        redis.key_for::<Impostor>(&"SOL".into()).ok(),
        redis.key_for::<Price>(&"SOL".into()).ok()
    );
    for result in [
        prices.lookup(&"SOL".into()).await,
        prices
            .lookup_many(&["SOL".into()])
            .await
            .map(|mut v| v.remove(0)),
    ] {
        match result {
            Err(Error::Codec {
                entity: "Price",
                message,
                ..
            }) => {
                assert!(message.contains("another entity"), "{message}")
            }
            other => panic!("expected a Price codec error, got {other:?}"),
        }
    }
    clear_namespace(&redis).await;
}

#[tokio::test]
async fn corrupted_and_foreign_bytes_are_typed_errors_and_wrongtype_is_permanent() {
    let Some(redis) = redis("rs_corrupt").await else {
        return;
    };
    let prices: Repository<Price, Redis> = Repository::new(redis.clone());
    let key = redis.key_for::<Price>(&"SOL".into()).expect("key");
    let mut conn = redis.connection();

    let mut good = Vec::new();
    codec::encode_value(&price("SOL", 1.0), &mut good).expect("encode");
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0xFF;
    let truncated = good[..good.len() - 3].to_vec();
    for bad in [b"{\"usd\":1}".to_vec(), Vec::new(), truncated, flipped] {
        let _: () = conn.set(&key, bad.as_slice()).await.expect("raw SET");
        let got = prices.lookup(&"SOL".into()).await;
        assert!(
            matches!(
                got,
                Err(Error::Codec {
                    entity: "Price",
                    ..
                })
            ),
            "{bad:?}: {got:?}"
        );
    }

    let _: () = conn.del(&key).await.expect("DEL");
    let _: () = conn.lpush(&key, "x").await.expect("LPUSH");
    match prices.lookup(&"SOL".into()).await {
        Err(e @ Error::Backend { .. }) => assert!(!e.is_transient(), "WRONGTYPE is permanent: {e}"),
        other => panic!("expected a permanent backend error, got {other:?}"),
    }
    clear_namespace(&redis).await;
}

#[tokio::test]
async fn oversized_values_are_rejected_before_the_server() {
    let Some(redis) = redis_with(
        "rs_big",
        RedisOptions::default().with_max_value_bytes(1_024),
    )
    .await
    else {
        return;
    };
    let blobs: Repository<Blob, Redis> = Repository::new(redis.clone());
    let big = Blob {
        id: 1,
        data: vec![7; 2_000],
    };
    match blobs.save(&big).await {
        Err(Error::Validation {
            entity: "Blob",
            message,
            ..
        }) => {
            assert!(message.contains("1024-byte limit"), "{message}")
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    let mut conn = redis.connection();
    let exists: bool = conn
        .exists(redis.key_for::<Blob>(&1).expect("key"))
        .await
        .expect("EXISTS");
    assert!(!exists, "nothing reached the server");

    // In a batch, only the oversized item fails; the others are written.
    let batch = [
        Blob {
            id: 2,
            data: vec![1; 10],
        },
        big.clone(),
        Blob {
            id: 3,
            data: vec![],
        },
    ];
    let report = blobs.save_all(&batch).await.expect("save_all");
    assert_eq!(report.written, 2);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, 1);
    assert!(matches!(report.failed[0].1, Error::Validation { .. }));
    assert_eq!(
        blobs
            .get_many(&[2, 1, 3])
            .await
            .expect("get_many")
            .iter()
            .map(Option::is_some)
            .collect::<Vec<_>>(),
        [true, false, true]
    );

    // The default limit (16 MiB) applies to every handle.
    let Some(default) = redis_common::redis("rs_big_default").await else {
        return;
    };
    let huge = Blob {
        id: 9,
        data: vec![0; 17 * 1024 * 1024],
    };
    let refused = CacheStore::put(&Repository::<Blob, Redis>::new(default.clone()), &huge).await;
    assert!(
        matches!(refused, Err(Error::Validation { .. })),
        "{refused:?}"
    );
    clear_namespace(&redis).await;
}

#[tokio::test]
async fn capabilities_and_raw_access() {
    let Some(redis) = redis("rs_caps").await else {
        return;
    };
    let caps = redis.capabilities();
    assert!(
        caps.ttl_expiry
            && caps.limits.non_finite_floats
            && caps.limits.nul_in_text
            && caps.read_your_writes
    );
    assert!(!caps.transactions);
    // The raw connection shares the handle's namespace rules through key_for.
    let key = redis.key_for::<Price>(&"a:b".into()).expect("key");
    assert!(key.starts_with(redis.namespace().expect("ns")));
    assert!(key.ends_with("price:a%3Ab"), "{key}");
    let pool = redis
        .key_for::<Pool>(&("a:b".into(), "{c}".into()))
        .expect("key");
    assert!(pool.ends_with(":pool:a%3Ab:%7Bc%7D"), "{pool}");
    let rev = redis.key_for::<Reversed>(&("x:y".into(), -7)).expect("key");
    assert!(rev.ends_with(":rev:-7:x%3Ay"), "{rev}");
    let reversed: Repository<Reversed, Redis> = Repository::new(redis.clone());
    let r = Reversed {
        first: "x:y".into(),
        second: -7,
        note: "n".into(),
    };
    reversed.save(&r).await.expect("save");
    assert_eq!(
        reversed.get(&("x:y".into(), -7)).await.expect("get"),
        Some(r)
    );
    let _: () = driver::cmd("PING")
        .query_async(&mut redis.connection())
        .await
        .expect("PING");
    clear_namespace(&redis).await;
}

/// A decimal without a declaration keeps its own scale.
#[derive(Debug, Clone, PartialEq, dal::Entity)]
#[entity(redis(key = "amount:{id}"))]
struct Amount {
    #[entity(id)]
    id: i64,
    value: Decimal,
    maybe: Option<Decimal>,
}

/// Declared decimals are stored at their declared scale.
#[derive(Debug, Clone, PartialEq, dal::Entity)]
#[entity(redis(key = "quote:{id}"))]
struct Quote {
    #[entity(id)]
    id: i64,
    #[entity(precision = 18, scale = 8)]
    px: Decimal,
    #[entity(scale = 2)]
    fee: Option<Decimal>,
}

fn dec(text: &str) -> Decimal {
    text.parse().expect("decimal literal")
}

/// Value, scale and sign, exactly (`==` on `Decimal` ignores the scale).
fn assert_same_decimal(got: Decimal, sent: Decimal, what: &str) {
    assert_eq!(
        got.serialize(),
        sent.serialize(),
        "{what}: sent {sent} (scale {}), got {got} (scale {})",
        sent.scale(),
        got.scale()
    );
}

#[tokio::test]
async fn undeclared_decimals_round_trip_with_their_own_scale() {
    let Some(redis) = redis("rs_dec").await else {
        return;
    };
    let cache: Repository<Amount, Redis> = Repository::new(redis.clone());
    let records: Repository<Amount, Redis> =
        Repository::new(redis.namespaced("rs_dec_records").expect("ns"));
    let values = [
        dec("0.000"),
        dec("12.500"),
        dec("-0.010"),
        Decimal::ZERO,
        Decimal::MAX,
        Decimal::MIN,
        // 28 fractional digits, the most rust_decimal holds.
        Decimal::from_i128_with_scale(1, 28),
        Decimal::from_i128_with_scale(-79_228_162_514_264_337_593_543_950_335, 28),
        // Negative zero keeps its sign bit and scale.
        Decimal::from_parts(0, 0, 0, true, 3),
    ];
    for (i, v) in values.iter().enumerate() {
        assert!(v.scale() <= 28);
        let row = Amount {
            id: i as i64,
            value: *v,
            maybe: Some(*v),
        };
        cache.put(&row).await.expect("put");
        records.save(&row).await.expect("save");
        for (store, got) in [
            ("cache", cache.lookup(&row.id).await.expect("lookup")),
            ("records", records.get(&row.id).await.expect("get")),
        ] {
            let got = got.expect("present");
            assert_same_decimal(got.value, *v, store);
            assert_same_decimal(got.maybe.expect("Some"), *v, store);
        }
    }
    // Batches keep scales too.
    let rows: Vec<Amount> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Amount {
            id: 100 + i as i64,
            value: *v,
            maybe: None,
        })
        .collect();
    let report = cache.put_all(&rows).await.expect("put_all");
    assert_eq!((report.written, report.failed.len()), (rows.len(), 0));
    let keys: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let got = cache.lookup_many(&keys).await.expect("lookup_many");
    for (row, got) in rows.iter().zip(got) {
        let got = got.expect("present");
        assert_same_decimal(got.value, row.value, "put_all");
        assert_eq!(got.maybe, None);
    }
    clear_namespace(&redis).await;
    clear_namespace(records.backend()).await;
}

#[tokio::test]
async fn declared_decimals_are_stored_at_the_declared_scale() {
    let Some(redis) = redis("rs_decl").await else {
        return;
    };
    let quotes: Repository<Quote, Redis> = Repository::new(redis.clone());
    let cases = [
        ("12.5", "12.50000000"),
        ("0", "0.00000000"),
        ("0.000", "0.00000000"),
        ("-0.01", "-0.01000000"),
        ("1.000000000000", "1.00000000"),
        ("9999999999.99999999", "9999999999.99999999"),
    ];
    for (i, (sent, stored)) in cases.iter().enumerate() {
        let q = Quote {
            id: i as i64,
            px: dec(sent),
            fee: Some(dec("0.5")),
        };
        quotes.put(&q).await.expect("put");
        let got = quotes
            .lookup(&q.id)
            .await
            .expect("lookup")
            .expect("present");
        assert_same_decimal(got.px, dec(stored), sent);
        assert_eq!(got.px.scale(), 8);
        assert_same_decimal(got.fee.expect("Some"), dec("0.50"), "fee");

        quotes.save(&q).await.expect("save");
        let got = quotes.get(&q.id).await.expect("get").expect("present");
        assert_same_decimal(got.px, dec(stored), sent);
    }
    let none = Quote {
        id: 50,
        px: dec("1"),
        fee: None,
    };
    quotes.put(&none).await.expect("put");
    assert_eq!(
        quotes
            .lookup(&50)
            .await
            .expect("lookup")
            .expect("present")
            .fee,
        None
    );
    clear_namespace(&redis).await;
}

/// A validation error naming `Quote` and the field.
fn assert_refused(result: &Result<(), Error>, field: &str, what: &str) {
    match result {
        Err(Error::Validation {
            entity: "Quote",
            field: Some(f),
            message,
        }) if *f == field => assert!(!message.is_empty()),
        other => panic!("{what}: expected a validation error naming Quote.{field}, got {other:?}"),
    }
}

#[tokio::test]
async fn decimals_that_do_not_fit_the_declaration_are_refused() {
    let Some(redis) = redis("rs_decbad").await else {
        return;
    };
    let quotes: Repository<Quote, Redis> = Repository::new(redis.clone());
    let good = |id: i64| Quote {
        id,
        px: dec("1.25"),
        fee: Some(dec("0.01")),
    };
    let too_fine = Quote {
        id: 2,
        px: dec("0.000000001"),
        fee: None,
    };
    let too_big = Quote {
        id: 3,
        px: dec("10000000000"),
        fee: None,
    };
    let fee_too_fine = Quote {
        id: 4,
        px: dec("1"),
        fee: Some(dec("0.001")),
    };
    for (bad, field) in [(&too_fine, "px"), (&too_big, "px"), (&fee_too_fine, "fee")] {
        assert_refused(&quotes.put(bad).await, field, "put");
        assert_refused(&quotes.save(bad).await, field, "save");
        assert_refused(
            &quotes.put_with_ttl(bad, Duration::from_secs(60)).await,
            field,
            "put_with_ttl",
        );
        assert_eq!(
            quotes.get(&bad.id).await.expect("get"),
            None,
            "nothing stored"
        );
    }

    // In a batch, each refused item is reported and the others are written.
    let batch = [
        good(10),
        too_fine.clone(),
        good(11),
        fee_too_fine.clone(),
        good(12),
    ];
    let refused = [(1usize, "px"), (3, "fee")];
    for op in ["put_all", "save_all"] {
        let report = match op {
            "put_all" => quotes.put_all(&batch).await,
            _ => quotes.save_all(&batch).await,
        }
        .expect(op);
        assert_eq!(report.written, 3, "{op}");
        assert_eq!(report.failed.len(), 2, "{op}");
        for ((index, err), (want_index, field)) in report.failed.iter().zip(refused) {
            assert_eq!(*index, want_index, "{op}");
            assert_refused(&Err(clone_validation(err)), field, op);
        }
        let got = quotes
            .get_many(&[10, 2, 11, 4, 12])
            .await
            .expect("get_many");
        assert_eq!(
            got.iter().map(Option::is_some).collect::<Vec<_>>(),
            [true, false, true, false, true],
            "{op}"
        );
        for id in [10, 11, 12] {
            assert!(quotes.delete(&id).await.expect("delete"));
        }
    }
    clear_namespace(&redis).await;
}

/// `Error` is not `Clone`; rebuild the validation error to check it with [`assert_refused`].
fn clone_validation(err: &Error) -> Error {
    match err {
        Error::Validation {
            entity,
            field,
            message,
        } => Error::Validation {
            entity,
            field: *field,
            message: message.clone(),
        },
        other => panic!("expected a validation error, got {other:?}"),
    }
}

/// Every value the Rust types hold, at their edges.
#[derive(Debug, Clone, Entity)]
#[entity(redis(key = "edge:{id}"))]
struct Edges {
    #[entity(id)]
    id: i64,
    at: DateTime<Utc>,
    f: f64,
    g: f32,
    small: i32,
    big: i64,
    text: String,
    maybe_at: Option<DateTime<Utc>>,
}

#[tokio::test]
async fn values_at_the_edges_of_their_types_round_trip_exactly() {
    let Some(redis) = redis("rs_edges").await else {
        return;
    };
    let caps = redis.capabilities();
    assert_eq!(caps.limits.timestamp_min, DateTime::<Utc>::MIN_UTC);
    assert_eq!(caps.limits.timestamp_max, DateTime::<Utc>::MAX_UTC);
    assert!(caps.limits.non_finite_floats && caps.limits.integer_min && caps.limits.nul_in_text);
    assert_eq!(caps.limits.symbol_max_bytes, None);
    let text_max = caps
        .limits
        .text_max_bytes
        .expect("bounded by the value size");
    assert!(text_max < redis.options().max_value_bytes);

    let nan_payload = f64::from_bits(0x7FF8_0000_DEAD_BEEF);
    let leap = DateTime::from_timestamp(1_483_228_799, 1_500_000_000).expect("leap second");
    let rows = [
        (
            DateTime::<Utc>::MIN_UTC,
            nan_payload,
            f32::from_bits(0x7FC0_1234),
            i32::MIN,
            i64::MIN,
        ),
        (DateTime::<Utc>::MAX_UTC, -0.0, -0.0, i32::MAX, i64::MAX),
        (leap, f64::from_bits(1), f32::from_bits(1), 0, -1),
        (
            DateTime::UNIX_EPOCH,
            f64::NEG_INFINITY,
            f32::INFINITY,
            -1,
            1,
        ),
        (
            DateTime::from_timestamp(-62_135_596_800, 1).expect("year 1"),
            f64::MIN_POSITIVE / 2.0,
            -f32::MIN_POSITIVE / 2.0,
            1,
            0,
        ),
    ];
    let edges: Repository<Edges, Redis> = Repository::new(redis.clone());
    for (i, (at, f, g, small, big)) in rows.into_iter().enumerate() {
        let row = Edges {
            id: i as i64,
            at,
            f,
            g,
            small,
            big,
            text: "nul\0 tab\t emoji 🦀 rtl שלום {x}:%*?".into(),
            maybe_at: Some(at),
        };
        edges.save(&row).await.expect("save");
        let got = edges.get(&row.id).await.expect("get").expect("present");
        assert_eq!(got.at, at);
        assert_eq!(got.maybe_at, Some(at));
        assert_eq!(got.f.to_bits(), f.to_bits(), "f64 bits of {f}");
        assert_eq!(got.g.to_bits(), g.to_bits(), "f32 bits of {g}");
        assert_eq!((got.small, got.big), (small, big));
        assert_eq!(got.text, row.text);
    }
    clear_namespace(&redis).await;
}

#[tokio::test]
async fn text_over_the_value_limit_is_refused_naming_the_field() {
    let Some(redis) = redis_with(
        "rs_text_max",
        RedisOptions::default().with_max_value_bytes(1_024),
    )
    .await
    else {
        return;
    };
    let max = redis.capabilities().limits.text_max_bytes.expect("bounded");
    let pools: Repository<Pool, Redis> = Repository::new(redis.clone());
    let pool = |address: String| Pool {
        chain: "sol".into(),
        address,
        reserve: 1,
    };
    match pools.save(&pool("x".repeat(max + 1))).await {
        Err(Error::Validation {
            entity: "Pool",
            field: Some("address"),
            ..
        }) => {}
        other => panic!("expected a validation error naming Pool.address, got {other:?}"),
    }
    // Under the per-text bound, the whole value still has to fit.
    let mut near = pool("y".repeat(max - 40));
    near.chain = "z".repeat(60);
    assert!(matches!(
        pools.save(&near).await,
        Err(Error::Validation { entity: "Pool", .. })
    ));
    pools.save(&pool("x".repeat(200))).await.expect("fits");
    clear_namespace(&redis).await;
}

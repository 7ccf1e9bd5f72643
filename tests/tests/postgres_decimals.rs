//! Decimals on Postgres come back with their value *and* their scale: `0.000` is `0.000`, not
//! `0`, through save/get, append/range and every batch path (`UNNEST`, binary `COPY`, `COPY`
//! through the stage). A field that declares `precision`/`scale` is `NUMERIC(P, S)` and holds
//! every value at exactly that scale; a value that does not fit is a validation error naming
//! the field, in a batch for that item only.

mod postgres_common;

use chrono::{DateTime, Utc};
use dal::{Entity, Error, RangeQuery, RecordStore, RecordStoreExt, Repository, TimeSeriesStore};
use dal_backends::postgres::Postgres;
use postgres_common::{TestPg, connect};
use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "amounts")]
struct Amount {
    #[entity(id)]
    id: i64,
    value: Decimal,
    maybe: Option<Decimal>,
    /// ~1 KiB rows: a thousand take the COPY path, four thousand the staged COPY.
    pad: String,
}

#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "quotes")]
struct Quote {
    #[entity(id)]
    id: i64,
    #[entity(timestamp)]
    ts: DateTime<Utc>,
    value: Decimal,
    pad: String,
}

#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "limits")]
struct Declared {
    #[entity(id)]
    id: i64,
    #[entity(precision = 18, scale = 8)]
    price: Decimal,
    #[entity(scale = 4)]
    fee: Option<Decimal>,
}

/// Zeros with a scale, trailing zeros, negatives, the extremes and scale 28.
fn values() -> Vec<Decimal> {
    let mut out: Vec<Decimal> = [
        "0.000",
        "12.500",
        "-0.010",
        "0",
        "100.10",
        "0.0000000000000000000000000001",
        "-0.0000000000000000000000000001",
        "7.9228162514264337593543950335",
        "-1234567890.1234567890123456",
        "0.0000000000000000000000000000",
    ]
    .iter()
    .map(|s| s.parse().expect("decimal"))
    .collect();
    out.extend([Decimal::MAX, Decimal::MIN, Decimal::new(5, 28)]);
    out
}

fn exactly(got: &Decimal, want: &Decimal, what: &str) {
    assert!(
        got == want && got.scale() == want.scale(),
        "{what}: wrote {want} (scale {}), read {got} (scale {})",
        want.scale(),
        got.scale()
    );
}

fn amount(id: i64) -> Amount {
    let v = values();
    let value = v[id as usize % v.len()];
    Amount {
        id,
        value,
        maybe: (id % 2 == 0).then(|| v[(id as usize + 3) % v.len()]),
        pad: "p".repeat(1_000),
    }
}

fn check_amount(got: &Amount, id: i64, how: &str) {
    let want = amount(id);
    exactly(&got.value, &want.value, how);
    match (got.maybe, want.maybe) {
        (Some(g), Some(w)) => exactly(&g, &w, how),
        (g, w) => assert_eq!(g, w, "{how}"),
    }
}

async fn setup(prefix: &str) -> Option<TestPg> {
    let t = connect(prefix, |o| o).await?;
    t.pg.create_table::<Amount>().await.expect("amounts");
    t.pg.create_table::<Quote>().await.expect("quotes");
    t.pg.create_table::<Declared>().await.expect("limits");
    Some(t)
}

#[tokio::test]
async fn save_and_get_keep_value_and_scale() {
    let Some(t) = setup("pgd_get").await else {
        return;
    };
    let repo: Repository<Amount, Postgres> = Repository::new(t.pg.clone());
    let n = values().len() as i64 * 2;
    for id in 0..n {
        repo.save(&amount(id)).await.expect("save");
    }
    for id in 0..n {
        let got = repo.get(&id).await.expect("get").expect("stored");
        check_amount(&got, id, "save/get");
    }
    // The server holds the scale too (what hand-written SQL sees).
    let text: String = sqlx::query_scalar("SELECT value::text FROM amounts WHERE id = 0")
        .fetch_one(&t.admin)
        .await
        .expect("select");
    assert_eq!(text, "0.000");
    t.finish().await;
}

#[tokio::test]
async fn every_batch_path_keeps_value_and_scale() {
    let Some(t) = setup("pgd_batch").await else {
        return;
    };
    let repo: Repository<Amount, Postgres> = Repository::new(t.pg.clone());
    // (rows, path): UNNEST, COPY into the table, then the same keys again through the stage.
    for (n, how) in [(20, "UNNEST"), (1_500, "COPY"), (4_500, "staged COPY")] {
        let rows: Vec<Amount> = (0..n).map(amount).collect();
        let report = repo.save_all(&rows).await.expect("save_all");
        assert!(report.is_complete(), "{how}: {:?}", report.failed);
        let keys: Vec<i64> = (0..n).collect();
        let got = repo.get_many(&keys).await.expect("get_many");
        for (id, row) in keys.iter().zip(got) {
            check_amount(&row.expect("stored"), *id, how);
        }
    }
    // Listing decodes the same way.
    let listed = repo.list_all(dal::Filter::all()).await.expect("list");
    assert_eq!(listed.len(), 4_500);
    for a in &listed {
        check_amount(a, a.id, "list");
    }
    t.finish().await;
}

#[tokio::test]
async fn append_and_range_keep_value_and_scale() {
    let Some(t) = setup("pgd_series").await else {
        return;
    };
    let repo: Repository<Quote, Postgres> = Repository::new(t.pg.clone());
    let at = |i: i64| DateTime::from_timestamp(1_700_000_000 + i, 0).expect("ts");
    let quote = |i: i64| {
        let v = values();
        Quote {
            id: i % 7,
            ts: at(i),
            value: v[i as usize % v.len()],
            pad: "q".repeat(1_000),
        }
    };
    let mut next = 0;
    // Single appends, then UNNEST, COPY and (the same rows again) staged COPY.
    for n in [13, 20, 1_500, 4_500] {
        let rows: Vec<Quote> = (next..next + n).map(quote).collect();
        if n == 13 {
            for r in &rows {
                repo.append(r).await.expect("append");
            }
        } else {
            let report = repo.append_all(&rows).await.expect("append_all");
            assert!(report.is_complete(), "{:?}", report.failed);
        }
        if n != 1_500 {
            next += n;
        }
    }
    let got = repo
        .range(&RangeQuery::new(at(0), at(1_000_000)))
        .await
        .expect("range");
    assert_eq!(got.len() as i64, next);
    for (i, q) in got.iter().enumerate() {
        exactly(&q.value, &quote(i as i64).value, "append/range");
    }
    t.finish().await;
}

#[tokio::test]
async fn declared_precision_and_scale_are_the_column_type_and_the_stored_scale() {
    let Some(t) = setup("pgd_declared").await else {
        return;
    };
    let (precision, scale): (i32, i32) = sqlx::query_as(
        "SELECT numeric_precision, numeric_scale FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name = 'limits' AND column_name = 'price'",
    )
    .bind(&t.schema)
    .fetch_one(&t.admin)
    .await
    .expect("catalog");
    assert_eq!((precision, scale), (18, 8));
    let repo: Repository<Declared, Postgres> = Repository::new(t.pg.clone());
    let d = |s: &str| s.parse::<Decimal>().expect("decimal");
    repo.save(&Declared {
        id: 1,
        price: d("12.5"),
        fee: Some(d("0")),
    })
    .await
    .expect("save");
    let got = repo.get(&1).await.expect("get").expect("stored");
    exactly(&got.price, &d("12.50000000"), "declared scale 8");
    exactly(&got.fee.expect("fee"), &d("0.0000"), "declared scale 4");

    // Too many fractional digits, too many integer digits: refused, naming the field.
    let bad = [
        Declared {
            id: 2,
            price: d("0.123456789"),
            fee: None,
        },
        Declared {
            id: 3,
            price: d("12345678901"),
            fee: None,
        },
        Declared {
            id: 4,
            price: d("1"),
            fee: Some(d("0.00001")),
        },
    ];
    for (row, field) in bad.iter().zip(["price", "price", "fee"]) {
        let e = repo.save(row).await.expect_err("does not fit");
        assert!(
            matches!(e, Error::Validation { entity: "Declared", field: Some(f), .. } if f == field),
            "{e:?}"
        );
    }
    // In a batch (small and COPY-sized): only those items fail, the rest is stored.
    for n in [10i64, 30_000] {
        let mut rows: Vec<Declared> = (100..100 + n)
            .map(|id| Declared {
                id,
                price: Decimal::new(id, 2),
                fee: None,
            })
            .collect();
        rows[3].price = d("0.000000001");
        let report = repo.save_all(&rows).await.expect("save_all");
        let failed: Vec<usize> = report.failed.iter().map(|(i, _)| *i).collect();
        assert_eq!(failed, [3]);
        let got = repo.get(&104).await.expect("get").expect("stored");
        exactly(&got.price, &d("1.04000000"), "batch at the declared scale");
    }
    assert_eq!(repo.get(&103).await.expect("get"), None);
    t.finish().await;
}

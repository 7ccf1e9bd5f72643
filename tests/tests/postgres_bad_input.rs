//! Bad input against real Postgres: SQL-looking strings, NUL bytes, NaN and infinities, 1 MB
//! strings, timestamps Postgres cannot hold, and stored values that do not fit the entity (a
//! wider column, another type, NULL, infinity, NaN). Everything round-trips or fails with a
//! typed error naming entity and field; nothing panics.

mod postgres_common;

use chrono::{DateTime, Utc};
use dal::{Backend, Entity, Error, Filter, ListQuery, RecordStore, Repository};
use dal_backends::postgres::Postgres;
use postgres_common::{TestPg, connect};
use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "docs")]
struct Doc {
    #[entity(id)]
    id: String,
    /// Indexed (symbol), so its size is bounded by the index.
    #[entity(symbol)]
    tag: String,
    body: String,
    small: i16,
    x: f64,
    y: f32,
    at: Option<DateTime<Utc>>,
    amount: Option<Decimal>,
    #[entity(json)]
    meta: Option<serde_json::Value>,
}

fn doc(id: &str) -> Doc {
    Doc {
        id: id.to_owned(),
        tag: "t".to_owned(),
        body: "b".to_owned(),
        small: 1,
        x: 1.5,
        y: 2.5,
        at: None,
        amount: None,
        meta: None,
    }
}

async fn setup(prefix: &str) -> Option<(TestPg, Repository<Doc, Postgres>)> {
    let t = connect(prefix, |o| o).await?;
    t.pg.create_table::<Doc>().await.expect("docs");
    let repo = Repository::new(t.pg.clone());
    Some((t, repo))
}

fn assert_field(e: &Error, field: &str) {
    let named = match e {
        Error::Validation {
            entity, field: f, ..
        } => *entity == "Doc" && *f == Some(field),
        Error::Codec {
            entity, field: f, ..
        } => *entity == "Doc" && *f == field,
        _ => false,
    };
    assert!(named, "expected an error naming Doc.{field}, got {e:?}");
}

#[tokio::test]
async fn sql_looking_strings_are_just_data() {
    let Some((t, repo)) = setup("pgi_sql").await else {
        return;
    };
    let nasty = [
        "'; DROP TABLE docs; --",
        "\" OR 1=1 --",
        "$1 $2 $$ $tag$",
        "back\\slash \\x00 \\N",
        "COLLATE \"C\"",
        "",
    ];
    for (i, s) in nasty.iter().enumerate() {
        let mut d = doc(s);
        d.body = (*s).to_owned();
        d.tag = format!("{s}{i}");
        d.meta = Some(serde_json::json!({ "q": s, "n": i }));
        repo.save(&d).await.expect("save");
        assert_eq!(
            repo.get(&(*s).to_owned()).await.expect("get"),
            Some(d.clone())
        );
        let found = repo
            .list(&ListQuery::new(
                Filter::all().and(Doc::BODY.eq((*s).to_owned())),
                10,
            ))
            .await
            .expect("list");
        assert_eq!(found.items, [d]);
    }
    assert_eq!(
        t.count("docs").await,
        nasty.len() as i64,
        "the table is still there"
    );
    t.finish().await;
}

#[tokio::test]
async fn nul_bytes_are_rejected_naming_the_field() {
    let Some((t, repo)) = setup("pgi_nul").await else {
        return;
    };
    let mut d = doc("nul");
    d.body = "a\0b".to_owned();
    assert_field(&repo.save(&d).await.expect_err("NUL in text"), "body");
    let mut d = doc("nul_json");
    d.meta = Some(serde_json::json!({ "s": "a\u{0}b" }));
    assert_field(&repo.save(&d).await.expect_err("NUL in JSON"), "meta");
    assert_eq!(t.count("docs").await, 0);
    // A key Postgres cannot hold names no stored row, as on the memory backend: not found.
    repo.save(&doc("a")).await.expect("save");
    let nul_key = "a\0".to_owned();
    assert_eq!(repo.get(&nul_key).await.expect("get"), None);
    assert!(!repo.delete(&nul_key).await.expect("delete"));
    let found = repo
        .get_many(&[nul_key.clone(), "a".to_owned(), nul_key, "b".to_owned()])
        .await
        .expect("get_many");
    assert_eq!(found, [None, Some(doc("a")), None, None]);
    assert_eq!(t.count("docs").await, 1);
    t.finish().await;
}

/// A filter value Postgres cannot hold (text with NUL, a timestamp before 4714 BC) still filters:
/// no stored value equals it and its order against every stored value is known, so the answer is
/// the memory backend's.
#[tokio::test]
async fn filter_values_postgres_cannot_hold_still_filter() {
    let Some((t, repo)) = setup("pgi_filter").await else {
        return;
    };
    let memory: Repository<Doc, dal::Memory> = Repository::new(dal::Memory::new());
    let year_one = DateTime::parse_from_rfc3339("0001-01-01T00:00:00Z")
        .expect("timestamp")
        .with_timezone(&Utc);
    let bodies = ["", "a", "a\u{1}", "a\u{1}b", "ab", "b", "\u{1}"];
    for (i, body) in bodies.iter().enumerate() {
        let mut d = doc(&format!("d{i}"));
        d.body = (*body).to_owned();
        d.at = (i % 3 != 0).then_some(year_one);
        repo.save(&d).await.expect("save");
        memory.save(&d).await.expect("save");
    }
    let before_4714_bc = DateTime::<Utc>::MIN_UTC;
    let mut filters: Vec<(String, Filter<Doc>)> = Vec::new();
    for value in ["a\0", "a\0z", "\0", "ab\0"] {
        let v = || value.to_owned();
        filters.extend([
            (format!("= {value:?}"), Doc::BODY.eq(v())),
            (format!("<> {value:?}"), Doc::BODY.ne(v())),
            (format!("< {value:?}"), Doc::BODY.lt(v())),
            (format!("<= {value:?}"), Doc::BODY.le(v())),
            (format!("> {value:?}"), Doc::BODY.gt(v())),
            (format!(">= {value:?}"), Doc::BODY.ge(v())),
            (
                format!("in [{value:?}, \"b\"]"),
                Doc::BODY.is_in([v(), "b".to_owned()]),
            ),
        ]);
    }
    let at = || Some(before_4714_bc);
    filters.extend([
        ("at = MIN".to_owned(), Doc::AT.eq(at())),
        ("at <> MIN".to_owned(), Doc::AT.ne(at())),
        ("at < MIN".to_owned(), Doc::AT.lt(at())),
        ("at <= MIN".to_owned(), Doc::AT.le(at())),
        ("at > MIN".to_owned(), Doc::AT.gt(at())),
        ("at >= MIN".to_owned(), Doc::AT.ge(at())),
        ("at in [MIN]".to_owned(), Doc::AT.is_in([at()])),
    ]);
    for (name, filter) in filters {
        let ids = |page: dal::Page<Doc>| page.items.into_iter().map(|d| d.id).collect::<Vec<_>>();
        let query = ListQuery::new(filter, 100);
        let got = repo
            .list(&query)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = memory.list(&query).await.expect("reference");
        assert_eq!(ids(got), ids(want), "{name}");
    }
    t.finish().await;
}

#[tokio::test]
async fn nan_and_infinities_round_trip() {
    let Some((t, repo)) = setup("pgi_nan").await else {
        return;
    };
    for (i, (x, y)) in [
        (f64::NAN, f32::NAN),
        (f64::INFINITY, f32::NEG_INFINITY),
        (f64::NEG_INFINITY, f32::INFINITY),
        (f64::MIN_POSITIVE, f32::MIN_POSITIVE),
        (-0.0, -0.0),
    ]
    .into_iter()
    .enumerate()
    {
        let mut d = doc(&format!("f{i}"));
        (d.x, d.y) = (x, y);
        repo.save(&d).await.expect("save");
        let got = repo.get(&d.id).await.expect("get").expect("stored");
        assert_eq!(got.x.to_bits(), x.to_bits(), "x = {x}");
        assert_eq!(got.y.to_bits(), y.to_bits(), "y = {y}");
    }
    t.finish().await;
}

#[tokio::test]
async fn one_megabyte_strings() {
    let Some((t, repo)) = setup("pgi_big").await else {
        return;
    };
    let mut d = doc("big");
    d.body = "é".repeat(512 * 1024); // 1 MiB of UTF-8
    repo.save(&d).await.expect("save");
    assert_eq!(repo.get(&d.id).await.expect("get"), Some(d));
    // In an indexed column the same size is refused by the index (SQLSTATE 54000): a typed error
    // naming the entity, not a panic, and nothing stored. Pseudo-random text defeats compression.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let noisy: String = (0..1024 * 1024)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            char::from(b'!' + (seed % 90) as u8)
        })
        .collect();
    let mut d = doc("big_tag");
    d.tag = noisy;
    let e = repo.save(&d).await.expect_err("too big for the index");
    assert!(
        matches!(e, Error::Validation { entity: "Doc", .. }),
        "{e:?}"
    );
    assert_eq!(repo.get(&d.id).await.expect("get"), None);
    t.finish().await;
}

#[tokio::test]
async fn timestamps_postgres_cannot_hold_are_rejected() {
    let Some((t, repo)) = setup("pgi_ts").await else {
        return;
    };
    let mut d = doc("old");
    d.at = Some(DateTime::<Utc>::MIN_UTC);
    assert_field(&repo.save(&d).await.expect_err("before 4714 BC"), "at");
    // The far future chrono can hold, Postgres can too.
    d.at = Some(DateTime::<Utc>::MAX_UTC);
    repo.save(&d).await.expect("year 262143");
    let got = repo.get(&d.id).await.expect("get").expect("stored");
    assert_eq!(
        got.at.map(|t| t.timestamp_micros()),
        d.at.map(|t| t.timestamp_micros())
    );
    t.finish().await;
}

#[tokio::test]
async fn declared_limits_hold_at_their_edges_and_are_refused_per_item_beyond() {
    let Some((t, repo)) = setup("pgi_limits").await else {
        return;
    };
    let limits = t.pg.capabilities().limits;
    assert!(limits.non_finite_floats && limits.integer_min && !limits.nul_in_text);
    // The earliest timestamp Postgres holds is stored and read back unchanged; one microsecond
    // earlier is refused, naming the field.
    let mut edge = doc("edge");
    edge.at = Some(limits.timestamp_min);
    repo.save(&edge).await.expect("the earliest timestamp");
    assert_eq!(repo.get(&edge.id).await.expect("get"), Some(edge.clone()));
    let before = limits.timestamp_min - chrono::Duration::microseconds(1);
    let mut d = doc("before");
    d.at = Some(before);
    assert_field(&repo.save(&d).await.expect_err("before the range"), "at");
    // In batches (UNNEST and COPY sized), only the items beyond the limits fail.
    for n in [10usize, 20_000] {
        let mut rows: Vec<Doc> = (0..n).map(|i| doc(&format!("b{n}_{i}"))).collect();
        rows[2].at = Some(before);
        rows[5].body = "nul\0".to_owned();
        rows[7].at = Some(limits.timestamp_max);
        let report = repo.save_all(&rows).await.expect("save_all");
        let failed: Vec<usize> = report.failed.iter().map(|(i, _)| *i).collect();
        assert_eq!(failed, [2, 5], "{:?}", report.failed);
        assert_field(&report.failed[0].1, "at");
        assert_field(&report.failed[1].1, "body");
        assert_eq!(report.written, n - 2);
        assert_eq!(repo.get(&rows[2].id).await.expect("get"), None);
        let latest = repo.get(&rows[7].id).await.expect("get").expect("stored");
        assert_eq!(
            latest.at.map(|t| t.timestamp_micros()),
            Some(limits.timestamp_max.timestamp_micros()),
            "truncated to microseconds (timestamp_precision)"
        );
    }
    t.finish().await;
}

#[tokio::test]
async fn stored_values_that_do_not_fit_are_codec_errors() {
    let Some((t, repo)) = setup("pgi_read").await else {
        return;
    };
    repo.save(&doc("d")).await.expect("save");
    // (what breaks the stored row, the field that must be named, what repairs it)
    let cases = [
        // A wider column holding a value out of the field's range.
        (
            "ALTER TABLE docs ALTER COLUMN small TYPE INTEGER; UPDATE docs SET small = 70000",
            "small",
            "UPDATE docs SET small = 1",
        ),
        // Another type altogether.
        (
            "ALTER TABLE docs ALTER COLUMN x TYPE TEXT USING x::text",
            "x",
            "ALTER TABLE docs ALTER COLUMN x TYPE DOUBLE PRECISION USING x::float8",
        ),
        // NULL in a field that is not an Option.
        (
            "ALTER TABLE docs ALTER COLUMN body DROP NOT NULL; UPDATE docs SET body = NULL",
            "body",
            "UPDATE docs SET body = 'b'",
        ),
        // Values Rust's types cannot represent.
        (
            "UPDATE docs SET at = 'infinity'",
            "at",
            "UPDATE docs SET at = NULL",
        ),
        (
            "UPDATE docs SET amount = 'NaN'",
            "amount",
            "UPDATE docs SET amount = NULL",
        ),
        ("UPDATE docs SET meta = '{bad'", "meta", ""),
    ];
    for (break_it, field, repair) in cases {
        if field == "meta" {
            // JSONB refuses invalid JSON, so store valid JSON of the wrong shape for the field:
            // a JSON string where serde_json::Value is fine, hence a column of another type.
            t.sql("ALTER TABLE docs ALTER COLUMN meta TYPE BYTEA USING NULL")
                .await;
            t.sql("UPDATE docs SET meta = '\\x00'").await;
        } else {
            t.sql(break_it).await;
        }
        let e = repo.get(&"d".to_owned()).await.expect_err(field);
        assert_field(&e, field);
        assert!(!e.is_transient());
        // The same error through a listing.
        let e = repo.list(&ListQuery::default()).await.expect_err(field);
        assert_field(&e, field);
        if !repair.is_empty() {
            t.sql(repair).await;
            assert!(repo.get(&"d".to_owned()).await.expect("repaired").is_some());
        }
    }
    t.finish().await;
}

/// Float filters compare in IEEE total order, as the memory backend does (`-0.0 < 0.0`, a NaN
/// by its sign and payload), where Postgres' own order has `-0 = 0` and every NaN equal.
#[tokio::test]
async fn float_filters_compare_in_ieee_total_order() {
    let Some((t, repo)) = setup("pgi_float_order").await else {
        return;
    };
    let memory: Repository<Doc, dal::Memory> = Repository::new(dal::Memory::new());
    let negative_nan = f64::from_bits(0xfff8_0000_0000_0000);
    let payload_nan = f64::from_bits(0x7ff8_0000_0000_0001);
    let xs = [
        -0.0,
        0.0,
        f64::NAN,
        negative_nan,
        payload_nan,
        f64::NEG_INFINITY,
        f64::INFINITY,
        -1.0,
        1.0,
        5e-324,
        -5e-324,
    ];
    for (i, x) in xs.iter().enumerate() {
        let mut d = doc(&format!("d{i:02}"));
        d.x = *x;
        // f32 casts keep the sign and (the top of) the payload.
        d.y = *x as f32;
        repo.save(&d).await.expect("save");
        memory.save(&d).await.expect("save");
    }
    for v in xs {
        let w = v as f32;
        let filters = [
            ("=", Doc::X.eq(v), Doc::Y.eq(w)),
            ("<>", Doc::X.ne(v), Doc::Y.ne(w)),
            ("<", Doc::X.lt(v), Doc::Y.lt(w)),
            ("<=", Doc::X.le(v), Doc::Y.le(w)),
            (">", Doc::X.gt(v), Doc::Y.gt(w)),
            (">=", Doc::X.ge(v), Doc::Y.ge(w)),
            ("in", Doc::X.is_in([v, 1.0]), Doc::Y.is_in([w, 1.0])),
        ];
        for (op, fx, fy) in filters {
            for (column, filter) in [("x", fx), ("y", fy)] {
                let ids =
                    |page: dal::Page<Doc>| page.items.into_iter().map(|d| d.id).collect::<Vec<_>>();
                let query = ListQuery::new(filter, 100);
                let got = repo.list(&query).await.expect("list");
                let want = memory.list(&query).await.expect("reference");
                assert_eq!(
                    ids(got),
                    ids(want),
                    "{column} {op} {v:?} ({:#x})",
                    v.to_bits()
                );
            }
        }
    }
    t.finish().await;
}

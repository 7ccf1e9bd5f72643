//! Metrics on Postgres give what the memory backend (the reference) gives, bit for bit, for
//! values where Postgres' own aggregates differ: float sums that overflow (Postgres raises
//! "value out of range: overflow" where IEEE arithmetic gives ±infinity, also inside a
//! transaction, which must stay usable), `avg` whose running sum of squares overflows, a
//! subnormal mean (Postgres' division raises an underflow), `REAL` columns (summed in single
//! precision by `sum(real)`), and sums whose result depends on the order of the values (the
//! memory backend adds in time order); quantiles at an exact rank of an infinite value; and
//! `latest` grouped by a float column (IEEE total order, as filters compare).

mod postgres_common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use dal::{
    Aggregate, Bucket, Entity, MetricQuery, MetricsStore, Repository, Summary, TimeSeriesStore,
    Transaction,
};
use dal_backends::postgres::{PgTx, Postgres};
use postgres_common::{TestPg, connect};

#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(table = "samples")]
struct Sample {
    #[entity(timestamp)]
    ts: DateTime<Utc>,
    value: f64,
    ratio: f32,
    qty: Option<i64>,
}

fn at(second: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + second, 0).expect("timestamp")
}

fn sample(second: i64, value: f64) -> Sample {
    Sample {
        ts: at(second),
        value,
        ratio: 1.0 / 3.0,
        qty: Some(second),
    }
}

struct Pair {
    t: TestPg,
    pg: Repository<Sample, Postgres>,
    memory: Repository<Sample, dal::Memory>,
}

/// Postgres and the reference, both holding `rows` (appended in this order).
async fn setup(prefix: &str, rows: &[Sample]) -> Option<Pair> {
    let t = connect(prefix, |o| o).await?;
    t.pg.create_table::<Sample>().await.expect("samples");
    let pg = Repository::new(t.pg.clone());
    let memory = Repository::new(dal::Memory::new());
    for repo_rows in rows.chunks(5_000) {
        pg.append_all(repo_rows)
            .await
            .expect("append_all")
            .into_result()
            .expect("every row stored");
        memory
            .append_all(repo_rows)
            .await
            .expect("append_all")
            .into_result()
            .expect("every row stored");
    }
    Some(Pair { t, pg, memory })
}

fn window(column: impl Into<dal::AnyColumn<Sample>>) -> MetricQuery<Sample> {
    MetricQuery::new(column, at(-1_000_000), at(1_000_000))
}

fn bits(s: &Summary) -> (u64, [Option<u64>; 4]) {
    (
        s.count,
        [s.min, s.max, s.mean, s.sum].map(|v| v.map(f64::to_bits)),
    )
}

fn bucket_bits(b: &[Bucket]) -> Vec<(DateTime<Utc>, u64, u64)> {
    b.iter()
        .map(|b| (b.start, b.value.to_bits(), b.count))
        .collect()
}

impl Pair {
    /// The summary of `column` on both, asserted bit for bit equal; returns Postgres'.
    async fn summary(&self, column: impl Into<dal::AnyColumn<Sample>> + Copy) -> Summary {
        let got = self.pg.summary(&window(column)).await.expect("summary");
        let want = self.memory.summary(&window(column)).await.expect("summary");
        assert_eq!(bits(&got), bits(&want), "{got:?} vs the reference {want:?}");
        got
    }

    /// Every downsample aggregate of `column` on both, asserted bit for bit equal.
    async fn downsample(&self, column: impl Into<dal::AnyColumn<Sample>> + Copy, width: u64) {
        let width = Duration::from_secs(width);
        for aggregate in [
            Aggregate::Count,
            Aggregate::Min,
            Aggregate::Max,
            Aggregate::Mean,
            Aggregate::Sum,
        ] {
            let got = self
                .pg
                .downsample(&window(column), width, aggregate)
                .await
                .unwrap_or_else(|e| panic!("downsample {aggregate:?}: {e}"));
            let want = self
                .memory
                .downsample(&window(column), width, aggregate)
                .await
                .expect("downsample");
            assert_eq!(
                bucket_bits(&got),
                bucket_bits(&want),
                "{aggregate:?}: {got:?} vs the reference {want:?}"
            );
        }
    }

    async fn finish(self) {
        self.t.finish().await;
    }
}

#[tokio::test]
async fn a_float_sum_that_overflows_is_infinite_not_an_error() {
    // In time order: MAX + MAX = inf, then inf - MAX = inf. Appended out of time order.
    let rows = [
        sample(2, -f64::MAX),
        sample(0, f64::MAX),
        sample(1, f64::MAX),
        sample(3, 1.0),
    ];
    let Some(p) = setup("pgm_overflow", &rows).await else {
        return;
    };
    let s = p.summary(Sample::VALUE).await;
    assert_eq!(s.count, 4);
    assert_eq!(s.sum, Some(f64::INFINITY));
    assert_eq!(s.mean, Some(f64::INFINITY));
    assert_eq!(s.max, Some(f64::MAX));
    p.downsample(Sample::VALUE, 60).await;
    p.downsample(Sample::VALUE, 2).await;
    // Quantiles interpolate without raising: MAX - (-MAX) overflows to inf.
    let q = p.pg.quantile(&window(Sample::VALUE), 0.5).await;
    let want = p.memory.quantile(&window(Sample::VALUE), 0.5).await;
    assert_eq!(
        q.expect("quantile").map(f64::to_bits),
        want.expect("quantile").map(f64::to_bits)
    );
    // The overflowed +inf plus a stored -inf gives NaN.
    let more = [sample(10, -f64::MAX), sample(11, f64::NEG_INFINITY)];
    p.pg.append_all(&more).await.expect("append_all");
    p.memory.append_all(&more).await.expect("append_all");
    let s = p.summary(Sample::VALUE).await;
    assert!(s.sum.is_some_and(f64::is_nan), "{s:?}");
    p.downsample(Sample::VALUE, 3_600).await;
    p.finish().await;
}

#[tokio::test]
async fn an_overflow_inside_a_transaction_leaves_it_usable() {
    let rows = [sample(0, f64::MAX), sample(1, f64::MAX)];
    let Some(p) = setup("pgm_overflow_tx", &rows).await else {
        return;
    };
    let tx: PgTx = p.t.pg.begin().await.expect("begin");
    let in_tx: Repository<Sample, PgTx> = Repository::new(tx.clone());
    in_tx.append(&sample(5, 2.0)).await.expect("append in tx");
    let s = in_tx
        .summary(&window(Sample::VALUE))
        .await
        .expect("summary");
    assert_eq!((s.count, s.sum), (3, Some(f64::INFINITY)));
    let b = in_tx
        .downsample(
            &window(Sample::VALUE),
            Duration::from_secs(1),
            Aggregate::Sum,
        )
        .await
        .expect("downsample");
    assert_eq!(b.len(), 3);
    // The transaction still works, and its write commits.
    in_tx.append(&sample(6, 3.0)).await.expect("append after");
    tx.commit().await.expect("commit");
    let s = p.pg.summary(&window(Sample::VALUE)).await.expect("summary");
    assert_eq!((s.count, s.sum), (4, Some(f64::INFINITY)));
    p.finish().await;
}

#[tokio::test]
async fn a_mean_is_the_sum_over_the_count_where_postgres_avg_fails() {
    // avg(float8) keeps a running sum of squares, which overflows for 1e200; a subnormal mean
    // would raise an underflow in Postgres' division.
    let rows = [
        sample(0, 1e200),
        sample(1, -1e200),
        sample(2, 3.0),
        sample(3_600, 5e-324),
        sample(3_601, 0.0),
    ];
    let Some(p) = setup("pgm_mean", &rows).await else {
        return;
    };
    let s = p.summary(Sample::VALUE).await;
    assert_eq!(s.sum, Some(3.0 + 5e-324));
    p.downsample(Sample::VALUE, 3_600).await;
    p.finish().await;
}

#[tokio::test]
async fn a_real_column_is_summed_in_double_precision() {
    // 1/3 as f32, a hundred thousand times: single precision drifts far from the f64 sum.
    let rows: Vec<Sample> = (0..100_000).map(|i| sample(i, 0.0)).collect();
    let Some(p) = setup("pgm_real", &rows).await else {
        return;
    };
    let s = p.summary(Sample::RATIO).await;
    let exact = 100_000.0 * f64::from(1.0f32 / 3.0);
    let sum = s.sum.expect("sum");
    assert!(
        (sum - exact).abs() < 1e-6,
        "sum {sum} is not the double-precision sum {exact}"
    );
    p.downsample(Sample::RATIO, 86_400).await;
    p.finish().await;
}

#[tokio::test]
async fn sums_add_in_time_order_as_the_reference_does() {
    // In time order 1e300 - 1e300 + 1 = 1; in the order appended (1e300 + 1 - 1e300) it is 0.
    // Integers too are converted to f64 first: i64::MAX + 1 - i64::MAX is 0 in f64, not 1.
    let mut rows = vec![sample(0, 1e300), sample(2, 1.0), sample(1, -1e300)];
    rows[0].qty = Some(i64::MAX);
    rows[1].qty = Some(1);
    rows[2].qty = Some(-i64::MAX);
    let Some(p) = setup("pgm_order", &rows).await else {
        return;
    };
    assert_eq!(p.summary(Sample::VALUE).await.sum, Some(1.0));
    assert_eq!(p.summary(Sample::QTY).await.sum, Some(1.0));
    p.downsample(Sample::VALUE, 60).await;
    p.downsample(Sample::QTY, 60).await;
    p.finish().await;
}

#[tokio::test]
async fn a_quantile_at_an_exact_rank_is_the_value_itself() {
    // p = 1 over [-inf, 1, inf] is inf (Postgres' percentile_cont), not inf + (inf - inf) * 0.
    let rows = [
        sample(0, f64::NEG_INFINITY),
        sample(1, 1.0),
        sample(2, f64::INFINITY),
    ];
    let Some(p) = setup("pgm_quantile", &rows).await else {
        return;
    };
    for (q, want) in [
        (0.0, f64::NEG_INFINITY),
        (0.5, 1.0),
        (1.0, f64::INFINITY),
        (0.75, f64::INFINITY),
    ] {
        let got = p.pg.quantile(&window(Sample::VALUE), q).await;
        let reference = p.memory.quantile(&window(Sample::VALUE), q).await;
        assert_eq!(got.expect("quantile"), Some(want), "p {q}");
        assert_eq!(
            reference.expect("quantile"),
            Some(want),
            "p {q} (reference)"
        );
    }
    p.finish().await;
}

#[tokio::test]
async fn latest_by_a_float_groups_as_the_reference_does() {
    // -0.0 and 0.0 are two groups, and so are two NaNs with different bits (IEEE total order).
    let negative_nan = f64::from_bits(0xfff8_0000_0000_0000);
    let rows = [
        sample(0, 0.0),
        sample(1, -0.0),
        sample(2, f64::NAN),
        sample(3, negative_nan),
        sample(4, 1.0),
        sample(5, 0.0),
        sample(6, f64::NAN),
    ];
    let Some(p) = setup("pgm_latest", &rows).await else {
        return;
    };
    let key = |rows: Vec<Sample>| {
        rows.into_iter()
            .map(|s| (s.value.to_bits(), s.ts))
            .collect::<Vec<_>>()
    };
    let got =
        p.pg.latest(Sample::VALUE, &dal::Filter::all())
            .await
            .expect("latest");
    let want = p
        .memory
        .latest(Sample::VALUE, &dal::Filter::all())
        .await
        .expect("latest");
    assert_eq!(want.len(), 5, "{want:?}");
    assert_eq!(key(got), key(want));
    p.finish().await;
}

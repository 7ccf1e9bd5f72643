//! Value strategies: every storage class, weighted towards the values stores get wrong.
//!
//! Each strategy mixes ordinary values (so rows collide, filters match and windows hold rows)
//! with hostile ones: separators and escapes, NUL, emoji and right-to-left text, the empty string
//! and 1 MiB strings; NaN, ±infinity, -0.0 and subnormals; integer extremes; timestamps from year
//! 1 to past 9999-12-31 and below a microsecond; decimals at their extremes and every scale.

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use proptest::sample::select;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::shapes::Doc;

/// Pieces that break naive key codecs, ILP escaping, SQL quoting and JSON.
const HOSTILE: &[&str] = &[
    ":",
    "{",
    "}",
    "%",
    "*",
    "?",
    "[",
    "]",
    ",",
    "=",
    "\"",
    "'",
    "\\",
    " ",
    "\n",
    "\t",
    "\r\n",
    "\0",
    "🚀",
    "مرحبا",
    "\u{202e}",
    "e\u{301}",
    "{id}",
    "a",
    "Z",
    "0",
    "-",
    "_",
    "\u{ffff}",
];

/// One character, repeated to 1 MiB (or 1 KiB): text larger than any buffer default.
fn big_text() -> impl Strategy<Value = String> {
    select(vec![1usize << 10, 1 << 20]).prop_map(|n| "é".repeat(n / 2))
}

/// Any text.
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-c]{0,3}",
        4 => proptest::collection::vec(select(HOSTILE), 0..5).prop_map(|p| p.concat()),
        2 => "\\PC{0,16}",
        1 => Just(String::new()),
        // 1 in about 100 texts is large.
        1 => (0u8..10, big_text()).prop_map(|(n, big)| if n == 0 { big } else { "x".into() }),
    ]
}

/// A symbol: mostly a few short tags (so `latest` and filters group rows), sometimes hostile.
pub fn symbol() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => select(vec!["A", "B", "SOL/USDC", "x y", "é"]).prop_map(str::to_owned),
        3 => proptest::collection::vec(select(HOSTILE), 1..4).prop_map(|p| p.concat()),
        1 => Just(String::new()),
        1 => (0u8..10, big_text()).prop_map(|(n, big)| if n == 0 { big } else { "y".into() }),
    ]
}

/// Short text from a small alphabet: ids that collide often.
pub fn small_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[ab]{0,2}",
        1 => proptest::collection::vec(select(HOSTILE), 1..3).prop_map(|p| p.concat()),
    ]
}

/// Small integers: ids that collide often.
pub fn small_i64() -> impl Strategy<Value = i64> {
    prop_oneof![4 => 0i64..4, 1 => select(vec![i64::MIN, i64::MAX, -1])]
}

macro_rules! integer {
    ($name:ident, $ty:ty) => {
        #[doc = concat!("Any `", stringify!($ty), "`, extremes often.")]
        pub fn $name() -> impl Strategy<Value = $ty> {
            prop_oneof![
                2 => select(vec![<$ty>::MIN, <$ty>::MIN + 1, -1, 0, 1, <$ty>::MAX]),
                3 => -100 as $ty..100,
                2 => any::<$ty>(),
            ]
        }
    };
}
integer!(i16, i16);
integer!(i32, i32);
integer!(i64, i64);

/// Any `f64`: NaN, ±infinity, ±0, subnormals, extremes, ordinary numbers.
pub fn f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        2 => select(vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
        ]),
        4 => (-1000i32..1000).prop_map(|n| f64::from(n) / 4.0),
        2 => any::<f64>(),
    ]
}

/// Any `f32`, as [`f64()`] does.
pub fn f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        2 => select(vec![
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -0.0,
            0.0,
            f32::MIN_POSITIVE,
            1e-45,
            f32::MAX,
            f32::MIN,
        ]),
        4 => (-1000i16..1000).prop_map(|n| f32::from(n) / 4.0),
        2 => any::<f32>(),
    ]
}

/// The instant most generated timestamps are near, so windows hold several rows.
pub fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn extreme_timestamps() -> Vec<DateTime<Utc>> {
    let ymd = |y, m, d| {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
            .single()
            .unwrap_or_default()
    };
    let nanos = |t: DateTime<Utc>, n: i64| t + chrono::Duration::nanoseconds(n);
    vec![
        ymd(1, 1, 1),
        ymd(1900, 1, 1),
        nanos(ymd(1970, 1, 1), -1),
        ymd(1970, 1, 1),
        nanos(ymd(10000, 1, 1), -1),
        ymd(10000, 1, 1),
        ymd(1677, 9, 22),
        ymd(2262, 4, 11),
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MAX_UTC,
    ]
}

/// Any timestamp: near [`base`] (to the nanosecond), in years 1..=9999, or an extreme.
pub fn timestamp() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        4 => (0i64..600, 0i64..1_000_000_000).prop_map(|(s, n)| {
            base() + chrono::Duration::seconds(s) + chrono::Duration::nanoseconds(n)
        }),
        2 => (-62_135_596_800i64..253_402_300_800, 0u32..1_000_000_000)
            .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap_or_default()),
        1 => select(extreme_timestamps()),
    ]
}

/// A designated timestamp: whole seconds near [`base`] often (so (ids, ts) collide and dedup
/// shows), otherwise [`timestamp`].
pub fn series_timestamp() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        3 => (0i64..40).prop_map(|s| base() + chrono::Duration::seconds(s)),
        3 => timestamp(),
    ]
}

/// Any decimal: extremes, every scale, zeros with a scale, ordinary prices.
pub fn decimal() -> impl Strategy<Value = Decimal> {
    let special = vec![
        Decimal::MAX,
        Decimal::MIN,
        Decimal::ZERO,
        Decimal::ONE,
        Decimal::new(0, 3),
        Decimal::new(0, 28),
        Decimal::new(12_500, 3),
        Decimal::new(-10, 3),
        Decimal::new(1, 28),
        Decimal::new(-1, 28),
    ];
    prop_oneof![
        2 => select(special),
        4 => (-100_000i64..100_000, 0u32..=4).prop_map(|(m, s)| Decimal::new(m, s)),
        2 => (any::<i64>(), 0u32..=28).prop_map(|(m, s)| Decimal::new(m, s)),
        1 => (any::<[u32; 3]>(), any::<bool>(), 0u32..=28)
            .prop_map(|([lo, mid, hi], neg, s)| Decimal::from_parts(lo, mid, hi, neg, s)),
    ]
}

/// Any UUID, the nil and max ones often.
pub fn uuid() -> impl Strategy<Value = Uuid> {
    prop_oneof![
        1 => Just(Uuid::nil()),
        1 => Just(Uuid::max()),
        3 => any::<u128>().prop_map(Uuid::from_u128),
    ]
}

/// Any bytes, sometimes 1 MiB.
pub fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => proptest::collection::vec(any::<u8>(), 0..32),
        1 => (0u8..10).prop_map(|n| if n == 0 { vec![0xff; 1 << 20] } else { vec![0] }),
    ]
}

/// A JSON document (finite floats: JSON has no NaN).
pub fn doc() -> impl Strategy<Value = Doc> {
    (
        text(),
        i64(),
        (-1000i32..1000).prop_map(|n| f64::from(n) / 8.0),
        proptest::collection::vec(small_text(), 0..3),
    )
        .prop_map(|(label, n, x, tags)| Doc { label, n, x, tags })
}

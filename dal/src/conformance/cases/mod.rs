//! The conformance cases, one `pub async fn` per case, grouped by store trait.
//!
//! Each case takes a fresh backend (its own namespace), works through [`crate::Repository`] and
//! the store traits as an application would, and panics with a message naming what differed.
//! A case that does not apply to the backend's [`crate::Capabilities`] prints
//! `skipped: <capability>` and returns.

pub mod cache;
pub mod metrics;
pub mod records;
pub mod time_series;
pub mod transactions;

use chrono::{DateTime, Utc};

use crate::backend::Backend;
use crate::error::Error;

/// 2024-01-01T00:00:00Z: a multiple of every bucket width the cases use.
pub const T0_SECS: i64 = 1_704_067_200;

/// `T0 + secs`.
pub fn at(secs: i64) -> DateTime<Utc> {
    at_micros(secs * 1_000_000)
}

/// `T0 + micros`.
pub fn at_micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(T0_SECS * 1_000_000 + micros).unwrap_or_default()
}

/// Prints the skip notice of a case that needs a capability the backend does not declare.
pub(crate) fn skip<B: Backend>(case: &str, capability: &str) {
    eprintln!("{}: {case}: skipped: {capability}", B::NAME);
}

/// Asserts that `result` is a validation error that names `field` (when given).
#[track_caller]
pub(crate) fn assert_validation<T: std::fmt::Debug>(
    result: crate::Result<T>,
    entity: &str,
    field: Option<&str>,
    what: &str,
) {
    match result {
        Err(Error::Validation {
            entity: e,
            field: f,
            ..
        }) if e == entity && (field.is_none() || f == field) => {}
        other => panic!(
            "{what}: expected a validation error for {entity}{}, got {other:?}",
            field.map(|f| format!(".{f}")).unwrap_or_default()
        ),
    }
}

/// A deterministic permutation of `0..n` (so inserts are not in key order).
pub(crate) fn shuffled(n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    // A fixed LCG: reproducible without a random source.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for i in (1..n).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let j = (state >> 33) as usize % (i + 1);
        v.swap(i, j);
    }
    v
}

/// Relative-or-absolute closeness for computed floats.
pub(crate) fn close(a: f64, b: f64, tolerance: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    (a - b).abs() <= tolerance * a.abs().max(b.abs()).max(1.0)
}

//! The conformance suite: one set of cases that pins the semantics of the backend contracts, run
//! by every backend — in this workspace or downstream — with one macro call.
//!
//! ```
//! dal::conformance_suite! {
//!     backend: memory,                                  // the name of the generated module
//!     setup: |_namespace: String| async move { dal::Memory::new() },
//!     stores: [records, time_series, metrics, cache, transactions],
//! }
//! # fn main() {}
//! ```
//!
//! The call generates a module named after `backend` with one `#[test]` per case of every
//! selected group (`memory::records::upsert_replaces`, ...). Each test builds its own tokio
//! runtime (multi-threaded, two workers, IO and time enabled; the calling crate needs no tokio
//! macros), gets a fresh namespace from [`namespace`] and awaits `setup(namespace)`, so cases run
//! in parallel without seeing each other's data: Postgres uses the namespace as a schema name,
//! Redis as a key prefix, QuestDB as a table-name suffix. Create tables for [`ENTITIES`] there.
//! The setup may return the backend, an `Option` of it (`None` skips the case with a message,
//! e.g. when a server URL is not set) or a `Result` (an `Err` fails the case); see [`Setup`].
//!
//! # Groups and cases
//! A backend selects the groups of the store traits it implements: `records` (`RecordBackend`),
//! `time_series` (`TimeSeriesBackend`), `metrics` (`MetricsBackend` + `TimeSeriesBackend`),
//! `cache` (`CacheBackend`), `transactions` (`TransactionalBackend + RecordBackend` whose
//! transaction is a `RecordBackend`). Finer differences are [`Capabilities`](crate::Capabilities),
//! checked at run time: a case that does not apply prints `skipped: <capability>` and returns.
//! The case list lives in one place, the hidden `__conformance_group!` macro, and [`CASES`] lists
//! it; the cases themselves are ordinary async functions in [`cases`], usable on their own.
//!
//! # What a backend must do beyond the trait docs
//! - Reject text longer than a field's `max_len` with [`Error::Validation`](crate::Error)
//!   naming entity and field ([`crate::FieldMeta::check_max_len`]); in a batch, report the item
//!   and write the others.
//! - Without `nul_in_text`: reject a NUL character in text the same way, storing nothing.
//! - Without `read_your_writes`: make every earlier write visible when `flush` returns (the
//!   time-series and metrics cases flush before they read).

pub mod cases;
pub mod differential;
pub mod entities;

use std::fmt;
use std::future::Future;

pub use entities::{Level, Meta, Pair, Record, Route, Tick};

use crate::backend::Backend;
use crate::entity::EntityMeta;

/// The suite's entities, for a setup to create tables: [`Record`], [`Pair`], [`Route`],
/// [`Tick`].
///
/// It also lists the differential suite's generated shapes ([`differential::SHAPES`]), whose
/// tables are named `dif_*`.
pub static ENTITIES: &[&EntityMeta] = differential::shapes::ALL_ENTITIES;

/// A fresh namespace for one case: lowercase letters, digits and `_`, starting with a letter, at
/// most 40 characters, unique across processes and calls (`dal_<case>_<pid>_<n>_<nanos>`).
pub fn namespace(case: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let unique = format!("_{:x}_{n:x}_{nanos:x}", std::process::id());
    let room = 40usize.saturating_sub(4 + unique.len());
    let tag: String = case
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(room.min(10))
        .collect();
    let mut ns = format!("dal_{tag}{unique}");
    ns.truncate(40);
    ns
}

/// What a conformance setup may return: the backend, `Option<backend>` (`None` skips the case)
/// or `Result<backend, E>` (`Err` fails the case with its message).
pub trait Setup {
    /// The backend under test.
    type Backend: Backend;
    /// The backend, or `None` to skip.
    fn into_backend(self) -> Option<Self::Backend>;
}

impl<B: Backend> Setup for B {
    type Backend = B;
    fn into_backend(self) -> Option<B> {
        Some(self)
    }
}

impl<B: Backend> Setup for Option<B> {
    type Backend = B;
    fn into_backend(self) -> Option<B> {
        self
    }
}

impl<B: Backend, E: fmt::Display> Setup for Result<B, E> {
    type Backend = B;
    fn into_backend(self) -> Option<B> {
        match self {
            Ok(b) => Some(b),
            Err(e) => panic!("conformance setup failed: {e}"),
        }
    }
}

/// Runs one case: a runtime, a namespace, the setup, the case. Used by the generated tests.
#[doc(hidden)]
pub fn __run<S, F, C, Fut>(case: &'static str, setup: S, body: C)
where
    S: FnOnce(String) -> F,
    F: Future,
    F::Output: Setup,
    C: FnOnce(<F::Output as Setup>::Backend) -> Fut,
    Fut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{case}: cannot build a tokio runtime: {e}"));
    runtime.block_on(async move {
        let name = case.rsplit("::").next().unwrap_or(case);
        match setup(namespace(name)).await.into_backend() {
            Some(backend) => body(backend).await,
            None => eprintln!("{case}: skipped: the setup returned no backend"),
        }
    });
}

/// Generates the conformance tests of one backend: see the [module docs](crate::conformance).
///
/// ```
/// // A backend that needs a server: `None` from the setup skips the case with a message.
/// dal::conformance_suite! {
///     backend: my_store,
///     setup: |namespace: String| async move {
///         let _url = std::env::var("MY_STORE_URL").ok()?;
///         // connect, create tables for dal::conformance::ENTITIES under `namespace`...
///         Some(dal::Memory::new())
///     },
///     stores: [records, cache],
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! conformance_suite {
    (
        backend: $backend:ident,
        setup: $setup:expr,
        stores: [$($group:ident),+ $(,)?] $(,)?
    ) => {
        #[allow(unused_imports, unused_variables, non_snake_case)]
        mod $backend {
            use super::*;
            $( $crate::__conformance_group!(tests $group ($setup)); )+
        }
    };
}

/// The case list, per group, in one place. `tests <group> (<setup>)` generates the tests of a
/// group; `names <group>` is the list of its case names.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_group {
    ($mode:ident records $($args:tt)*) => {
        $crate::__conformance_apply! {$mode records [
            save_then_get_round_trips,
            upsert_replaces,
            get_missing_is_none,
            get_many_keeps_order_and_missing_slots,
            delete_returns_whether_it_existed,
            list_is_ascending_by_key,
            list_orders_text_by_bytes,
            list_paginates_completely,
            list_page_count_is_exact,
            list_rejects_bad_page_sizes,
            list_of_empty_table_is_empty,
            filter_eq_ne_on_text,
            filter_ranges_on_integer,
            filter_ranges_on_timestamp_decimal_float,
            filter_in_and_empty_in,
            filter_is_null_and_is_not_null,
            filter_on_text_enum,
            filter_combined_with_pagination,
            composite_key_round_trip_and_order,
            composite_key_parts_never_collide,
            text_key_parts_never_collide,
            option_all_none_round_trip,
            option_all_some_round_trip,
            option_each_type_alone_round_trips,
            nan_and_infinity,
            unicode_and_emoji_text,
            empty_strings_are_not_null,
            separator_ids_never_collide,
            nul_in_text,
            extreme_integers,
            extreme_floats,
            extreme_dates,
            decimal_precision,
            long_text,
            json_round_trip,
            bytes_round_trip,
            save_all_writes_every_item,
            save_all_empty_batch,
            save_all_duplicate_keys_last_wins,
            save_all_reports_partial_failure,
            save_rejects_too_long_text,
            concurrent_upserts,
            delete_then_list_excludes,
            extension_get_required_and_list_all,
        ]$($args)*}
    };
    ($mode:ident time_series $($args:tt)*) => {
        $crate::__conformance_apply! {$mode time_series [
            append_then_range_round_trips,
            range_is_inclusive_start_exclusive_end,
            range_orders_descending,
            range_limit,
            range_filters_by_symbol,
            range_filters_on_options,
            empty_and_reversed_ranges,
            latest_per_symbol,
            latest_respects_filter,
            append_all_batch,
            append_all_empty_batch,
            flush_makes_appends_visible,
            same_id_and_timestamp,
            same_id_at_distinct_timestamps_are_distinct_rows,
            unicode_symbols_and_text,
            concurrent_appends,
        ]$($args)*}
    };
    ($mode:ident metrics $($args:tt)*) => {
        $crate::__conformance_apply! {$mode metrics [
            quantiles_match_percentile_cont,
            quantile_outside_unit_interval_rejected,
            empty_window,
            summary_of_window,
            nulls_are_ignored,
            window_bounds,
            metrics_respect_filter,
            integer_column,
            downsample_buckets_are_aligned,
            downsample_aggregates,
            non_numeric_column_rejected,
            reversed_window_rejected,
            nan_in_metrics,
        ]$($args)*}
    };
    ($mode:ident cache $($args:tt)*) => {
        $crate::__conformance_apply! {$mode cache [
            put_then_lookup,
            lookup_missing_is_none,
            put_replaces_value_and_ttl,
            default_ttl_applies,
            no_default_ttl_means_no_expiry,
            explicit_ttl_expires,
            remaining_ttl_counts_down,
            invalidate_returns_whether_it_existed,
            lookup_many_keeps_order,
            put_all_writes_every_item,
            put_all_reports_partial_failure,
            zero_ttl_rejected,
            cache_keys_never_collide,
            cache_text_key_parts_never_collide,
        ]$($args)*}
    };
    ($mode:ident transactions $($args:tt)*) => {
        $crate::__conformance_apply! {$mode transactions [
            commit_makes_writes_visible,
            writes_are_invisible_until_commit,
            rollback_discards_writes,
            drop_rolls_back,
            dropping_one_clone_keeps_the_transaction,
            multi_entity_commit_is_atomic,
            multi_entity_rollback_is_atomic,
            reads_inside_see_own_writes,
            delete_inside_is_rolled_back,
            failed_write_inside_then_rollback,
        ]$($args)*}
    };
    ($mode:ident differential_records $($args:tt)*) => {
        $crate::__differential_apply! {$mode differential_records records_differential records $($args)*}
    };
    ($mode:ident differential_time_series $($args:tt)*) => {
        $crate::__differential_apply! {$mode differential_time_series time_series_differential time_series $($args)*}
    };
    ($mode:ident differential_metrics $($args:tt)*) => {
        $crate::__differential_apply! {$mode differential_metrics metrics_differential metrics $($args)*}
    };
    ($mode:ident differential_cache $($args:tt)*) => {
        $crate::__differential_apply! {$mode differential_cache cache_differential cache $($args)*}
    };
    ($mode:ident $other:ident $($args:tt)*) => {
        ::core::compile_error! {::core::concat!(
            "unknown conformance group `", ::core::stringify!($other),
            "`: choose from records, time_series, metrics, cache, transactions, ",
            "differential_records, differential_time_series, differential_metrics, differential_cache"
        )}
    };
}

/// Expands a group's case list (see `__conformance_group!`).
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_apply {
    (tests $group:ident [$($case:ident),* $(,)?] ($setup:expr)) => {
        pub mod $group {
            use super::*;
            $(
                #[test]
                #[allow(unused_variables)]
                fn $case() {
                    $crate::conformance::__run(
                        ::core::concat!(
                            ::core::module_path!(), "::", ::core::stringify!($case)
                        ),
                        $setup,
                        $crate::conformance::cases::$group::$case,
                    );
                }
            )*
        }
    };
    (names $group:ident [$($case:ident),* $(,)?]) => {
        &[$(::core::stringify!($case)),*]
    };
}

/// Expands a differential group: one test that runs the group's generated sequences on every
/// shape (see [`differential`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __differential_apply {
    (tests $group:ident $test:ident $runner:ident ($setup:expr)) => {
        pub mod $group {
            use super::*;
            #[test]
            fn $test() {
                $crate::conformance::differential::$runner(
                    ::core::concat!(::core::module_path!(), "::", ::core::stringify!($test)),
                    $setup,
                );
            }
        }
    };
    (names $group:ident $test:ident $runner:ident) => {
        &[::core::stringify!($test)]
    };
}

/// Every case, by group, as the macro generates them.
pub const CASES: &[(&str, &[&str])] = &[
    ("records", crate::__conformance_group!(names records)),
    (
        "time_series",
        crate::__conformance_group!(names time_series),
    ),
    ("metrics", crate::__conformance_group!(names metrics)),
    ("cache", crate::__conformance_group!(names cache)),
    (
        "transactions",
        crate::__conformance_group!(names transactions),
    ),
    (
        "differential_records",
        crate::__conformance_group!(names differential_records),
    ),
    (
        "differential_time_series",
        crate::__conformance_group!(names differential_time_series),
    ),
    (
        "differential_metrics",
        crate::__conformance_group!(names differential_metrics),
    ),
    (
        "differential_cache",
        crate::__conformance_group!(names differential_cache),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_valid_and_unique() {
        let a = namespace("records::list_paginates_completely");
        let b = namespace("records::list_paginates_completely");
        assert_ne!(a, b);
        for ns in [a, b, namespace(""), namespace("ÜNÏ-cødé 🚀")] {
            assert!(ns.len() <= 40, "{ns}");
            assert!(ns.starts_with("dal_"), "{ns}");
            assert!(
                ns.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'),
                "{ns}"
            );
        }
    }

    #[test]
    fn the_suite_has_enough_cases_and_no_duplicates() {
        let mut all: Vec<&str> = CASES.iter().flat_map(|(_, c)| c.iter().copied()).collect();
        assert!(all.len() >= 45, "{} cases", all.len());
        all.sort_unstable();
        let before = all.len();
        all.dedup();
        assert_eq!(before, all.len(), "a case name is used in two groups");
    }

    #[test]
    fn entities_are_listed() {
        let tables: Vec<&str> = ENTITIES.iter().map(|m| m.table).collect();
        assert_eq!(
            tables[..4],
            ["conf_record", "conf_pair", "conf_route", "conf_tick"]
        );
        assert_eq!(tables.len(), 4 + differential::SHAPES.len());
        assert!(tables[4..].iter().all(|t| t.starts_with("dif_")));
    }
}

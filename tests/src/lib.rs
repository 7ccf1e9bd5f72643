//! Shared helpers for dal's integration tests.
//!
//! Real-store tests read their URL from the conventional variable. Without it they skip with a
//! loud message, except under `CI=true`, where a missing or unreachable store fails the test: CI
//! must never go green without having talked to the real store.

/// Whether we run in CI (`CI=true` or `CI=1`).
pub fn in_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1"))
}

/// The URL in `var`, or `None` after printing a skip notice. Panics under CI when unset.
pub fn store_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if in_ci() => panic!("{var} is not set, and CI=true requires the real store"),
        _ => {
            eprintln!("SKIPPED: {var} is not set; set it to run this test against the real store");
            None
        }
    }
}

/// A fresh, unique namespace name (lowercase letters, digits, `_`; at most 40 characters) for one
/// test: the conformance suite's own rule, so stale namespaces of ended test processes are
/// recognised and collected the same way.
pub fn unique_namespace(prefix: &str) -> String {
    dal::conformance::namespace(prefix)
}

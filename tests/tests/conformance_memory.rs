//! The conformance suite against the memory backend: every group, every case.

dal::conformance_suite! {
    backend: memory,
    setup: |_namespace: String| async move { dal::Memory::new() },
    stores: [
        records, time_series, metrics, cache, transactions,
        differential_records, differential_time_series, differential_metrics, differential_cache,
    ],
}

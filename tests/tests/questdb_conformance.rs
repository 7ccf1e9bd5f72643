//! The shared conformance suite on QuestDB (time series and metrics), when `QDB_CLIENT_CONF` and
//! `QDB_PG_URL` are set. Each case gets its own table suffix (the suite's namespace). Without the
//! variables every case prints a loud SKIPPED line and passes, also under `CI=true`: CI has no
//! QuestDB.

use std::time::Duration;

use dal_backends::questdb::{QuestDb, QuestDbOptions};

/// A backend for one case, or `None` (the suite then skips the case) after a loud notice.
fn questdb_for(namespace: String) -> Option<QuestDb> {
    let Some(options) = QuestDbOptions::from_env() else {
        eprintln!(
            "SKIPPED (QuestDB conformance): set QDB_CLIENT_CONF and QDB_PG_URL to run the suite against a real QuestDB, e.g. \
             QDB_CLIENT_CONF='http::addr=127.0.0.1:9000;' QDB_PG_URL='postgres://admin:quest@127.0.0.1:8812/qdb'"
        );
        return None;
    };
    let mut options = options.namespace(namespace);
    // Cases run in parallel, each with its own handle: keep the pools small.
    options.max_connections = 2;
    options.writer.retry.max_backoff = Duration::from_millis(200);
    match QuestDb::connect(options) {
        Ok(db) => Some(db),
        Err(e) => panic!("QuestDB handle: {e}"),
    }
}

dal::conformance_suite! {
    backend: questdb,
    setup: |namespace: String| async move { questdb_for(namespace) },
    stores: [time_series, metrics],
}

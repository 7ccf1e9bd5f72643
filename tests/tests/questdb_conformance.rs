//! The shared conformance suite on QuestDB (time series and metrics), when `QDB_CLIENT_CONF` and
//! `QDB_PG_URL` are set. Each case gets its own table suffix (the suite's namespace). Without the
//! variables every case prints a loud SKIPPED line and passes, also under `CI=true`: CI has no
//! QuestDB.
//!
//! The suite cannot drop a case's table when the case ends, so the first case of a run drops the
//! tables left by earlier runs: suite namespaces carry the process id, and a table whose process
//! is gone is stale.

use std::time::Duration;

use dal_backends::questdb::{QuestDb, QuestDbOptions};
use tokio::sync::OnceCell;

/// A backend for one case, or `None` (the suite then skips the case) after a loud notice.
async fn questdb_for(namespace: String) -> Option<QuestDb> {
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
    let db = match QuestDb::connect(options) {
        Ok(db) => db,
        Err(e) => panic!("QuestDB handle: {e}"),
    };
    static CLEANED: OnceCell<()> = OnceCell::const_new();
    CLEANED.get_or_init(|| drop_stale_tables(&db)).await;
    Some(db)
}

/// Drops suite tables (`conf_<entity>_dal_<case>_<pid>_<n>_<nanos>`, `dif_..` for the
/// differential shapes) of processes that ended.
async fn drop_stale_tables(db: &QuestDb) {
    // Liveness is read from /proc; without it, leave every table alone.
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(names) = db.table_names().await else {
        return;
    };
    for name in names {
        let Some((_, ns)) = name.split_once("_dal_") else {
            continue;
        };
        if !(name.starts_with("conf_") || name.starts_with("dif_")) {
            continue;
        }
        let parts: Vec<&str> = ns.rsplitn(4, '_').collect();
        let Some(pid) = parts.get(2).and_then(|p| u32::from_str_radix(p, 16).ok()) else {
            continue;
        };
        let alive =
            pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists();
        if !alive {
            let _ = db
                .execute(&format!("DROP TABLE IF EXISTS \"{name}\""))
                .await;
        }
    }
}

dal::conformance_suite! {
    backend: questdb,
    setup: |namespace: String| questdb_for(namespace),
    stores: [time_series, metrics, differential_time_series, differential_metrics],
}

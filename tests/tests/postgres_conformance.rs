//! The conformance suite against real Postgres (`DATABASE_URL`): every group Postgres serves,
//! each case in a schema of its own so cases run in parallel.

use dal_backends::postgres::{Postgres, PostgresOptions};

/// Drops the schemas earlier runs left behind: conformance namespaces embed the pid of the test
/// process (`dal_<case>_<pid hex>_..`), so a schema whose process is gone is garbage. Runs once
/// per test binary; only looks at processes on this machine (CI runs Postgres locally).
async fn collect_garbage(pg: &Postgres) {
    static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| async {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'dal\\_%'",
        )
        .fetch_all(pg.pool())
        .await
        .unwrap_or_default();
        for name in names {
            let Some(pid) = name
                .split('_')
                .nth(2)
                .and_then(|p| u32::from_str_radix(p, 16).ok())
            else {
                continue;
            };
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                let drop = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
                let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                    .execute(pg.pool())
                    .await;
            }
        }
    })
    .await;
}

async fn setup(namespace: String) -> Option<Postgres> {
    let url = dal_tests::store_url("DATABASE_URL")?;
    let pg = Postgres::connect_with(
        PostgresOptions::new(url)
            .schema(namespace)
            .max_connections(4),
    )
    .await
    .unwrap_or_else(|e| panic!("cannot connect to DATABASE_URL: {e}"));
    collect_garbage(&pg).await;
    for meta in dal::conformance::ENTITIES {
        pg.create_table_for(meta)
            .await
            .unwrap_or_else(|e| panic!("create table {}: {e}", meta.table));
    }
    Some(pg)
}

dal::conformance_suite! {
    backend: postgres,
    setup: setup,
    stores: [
        records, time_series, metrics, transactions,
        differential_records, differential_time_series, differential_metrics,
    ],
}

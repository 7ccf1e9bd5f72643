//! Shared set-up of the Postgres tests: a backend in a schema of its own, an admin pool beside
//! it, and a way to kill the backend's server connections.

#![allow(dead_code)] // each test file uses a part

pub(crate) mod proxy;

use dal_backends::postgres::{Postgres, PostgresOptions};
use sqlx::postgres::PgPool;

/// A test's backend: its own schema and `application_name`, so the test can find (and kill) its
/// server connections; plus a plain sqlx pool on the same schema for checks beside dal.
pub(crate) struct TestPg {
    pub(crate) pg: Postgres,
    pub(crate) admin: PgPool,
    pub(crate) schema: String,
}

/// `None` (test skipped, loudly) without `DATABASE_URL`; panics under CI.
pub(crate) async fn connect(
    prefix: &str,
    tune: impl FnOnce(PostgresOptions) -> PostgresOptions,
) -> Option<TestPg> {
    let url = dal_tests::store_url("DATABASE_URL")?;
    let schema = dal_tests::unique_namespace(prefix);
    let options = tune(
        PostgresOptions::new(url.clone())
            .schema(schema.clone())
            .application_name(schema.clone())
            .max_connections(4),
    );
    let pg = Postgres::connect_with(options)
        .await
        .expect("connect to DATABASE_URL");
    let admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .after_connect({
            let schema = schema.clone();
            move |conn, _| {
                let set = format!("SET search_path TO \"{schema}\"");
                Box::pin(async move {
                    sqlx::Executor::execute(conn, sqlx::AssertSqlSafe(set)).await?;
                    Ok(())
                })
            }
        })
        .connect(&url)
        .await
        .expect("admin pool");
    Some(TestPg { pg, admin, schema })
}

impl TestPg {
    /// Runs SQL on the admin pool (in the test's schema).
    pub(crate) async fn sql(&self, sql: &str) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&self.admin)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// `SELECT count(*)` of a table.
    pub(crate) async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM \"{table}\""
        )))
        .fetch_one(&self.admin)
        .await
        .expect("count")
    }

    /// Terminates every server connection of the backend under test; returns how many.
    pub(crate) async fn kill_connections(&self) -> i64 {
        let killed: i64 = sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(&self.schema)
        .fetch_one(&self.admin)
        .await
        .expect("pg_terminate_backend");
        // Wait until the server has let them go.
        for _ in 0..100 {
            let left: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            )
            .bind(&self.schema)
            .fetch_one(&self.admin)
            .await
            .expect("pg_stat_activity");
            if left == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        killed
    }

    /// Drops the schema (best effort, through the admin pool so it works after the backend
    /// was closed) and closes both pools.
    pub(crate) async fn finish(self) {
        self.pg.close().await;
        let drop = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema);
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
            .execute(&self.admin)
            .await;
        self.admin.close().await;
    }
}

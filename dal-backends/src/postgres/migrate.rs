//! Migrations: the example schema in `migrations/postgres` (sqlx's migrate format), embedded at
//! compile time and applied with sqlx's migrator, which records what ran in
//! `_sqlx_migrations` of the connection's schema and never re-runs a migration.

use dal::{Error, Result};
use sqlx::migrate::{MigrateError, Migrator};

use super::{Postgres, error};

/// The migrations of `migrations/postgres`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

/// Applies every pending migration of `migrations/postgres` (in the handle's schema when
/// [`super::PostgresOptions::schema`] is set).
///
/// # Errors
/// [`Error::Unavailable`] when the server cannot be reached; [`Error::Backend`] when a
/// migration fails or an applied migration was changed since it ran.
pub async fn migrate(pg: &Postgres) -> Result<()> {
    let mut conn = pg.acquire().await?;
    MIGRATOR.run(&mut *conn).await.map_err(|e| match e {
        MigrateError::Execute(e) => error::map(e),
        other => Error::backend(error::NAME, false, other),
    })
}

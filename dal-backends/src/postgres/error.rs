//! Mapping sqlx errors into `dal::Error` categories.
//!
//! The category decides what a caller (and the retry policy) does next, so the mapping follows
//! SQLSTATE classes: connection failures and an administrator's shutdown are transient
//! `Unavailable`; serialization failures and deadlocks are transient `Conflict`; unique and
//! foreign-key violations are permanent `Conflict`; data exceptions (class 22) and other
//! integrity violations are `Validation` naming the entity (and the field when Postgres names
//! the column).

use dal::{EntityMeta, Error};
use sqlx::postgres::PgDatabaseError;

/// The backend name used in errors, logs and spans.
pub(crate) const NAME: &str = "postgres";

/// What an error says about the connection it happened on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The connection is gone (I/O error, protocol desync, the server terminated it).
    Connection,
    /// The pool could not hand out a connection in time, or is closed.
    Pool,
    /// The server rejected one or more rows (class 21, 22, 23, 54): bisecting a batch can find
    /// the rows responsible.
    Row,
    /// Anything else.
    Other,
}

/// The SQLSTATE of a database error, if it is one.
pub(crate) fn sqlstate(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(db) => db.try_downcast_ref::<PgDatabaseError>().map(|p| p.code()),
        _ => None,
    }
}

/// Classifies an error for retry and batch-fallback decisions.
pub(crate) fn failure(e: &sqlx::Error) -> Failure {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => Failure::Connection,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            Failure::Pool
        }
        sqlx::Error::Database(_) => match sqlstate(e) {
            Some(code) if is_connection_state(code) => Failure::Connection,
            Some(code)
                if code.starts_with("21")
                    || code.starts_with("22")
                    || code.starts_with("23")
                    || code.starts_with("54") =>
            {
                Failure::Row
            }
            _ => Failure::Other,
        },
        _ => Failure::Other,
    }
}

/// SQLSTATEs that mean the session is gone or about to go: connection exceptions (class 08),
/// administrator/crash shutdown and "cannot connect now" (57P01..57P03).
fn is_connection_state(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

/// Whether a statement failed because the connection's prepared statement no longer fits the
/// schema (a column changed type under it, or the statement is gone): clearing the
/// connection's statement cache and running it again succeeds.
pub(crate) fn is_stale_plan(e: &sqlx::Error) -> bool {
    match sqlstate(e) {
        // feature_not_supported: "cached plan must not change result type"
        Some("0A000") => e.to_string().contains("cached plan"),
        // invalid_sql_statement_name: the prepared statement does not exist
        Some("26000") => true,
        _ => false,
    }
}

/// Maps an error that is not about one entity (health check, DDL, migrations, transactions).
pub(crate) fn map(e: sqlx::Error) -> Error {
    map_for("*", None, e)
}

/// Maps an error of an operation on `meta`'s table.
pub(crate) fn map_entity(meta: &'static EntityMeta, e: sqlx::Error) -> Error {
    map_for(meta.name, Some(meta), e)
}

fn map_for(entity: &'static str, meta: Option<&'static EntityMeta>, e: sqlx::Error) -> Error {
    match failure(&e) {
        Failure::Connection | Failure::Pool => return Error::unavailable(NAME, e),
        Failure::Row | Failure::Other => {}
    }
    let sqlx::Error::Database(db) = &e else {
        return match e {
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => Error::Codec {
                entity,
                field: "*",
                message: e.to_string(),
            },
            other => Error::backend(NAME, false, other),
        };
    };
    let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() else {
        return Error::backend(NAME, false, e);
    };
    let code = pg.code();
    let field = meta.and_then(|m| {
        let column = pg.column()?;
        m.fields.iter().find(|f| f.column == column).map(|f| f.name)
    });
    let mut message = pg.message().to_owned();
    if let Some(detail) = pg.detail() {
        message.push_str(": ");
        message.push_str(detail);
    }
    match code {
        // serialization_failure, deadlock_detected: retrying the transaction may succeed.
        "40001" | "40P01" => Error::Conflict {
            entity,
            message,
            transient: true,
        },
        // unique_violation, foreign_key_violation, exclusion_violation: the stored data decides.
        "23505" | "23503" | "23P01" => Error::Conflict {
            entity,
            message,
            transient: false,
        },
        // query_canceled (statement_timeout) and lock_not_available.
        "57014" | "55P03" => Error::Timeout {
            backend: NAME,
            operation: message,
        },
        // too_many_connections, cannot_connect_now, out of memory/disk: the server may recover.
        "53300" | "53200" | "53100" => Error::unavailable(NAME, e),
        _ if code.starts_with("22") || code.starts_with("23") || code.starts_with("54") => {
            Error::Validation {
                entity,
                field,
                message,
            }
        }
        _ => Error::backend(NAME, false, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_transient_unavailable() {
        let e = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(failure(&e), Failure::Connection);
        let mapped = map(e);
        assert!(matches!(mapped, Error::Unavailable { .. }));
        assert!(mapped.is_transient());
        assert!(map(sqlx::Error::PoolTimedOut).is_transient());
    }

    #[test]
    fn connection_states() {
        assert!(is_connection_state("08006"));
        assert!(is_connection_state("57P01"));
        assert!(!is_connection_state("57014"));
    }
}

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

/// Whether the connection broke without the server saying why (an I/O error, end of stream, a
/// protocol desync): a write or COMMIT in flight may have been committed, its reply lost. A
/// session the server ends itself (`pg_terminate_backend`, a shutdown, class 08) is reported
/// with an error message that Postgres sends only from an interrupt check, which never runs
/// between a commit and its acknowledgment: the transaction was rolled back, and the failure
/// is an ordinary lost connection.
pub(crate) fn reply_lost(e: &sqlx::Error) -> bool {
    failure(e) == Failure::Connection && !matches!(e, sqlx::Error::Database(_))
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
        // invalid_column_reference: an upsert's ON CONFLICT names columns without a unique key
        // on them, i.e. the table's key is not the one dal derives for this use.
        "42P10" => Error::Config {
            backend: NAME,
            message: format!(
                "{entity}: {message}. dal upserts a record on its ids and a time series on its ids \
                 and timestamp: give the table that primary key (see ddl::key_fields)"
            ),
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

/// A connection that could not be opened: where to (never the password) and why.
#[derive(Debug)]
pub(crate) struct ConnectError {
    /// `user@host:port/database` (or the socket path instead of host and port).
    pub(crate) address: String,
    /// What went wrong, in words (`connection refused`, `cannot resolve host name ..`).
    pub(crate) cause: String,
    pub(crate) source: Option<sqlx::Error>,
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot connect to {}: {}", self.address, self.cause)
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

/// `user@host:port/database` of connect options: what a connection error names.
pub(crate) fn address(o: &sqlx::postgres::PgConnectOptions) -> String {
    let place = match o.get_socket() {
        Some(socket) => format!("{} (port {})", socket.display(), o.get_port()),
        None => format!("{}:{}", o.get_host(), o.get_port()),
    };
    format!(
        "{}@{place}/{}",
        o.get_username(),
        o.get_database().unwrap_or(o.get_username())
    )
}

/// Maps the failure to open a connection to `address`: the error names the address and the
/// cause. Unreachable servers (refused, unresolvable, timed out, too many connections) are
/// transient `Unavailable`; what retrying cannot fix (authentication, a missing database or
/// role, TLS settings the server does not accept, a server that is not Postgres) is `Config`.
pub(crate) fn connect_error(address: String, e: sqlx::Error) -> Error {
    let (cause, transient) = match &e {
        sqlx::Error::Io(io) => (io_cause(io), true),
        sqlx::Error::Tls(t) => (format!("TLS failed: {t}"), false),
        sqlx::Error::Protocol(p) => (
            format!("the server does not answer as Postgres does: {p}"),
            false,
        ),
        sqlx::Error::Configuration(c) => (format!("invalid connection settings: {c}"), false),
        sqlx::Error::Database(_) => {
            let message = match e.as_database_error() {
                Some(db) => db.message().to_owned(),
                None => e.to_string(),
            };
            match sqlstate(&e) {
                Some("28000" | "28P01") => (format!("authentication failed: {message}"), false),
                Some("3D000") => (format!("{message} (check the database name)"), false),
                Some(code) if code.starts_with("53") || code.starts_with("57P") => (
                    format!("the server refuses connections now: {message}"),
                    true,
                ),
                _ => (message, false),
            }
        }
        sqlx::Error::PoolTimedOut => ("no answer in time".to_owned(), true),
        other => (other.to_string(), false),
    };
    let err = ConnectError {
        address,
        cause,
        source: Some(e),
    };
    if transient {
        Error::unavailable(NAME, err)
    } else {
        Error::config(NAME, err.to_string())
    }
}

/// The cause of an I/O error while connecting, in words.
fn io_cause(io: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let text = io.to_string();
    match io.kind() {
        ErrorKind::ConnectionRefused => {
            "connection refused (is Postgres running and listening on that address?)".to_owned()
        }
        ErrorKind::TimedOut => format!("timed out ({text})"),
        // tokio reports a failed DNS lookup as an uncategorized error with getaddrinfo's text.
        _ if text.contains("lookup")
            || text.contains("resolve")
            || text.contains("Name or service") =>
        {
            format!("cannot resolve the host name (DNS): {text}")
        }
        _ => text,
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
    fn connect_errors_name_the_address_and_the_cause() {
        let refused = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let e = connect_error("app@db:5432/trading".to_owned(), refused);
        assert!(matches!(e, Error::Unavailable { .. }) && e.is_transient());
        let text = e.to_string();
        assert!(
            text.contains("app@db:5432/trading") && text.contains("connection refused"),
            "{text}"
        );
        let tls = sqlx::Error::Tls("no TLS here".into());
        let e = connect_error("app@db:5432/trading".to_owned(), tls);
        assert!(
            matches!(e, Error::Config { .. }) && !e.is_transient(),
            "{e}"
        );
    }

    #[test]
    fn connection_states() {
        assert!(is_connection_state("08006"));
        assert!(is_connection_state("57P01"));
        assert!(!is_connection_state("57014"));
    }
}

//! Mapping questdb-rs and sqlx errors into `dal::Error` categories.
//!
//! QuestDB's PG wire reports every error with SQLSTATE `00000`, so SQL errors are classified by
//! their message; ILP-over-HTTP errors are classified by questdb-rs's error code and, for server
//! rejections, by the JSON `code` QuestDB puts in the response body (`invalid` is a bad row and
//! never succeeds on retry; `internal error`, `retry operation` and plain-text 5xx bodies may).

use dal::{Error, FieldMeta};
use questdb::ErrorCode;

/// Backend name used in errors, logs and spans.
pub(crate) const NAME: &str = "questdb";

/// Whether a failed ILP flush may succeed if the same batch is sent again.
///
/// Network failures and server-side transient statuses are retried; a row QuestDB refuses to
/// parse or append (`code: invalid`), bad credentials or a bad configuration are not.
pub fn is_transient_ilp(e: &questdb::Error) -> bool {
    match e.code() {
        ErrorCode::SocketError
        | ErrorCode::ConnectTimeout
        | ErrorCode::CouldNotResolveAddr
        | ErrorCode::FailoverRetry => true,
        ErrorCode::ServerFlushError => !is_permanent_server_message(e.msg()),
        _ => false,
    }
}

/// QuestDB's permanent ILP-over-HTTP statuses, as questdb-rs renders them (`[... code: X ...]`).
fn is_permanent_server_message(msg: &str) -> bool {
    const PERMANENT: [&str; 4] = [
        "code: invalid",
        "code: not supported",
        "code: unauthorised",
        "code: request too large",
    ];
    PERMANENT.iter().any(|p| msg.contains(p))
}

/// An ILP error raised while encoding one field of a row.
pub(crate) fn ilp_field(field: &'static FieldMeta, e: questdb::Error) -> Error {
    Error::codec(field, format_args!("cannot be written as ILP: {}", e.msg()))
}

/// An ILP error raised while encoding a row, not attributable to one field.
pub(crate) fn ilp_row(entity: &'static str, e: questdb::Error) -> Error {
    Error::invalid(
        entity,
        format_args!("cannot be written as ILP: {}", e.msg()),
    )
}

/// A bad client configuration string (never transient).
pub(crate) fn config(e: questdb::Error) -> Error {
    Error::backend(NAME, false, e)
}

/// Whether a SQL error message says the cached statement no longer matches the table (after a
/// schema change); the statement must be prepared again on a clean connection.
pub(crate) fn is_stale_plan(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.message().contains("cached plan must not change result type"))
}

/// Maps a sqlx error from the PG-wire reader.
///
/// Decode errors name the entity's field when the caller knows it (see [`sql_decode`]).
pub(crate) fn sql(e: sqlx::Error) -> Error {
    use sqlx::Error as E;
    match e {
        E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => {
            Error::unavailable(NAME, e)
        }
        E::Protocol(_) => Error::unavailable(NAME, e),
        E::Configuration(_) => Error::backend(NAME, false, e),
        E::Database(ref db) => {
            let transient = is_transient_sql_message(db.message());
            Error::backend(NAME, transient, e)
        }
        other => Error::backend(NAME, false, other),
    }
}

/// A decode error for one field.
pub(crate) fn sql_decode(field: &'static FieldMeta, e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::ColumnDecode { source, .. } => Error::codec(field, source),
        sqlx::Error::Decode(source) => Error::codec(field, source),
        other => sql(other),
    }
}

/// SQLSTATE is always `00000` on QuestDB's PG wire, so transient conditions are recognised by
/// message: a table busy with a concurrent schema change, a WAL apply in progress, a plan made
/// stale by a schema change, timeouts.
fn is_transient_sql_message(msg: &str) -> bool {
    const TRANSIENT: [&str; 6] = [
        "cached plan must not change result type",
        "table busy",
        "could not lock",
        "timeout",
        "try again",
        "retry",
    ];
    let lower = msg.to_ascii_lowercase();
    TRANSIENT.iter().any(|t| lower.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_rejections_are_classified_by_code() {
        let bad = questdb::Error::new(
            ErrorCode::ServerFlushError,
            "Could not flush buffer: failed to parse line protocol [id: x-1, code: invalid, line: 1]",
        );
        assert!(!is_transient_ilp(&bad));
        let busy = questdb::Error::new(
            ErrorCode::ServerFlushError,
            "Could not flush buffer: table busy [id: x-2, code: retry operation]",
        );
        assert!(is_transient_ilp(&busy));
        let plain_503 =
            questdb::Error::new(ErrorCode::ServerFlushError, "Could not flush buffer: down");
        assert!(is_transient_ilp(&plain_503));
        let socket = questdb::Error::new(ErrorCode::SocketError, "connection refused");
        assert!(is_transient_ilp(&socket));
        let auth = questdb::Error::new(ErrorCode::AuthError, "nope");
        assert!(!is_transient_ilp(&auth));
    }
}

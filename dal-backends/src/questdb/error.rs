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

/// What a failed ILP request means for the rows in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IlpFailure {
    /// The server could not be reached or was not ready: send the same rows again.
    Transient,
    /// The server refused the request because of what a row holds (it cannot parse or append
    /// it): the other rows can still be delivered. `line` is the 1-based line QuestDB named;
    /// `internal` marks a server-side error while appending that line (HTTP 500), which may be
    /// a passing condition, so a row refused that way alone is tried a few more times.
    Rows { line: Option<usize>, internal: bool },
    /// The server refused the request whatever rows it holds (credentials, endpoint,
    /// protocol): no part of it can be delivered as configured.
    Batch,
}

/// Classifies a failed ILP flush.
///
/// Network failures, timeouts and server-side conditions not tied to a line (a commit that
/// failed, a plain-text 5xx from a proxy) are transient. QuestDB's `invalid` and `request too
/// large` statuses, and an `internal error` tied to a line, are refusals of rows. Bad
/// credentials, a wrong endpoint or an unsupported protocol refuse the whole request.
pub(crate) fn classify_ilp(e: &questdb::Error) -> IlpFailure {
    match e.code() {
        ErrorCode::SocketError
        | ErrorCode::ConnectTimeout
        | ErrorCode::CouldNotResolveAddr
        | ErrorCode::FailoverRetry => IlpFailure::Transient,
        ErrorCode::ServerFlushError => {
            let Some((code, line)) = server_status(e.msg()) else {
                // A plain-text body: not QuestDB's own answer (a proxy, a restart).
                return IlpFailure::Transient;
            };
            match code.as_str() {
                "invalid" | "request too large" => IlpFailure::Rows {
                    line,
                    internal: false,
                },
                "internal error" if line.is_some() => IlpFailure::Rows {
                    line,
                    internal: true,
                },
                "not supported" | "unauthorised" => IlpFailure::Batch,
                _ => IlpFailure::Transient,
            }
        }
        _ => IlpFailure::Batch,
    }
}

/// Whether a failed ILP flush may succeed if the same batch is sent again: network failures,
/// timeouts, and server-side conditions not tied to a line (a failed commit, a plain-text 5xx
/// from a proxy). A refused row, bad credentials or a wrong endpoint never are.
pub fn is_transient_ilp(e: &questdb::Error) -> bool {
    classify_ilp(e) == IlpFailure::Transient
}

/// QuestDB's status `code` and the 1-based `line` it names, from a server error as questdb-rs
/// renders it. questdb-rs reads the JSON body only when its content type is exactly
/// `application/json` and then appends `[id: x, code: invalid, line: 3]`; QuestDB 9.3 sends
/// `application/json; charset=utf-8`, which questdb-rs passes on as the raw body
/// (`Could not flush buffer: {"code":"invalid",...,"line":3,...}`). Both are read.
fn server_status(msg: &str) -> Option<(String, Option<usize>)> {
    let body = msg.strip_prefix("Could not flush buffer: ").unwrap_or(msg);
    if body.starts_with('{')
        && let Ok(json) = serde_json::from_str::<serde_json::Value>(body)
    {
        let code = json.get("code")?.as_str()?.to_owned();
        let line = json
            .get("line")
            .and_then(serde_json::Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n > 0);
        return Some((code, line));
    }
    let tail = msg.strip_suffix(']')?;
    let (_, details) = tail.rsplit_once(" [")?;
    let mut code = None;
    let mut line = None;
    for part in details.split(", ") {
        if let Some(c) = part.strip_prefix("code: ") {
            code = Some(c.to_owned());
        } else if let Some(n) = part.strip_prefix("line: ") {
            line = n.parse().ok().filter(|&n| n > 0);
        }
    }
    Some((code?, line))
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

/// A client configuration questdb-rs refuses, with the values of secret keys of `conf` masked
/// in case its message quotes them.
pub(crate) fn config(conf: &str, e: &questdb::Error) -> Error {
    Error::config(NAME, redact_values(conf, e.msg()))
}

/// `msg` with every value of a secret key of `conf` replaced by `***`.
pub(crate) fn redact_values(conf: &str, msg: &str) -> String {
    let params = conf.split_once("::").map_or(conf, |(_, p)| p);
    let mut out = msg.to_owned();
    for kv in params.split(';') {
        if let Some((k, v)) = kv.split_once('=')
            && super::SECRET_KEYS.contains(&k.trim())
            && !v.trim().is_empty()
        {
            out = out.replace(v.trim(), "***");
        }
    }
    out
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
        assert_eq!(classify_ilp(&auth), IlpFailure::Batch);
    }

    #[test]
    fn refusals_name_the_line_when_questdb_does() {
        let parse = questdb::Error::new(
            ErrorCode::ServerFlushError,
            "Could not flush buffer: failed to parse line protocol:errors encountered on line(s):\nerror in line 3: bad [id: x-1, code: invalid, line: 3]",
        );
        assert_eq!(
            classify_ilp(&parse),
            IlpFailure::Rows {
                line: Some(3),
                internal: false
            }
        );
        let append = questdb::Error::new(
            ErrorCode::ServerFlushError,
            "Could not flush buffer: write error: t, errno: 0, error: timestamp too large [id: x-2, code: internal error, line: 7]",
        );
        assert_eq!(
            classify_ilp(&append),
            IlpFailure::Rows {
                line: Some(7),
                internal: true
            }
        );
        // A commit failure names no line: the server may be fine on the next attempt.
        let commit = questdb::Error::new(
            ErrorCode::ServerFlushError,
            "Could not flush buffer: commit error for table: t [id: x-3, code: internal error]",
        );
        assert_eq!(classify_ilp(&commit), IlpFailure::Transient);
        let too_large = questdb::Error::new(
            ErrorCode::ServerFlushError,
            "Could not flush buffer: unable to read data [id: x-4, code: request too large, line: 1]",
        );
        assert!(matches!(classify_ilp(&too_large), IlpFailure::Rows { .. }));
        let unauthorised = questdb::Error::new(
            ErrorCode::ServerFlushError,
            "Could not flush buffer: denied [id: x-5, code: unauthorised]",
        );
        assert_eq!(classify_ilp(&unauthorised), IlpFailure::Batch);
        // A message whose text mentions a code without the bracket is not trusted.
        assert_eq!(server_status("value: code: invalid, line: 4"), None);
        assert_eq!(
            server_status("x [code: invalid, line: 0]"),
            Some(("invalid".to_owned(), None))
        );
    }

    /// QuestDB 9.3 answers with `application/json; charset=utf-8`, which questdb-rs does not
    /// recognise as JSON: the raw body must be read (it was classified as transient and retried
    /// for ever).
    #[test]
    fn raw_json_bodies_are_read() {
        let raw = questdb::Error::new(
            ErrorCode::ServerFlushError,
            r#"Could not flush buffer: {"code":"invalid","message":"failed to parse line protocol:errors encountered on line(s):\nerror in line 51: cast error","line":51,"errorId":"ff5d-39"}"#,
        );
        assert_eq!(
            classify_ilp(&raw),
            IlpFailure::Rows {
                line: Some(51),
                internal: false
            }
        );
        let internal = questdb::Error::new(
            ErrorCode::ServerFlushError,
            r#"Could not flush buffer: {"code":"internal error","message":"write error","line":2,"errorId":"e"}"#,
        );
        assert_eq!(
            classify_ilp(&internal),
            IlpFailure::Rows {
                line: Some(2),
                internal: true
            }
        );
        let commit = questdb::Error::new(
            ErrorCode::ServerFlushError,
            r#"Could not flush buffer: {"code":"internal error","message":"commit error","errorId":"e"}"#,
        );
        assert_eq!(classify_ilp(&commit), IlpFailure::Transient);
    }

    #[test]
    fn secret_values_are_masked_in_config_messages() {
        let conf = "http::addr=h:9000;username=u;password=hunter2;token=tok3n;";
        assert_eq!(
            redact_values(conf, "bad password hunter2 and token tok3n for u"),
            "bad password *** and token *** for u"
        );
    }
}

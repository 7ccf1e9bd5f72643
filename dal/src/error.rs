//! The one error type of dal: categories, not backends.
//!
//! Every backend maps its private driver errors into these categories so that callers (and the
//! retry policy) can act on *what* went wrong without knowing *where*. Each error knows whether it
//! is transient: retrying the same operation later may succeed.

use std::fmt;

/// A boxed driver error carried inside [`Error::Backend`] and friends.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`Error`] as the error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in dal.
///
/// The enum is `#[non_exhaustive]`: match on the categories you act on and keep a `_` arm.
/// Messages never contain secrets (connection passwords are redacted before they reach here).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A record that the operation requires does not exist.
    #[error("{entity}: no record with key {key}")]
    NotFound {
        /// Entity name.
        entity: &'static str,
        /// The key, rendered for humans.
        key: String,
    },

    /// The store refused the write because it conflicts with stored data or with a concurrent
    /// transaction (unique violation, serialization failure, deadlock).
    #[error("{entity}: conflict: {message}")]
    Conflict {
        /// Entity name (or `"*"` when not known).
        entity: &'static str,
        /// What conflicted.
        message: String,
        /// Whether retrying the whole operation may succeed (serialization failures, deadlocks).
        transient: bool,
    },

    /// The backend cannot do this (a capability it does not declare).
    #[error("{backend} does not support {operation}")]
    Unsupported {
        /// Backend name.
        backend: &'static str,
        /// The operation or feature that is missing.
        operation: String,
    },

    /// A value could not be converted between Rust and the store's representation.
    #[error("{entity}.{field}: {message}")]
    Codec {
        /// Entity name.
        entity: &'static str,
        /// Field (Rust name) that failed, or the column when no field matches.
        field: &'static str,
        /// What was wrong with the value.
        message: String,
    },

    /// The input was rejected before it reached the store.
    #[error("{entity}{}: invalid input: {message}", field.map(|f| format!(".{f}")).unwrap_or_default())]
    Validation {
        /// Entity name.
        entity: &'static str,
        /// The offending field, when there is one.
        field: Option<&'static str>,
        /// What is wrong and what to do instead.
        message: String,
    },

    /// The store could not be reached or the connection was lost. Always transient.
    #[error("{backend} unavailable: {source}")]
    Unavailable {
        /// Backend name.
        backend: &'static str,
        /// The driver error.
        #[source]
        source: BoxError,
    },

    /// The operation did not finish in time. Always transient.
    #[error("{backend}: {operation} timed out")]
    Timeout {
        /// Backend name.
        backend: &'static str,
        /// The operation that timed out.
        operation: String,
    },

    /// The connection was lost after a commit (or a single-statement write) was sent and before
    /// its reply arrived: the writes may or may not have been applied.
    ///
    /// Not transient: the retry policy does not repeat the operation, because a blind retry of a
    /// non-idempotent write (an id-less append, an increment) may apply it twice. Retry advice:
    /// an upsert by key (`save`, `put`) or an append deduplicated by (ids, timestamp) is safe to
    /// repeat as is; anything else should first read back whether its effect is there (for example
    /// by a key or an idempotency token written in the same transaction).
    #[error(
        "{backend}: outcome of {operation} unknown, the connection was lost before the reply: {source}"
    )]
    OutcomeUnknown {
        /// Backend name.
        backend: &'static str,
        /// The operation whose outcome is unknown (`"commit"`, ...).
        operation: String,
        /// The driver error.
        #[source]
        source: BoxError,
    },

    /// The backend's configuration cannot work (a malformed URL or client config, a password
    /// without a user name, a missing environment variable). Never transient: fix the
    /// configuration.
    #[error("{backend}: invalid configuration: {message}")]
    Config {
        /// Backend name.
        backend: &'static str,
        /// What is wrong and what to write instead (never a secret).
        message: String,
    },

    /// Any other store error, classified by the backend.
    #[error("{backend}: {source}")]
    Backend {
        /// Backend name.
        backend: &'static str,
        /// Whether retrying may succeed.
        transient: bool,
        /// The driver error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// Whether retrying the same operation later may succeed.
    ///
    /// Unavailable and Timeout are always transient; Conflict and Backend carry their own
    /// classification; NotFound, Unsupported, Codec, Validation, OutcomeUnknown and Config never
    /// are.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unavailable { .. } | Error::Timeout { .. } => true,
            Error::Conflict { transient, .. } | Error::Backend { transient, .. } => *transient,
            Error::NotFound { .. }
            | Error::Unsupported { .. }
            | Error::Codec { .. }
            | Error::Validation { .. }
            | Error::OutcomeUnknown { .. }
            | Error::Config { .. } => false,
        }
    }

    /// A codec error for one field of an entity.
    pub fn codec(field: &crate::FieldMeta, message: impl fmt::Display) -> Self {
        Error::Codec {
            entity: field.entity,
            field: field.name,
            message: message.to_string(),
        }
    }

    /// A validation error for one field of an entity.
    pub fn invalid_field(field: &crate::FieldMeta, message: impl fmt::Display) -> Self {
        Error::Validation {
            entity: field.entity,
            field: Some(field.name),
            message: message.to_string(),
        }
    }

    /// A validation error for an entity as a whole.
    pub fn invalid(entity: &'static str, message: impl fmt::Display) -> Self {
        Error::Validation {
            entity,
            field: None,
            message: message.to_string(),
        }
    }

    /// A transient or permanent error from a backend's driver.
    pub fn backend(backend: &'static str, transient: bool, source: impl Into<BoxError>) -> Self {
        Error::Backend {
            backend,
            transient,
            source: source.into(),
        }
    }

    /// The store could not be reached.
    pub fn unavailable(backend: &'static str, source: impl Into<BoxError>) -> Self {
        Error::Unavailable {
            backend,
            source: source.into(),
        }
    }

    /// The outcome of a write is unknown (see [`Error::OutcomeUnknown`]).
    pub fn outcome_unknown(
        backend: &'static str,
        operation: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::OutcomeUnknown {
            backend,
            operation: operation.into(),
            source: source.into(),
        }
    }

    /// The backend's configuration cannot work.
    pub fn config(backend: &'static str, message: impl Into<String>) -> Self {
        Error::Config {
            backend,
            message: message.into(),
        }
    }

    /// The backend does not support an operation.
    pub fn unsupported(backend: &'static str, operation: impl Into<String>) -> Self {
        Error::Unsupported {
            backend,
            operation: operation.into(),
        }
    }
}

/// Removes the password from a connection URL so it can be shown in Debug output and logs.
///
/// `postgres://user:secret@host/db` becomes `postgres://user:***@host/db`. Query parameters named
/// `password` or `pass` are redacted too. Strings that are not URLs are returned unchanged.
pub fn redact_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    match head.split_once("://") {
        Some((scheme, rest)) => {
            out.push_str(scheme);
            out.push_str("://");
            // The authority ends at the first '/' after the scheme; the userinfo at its last '@'.
            let (authority, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    match userinfo.split_once(':') {
                        Some((user, _password)) => {
                            out.push_str(user);
                            out.push_str(":***");
                        }
                        None => out.push_str(userinfo),
                    }
                    out.push('@');
                    out.push_str(host);
                }
                None => out.push_str(authority),
            }
            out.push_str(path);
        }
        None => out.push_str(head),
    }
    if let Some(query) = query {
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((k, _))
                    if k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("pass") =>
                {
                    out.push_str(k);
                    out.push_str("=***");
                }
                _ => out.push_str(pair),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password_in_userinfo_and_query() {
        assert_eq!(
            redact_url("postgres://admin:quest@127.0.0.1:8812/qdb"),
            "postgres://admin:***@127.0.0.1:8812/qdb"
        );
        assert_eq!(
            redact_url("redis://:s3cr%40t@localhost:6379/0"),
            "redis://:***@localhost:6379/0"
        );
        assert_eq!(
            redact_url("postgres://u@h/db?sslmode=disable&password=hunter2"),
            "postgres://u@h/db?sslmode=disable&password=***"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(redact_url("http::addr=x:9000;"), "http::addr=x:9000;");
    }

    #[test]
    fn transient_classification() {
        assert!(Error::unavailable("x", "down").is_transient());
        assert!(!Error::invalid("E", "bad").is_transient());
        assert!(Error::backend("x", true, "t").is_transient());
        assert!(!Error::backend("x", false, "p").is_transient());
    }
}

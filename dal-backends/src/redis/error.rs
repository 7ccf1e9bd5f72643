//! Mapping redis-crate errors into `dal::Error` categories.
//!
//! The retry policy acts on these categories, so the split matters: anything that means "the
//! server could not be reached or the connection broke" is [`Error::Unavailable`], a response
//! that did not come in time is [`Error::Timeout`], server states that pass by themselves
//! (loading a dataset, a failover in progress) are transient [`Error::Backend`], and everything
//! else (WRONGTYPE, syntax, authentication, out of memory) is a permanent [`Error::Backend`].

use ::redis::{ErrorKind, RedisError, ServerErrorKind};
use dal::Error;

use super::NAME;

/// Maps a driver error raised while running `operation` (a command name such as `"GET"`).
pub(crate) fn from_redis(e: RedisError, operation: &str) -> Error {
    if e.is_timeout() {
        return Error::Timeout {
            backend: NAME,
            operation: operation.to_owned(),
        };
    }
    if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
        return Error::unavailable(NAME, e);
    }
    let transient = match e.kind() {
        ErrorKind::Server(kind) => matches!(
            kind,
            ServerErrorKind::BusyLoading
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::MasterDown
                | ServerErrorKind::ReadOnly
        ),
        // The connection manager could not find a live connection to a cluster node.
        ErrorKind::ClusterConnectionNotFound => true,
        _ => false,
    };
    Error::backend(NAME, transient, e)
}

/// A reply that does not have the shape the command promises (a bug or a foreign server).
pub(crate) fn unexpected_reply(operation: &str, what: impl std::fmt::Display) -> Error {
    Error::backend(
        NAME,
        false,
        format!("unexpected reply to {operation}: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_failures_are_transient_and_server_errors_permanent() {
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let e = from_redis(refused, "GET");
        assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
        assert!(e.is_transient());

        let broken = RedisError::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(matches!(
            from_redis(broken, "SET"),
            Error::Unavailable { .. }
        ));

        let timed_out = RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        let e = from_redis(timed_out, "MGET");
        assert!(
            matches!(e, Error::Timeout { ref operation, .. } if operation == "MGET"),
            "{e:?}"
        );
        assert!(e.is_transient());

        let client = RedisError::from((ErrorKind::Client, "bad argument"));
        let e = from_redis(client, "SET");
        assert!(
            matches!(
                e,
                Error::Backend {
                    transient: false,
                    ..
                }
            ),
            "{e:?}"
        );
    }
}

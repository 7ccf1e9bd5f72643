//! The Redis backend: a TTL cache and keyed records for every `#[derive(Entity)]` type, plus
//! event streams and pub/sub, on the `redis` crate.
//!
//! [`Redis`] is a cheap `Clone` handle over one or more multiplexed connections, each wrapped
//! in a [`ConnectionManager`] that reconnects by itself: when the server goes away, operations
//! fail with transient errors ([`dal::Error::Unavailable`] / [`dal::Error::Timeout`]) and succeed
//! again once it is back, without rebuilding the handle.
//!
//! - Keys are `[namespace:]` + the entity's derived key ([`dal::key::encode_key`]): injective,
//!   and ids can never form a `{hash tag}`. Values use the binary row format of [`codec`]; a
//!   value written by another entity or schema is a typed [`dal::Error::Codec`].
//! - [`dal::CacheStore`] (`Repository<T, Redis>`): `SET key value PX ms` writes value and TTL
//!   in one command; lookups are `GET` / `MGET`; batches are pipelined.
//! - [`dal::RecordStore`]: the same keys without TTL; `list` walks `SCAN MATCH` (never `KEYS`).
//! - [`RedisStream`]: `XADD MAXLEN ~ N`, consumer groups, blocking reads, acks and reclaiming of
//!   stale pending entries. [`RedisChannel`]: fire-and-forget pub/sub.
//!
//! ```no_run
//! use dal::{CacheStore, Repository};
//! use dal_backends::redis::Redis;
//! # #[derive(Clone, dal::Entity)]
//! # #[entity(redis(key = "price:{token}", ttl = "2s"))]
//! # struct Price { #[entity(id)] token: String, usd: f64 }
//! # async fn demo() -> dal::Result<()> {
//! let redis = Redis::from_env().await?; // REDIS_URL
//! let prices: Repository<Price, Redis> = Repository::new(redis);
//! prices.put(&Price { token: "SOL".into(), usd: 151.2 }).await?; // default TTL 2 s
//! let hit = prices.lookup(&"SOL".to_string()).await?;
//! # Ok(()) }
//! ```

pub mod codec;
mod error;
pub mod pubsub;
mod store;
pub mod stream;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use dal::{Error, Keyed, Limits, Result};

pub use pubsub::{RedisChannel, Subscription};
pub use stream::{Reclaimed, RedisStream, StreamConsumer, StreamEntry};

/// The `redis` crate this backend is built on, for commands dal does not wrap (see
/// [`Redis::connection`]).
pub use ::redis as driver;

/// Backend name used in errors, logs and spans.
pub const NAME: &str = "redis";

/// Default [`RedisOptions::max_value_bytes`]: 16 MiB.
///
/// Redis accepts strings up to 512 MiB (`proto-max-bulk-len`), but a cache entry anywhere near
/// that size blocks the single-threaded server for milliseconds on every read; values above this
/// limit are almost always a mistake, so they are refused before they are sent. Raise it with
/// [`RedisOptions::with_max_value_bytes`] up to [`REDIS_MAX_VALUE_BYTES`].
pub const DEFAULT_MAX_VALUE_BYTES: usize = 16 * 1024 * 1024;

/// The largest string value Redis stores (its default `proto-max-bulk-len`).
pub const REDIS_MAX_VALUE_BYTES: usize = 512 * 1024 * 1024;

/// Default stream length bound for [`RedisStream::publish`] (`XADD MAXLEN ~ 10000`).
pub const DEFAULT_MAX_STREAM_LEN: usize = 10_000;

/// Settings of a [`Redis`] handle. Start from [`RedisOptions::default`] and chain `with_*`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RedisOptions {
    /// Prefix of every key, stream and channel (`ns:price:SOL`), so several applications or test
    /// cases can share one server. Letters, digits, `_`, `-` and `.` only. Default: none.
    pub namespace: Option<String>,
    /// Largest encoded value accepted; larger values are a [`dal::Error::Validation`] before
    /// anything is sent. Default [`DEFAULT_MAX_VALUE_BYTES`].
    pub max_value_bytes: usize,
    /// How long one command may wait for its reply before it fails with
    /// [`dal::Error::Timeout`]. Default 1 s.
    pub response_timeout: Duration,
    /// How long one connection attempt may take. Default 1 s.
    pub connection_timeout: Duration,
    /// Reconnection attempts (with jittered exponential backoff from 20 ms, at most 500 ms
    /// apart) before an operation on a lost connection fails; the next operation tries again.
    /// Default 2.
    pub reconnect_attempts: usize,
    /// Multiplexed connections the handle spreads commands over, round robin. Default 1: one
    /// connection pipelines concurrent commands by itself (see the crate's benchmark for when
    /// more help).
    pub connections: usize,
    /// Default `MAXLEN ~` bound of streams. Default [`DEFAULT_MAX_STREAM_LEN`].
    pub max_stream_len: usize,
    /// `COUNT` hint of each `SCAN` step in `list`. Default 1,000.
    pub scan_count: usize,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            namespace: None,
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
            response_timeout: Duration::from_secs(1),
            connection_timeout: Duration::from_secs(1),
            reconnect_attempts: 2,
            connections: 1,
            max_stream_len: DEFAULT_MAX_STREAM_LEN,
            scan_count: 1_000,
        }
    }
}

impl RedisOptions {
    /// Sets [`RedisOptions::namespace`].
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }
    /// Sets [`RedisOptions::max_value_bytes`].
    pub fn with_max_value_bytes(mut self, bytes: usize) -> Self {
        self.max_value_bytes = bytes;
        self
    }
    /// Sets [`RedisOptions::response_timeout`].
    pub fn with_response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }
    /// Sets [`RedisOptions::connection_timeout`].
    pub fn with_connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }
    /// Sets [`RedisOptions::reconnect_attempts`].
    pub fn with_reconnect_attempts(mut self, attempts: usize) -> Self {
        self.reconnect_attempts = attempts;
        self
    }
    /// Sets [`RedisOptions::connections`].
    pub fn with_connections(mut self, connections: usize) -> Self {
        self.connections = connections;
        self
    }
    /// Sets [`RedisOptions::max_stream_len`].
    pub fn with_max_stream_len(mut self, len: usize) -> Self {
        self.max_stream_len = len;
        self
    }
    /// Sets [`RedisOptions::scan_count`].
    pub fn with_scan_count(mut self, count: usize) -> Self {
        self.scan_count = count;
        self
    }

    fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::invalid("RedisOptions", what));
        if let Some(ns) = &self.namespace {
            check_namespace(ns)?;
        }
        if self.max_value_bytes == 0 || self.max_value_bytes > REDIS_MAX_VALUE_BYTES {
            return bad(format!(
                "max_value_bytes {} is outside 1..={REDIS_MAX_VALUE_BYTES}",
                self.max_value_bytes
            ));
        }
        if !(1..=64).contains(&self.connections) {
            return bad(format!(
                "connections {} is outside 1..=64",
                self.connections
            ));
        }
        if self.max_stream_len == 0 {
            return bad("max_stream_len must be at least 1".into());
        }
        if self.scan_count == 0 {
            return bad("scan_count must be at least 1".into());
        }
        if self.response_timeout.is_zero() || self.connection_timeout.is_zero() {
            return bad("timeouts must be positive".into());
        }
        Ok(())
    }
}

fn check_namespace(ns: &str) -> Result<()> {
    let ok = !ns.is_empty()
        && ns.len() <= 128
        && ns
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        // A ':' or glob character in a namespace would let two namespaces overlap.
        Err(Error::invalid(
            "RedisOptions",
            format!(
                "namespace {ns:?} must be 1..=128 letters, digits, '_', '-' or '.' \
                 (no ':' or glob characters, so namespaces never overlap)"
            ),
        ))
    }
}

/// A Redis backend handle: cheap to clone, shared connections inside.
///
/// Serves [`dal::CacheStore`] and [`dal::RecordStore`] through `Repository<T, Redis>` for every
/// entity with `#[entity(id)]` fields, and is the connection behind [`RedisStream`] and
/// [`RedisChannel`]. Its `Debug` output shows the URL with the password redacted.
#[derive(Clone)]
pub struct Redis {
    shared: Arc<Shared>,
    /// `"ns:"`, or empty without a namespace. Per handle, so [`Redis::namespaced`] is cheap.
    prefix: Arc<str>,
}

struct Shared {
    client: ::redis::Client,
    connections: Box<[ConnectionManager]>,
    next: AtomicUsize,
    options: RedisOptions,
    /// What a value can hold under these options (see [`codec`]): checked on every write.
    limits: Limits,
    /// The URL with its password redacted: the only form ever shown.
    url: String,
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("url", &self.shared.url)
            .field("namespace", &self.namespace())
            .field("connections", &self.shared.connections.len())
            .finish()
    }
}

impl Redis {
    /// Connects to `url` (`redis://[:password@]host[:port][/db]`) with default options.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the server cannot be reached; a permanent
    /// [`Error::Backend`] when the URL is malformed or authentication fails.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, RedisOptions::default()).await
    }

    /// Connects to `url` with `options`.
    ///
    /// # Errors
    /// As [`Redis::connect`], and [`Error::Validation`] for invalid options.
    pub async fn connect_with(url: &str, options: RedisOptions) -> Result<Self> {
        let (client, redacted) = open_client(url, &options)?;
        let mut connections = Vec::with_capacity(options.connections);
        for _ in 0..options.connections {
            connections.push(new_manager(&client, &options, Some(options.response_timeout)).await?);
        }
        tracing::debug!(url = %redacted, connections = options.connections, "redis connected");
        Ok(Self::from_parts(client, connections, options, redacted))
    }

    /// A handle that connects on first use instead of now, so an application can start while
    /// Redis is down: until it is reachable, operations fail with transient errors. Must be
    /// called within a Tokio runtime.
    ///
    /// # Errors
    /// A permanent [`Error::Backend`] when the URL is malformed; [`Error::Validation`] for
    /// invalid options.
    pub fn connect_lazy(url: &str, options: RedisOptions) -> Result<Self> {
        let (client, redacted) = open_client(url, &options)?;
        let mut connections = Vec::with_capacity(options.connections);
        for _ in 0..options.connections {
            let config = manager_config(&options, Some(options.response_timeout));
            let manager = ConnectionManager::new_lazy_with_config(client.clone(), config)
                .map_err(|e| error::from_redis(e, "connect"))?;
            connections.push(manager);
        }
        Ok(Self::from_parts(client, connections, options, redacted))
    }

    fn from_parts(
        client: ::redis::Client,
        connections: Vec<ConnectionManager>,
        options: RedisOptions,
        url: String,
    ) -> Self {
        let prefix = prefix_for(options.namespace.as_deref());
        let limits = limits_for(&options);
        Redis {
            shared: Arc::new(Shared {
                client,
                connections: connections.into_boxed_slice(),
                next: AtomicUsize::new(0),
                options,
                limits,
                url,
            }),
            prefix,
        }
    }

    /// Connects to `REDIS_URL` with default options.
    ///
    /// # Errors
    /// A permanent [`Error::Backend`] when `REDIS_URL` is not set; otherwise as
    /// [`Redis::connect`].
    pub async fn from_env() -> Result<Self> {
        Self::from_env_with(RedisOptions::default()).await
    }

    /// Connects to `REDIS_URL` with `options`.
    ///
    /// # Errors
    /// As [`Redis::from_env`].
    pub async fn from_env_with(options: RedisOptions) -> Result<Self> {
        match std::env::var("REDIS_URL") {
            Ok(url) if !url.is_empty() => Self::connect_with(&url, options).await,
            _ => Err(Error::backend(
                NAME,
                false,
                "REDIS_URL is not set (expected redis://host:port)",
            )),
        }
    }

    /// A handle on the same connections whose keys, streams and channels live under
    /// `namespace` instead (it replaces this handle's namespace, it does not nest).
    ///
    /// # Errors
    /// [`Error::Validation`] when the namespace has characters other than letters, digits,
    /// `_`, `-` and `.`.
    pub fn namespaced(&self, namespace: &str) -> Result<Self> {
        check_namespace(namespace)?;
        Ok(Redis {
            shared: Arc::clone(&self.shared),
            prefix: prefix_for(Some(namespace)),
        })
    }

    /// This handle's namespace, if any.
    pub fn namespace(&self) -> Option<&str> {
        self.prefix.strip_suffix(':')
    }

    /// The options the handle was built with (the namespace there is the original one; see
    /// [`Redis::namespace`] for this handle's).
    pub fn options(&self) -> &RedisOptions {
        &self.shared.options
    }

    /// The values this handle stores unchanged ([`dal::Capabilities::limits`]): every value of
    /// every field type, except text longer than one value of
    /// [`RedisOptions::max_value_bytes`] can carry.
    pub(crate) fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    /// The full Redis key under which an entity with this key is stored (namespace included).
    ///
    /// # Errors
    /// [`Error::Validation`] when a key part cannot be rendered (see [`dal::key::encode_key`]).
    pub fn key_for<T: Keyed>(&self, key: &T::Key) -> Result<String> {
        let mut out = String::with_capacity(self.prefix.len() + 48);
        self.write_key::<T>(key, &mut out)?;
        Ok(out)
    }

    /// Replaces the content of `out` with the full key (batches reuse one buffer).
    pub(crate) fn write_key<T: Keyed>(&self, key: &T::Key, out: &mut String) -> Result<()> {
        out.clear();
        out.push_str(&self.prefix);
        dal::key::encode_key::<T>(key, out)
    }

    /// One of the handle's shared connections, for commands dal does not wrap. It reconnects
    /// by itself like the handle does. Do not issue blocking commands (`BLPOP`, `XREAD BLOCK`)
    /// on it: they would stall every other command sharing the connection.
    pub fn connection(&self) -> ConnectionManager {
        let conns = &self.shared.connections;
        if conns.len() == 1 {
            return conns[0].clone();
        }
        let i = self.shared.next.fetch_add(1, Ordering::Relaxed) % conns.len();
        conns[i].clone()
    }

    /// A new connection of its own, for blocking commands. Its commands have no response timeout
    /// (callers bound them themselves); it reconnects like the shared ones.
    pub(crate) async fn dedicated_connection(&self) -> Result<ConnectionManager> {
        new_manager(&self.shared.client, &self.shared.options, None).await
    }

    /// The client, for connections of another kind (pub/sub).
    pub(crate) fn client(&self) -> &::redis::Client {
        &self.shared.client
    }

    /// `name` under this handle's namespace (streams, channels).
    pub(crate) fn prefixed(&self, name: &str) -> String {
        let mut out = String::with_capacity(self.prefix.len() + name.len());
        out.push_str(&self.prefix);
        out.push_str(name);
        out
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// The codec holds every value of every type (see [`codec`]); only the value size bounds text.
fn limits_for(options: &RedisOptions) -> Limits {
    let mut limits = Limits::NONE;
    limits.text_max_bytes = Some(codec::max_text_bytes(options.max_value_bytes));
    limits
}

fn prefix_for(namespace: Option<&str>) -> Arc<str> {
    match namespace {
        Some(ns) => format!("{ns}:").into(),
        None => "".into(),
    }
}

/// Validates the options and parses the URL; returns the client and the redacted URL.
fn open_client(url: &str, options: &RedisOptions) -> Result<(::redis::Client, String)> {
    options.validate()?;
    let redacted = dal::error::redact_url(url);
    let client = ::redis::Client::open(url)
        .map_err(|e| Error::backend(NAME, false, format!("invalid Redis URL {redacted}: {e}")))?;
    Ok((client, redacted))
}

fn manager_config(
    options: &RedisOptions,
    response_timeout: Option<Duration>,
) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_response_timeout(response_timeout)
        .set_connection_timeout(Some(options.connection_timeout))
        .set_number_of_retries(options.reconnect_attempts)
        .set_min_delay(Duration::from_millis(20))
        .set_max_delay(Duration::from_millis(500))
}

async fn new_manager(
    client: &::redis::Client,
    options: &RedisOptions,
    response_timeout: Option<Duration>,
) -> Result<ConnectionManager> {
    ConnectionManager::new_with_config(client.clone(), manager_config(options, response_timeout))
        .await
        .map_err(|e| error::from_redis(e, "connect"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_validated() {
        assert!(RedisOptions::default().validate().is_ok());
        assert!(
            RedisOptions::default()
                .with_namespace("t_1-a.b")
                .validate()
                .is_ok()
        );
        for ns in ["", "a:b", "a*", "{x}", "sp ace", "ü"] {
            assert!(
                RedisOptions::default()
                    .with_namespace(ns)
                    .validate()
                    .is_err(),
                "{ns:?}"
            );
        }
        assert!(
            RedisOptions::default()
                .with_max_value_bytes(0)
                .validate()
                .is_err()
        );
        assert!(
            RedisOptions::default()
                .with_max_value_bytes(REDIS_MAX_VALUE_BYTES + 1)
                .validate()
                .is_err()
        );
        assert!(
            RedisOptions::default()
                .with_connections(0)
                .validate()
                .is_err()
        );
        assert!(
            RedisOptions::default()
                .with_max_stream_len(0)
                .validate()
                .is_err()
        );
    }
}

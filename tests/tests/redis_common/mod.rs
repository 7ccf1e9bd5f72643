//! Shared pieces of the Redis integration tests: test entities, a handle per test in its own
//! namespace, and cleanup of that namespace.

#![allow(dead_code)] // each test binary uses a different subset

use chrono::{DateTime, Utc};
use dal::Entity;
use dal_backends::redis::driver::AsyncCommands;
use dal_backends::redis::{Redis, RedisOptions};

/// A cached price with a 2 s default TTL.
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(redis(key = "price:{token}", ttl = "2s"))]
pub(crate) struct Price {
    #[entity(id)]
    pub(crate) token: String,
    pub(crate) usd: f64,
    pub(crate) at: DateTime<Utc>,
    pub(crate) note: Option<String>,
}

/// The same key shape as [`Price`], another entity: its values must never decode as a Price.
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(redis(key = "price:{token}"))]
pub(crate) struct Impostor {
    #[entity(id)]
    pub(crate) token: String,
    pub(crate) text: String,
}

/// A composite key whose parts may hold separators.
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(redis(key = "pool:{chain}:{address}"))]
pub(crate) struct Pool {
    #[entity(id)]
    pub(crate) chain: String,
    #[entity(id)]
    pub(crate) address: String,
    pub(crate) reserve: i64,
}

/// A payload of any size.
#[derive(Debug, Clone, PartialEq, Entity)]
pub(crate) struct Blob {
    #[entity(id)]
    pub(crate) id: i64,
    pub(crate) data: Vec<u8>,
}

pub(crate) fn price(token: &str, usd: f64) -> Price {
    Price {
        token: token.to_owned(),
        usd,
        at: DateTime::from_timestamp(1_700_000_000, 123_456_789).expect("valid timestamp"),
        note: Some(format!("note for {token}")),
    }
}

/// A handle in a fresh namespace, or `None` (test skipped) without `REDIS_URL`.
pub(crate) async fn redis(prefix: &str) -> Option<Redis> {
    redis_with(prefix, RedisOptions::default()).await
}

/// As [`redis`], with options (the namespace is set here).
pub(crate) async fn redis_with(prefix: &str, options: RedisOptions) -> Option<Redis> {
    let url = dal_tests::store_url("REDIS_URL")?;
    let ns = dal_tests::unique_namespace(prefix);
    Some(
        Redis::connect_with(&url, options.with_namespace(ns))
            .await
            .expect("connect to REDIS_URL"),
    )
}

/// Every key under the handle's namespace.
pub(crate) async fn namespace_keys(redis: &Redis) -> Vec<String> {
    let ns = redis.namespace().expect("test handles have a namespace");
    let mut conn = redis.connection();
    let mut keys: Vec<String> = Vec::new();
    let mut iter = conn
        .scan_match::<_, String>(format!("{ns}:*"))
        .await
        .expect("SCAN");
    while let Some(k) = iter.next_item().await {
        keys.push(k.expect("key"));
    }
    keys.sort();
    keys
}

/// Deletes every key under the handle's namespace (also the "flush" of the fault tests).
pub(crate) async fn clear_namespace(redis: &Redis) {
    let keys = namespace_keys(redis).await;
    if keys.is_empty() {
        return;
    }
    let mut conn = redis.connection();
    let _: u64 = conn.del(keys).await.expect("DEL");
}

/// A template that names its ids out of declaration order.
#[derive(Debug, Clone, PartialEq, Entity)]
#[entity(redis(key = "rev:{second}:{first}"))]
pub(crate) struct Reversed {
    #[entity(id)]
    pub(crate) first: String,
    #[entity(id)]
    pub(crate) second: i64,
    pub(crate) note: String,
}

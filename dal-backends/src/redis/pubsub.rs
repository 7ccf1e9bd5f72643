//! Fire-and-forget notifications of entities over Redis pub/sub.
//!
//! A [`RedisChannel`] publishes encoded entities (`PUBLISH`); a [`Subscription`] receives them on a
//! connection of its own. Pub/sub keeps nothing: a message published while nobody listens, or
//! while a subscriber is reconnecting, is gone. Use [`super::RedisStream`] for events that must
//! not be lost; use this for "something changed, refresh if you care".
//!
//! ```no_run
//! use dal_backends::redis::{Redis, RedisChannel};
//! # #[derive(Clone, dal::Entity)]
//! # struct Tick { #[entity(id)] token: String, usd: f64 }
//! # async fn demo(redis: Redis) -> dal::Result<()> {
//! let ticks: RedisChannel<Tick> = RedisChannel::new(&redis, "ticks");
//! let mut sub = ticks.subscribe().await?;
//! ticks.publish(&Tick { token: "SOL".into(), usd: 150.0 }).await?;
//! if let Some(tick) = sub.next().await {
//!     println!("{}", tick?.usd);
//! }
//! # Ok(()) }
//! ```

use std::marker::PhantomData;

use ::redis::aio::PubSubStream;
use dal::entity::Entity;
use dal::{Error, Result};
use futures_util::StreamExt;

use super::codec::{Origin, decode_from};
use super::error::from_redis;
use super::{NAME, Redis};

/// A pub/sub channel of entities `T`, under the handle's namespace. Cheap to clone.
pub struct RedisChannel<T> {
    redis: Redis,
    name: String,
    _entity: PhantomData<fn() -> T>,
}

impl<T> Clone for RedisChannel<T> {
    fn clone(&self) -> Self {
        RedisChannel {
            redis: self.redis.clone(),
            name: self.name.clone(),
            _entity: PhantomData,
        }
    }
}

impl<T: Entity> std::fmt::Debug for RedisChannel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisChannel")
            .field("entity", &T::META.name)
            .field("name", &self.name)
            .finish()
    }
}

impl<T: Entity> RedisChannel<T> {
    /// The channel `name` under the handle's namespace.
    pub fn new(redis: &Redis, name: &str) -> Self {
        RedisChannel {
            redis: redis.clone(),
            name: redis.prefixed(name),
            _entity: PhantomData,
        }
    }

    /// The full channel name (namespace included).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends `entity` to current subscribers; returns how many received it.
    ///
    /// # Errors
    /// [`Error::Validation`] for a value over the size limit (nothing is sent); transient errors
    /// when Redis is unreachable.
    pub async fn publish(&self, entity: &T) -> Result<u64> {
        let mut cmd = ::redis::cmd("PUBLISH");
        cmd.arg(&self.name);
        self.redis.with_encoded(entity, |bytes| {
            cmd.arg(bytes);
        })?;
        let mut conn = self.redis.connection();
        cmd.query_async(&mut conn)
            .await
            .map_err(|e| from_redis(e, "PUBLISH"))
    }

    /// Subscribes on a new connection; messages published after this returns are received.
    ///
    /// # Errors
    /// Transient errors when Redis is unreachable (or does not answer within the connection
    /// timeout).
    pub async fn subscribe(&self) -> Result<Subscription<T>> {
        let timeout = self.redis.options().connection_timeout;
        let subscribe = async {
            let mut pubsub = self
                .redis
                .client()
                .get_async_pubsub()
                .await
                .map_err(|e| from_redis(e, "connect"))?;
            pubsub
                .subscribe(&self.name)
                .await
                .map_err(|e| from_redis(e, "SUBSCRIBE"))?;
            Ok::<_, Error>(pubsub.into_on_message())
        };
        let messages = tokio::time::timeout(timeout, subscribe)
            .await
            .map_err(|_| Error::Timeout {
                backend: NAME,
                operation: "SUBSCRIBE".into(),
            })??;
        Ok(Subscription {
            messages,
            _entity: PhantomData,
        })
    }
}

/// Messages of one channel, in publication order. Dropping it unsubscribes.
pub struct Subscription<T> {
    messages: PubSubStream,
    _entity: PhantomData<fn() -> T>,
}

impl<T: Entity> std::fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("entity", &T::META.name)
            .finish_non_exhaustive()
    }
}

impl<T: Entity> Subscription<T> {
    /// The next message: `Some(Ok(entity))`, `Some(Err(codec error))` for a message that does not
    /// decode as `T` (log it and keep receiving: later messages are unaffected), or `None` once
    /// the connection is gone (subscribe again to resume; messages published in between are lost,
    /// as pub/sub promises nothing more).
    pub async fn next(&mut self) -> Option<Result<T>> {
        let msg = self.messages.next().await?;
        Some(decode_from::<T>(msg.get_payload_bytes(), Origin::Message))
    }
}

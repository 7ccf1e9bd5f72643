//! Event streams on Redis Streams: publish entities, consume them in groups, take over what a
//! dead consumer left.
//!
//! [`RedisStream::publish`] appends one entity (encoded by [`super::codec`], in the entry's `v`
//! field) with `XADD key MAXLEN ~ N *`, so the stream stays near `N` entries (default 10,000)
//! without the cost of exact trimming. A [`StreamConsumer`] reads as one member of a consumer
//! group with `XREADGROUP ... BLOCK` on a connection of its own (a blocking read on the shared
//! multiplexed connection would stall every other command), and acknowledges with `XACK`. Entries
//! read but never acknowledged (the consumer crashed) stay pending in the group; any other
//! consumer takes them over with [`StreamConsumer::claim_stale`] (`XAUTOCLAIM` with a minimum idle
//! time), and a consumer restarted under the same name rereads its own with
//! [`StreamConsumer::read_pending`].
//!
//! # What a dead consumer can lose: the length cap
//! A consumer that dies loses nothing *as long as its entries are still in the stream when they
//! are reclaimed*. The `MAXLEN ~` cap trims the oldest entries whether a group still has them
//! pending or not: an entry read by a consumer that died, and trimmed before anyone reclaimed it,
//! is gone. dal does not drop such entries silently: [`StreamConsumer::claim_stale`] and
//! [`StreamConsumer::read_pending`] return a [`Reclaimed`] whose
//! [`trimmed`](Reclaimed::trimmed) field lists their ids (they are no longer pending, so
//! [`StreamConsumer::pending_count`] drops by as many), and log a warning. Their content cannot
//! be recovered; republish from the source if it matters.
//!
//! To keep `trimmed` empty, size the cap for the longest outage you must survive: at least the
//! publish rate times (the longest a consumer may stay dead, plus the `min_idle` you claim with,
//! plus the interval between claims), with room to spare. For example 500 entries/s and 2
//! minutes to notice and reclaim need `with_max_len(60_000)` or more, not the default 10,000.
//! `~` trims whole radix-tree nodes (Redis' `stream-node-max-entries`, 100 by default), so the
//! stream keeps at least the cap, and up to about one node more.
//!
//! Entries that do not decode as `T` (a poison entry, another entity's) come back as codec
//! errors in [`StreamEntry::entity`]: log them and acknowledge them, or they stay pending and are
//! reclaimed forever.
//!
//! ```no_run
//! use std::time::Duration;
//! use dal_backends::redis::{Redis, RedisStream};
//! # #[derive(Clone, dal::Entity)]
//! # struct Fill { #[entity(id)] id: i64, qty: f64 }
//! # async fn demo(redis: Redis) -> dal::Result<()> {
//! let fills: RedisStream<Fill> = RedisStream::new(&redis, "fills");
//! fills.publish(&Fill { id: 1, qty: 2.5 }).await?;
//!
//! let consumer = fills.consumer("settlement", "worker-1").await?;
//! // First take over what a crashed worker left pending for over 30 s, then read new entries.
//! let stale = consumer.claim_stale(Duration::from_secs(30), 100).await?;
//! if !stale.trimmed.is_empty() {
//!     // Read by a dead worker, then trimmed by the length cap before anyone reclaimed them.
//!     eprintln!("lost {} fills: {:?}", stale.trimmed.len(), stale.trimmed);
//! }
//! let mut batch = stale.entries;
//! batch.extend(consumer.read(100, Duration::from_millis(500)).await?);
//! for entry in &batch {
//!     match &entry.entity {
//!         Ok(fill) => println!("settle {}", fill.qty),
//!         // A poison entry is acknowledged too, after logging it, or it stays pending forever.
//!         Err(e) => eprintln!("undecodable entry {}: {e}", entry.id),
//!     }
//! }
//! consumer.ack(&batch).await?;
//! # Ok(()) }
//! ```

use std::marker::PhantomData;
use std::time::Duration;

use ::redis::Value as RedisValue;
use ::redis::aio::ConnectionManager;
use dal::entity::Entity;
use dal::{Error, Result};

use super::codec::{Origin, decode_from, with_advice};
use super::error::{from_redis, unexpected_reply};
use super::{NAME, Redis};

/// The entry field that holds the encoded entity.
const VALUE_FIELD: &str = "v";

/// A Redis stream of entities `T`, under the handle's namespace. Cheap to clone.
pub struct RedisStream<T> {
    redis: Redis,
    key: String,
    max_len: usize,
    _entity: PhantomData<fn() -> T>,
}

impl<T> Clone for RedisStream<T> {
    fn clone(&self) -> Self {
        RedisStream {
            redis: self.redis.clone(),
            key: self.key.clone(),
            max_len: self.max_len,
            _entity: PhantomData,
        }
    }
}

impl<T: Entity> std::fmt::Debug for RedisStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStream")
            .field("entity", &T::META.name)
            .field("key", &self.key)
            .field("max_len", &self.max_len)
            .finish()
    }
}

/// One entry read from a stream.
#[derive(Debug)]
pub struct StreamEntry<T> {
    /// The entry id (`1700000000000-0`), used to acknowledge it.
    pub id: String,
    /// The decoded entity, or the codec error of an entry that does not decode (a poison entry:
    /// acknowledge it after logging, or it stays pending forever).
    pub entity: Result<T>,
}

impl<T> AsRef<str> for StreamEntry<T> {
    fn as_ref(&self) -> &str {
        &self.id
    }
}

/// What [`StreamConsumer::claim_stale`] and [`StreamConsumer::read_pending`] recovered of the
/// entries a group had pending: the entries to process, and the ids of those the length cap
/// trimmed first (see the [module docs](self)).
#[derive(Debug)]
pub struct Reclaimed<T> {
    /// Entries now pending for this consumer: process them, then [`StreamConsumer::ack`] them.
    pub entries: Vec<StreamEntry<T>>,
    /// Ids of entries that were pending (read, never acknowledged) but had been trimmed from
    /// the stream by the `MAXLEN ~` cap: their content is gone. They are no longer pending (Redis
    /// drops them from the group, or dal acknowledges them), so each is reported once.
    pub trimmed: Vec<String>,
}

impl<T> Reclaimed<T> {
    /// Neither entries nor trimmed ids.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.trimmed.is_empty()
    }
}

impl<T> Default for Reclaimed<T> {
    fn default() -> Self {
        Reclaimed {
            entries: Vec::new(),
            trimmed: Vec::new(),
        }
    }
}

impl<T: Entity> RedisStream<T> {
    /// The stream `name` (under the handle's namespace), trimmed to about
    /// [`super::RedisOptions::max_stream_len`] entries.
    pub fn new(redis: &Redis, name: &str) -> Self {
        RedisStream {
            redis: redis.clone(),
            key: redis.prefixed(name),
            max_len: redis.options().max_stream_len,
            _entity: PhantomData,
        }
    }

    /// The same stream trimmed to about `max_len` entries (at least 1).
    pub fn with_max_len(mut self, max_len: usize) -> Self {
        self.max_len = max_len.max(1);
        self
    }

    /// The Redis key of the stream (namespace included).
    pub fn key(&self) -> &str {
        &self.key
    }

    fn xadd(&self, entity: &T) -> Result<::redis::Cmd> {
        let mut cmd = ::redis::cmd("XADD");
        cmd.arg(&self.key)
            .arg("MAXLEN")
            .arg("~")
            .arg(self.max_len)
            .arg("*")
            .arg(VALUE_FIELD);
        self.redis.with_encoded(entity, |bytes| {
            cmd.arg(bytes);
        })?;
        Ok(cmd)
    }

    /// Appends `entity`; returns the new entry's id.
    ///
    /// # Errors
    /// [`Error::Validation`] for a value over the size limit (nothing is sent); transient errors
    /// when Redis is unreachable.
    pub async fn publish(&self, entity: &T) -> Result<String> {
        let cmd = self.xadd(entity)?;
        let mut conn = self.redis.connection();
        cmd.query_async(&mut conn)
            .await
            .map_err(|e| from_redis(e, "XADD"))
    }

    /// Appends every entity in one pipeline; returns their ids in order.
    ///
    /// # Errors
    /// The first entity that cannot be encoded (then nothing is sent), or the pipeline's error.
    pub async fn publish_all(&self, entities: &[T]) -> Result<Vec<String>> {
        if entities.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        for entity in entities {
            pipe.add_command(self.xadd(entity)?);
        }
        let mut conn = self.redis.connection();
        pipe.query_async(&mut conn)
            .await
            .map_err(|e| from_redis(e, "XADD pipeline"))
    }

    /// Number of entries in the stream (`XLEN`; 0 when it does not exist).
    ///
    /// # Errors
    /// Transient errors when Redis is unreachable.
    pub async fn len(&self) -> Result<u64> {
        let mut conn = self.redis.connection();
        ::redis::cmd("XLEN")
            .arg(&self.key)
            .query_async(&mut conn)
            .await
            .map_err(|e| from_redis(e, "XLEN"))
    }

    /// Creates consumer group `group` reading entries added from now on (`$`), creating the stream
    /// if needed. Returns `false` when the group already exists (left unchanged).
    ///
    /// # Errors
    /// Transient errors when Redis is unreachable.
    pub async fn create_group(&self, group: &str) -> Result<bool> {
        self.create_group_at(group, "$").await
    }

    /// Creates consumer group `group` reading from the oldest retained entry (`0`), creating the
    /// stream if needed. Returns `false` when the group already exists (left unchanged).
    ///
    /// # Errors
    /// Transient errors when Redis is unreachable.
    pub async fn create_group_from_start(&self, group: &str) -> Result<bool> {
        self.create_group_at(group, "0").await
    }

    async fn create_group_at(&self, group: &str, start: &str) -> Result<bool> {
        let mut conn = self.redis.connection();
        let created: RedisResultUnit = ::redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.key)
            .arg(group)
            .arg(start)
            .arg("MKSTREAM")
            .exec_async(&mut conn)
            .await;
        match created {
            Ok(()) => Ok(true),
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(false),
            Err(e) => Err(from_redis(e, "XGROUP CREATE")),
        }
    }

    /// A consumer named `consumer` in group `group`, on a connection of its own. Creates the group
    /// from the oldest retained entry when it does not exist, so entries published before the
    /// first consumer started are not skipped (call [`RedisStream::create_group`] first to start
    /// from new entries only).
    ///
    /// # Errors
    /// Transient errors when Redis is unreachable.
    pub async fn consumer(&self, group: &str, consumer: &str) -> Result<StreamConsumer<T>> {
        self.create_group_from_start(group).await?;
        Ok(StreamConsumer {
            stream: self.clone(),
            group: group.to_owned(),
            name: consumer.to_owned(),
            blocking: self.redis.dedicated_connection().await?,
        })
    }

    /// Deletes the stream with its groups and pending entries; whether it existed.
    ///
    /// # Errors
    /// Transient errors when Redis is unreachable.
    pub async fn destroy(&self) -> Result<bool> {
        let mut conn = self.redis.connection();
        let removed: u64 = ::redis::cmd("DEL")
            .arg(&self.key)
            .query_async(&mut conn)
            .await
            .map_err(|e| from_redis(e, "DEL"))?;
        Ok(removed > 0)
    }
}

type RedisResultUnit = ::redis::RedisResult<()>;

/// One member of a consumer group (see the module docs). Methods take `&self`; blocking reads
/// use the consumer's own connection, everything else the handle's shared connections.
pub struct StreamConsumer<T> {
    stream: RedisStream<T>,
    group: String,
    name: String,
    blocking: ConnectionManager,
}

impl<T: Entity> std::fmt::Debug for StreamConsumer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamConsumer")
            .field("stream", &self.stream)
            .field("group", &self.group)
            .field("name", &self.name)
            .finish()
    }
}

impl<T: Entity> StreamConsumer<T> {
    /// The consumer's name within its group.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The consumer group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Up to `count` entries never delivered to this group, waiting up to `block` for the first
    /// one (`Duration::ZERO`: do not wait). They stay pending until [`StreamConsumer::ack`].
    ///
    /// # Errors
    /// [`Error::Timeout`] when the server does not answer within `block` plus the response
    /// timeout; transient errors when Redis is unreachable.
    pub async fn read(&self, count: usize, block: Duration) -> Result<Vec<StreamEntry<T>>> {
        let mut cmd = ::redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&self.group)
            .arg(&self.name)
            .arg("COUNT")
            .arg(count.max(1));
        if !block.is_zero() {
            // BLOCK 0 would wait forever: a zero duration means "do not block" instead.
            cmd.arg("BLOCK").arg(block.as_millis().max(1) as u64);
        }
        cmd.arg("STREAMS").arg(&self.stream.key).arg(">");
        let limit = block + self.stream.redis.options().response_timeout;
        let mut conn = self.blocking.clone();
        let reply: RedisValue = tokio::time::timeout(limit, cmd.query_async(&mut conn))
            .await
            .map_err(|_| Error::Timeout {
                backend: NAME,
                operation: "XREADGROUP".into(),
            })?
            .map_err(|e| from_redis(e, "XREADGROUP"))?;
        let (entries, _) = read_reply::<T>(reply)?;
        Ok(entries)
    }

    /// Up to `count` entries delivered to this consumer but not yet acknowledged (after a restart
    /// under the same name), oldest first, in [`Reclaimed::entries`]. Entries the length cap
    /// trimmed meanwhile are acknowledged (their content is gone), reported by id in
    /// [`Reclaimed::trimmed`] and logged at warn level.
    ///
    /// # Errors
    /// Transient errors when Redis is unreachable.
    pub async fn read_pending(&self, count: usize) -> Result<Reclaimed<T>> {
        let mut conn = self.stream.redis.connection();
        let reply: RedisValue = ::redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(&self.group)
            .arg(&self.name)
            .arg("COUNT")
            .arg(count.max(1))
            .arg("STREAMS")
            .arg(&self.stream.key)
            .arg("0")
            .query_async(&mut conn)
            .await
            .map_err(|e| from_redis(e, "XREADGROUP"))?;
        let (entries, trimmed) = read_reply::<T>(reply)?;
        if !trimmed.is_empty() {
            self.ack(&trimmed).await?;
            self.warn_trimmed(&trimmed);
        }
        Ok(Reclaimed { entries, trimmed })
    }

    #[cold]
    fn warn_trimmed(&self, trimmed: &[String]) {
        tracing::warn!(
            stream = %self.stream.key,
            group = %self.group,
            consumer = %self.name,
            trimmed = trimmed.len(),
            first = trimmed.first().map(String::as_str),
            "pending stream entries were trimmed by MAXLEN before anyone processed them: raise \
             the stream's max_len or reclaim sooner"
        );
    }

    /// Acknowledges entries (by id, or the entries themselves); returns how many were pending.
    ///
    /// # Errors
    /// Transient errors when Redis is unreachable.
    pub async fn ack<I: AsRef<str>>(&self, ids: &[I]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut cmd = ::redis::cmd("XACK");
        cmd.arg(&self.stream.key).arg(&self.group);
        for id in ids {
            cmd.arg(id.as_ref());
        }
        let mut conn = self.stream.redis.connection();
        cmd.query_async(&mut conn)
            .await
            .map_err(|e| from_redis(e, "XACK"))
    }

    /// Takes over up to `count` entries that other consumers of the group (or this one) read but
    /// did not acknowledge for at least `min_idle` (`XAUTOCLAIM`), and returns them in
    /// [`Reclaimed::entries`]; they are now pending for this consumer.
    ///
    /// Pending entries found trimmed from the stream by the length cap are returned by id in
    /// [`Reclaimed::trimmed`] (every one met while looking for `count` entries) and logged at
    /// warn level; Redis removes them from the group, so [`StreamConsumer::pending_count`] drops
    /// by as many. This needs Redis 7 or later, whose `XAUTOCLAIM` reports their ids; Redis 6.2
    /// claims them without ids, and a later [`StreamConsumer::read_pending`] of this consumer
    /// reports them.
    ///
    /// # Errors
    /// Transient errors when Redis is unreachable.
    pub async fn claim_stale(&self, min_idle: Duration, count: usize) -> Result<Reclaimed<T>> {
        let count = count.max(1);
        let min_idle_ms = u64::try_from(min_idle.as_millis()).unwrap_or(u64::MAX);
        let mut conn = self.stream.redis.connection();
        let mut out = Reclaimed::default();
        let mut start = String::from("0-0");
        // XAUTOCLAIM scans the pending list in steps (a trimmed entry uses up one of its COUNT
        // too); go round until it wraps or `count` entries are claimed.
        loop {
            let reply: RedisValue = ::redis::cmd("XAUTOCLAIM")
                .arg(&self.stream.key)
                .arg(&self.group)
                .arg(&self.name)
                .arg(min_idle_ms)
                .arg(&start)
                .arg("COUNT")
                .arg(count - out.entries.len())
                .query_async(&mut conn)
                .await
                .map_err(|e| from_redis(e, "XAUTOCLAIM"))?;
            let (next, step) = autoclaim_reply::<T>(reply)?;
            out.entries.extend(step.entries);
            out.trimmed.extend(step.trimmed);
            if next == "0-0" || out.entries.len() >= count {
                break;
            }
            start = next;
        }
        if !out.trimmed.is_empty() {
            self.warn_trimmed(&out.trimmed);
        }
        Ok(out)
    }

    /// Number of entries read but not yet acknowledged in the whole group (`XPENDING`).
    ///
    /// # Errors
    /// Transient errors when Redis is unreachable.
    pub async fn pending_count(&self) -> Result<u64> {
        let mut conn = self.stream.redis.connection();
        let reply: RedisValue = ::redis::cmd("XPENDING")
            .arg(&self.stream.key)
            .arg(&self.group)
            .query_async(&mut conn)
            .await
            .map_err(|e| from_redis(e, "XPENDING"))?;
        match reply {
            RedisValue::Array(items) => match items.first() {
                Some(RedisValue::Int(n)) => Ok(u64::try_from(*n).unwrap_or(0)),
                other => Err(unexpected_reply("XPENDING", format!("{other:?}"))),
            },
            other => Err(unexpected_reply("XPENDING", format!("{other:?}"))),
        }
    }
}

fn bulk_string(v: &RedisValue) -> Option<String> {
    match v {
        RedisValue::BulkString(b) => String::from_utf8(b.clone()).ok(),
        RedisValue::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// Parses one entry `[id, [field, value, ...] | nil]`. `Ok(Err(id))` for an entry whose content
/// was trimmed from the stream.
fn entry<T: Entity>(
    v: RedisValue,
    op: &str,
) -> Result<std::result::Result<StreamEntry<T>, String>> {
    let RedisValue::Array(mut parts) = v else {
        return Err(unexpected_reply(op, "an entry is not an array"));
    };
    if parts.len() < 2 {
        return Err(unexpected_reply(op, "an entry has no fields"));
    }
    let fields = parts.swap_remove(1);
    let id =
        bulk_string(&parts[0]).ok_or_else(|| unexpected_reply(op, "an entry id is not text"))?;
    let fields = match fields {
        RedisValue::Array(fields) => fields,
        RedisValue::Nil => return Ok(Err(id)),
        _ => return Err(unexpected_reply(op, "entry fields are not an array")),
    };
    let mut value = None;
    for pair in fields.chunks(2) {
        if let [RedisValue::BulkString(name), RedisValue::BulkString(bytes)] = pair
            && name == VALUE_FIELD.as_bytes()
        {
            value = Some(bytes);
            break;
        }
    }
    let entity = match value {
        Some(bytes) => decode_from::<T>(bytes, Origin::StreamEntry),
        None => Err(with_advice(
            Error::Codec {
                entity: T::META.name,
                field: "<value>",
                message: format!(
                    "stream entry {id} has no '{VALUE_FIELD}' field: not written by dal"
                ),
            },
            Origin::StreamEntry,
        )),
    };
    Ok(Ok(StreamEntry { id, entity }))
}

/// Entries of an `XREADGROUP` reply (nil on timeout; one stream) and ids of trimmed entries.
#[allow(clippy::type_complexity)]
fn read_reply<T: Entity>(reply: RedisValue) -> Result<(Vec<StreamEntry<T>>, Vec<String>)> {
    const OP: &str = "XREADGROUP";
    let streams = match reply {
        RedisValue::Nil => return Ok((Vec::new(), Vec::new())),
        // RESP2: [[key, entries], ...]
        RedisValue::Array(streams) => streams
            .into_iter()
            .map(|s| match s {
                RedisValue::Array(mut kv) if kv.len() == 2 => Ok(kv.swap_remove(1)),
                _ => Err(unexpected_reply(OP, "a stream is not [key, entries]")),
            })
            .collect::<Result<Vec<_>>>()?,
        // RESP3: {key: entries}
        RedisValue::Map(streams) => streams.into_iter().map(|(_, v)| v).collect(),
        other => return Err(unexpected_reply(OP, format!("{other:?}"))),
    };
    let mut entries = Vec::new();
    let mut trimmed = Vec::new();
    for list in streams {
        let RedisValue::Array(list) = list else {
            return Err(unexpected_reply(OP, "entries are not an array"));
        };
        for e in list {
            match entry::<T>(e, OP)? {
                Ok(e) => entries.push(e),
                Err(id) => trimmed.push(id),
            }
        }
    }
    Ok((entries, trimmed))
}

/// `XAUTOCLAIM` reply: `[next, entries, deleted_ids]` (the third element since Redis 7).
fn autoclaim_reply<T: Entity>(reply: RedisValue) -> Result<(String, Reclaimed<T>)> {
    const OP: &str = "XAUTOCLAIM";
    let RedisValue::Array(mut parts) = reply else {
        return Err(unexpected_reply(OP, "reply is not an array"));
    };
    if parts.len() < 2 {
        return Err(unexpected_reply(OP, "reply is too short"));
    }
    let deleted = match parts.get(2) {
        None => &[][..],
        Some(RedisValue::Array(ids)) => ids.as_slice(),
        Some(_) => return Err(unexpected_reply(OP, "deleted ids are not an array")),
    };
    let mut out = Reclaimed::default();
    for id in deleted {
        let id = bulk_string(id).ok_or_else(|| unexpected_reply(OP, "a deleted id is not text"))?;
        out.trimmed.push(id);
    }
    let next = bulk_string(&parts[0]).ok_or_else(|| unexpected_reply(OP, "cursor is not text"))?;
    let RedisValue::Array(list) = parts.swap_remove(1) else {
        return Err(unexpected_reply(OP, "claimed entries are not an array"));
    };
    out.entries.reserve(list.len());
    for e in list {
        // Redis 6.2 reports a trimmed entry as a bare nil in place, without its id.
        if matches!(e, RedisValue::Nil) {
            continue;
        }
        match entry::<T>(e, OP)? {
            Ok(e) => out.entries.push(e),
            Err(id) => out.trimmed.push(id),
        }
    }
    Ok((next, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::codec::encode_value;
    use crate::redis::codec::tests::{Sample, sample};

    fn bulk(s: &str) -> RedisValue {
        RedisValue::BulkString(s.as_bytes().to_vec())
    }

    fn entry_value(id: &str, fields: RedisValue) -> RedisValue {
        RedisValue::Array(vec![bulk(id), fields])
    }

    fn good_fields() -> RedisValue {
        let mut bytes = Vec::new();
        encode_value(&sample(1), &mut bytes).expect("encode");
        RedisValue::Array(vec![bulk(VALUE_FIELD), RedisValue::BulkString(bytes)])
    }

    #[test]
    fn autoclaim_reports_deleted_ids_and_trimmed_entries() {
        // Redis 7: [next, entries, deleted ids].
        let reply = RedisValue::Array(vec![
            bulk("5-0"),
            RedisValue::Array(vec![
                entry_value("3-0", good_fields()),
                // Content trimmed, id known: reported as trimmed too.
                entry_value("4-0", RedisValue::Nil),
            ]),
            RedisValue::Array(vec![bulk("1-0"), bulk("2-0")]),
        ]);
        let (next, got) = autoclaim_reply::<Sample>(reply).expect("parses");
        assert_eq!(next, "5-0");
        assert_eq!(
            got.entries
                .iter()
                .map(|e| e.id.as_str())
                .collect::<Vec<_>>(),
            ["3-0"]
        );
        assert!(got.entries[0].entity.is_ok());
        assert_eq!(got.trimmed, ["1-0", "2-0", "4-0"]);

        // Redis 6.2: two elements, a bare nil for a trimmed entry (no id to report).
        let reply = RedisValue::Array(vec![
            bulk("0-0"),
            RedisValue::Array(vec![RedisValue::Nil, entry_value("9-0", good_fields())]),
        ]);
        let (next, got) = autoclaim_reply::<Sample>(reply).expect("parses");
        assert_eq!(next, "0-0");
        assert_eq!(got.entries.len(), 1);
        assert!(got.trimmed.is_empty());

        // Malformed replies are typed errors, never panics.
        for bad in [
            RedisValue::Nil,
            RedisValue::Array(vec![bulk("0-0")]),
            RedisValue::Array(vec![bulk("0-0"), RedisValue::Array(vec![]), bulk("x")]),
            RedisValue::Array(vec![
                bulk("0-0"),
                RedisValue::Array(vec![]),
                RedisValue::Array(vec![RedisValue::Int(1)]),
            ]),
        ] {
            let err = autoclaim_reply::<Sample>(bad).expect_err("malformed");
            assert!(matches!(err, Error::Backend { .. }), "{err:?}");
        }
    }

    #[test]
    fn a_foreign_entry_advises_acknowledging_it() {
        let reply = RedisValue::Array(vec![
            bulk("0-0"),
            RedisValue::Array(vec![
                entry_value("1-0", RedisValue::Array(vec![bulk("other"), bulk("x")])),
                entry_value(
                    "2-0",
                    RedisValue::Array(vec![bulk(VALUE_FIELD), bulk("junk")]),
                ),
            ]),
            RedisValue::Array(vec![]),
        ]);
        let (_, got) = autoclaim_reply::<Sample>(reply).expect("parses");
        for e in &got.entries {
            let text = e.entity.as_ref().expect_err("foreign").to_string();
            assert!(
                text.contains("acknowledge it") && !text.contains("invalidate"),
                "{text}"
            );
        }
    }
}

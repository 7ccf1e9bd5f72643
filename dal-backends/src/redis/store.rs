//! The cache and record backend traits on Redis strings: one key per entity, one value each.
//!
//! Every write is a single `SET` (with `PX` when there is a TTL), so value and expiry are atomic;
//! batches are one pipeline with a per-item outcome; multi-key reads are `MGET`s of up to 256 keys
//! pipelined in one write (each chunk reads its keys atomically; a larger lookup as a whole is not
//! one point-in-time snapshot, as with Redis Cluster's per-slot `MGET`s). Records use
//! the same keys without TTL, and `list` walks `SCAN MATCH` over the entity's key shape (never
//! `KEYS`, which blocks the server), then filters, sorts and pages in the client. Redis has no
//! index to seek a keyset cursor in, so every page scans and fetches all of the entity's keys
//! under the namespace: listing suits configuration-sized record sets (thousands of records),
//! not millions; keep those in Postgres.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::{Cmd, RedisResult, Value as RedisValue};
use dal::entity::{Entity, KeySegment, Keyed};
use dal::query::{BatchReport, Cursor, ListQuery, Page};
use dal::value::{RowCapture, Value};
use dal::{Backend, CacheBackend, Capabilities, Error, QuantileAccuracy, RecordBackend, Result};
use futures_util::StreamExt as _;
use futures_util::stream::FuturesOrdered;

use super::codec::{decode_value, encode_value_within};
use super::error::{from_redis, unexpected_reply};
use super::{NAME, Redis};

/// Keys per `MGET` of a lookup or listing: more keys go out as pipelined chunks of this size,
/// so decoding one reply overlaps parsing the next (see [`mget_chunks`]).
const MGET_CHUNK: usize = 256;

/// Scratch buffers above this capacity are dropped after use instead of kept per thread.
const SCRATCH_KEEP: usize = 64 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Redis {
    /// Encodes `entity` into `buf` (replacing its content), checking the handle's limits field by
    /// field and then the size of the whole value.
    pub(crate) fn encode_checked<T: Entity>(&self, entity: &T, buf: &mut Vec<u8>) -> Result<()> {
        buf.clear();
        encode_value_within(entity, buf, self.limits())?;
        let max = self.options().max_value_bytes;
        if buf.len() > max {
            return Err(Error::invalid(
                T::META.name,
                format!(
                    "encoded value is {} bytes, over the {max}-byte limit \
                     (RedisOptions::max_value_bytes); store large payloads elsewhere \
                     or raise the limit",
                    buf.len()
                ),
            ));
        }
        Ok(())
    }

    /// Encodes `entity` into the thread's reused buffer, checks its size and hands the bytes
    /// to `f` (which copies them into a command).
    pub(crate) fn with_encoded<T: Entity, R>(
        &self,
        entity: &T,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R> {
        let run = |buf: &mut Vec<u8>| self.encode_checked(entity, buf).map(|()| f(buf));
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => {
                let out = run(&mut buf);
                if buf.capacity() > SCRATCH_KEEP {
                    *buf = Vec::new();
                }
                out
            }
            // Only reachable if `f` re-entered: fall back to a fresh buffer.
            Err(_) => run(&mut Vec::new()),
        })
    }

    /// `SET key value [PX ms]` for one entity.
    fn set_command<T: Keyed>(&self, entity: &T, px: Option<u64>) -> Result<Cmd> {
        let key = self.key_for::<T>(&entity.key())?;
        let mut cmd = ::redis::cmd("SET");
        cmd.arg(key);
        self.with_encoded(entity, |bytes| {
            cmd.arg(bytes);
        })?;
        if let Some(ms) = px {
            cmd.arg("PX").arg(ms);
        }
        Ok(cmd)
    }

    async fn set_one<T: Keyed>(&self, entity: &T, px: Option<u64>) -> Result<()> {
        let cmd = self.set_command(entity, px)?;
        let mut conn = self.connection();
        cmd.exec_async(&mut conn)
            .await
            .map_err(|e| from_redis(e, "SET"))
    }

    async fn set_many<T: Keyed>(&self, entities: &[T], px: Option<u64>) -> Result<BatchReport> {
        let mut report = BatchReport::default();
        if entities.is_empty() {
            return Ok(report);
        }
        let mut pipe = ::redis::Pipeline::with_capacity(entities.len());
        // Input index of each pipelined command, to map replies back to items.
        let mut sent: Vec<usize> = Vec::with_capacity(entities.len());
        // One key and one value buffer for the whole batch: the commands copy from them.
        let (mut key, mut value) = (String::new(), Vec::new());
        for (i, entity) in entities.iter().enumerate() {
            let encoded = self
                .write_key::<T>(&entity.key(), &mut key)
                .and_then(|()| self.encode_checked(entity, &mut value));
            match encoded {
                Ok(()) => {
                    let cmd = pipe.cmd("SET").arg(key.as_str()).arg(value.as_slice());
                    if let Some(ms) = px {
                        cmd.arg("PX").arg(ms);
                    }
                    sent.push(i);
                }
                Err(e) => report.failed.push((i, e)),
            }
        }
        if sent.is_empty() {
            return Ok(report);
        }
        pipe.ignore_errors();
        let mut conn = self.connection();
        let replies: Vec<RedisResult<RedisValue>> = pipe
            .query_async(&mut conn)
            .await
            .map_err(|e| from_redis(e, "SET pipeline"))?;
        if replies.len() != sent.len() {
            return Err(unexpected_reply(
                "SET pipeline",
                format!("{} replies for {} commands", replies.len(), sent.len()),
            ));
        }
        for (i, reply) in sent.into_iter().zip(replies) {
            match reply {
                Ok(_) => report.written += 1,
                Err(e) => report.failed.push((i, from_redis(e, "SET"))),
            }
        }
        report.failed.sort_by_key(|(i, _)| *i);
        Ok(report)
    }

    async fn get_one<T: Keyed>(&self, key: &T::Key) -> Result<Option<T>> {
        let key = self.key_for::<T>(key)?;
        let mut conn = self.connection();
        let bytes: Option<Vec<u8>> = ::redis::cmd("GET")
            .arg(key)
            .query_async(&mut conn)
            .await
            .map_err(|e| from_redis(e, "GET"))?;
        bytes.map(|b| decode_value::<T>(&b)).transpose()
    }

    async fn get_many_keys<T: Keyed>(&self, keys: &[T::Key]) -> Result<Vec<Option<T>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmds = Vec::with_capacity(keys.len().div_ceil(MGET_CHUNK));
        let mut buf = String::new();
        for part in keys.chunks(MGET_CHUNK) {
            let mut cmd = ::redis::cmd("MGET");
            for key in part {
                self.write_key::<T>(key, &mut buf)?;
                cmd.arg(buf.as_str());
            }
            cmds.push((cmd, part.len()));
        }
        let mut out = Vec::with_capacity(keys.len());
        mget_chunks(&self.connection(), &cmds, |bytes| {
            out.push(bytes.map(decode_value::<T>).transpose()?);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    async fn del_one<T: Keyed>(&self, key: &T::Key) -> Result<bool> {
        let key = self.key_for::<T>(key)?;
        let mut conn = self.connection();
        let removed: u64 = ::redis::cmd("DEL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .map_err(|e| from_redis(e, "DEL"))?;
        Ok(removed > 0)
    }

    async fn list_keys<T: Keyed>(&self, query: &ListQuery<T>) -> Result<Page<T>> {
        query.validate(T::META.name)?;
        let prefix_len = self.prefix().len();
        let pattern = scan_pattern(self.prefix(), T::META.key_template);
        let scan_count = self.options().scan_count;
        let mut conn = self.connection();

        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<Vec<u8>>) = ::redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(scan_count)
                .query_async(&mut conn)
                .await
                .map_err(|e| from_redis(e, "SCAN"))?;
            keys.extend(batch.into_iter().filter_map(|k| {
                // Keys that are not UTF-8 or do not have this entity's shape belong to
                // someone else (the glob `*` also matches ':').
                let k = String::from_utf8(k).ok()?;
                let rest = k.get(prefix_len..)?;
                matches_template(rest, T::META.key_template).then_some(k)
            }));
            if next == 0 {
                break;
            }
            cursor = next;
        }
        // SCAN may return a key more than once.
        keys.sort_unstable();
        keys.dedup();

        let after = query.after.as_ref().map(Cursor::key_values);
        let filtered = !query.filter.conditions().is_empty();
        let mut rows: Vec<(Vec<Value>, T)> = Vec::new();
        let cmds: Vec<(Cmd, usize)> = keys
            .chunks(MGET_CHUNK)
            .map(|chunk| {
                let mut cmd = ::redis::cmd("MGET");
                cmd.arg(chunk);
                (cmd, chunk.len())
            })
            .collect();
        mget_chunks(&conn, &cmds, |bytes| {
            // Keys that expired or were deleted since the scan come back as nil: skipped.
            let Some(bytes) = bytes else {
                return Ok(());
            };
            let entity = decode_value::<T>(bytes)?;
            let key_values = if filtered {
                let mut row = RowCapture::default();
                entity.encode(&mut row)?;
                if !query.filter.matches(&row.0) {
                    return Ok(());
                }
                T::META
                    .id_fields
                    .iter()
                    .map(|&i| row.0.get(i).cloned().unwrap_or(Value::Null))
                    .collect()
            } else {
                let mut parts = RowCapture::default();
                T::encode_key(&entity.key(), &mut parts)?;
                parts.0
            };
            if let Some(after) = after
                && compare_keys(&key_values, after) != Ordering::Greater
            {
                return Ok(());
            }
            rows.push((key_values, entity));
            Ok(())
        })
        .await?;
        rows.sort_by(|a, b| compare_keys(&a.0, &b.0));
        let more = rows.len() > query.limit;
        rows.truncate(query.limit);
        let next = if more {
            rows.last().map(|(k, _)| Cursor::from_key_values(k.clone()))
        } else {
            None
        };
        Ok(Page {
            items: rows.into_iter().map(|(_, e)| e).collect(),
            next,
        })
    }
}

/// The reply items of an `MGET`, decoded by the caller straight from the reply's buffers.
async fn mget(conn: &mut ConnectionManager, cmd: &Cmd) -> Result<Vec<RedisValue>> {
    match cmd
        .query_async(conn)
        .await
        .map_err(|e| from_redis(e, "MGET"))?
    {
        RedisValue::Array(items) => Ok(items),
        other => Err(unexpected_reply("MGET", format!("{other:?}"))),
    }
}

/// Sends `cmds` (each an `MGET` with its number of keys) in one pipelined write and hands every
/// reply item to `each`, in key order. Decoding one reply here overlaps the connection parsing the
/// next, which is why large lookups are split into chunks at all.
async fn mget_chunks(
    conn: &ConnectionManager,
    cmds: &[(Cmd, usize)],
    mut each: impl FnMut(Option<&[u8]>) -> Result<()>,
) -> Result<()> {
    let mut replies: FuturesOrdered<_> = cmds
        .iter()
        .map(|(cmd, _)| {
            let mut conn = conn.clone();
            async move { mget(&mut conn, cmd).await }
        })
        .collect();
    for (_, count) in cmds {
        let reply = match replies.next().await {
            Some(reply) => reply?,
            None => return Err(unexpected_reply("MGET", String::from("a reply is missing"))),
        };
        if reply.len() != *count {
            return Err(unexpected_reply(
                "MGET",
                format!("{} values for {count} keys", reply.len()),
            ));
        }
        for value in &reply {
            each(value_bytes(value)?)?;
        }
    }
    Ok(())
}

/// The bytes of a string reply item; `None` for nil (a missing key).
fn value_bytes(value: &RedisValue) -> Result<Option<&[u8]>> {
    match value {
        RedisValue::Nil => Ok(None),
        RedisValue::BulkString(bytes) => Ok(Some(bytes)),
        other => Err(unexpected_reply("MGET", format!("a {other:?} item"))),
    }
}

/// Key order of `list`: part by part, [`Value::total_cmp`].
fn compare_keys(a: &[Value], b: &[Value]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        match x.total_cmp(y) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    a.len().cmp(&b.len())
}

/// Appends `text` with Redis glob metacharacters escaped.
fn escape_glob(text: &str, out: &mut String) {
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^' | '-') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// The `SCAN MATCH` pattern of an entity's keys: the literal parts escaped, each id part `*`.
fn scan_pattern(prefix: &str, template: &[KeySegment]) -> String {
    let mut out = String::with_capacity(prefix.len() + 32);
    escape_glob(prefix, &mut out);
    for seg in template {
        match seg {
            KeySegment::Literal(text) => escape_glob(text, &mut out),
            KeySegment::Field(_) => out.push('*'),
        }
    }
    out
}

/// Whether `key` (namespace removed) has the shape of `template`: literals verbatim, each id
/// part free of the characters the key codec escapes (`:`, `{`, `}`).
fn matches_template(key: &str, template: &[KeySegment]) -> bool {
    match template.split_first() {
        None => key.is_empty(),
        Some((KeySegment::Literal(text), rest)) => key
            .strip_prefix(text)
            .is_some_and(|k| matches_template(k, rest)),
        Some((KeySegment::Field(_), rest)) => {
            let run = key.find([':', '{', '}']).unwrap_or(key.len());
            (0..=run)
                .filter(|&i| key.is_char_boundary(i))
                .any(|i| matches_template(&key[i..], rest))
        }
    }
}

/// `PX` milliseconds of a TTL: `None` without expiry; sub-millisecond TTLs round up to 1 ms.
fn ttl_millis<T: Entity>(ttl: Option<Duration>) -> Result<Option<u64>> {
    // Redis rejects expiry times that overflow its clock arithmetic; stay far below that.
    const MAX_MS: u128 = (i64::MAX / 4) as u128;
    match ttl {
        None => Ok(None),
        Some(d) if d.is_zero() => Err(Error::invalid(
            T::META.name,
            "a TTL of zero would expire at once: give a positive TTL or none",
        )),
        Some(d) => {
            let ms = d.as_millis().max(1);
            if ms > MAX_MS {
                return Err(Error::invalid(
                    T::META.name,
                    format!("TTL of {d:?} is too large for Redis; use no TTL instead"),
                ));
            }
            Ok(Some(ms as u64))
        }
    }
}

impl Backend for Redis {
    const NAME: &'static str = NAME;

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::none();
        c.transactions = false;
        c.quantiles = QuantileAccuracy::Exact;
        c.ttl_expiry = true;
        c.limits = *self.limits();
        c.read_your_writes = true;
        // The codec keeps whole nanoseconds.
        c.timestamp_precision = Duration::from_nanos(1);
        c
    }

    async fn health_check(&self) -> Result<()> {
        let mut conn = self.connection();
        let reply: String = ::redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(|e| from_redis(e, "PING"))?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(unexpected_reply("PING", reply))
        }
    }
}

impl CacheBackend for Redis {
    async fn put<T: Keyed>(&self, entity: &T, ttl: Option<Duration>) -> Result<()> {
        let px = ttl_millis::<T>(ttl)?;
        self.set_one(entity, px).await
    }

    async fn put_all<T: Keyed>(
        &self,
        entities: &[T],
        ttl: Option<Duration>,
    ) -> Result<BatchReport> {
        let px = ttl_millis::<T>(ttl)?;
        self.set_many(entities, px).await
    }

    async fn lookup<T: Keyed>(&self, key: &T::Key) -> Result<Option<T>> {
        self.get_one(key).await
    }

    async fn lookup_many<T: Keyed>(&self, keys: &[T::Key]) -> Result<Vec<Option<T>>> {
        self.get_many_keys(keys).await
    }

    async fn invalidate<T: Keyed>(&self, key: &T::Key) -> Result<bool> {
        self.del_one::<T>(key).await
    }

    async fn remaining_ttl<T: Keyed>(&self, key: &T::Key) -> Result<Option<Duration>> {
        let key = self.key_for::<T>(key)?;
        let mut conn = self.connection();
        let ms: i64 = ::redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .map_err(|e| from_redis(e, "PTTL"))?;
        // -2: no such key; -1: no expiry.
        Ok(u64::try_from(ms).ok().map(Duration::from_millis))
    }
}

impl RecordBackend for Redis {
    async fn save<T: Keyed>(&self, entity: &T) -> Result<()> {
        self.set_one(entity, None).await
    }

    async fn save_all<T: Keyed>(&self, entities: &[T]) -> Result<BatchReport> {
        self.set_many(entities, None).await
    }

    async fn get<T: Keyed>(&self, key: &T::Key) -> Result<Option<T>> {
        self.get_one(key).await
    }

    async fn get_many<T: Keyed>(&self, keys: &[T::Key]) -> Result<Vec<Option<T>>> {
        self.get_many_keys(keys).await
    }

    async fn list<T: Keyed>(&self, query: &ListQuery<T>) -> Result<Page<T>> {
        self.list_keys(query).await
    }

    async fn delete<T: Keyed>(&self, key: &T::Key) -> Result<bool> {
        self.del_one::<T>(key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &[KeySegment] = &[
        KeySegment::Literal("pool:"),
        KeySegment::Field(0),
        KeySegment::Literal(":"),
        KeySegment::Field(1),
    ];

    #[test]
    fn template_matching_rejects_other_shapes() {
        assert!(matches_template("pool:sol:abc", TEMPLATE));
        assert!(matches_template("pool::", TEMPLATE));
        assert!(matches_template("pool:%3A:%7Bx%7D", TEMPLATE));
        assert!(!matches_template("pool:sol", TEMPLATE));
        assert!(!matches_template("pool:sol:abc:def", TEMPLATE));
        assert!(!matches_template("price:sol:abc", TEMPLATE));
        assert!(!matches_template("pool:{x}:abc", TEMPLATE));
    }

    #[test]
    fn scan_patterns_escape_globs() {
        assert_eq!(scan_pattern("ns:", TEMPLATE), "ns:pool:*:*");
        let odd = &[KeySegment::Literal("a*b?[c]\\:"), KeySegment::Field(0)];
        assert_eq!(scan_pattern("", odd), "a\\*b\\?\\[c\\]\\\\:*");
    }

    #[test]
    fn ttls_round_up_and_zero_is_rejected() {
        use super::super::codec::tests::Sample;
        assert_eq!(ttl_millis::<Sample>(None).expect("none"), None);
        assert_eq!(
            ttl_millis::<Sample>(Some(Duration::from_micros(10))).expect("tiny"),
            Some(1)
        );
        assert_eq!(
            ttl_millis::<Sample>(Some(Duration::from_secs(2))).expect("2s"),
            Some(2000)
        );
        assert!(ttl_millis::<Sample>(Some(Duration::ZERO)).is_err());
        assert!(ttl_millis::<Sample>(Some(Duration::MAX)).is_err());
    }

    #[test]
    fn keys_compare_part_by_part() {
        let a = [Value::Text("a".into()), Value::I64(2)];
        let b = [Value::Text("a".into()), Value::I64(10)];
        assert_eq!(compare_keys(&a, &b), Ordering::Less);
        assert_eq!(compare_keys(&b, &b), Ordering::Equal);
    }
}

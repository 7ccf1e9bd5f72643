//! The data of the memory backend: one table per entity type and store kind, and the writes that
//! change them.
//!
//! Rows are `Arc<[Value]>` captured with [`crate::value::RowCapture`] (the same codec path as a
//! real backend), so reads hand a row out of the lock with a reference-count increment and decode
//! it outside, and a transaction snapshots a table without copying its values. Every change is a
//! [`Write`], applied by [`Tables::apply`]: the store applies it directly, a transaction applies
//! it to its private snapshot and replays its log onto the store at commit.

use std::any::TypeId;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::value::Value;

/// One stored row, in [`crate::EntityMeta::fields`] order.
pub(crate) type Row = Arc<[Value]>;

/// Which store a table belongs to. The same entity type has separate record, time-series and
/// cache tables: `save` never shows up in `range`, nor `put` in `get`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Records,
    Series,
    Cache,
}

/// A table: the store kind and the entity type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TableRef {
    pub(crate) kind: Kind,
    pub(crate) id: TypeId,
}

impl TableRef {
    pub(crate) fn of<T: 'static>(kind: Kind) -> Self {
        TableRef {
            kind,
            id: TypeId::of::<T>(),
        }
    }
}

/// Keyed records: key codec string -> row.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordTable {
    pub(crate) rows: HashMap<String, Row, KeyHash>,
}

/// A time series: rows sorted by timestamp; equal timestamps stay in append order.
///
/// A row's identity is (ids, timestamp): appending a row whose ids and timestamp equal a stored
/// row's replaces it in place (the rule of every backend, `time_series_dedup`). An entity without
/// ids (`ids` empty) never replaces.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeriesTable {
    pub(crate) rows: Vec<(DateTime<Utc>, Row)>,
}

/// Whether two rows have equal values in every id field.
fn same_ids(ids: &[usize], a: &[Value], b: &[Value]) -> bool {
    ids.iter().all(|&i| match (a.get(i), b.get(i)) {
        (Some(x), Some(y)) => x.total_cmp(y).is_eq(),
        _ => false,
    })
}

impl SeriesTable {
    /// The rows with `start <= ts < end`.
    pub(crate) fn window(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> &[(DateTime<Utc>, Row)] {
        let lo = self.rows.partition_point(|(ts, _)| *ts < start);
        let hi = self.rows.partition_point(|(ts, _)| *ts < end);
        self.rows.get(lo..hi).unwrap_or(&[])
    }

    fn push(&mut self, ids: &[usize], ts: DateTime<Utc>, row: Row) {
        // Appends are usually in time order: then this is a push at the end.
        let at = self.rows.partition_point(|(t, _)| *t <= ts);
        if !ids.is_empty() {
            let first = self.rows[..at].partition_point(|(t, _)| *t < ts);
            if let Some(slot) = self.rows[first..at]
                .iter_mut()
                .find(|(_, stored)| same_ids(ids, stored, &row))
            {
                slot.1 = row;
                return;
            }
        }
        self.rows.insert(at, (ts, row));
    }

    fn extend(&mut self, ids: &[usize], rows: Vec<(DateTime<Utc>, Row)>) {
        if !ids.is_empty() {
            for (ts, row) in rows {
                self.push(ids, ts, row);
            }
            return;
        }
        let in_order = rows.windows(2).all(|w| w[0].0 <= w[1].0)
            && match (self.rows.last(), rows.first()) {
                (Some(last), Some(first)) => last.0 <= first.0,
                _ => true,
            };
        self.rows.extend(rows);
        if !in_order {
            // Stable: rows with equal timestamps keep their append order.
            self.rows.sort_by_key(|(ts, _)| *ts);
        }
    }
}

/// A cache entry: the row and when it expires.
#[derive(Debug, Clone)]
pub(crate) struct CacheEntry {
    pub(crate) row: Row,
    pub(crate) expires: Option<Instant>,
}

impl CacheEntry {
    pub(crate) fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

/// A TTL cache: key codec string -> entry. Expired entries are invisible at once and removed by
/// an occasional sweep.
#[derive(Debug, Clone, Default)]
pub(crate) struct CacheTable {
    pub(crate) entries: HashMap<String, CacheEntry, KeyHash>,
    puts_since_sweep: usize,
}

/// One change to one table.
#[derive(Debug, Clone)]
pub(crate) enum Write {
    /// Upsert a record.
    Save { key: String, row: Row },
    /// Remove a record.
    Delete { key: String },
    /// Append one time-series row; `ids` are the entity's id fields (its identity with `ts`).
    Append {
        ids: &'static [usize],
        ts: DateTime<Utc>,
        row: Row,
    },
    /// Append many time-series rows, in order.
    AppendMany {
        ids: &'static [usize],
        rows: Vec<(DateTime<Utc>, Row)>,
    },
    /// Cache an entry, at clock time `now`.
    Put {
        key: String,
        row: Row,
        expires: Option<Instant>,
        now: Instant,
    },
    /// Remove a cache entry, at clock time `now`.
    Invalidate { key: String, now: Instant },
}

/// Every table of one store (or of one transaction's snapshot).
#[derive(Debug, Clone, Default)]
pub(crate) struct Tables {
    pub(crate) records: HashMap<TypeId, RecordTable, TypeIdHash>,
    pub(crate) series: HashMap<TypeId, SeriesTable, TypeIdHash>,
    pub(crate) cache: HashMap<TypeId, CacheTable, TypeIdHash>,
}

/// A copy of one table, moved between a store and a transaction.
#[derive(Debug)]
pub(crate) enum TableCopy {
    Records(RecordTable),
    Series(SeriesTable),
    Cache(CacheTable),
}

impl Tables {
    pub(crate) fn contains(&self, t: TableRef) -> bool {
        match t.kind {
            Kind::Records => self.records.contains_key(&t.id),
            Kind::Series => self.series.contains_key(&t.id),
            Kind::Cache => self.cache.contains_key(&t.id),
        }
    }

    /// A copy of the table (empty when it does not exist yet). Rows are shared, not copied.
    pub(crate) fn copy(&self, t: TableRef) -> TableCopy {
        match t.kind {
            Kind::Records => {
                TableCopy::Records(self.records.get(&t.id).cloned().unwrap_or_default())
            }
            Kind::Series => TableCopy::Series(self.series.get(&t.id).cloned().unwrap_or_default()),
            Kind::Cache => TableCopy::Cache(self.cache.get(&t.id).cloned().unwrap_or_default()),
        }
    }

    pub(crate) fn install(&mut self, id: TypeId, table: TableCopy) {
        match table {
            TableCopy::Records(t) => {
                self.records.insert(id, t);
            }
            TableCopy::Series(t) => {
                self.series.insert(id, t);
            }
            TableCopy::Cache(t) => {
                self.cache.insert(id, t);
            }
        }
    }

    /// Applies one write to the table of entity `id`; whether the key existed before (for
    /// `Save`, `Delete`, `Put` and `Invalidate`; an expired cache entry does not exist).
    pub(crate) fn apply(&mut self, id: TypeId, write: Write) -> bool {
        match write {
            Write::Save { key, row } => self
                .records
                .entry(id)
                .or_default()
                .rows
                .insert(key, row)
                .is_some(),
            Write::Delete { key } => self
                .records
                .get_mut(&id)
                .is_some_and(|t| t.rows.remove(&key).is_some()),
            Write::Append { ids, ts, row } => {
                self.series.entry(id).or_default().push(ids, ts, row);
                false
            }
            Write::AppendMany { ids, rows } => {
                self.series.entry(id).or_default().extend(ids, rows);
                false
            }
            Write::Put {
                key,
                row,
                expires,
                now,
            } => {
                let table = self.cache.entry(id).or_default();
                table.puts_since_sweep += 1;
                // Amortized O(1): a sweep costs O(n) and runs once per n puts.
                if table.puts_since_sweep >= table.entries.len().max(64) {
                    table.entries.retain(|_, e| e.live(now));
                    table.puts_since_sweep = 0;
                }
                table
                    .entries
                    .insert(key, CacheEntry { row, expires })
                    .is_some_and(|old| old.live(now))
            }
            Write::Invalidate { key, now } => self
                .cache
                .get_mut(&id)
                .and_then(|t| t.entries.remove(&key))
                .is_some_and(|old| old.live(now)),
        }
    }
}

/// Hashes a `TypeId` by its own bits: it is already a hash, so SipHash would only cost time.
pub(crate) type TypeIdHash = BuildHasherDefault<TypeIdHasher>;

/// See [`TypeIdHash`]. Falls back to FNV-1a for anything not written as one integer.
#[derive(Debug, Default)]
pub(crate) struct TypeIdHasher(u64);

impl Hasher for TypeIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
    fn write_u128(&mut self, n: u128) {
        self.0 ^= (n as u64) ^ ((n >> 64) as u64);
    }
}

/// Hashes key codec strings: a word-at-a-time folded-multiply hash (as in foldhash and wyhash)
/// from a seed drawn once per process. Keys are short ASCII strings; SipHash cost about 400
/// instructions per `get` and `put`. The random seed keeps collisions from being reproducible
/// across runs, but this is not a DoS-resistant hash: the memory backend is a test double and an
/// embedded default, not a store to expose to hostile keys at scale.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyHash {
    seed: u64,
}

impl Default for KeyHash {
    fn default() -> Self {
        static SEED: OnceLock<u64> = OnceLock::new();
        let seed =
            *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0u64));
        KeyHash { seed }
    }
}

impl BuildHasher for KeyHash {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(self.seed)
    }
}

/// See [`KeyHash`].
#[derive(Debug)]
pub(crate) struct KeyHasher(u64);

impl KeyHasher {
    /// Odd constants with well-spread bits (from foldhash).
    const K: u64 = 0x243f_6a88_85a3_08d3;
    const FINAL: u64 = 0x1319_8a2e_0370_7344;

    /// The full 128-bit product folded to 64 bits: every input bit reaches every output bit
    /// (a plain multiply only carries differences upwards, which clusters keys that differ in
    /// their last bytes).
    #[inline]
    fn fold_mul(a: u64, b: u64) -> u64 {
        let full = u128::from(a) * u128::from(b);
        (full as u64) ^ ((full >> 64) as u64)
    }

    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = Self::fold_mul(self.0 ^ word, Self::K);
    }
}

impl Hasher for KeyHasher {
    #[inline]
    fn finish(&self) -> u64 {
        Self::fold_mul(self.0, Self::FINAL)
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length keeps "a" and "a\0" apart within one write.
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }
    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(v: i64) -> Row {
        Arc::from(vec![Value::I64(v)])
    }

    fn ts(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).unwrap_or_default()
    }

    fn series_values(t: &SeriesTable) -> Vec<(i64, i64)> {
        t.rows
            .iter()
            .map(|(ts, r)| match r[0] {
                Value::I64(v) => (ts.timestamp(), v),
                _ => (ts.timestamp(), -1),
            })
            .collect()
    }

    #[test]
    fn series_stay_sorted_and_ties_keep_append_order() {
        let mut t = SeriesTable::default();
        t.push(&[], ts(10), row(1));
        t.push(&[], ts(5), row(2));
        t.push(&[], ts(10), row(3));
        t.extend(
            &[],
            vec![(ts(7), row(4)), (ts(1), row(5)), (ts(10), row(6))],
        );
        assert_eq!(
            series_values(&t),
            [(1, 5), (5, 2), (7, 4), (10, 1), (10, 3), (10, 6)]
        );
        let w: Vec<i64> = t
            .window(ts(5), ts(10))
            .iter()
            .map(|(t, _)| t.timestamp())
            .collect();
        assert_eq!(w, [5, 7]);
        assert!(
            t.window(ts(10), ts(5)).is_empty(),
            "a reversed window is empty, not a panic"
        );
    }

    fn keyed(id: i64, v: i64) -> Row {
        Arc::from(vec![Value::I64(id), Value::I64(v)])
    }

    #[test]
    fn same_ids_and_timestamp_replace_in_place_distinct_timestamps_do_not() {
        let ids: &[usize] = &[0];
        let mut t = SeriesTable::default();
        t.push(ids, ts(10), keyed(1, 100));
        t.push(ids, ts(10), keyed(2, 200));
        t.push(ids, ts(11), keyed(1, 101));
        t.push(ids, ts(10), keyed(1, 102));
        t.extend(ids, vec![(ts(11), keyed(1, 103)), (ts(11), keyed(1, 104))]);
        let got: Vec<(i64, i64)> = t
            .rows
            .iter()
            .map(|(ts, r)| match r[1] {
                Value::I64(v) => (ts.timestamp(), v),
                _ => (ts.timestamp(), -1),
            })
            .collect();
        assert_eq!(got, [(10, 102), (10, 200), (11, 104)]);
    }

    #[test]
    fn expired_cache_entries_do_not_exist() {
        let mut tables = Tables::default();
        let id = TypeId::of::<u8>();
        let now = Instant::now();
        let put = |expires| Write::Put {
            key: "k".into(),
            row: row(1),
            expires,
            now,
        };
        let invalidate = || Write::Invalidate {
            key: "k".into(),
            now,
        };
        assert!(!tables.apply(id, put(Some(now))), "new key");
        assert!(!tables.apply(id, put(None)), "the old entry had expired");
        assert!(tables.apply(id, invalidate()));
        assert!(!tables.apply(id, invalidate()));
    }

    #[test]
    fn sweeps_remove_expired_entries() {
        let mut tables = Tables::default();
        let id = TypeId::of::<u8>();
        let now = Instant::now();
        for i in 0..200 {
            let write = Write::Put {
                key: i.to_string(),
                row: row(i),
                expires: Some(now),
                now,
            };
            tables.apply(id, write);
        }
        let left = tables.cache.get(&id).map_or(0, |t| t.entries.len());
        assert!(left < 100, "{left} expired entries kept");
    }

    #[test]
    fn key_hashes_spread_keys_that_differ_in_their_last_bytes() {
        // Record keys often share a long prefix and differ in a few trailing characters; a hash
        // that does not carry those differences into the low bits (the bucket index) and the top
        // bits (hashbrown's tag) degrades every lookup into a scan.
        let build = KeyHash::default();
        let keys: Vec<String> = (0..4_096_u32)
            .map(|i| format!("trader_config:00000000-0000-0000-0000-{i:012x}"))
            .collect();
        let low: fn(u64) -> u64 = |h| h & 0xfff;
        let top: fn(u64) -> u64 = |h| h >> 57;
        for (name, bits) in [("low", low), ("top", top)] {
            let mut seen = std::collections::HashMap::new();
            for k in &keys {
                *seen.entry(bits(build.hash_one(k))).or_insert(0_u32) += 1;
            }
            let worst = seen.values().copied().max().unwrap_or(0);
            let limit = if name == "low" { 12 } else { 80 };
            assert!(worst <= limit, "{name} bits: {worst} keys share one value");
        }
    }
}

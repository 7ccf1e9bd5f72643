//! A backend written the way a downstream crate would write one: a new type, outside `dal`,
//! implementing the backend traits with dal's public API only (row capture and decoding, the key
//! codec, `Filter::matches`, keyset cursors), then running the shared conformance suite with one
//! macro call. It proves a new backend needs no change to the framework.
//!
//! `MapStore` is deliberately independent of `dal::Memory`: records and cache entries live in its
//! own `HashMap`s behind one `Mutex`.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use dal::query::{Cursor, ListQuery, Page};
use dal::value::{RowCapture, RowDecoder, Value};
use dal::{
    Backend, BatchReport, CacheBackend, Capabilities, Entity, Error, Keyed, RecordBackend, Result,
};

/// A HashMap store of records and TTL cache entries. Clones share the maps.
#[derive(Clone, Default)]
struct MapStore {
    maps: Arc<Mutex<Maps>>,
}

/// A cached row and when it expires.
type Entry = (Vec<Value>, Option<Instant>);

#[derive(Default)]
struct Maps {
    /// Entity name -> key codec string -> row.
    records: HashMap<&'static str, HashMap<String, Vec<Value>>>,
    /// Entity name -> key codec string -> (row, expiry).
    cache: HashMap<&'static str, HashMap<String, Entry>>,
}

impl MapStore {
    fn lock(&self) -> MutexGuard<'_, Maps> {
        self.maps.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The entity as a row, with what every backend does to a value: the `max_len` check, and a
/// declared decimal brought to its scale.
fn row_of<T: Entity>(entity: &T) -> Result<Vec<Value>> {
    let mut capture = RowCapture::default();
    entity.encode(&mut capture)?;
    for field in T::META.fields {
        match capture.0.get_mut(field.index) {
            Some(Value::Text(text)) => field.check_max_len(text)?,
            Some(Value::Decimal(d)) => *d = field.fit_decimal(d)?,
            _ => {}
        }
    }
    Ok(capture.0)
}

fn key_of<T: Keyed>(key: &T::Key) -> Result<String> {
    let mut out = String::new();
    dal::key::encode_key::<T>(key, &mut out)?;
    Ok(out)
}

fn decode<T: Entity>(row: &[Value]) -> Result<T> {
    T::decode(&mut RowDecoder::new(row))
}

/// Compares a row's id values with other key values, part by part.
fn cmp_key(ids: &[usize], row: &[Value], key: &[Value]) -> Ordering {
    ids.iter()
        .enumerate()
        .map(|(n, &i)| match (row.get(i), key.get(n)) {
            (Some(a), Some(b)) => a.total_cmp(b),
            (a, b) => a.is_some().cmp(&b.is_some()),
        })
        .find(|o| o.is_ne())
        .unwrap_or_else(|| ids.len().cmp(&key.len()))
}

fn key_values(ids: &[usize], row: &[Value]) -> Vec<Value> {
    ids.iter()
        .map(|&i| row.get(i).cloned().unwrap_or(Value::Null))
        .collect()
}

impl Backend for MapStore {
    const NAME: &'static str = "mapstore";

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::none();
        caps.ttl_expiry = true;
        caps.limits.non_finite_floats = true;
        caps.limits.nul_in_text = true;
        // It keeps the values it captured: nanoseconds included.
        caps.timestamp_precision = Duration::from_nanos(1);
        caps
    }

    async fn health_check(&self) -> Result<()> {
        Ok(())
    }
}

impl RecordBackend for MapStore {
    async fn save<T: Keyed>(&self, entity: &T) -> Result<()> {
        let row = row_of(entity)?;
        let key = key_of::<T>(&entity.key())?;
        let mut maps = self.lock();
        maps.records
            .entry(T::META.name)
            .or_default()
            .insert(key, row);
        Ok(())
    }

    async fn save_all<T: Keyed>(&self, entities: &[T]) -> Result<BatchReport> {
        let mut report = BatchReport::default();
        let mut accepted = Vec::new();
        for (index, entity) in entities.iter().enumerate() {
            match row_of(entity).and_then(|row| Ok((key_of::<T>(&entity.key())?, row))) {
                Ok(kv) => accepted.push(kv),
                Err(e) => report.failed.push((index, e)),
            }
        }
        report.written = accepted.len();
        self.lock()
            .records
            .entry(T::META.name)
            .or_default()
            .extend(accepted);
        Ok(report)
    }

    async fn get<T: Keyed>(&self, key: &T::Key) -> Result<Option<T>> {
        let key = key_of::<T>(key)?;
        let maps = self.lock();
        let row = maps.records.get(T::META.name).and_then(|t| t.get(&key));
        row.map(|r| decode(r)).transpose()
    }

    async fn get_many<T: Keyed>(&self, keys: &[T::Key]) -> Result<Vec<Option<T>>> {
        let keys = keys.iter().map(key_of::<T>).collect::<Result<Vec<_>>>()?;
        let maps = self.lock();
        let table = maps.records.get(T::META.name);
        keys.iter()
            .map(|k| table.and_then(|t| t.get(k)).map(|r| decode(r)).transpose())
            .collect()
    }

    async fn list<T: Keyed>(&self, query: &ListQuery<T>) -> Result<Page<T>> {
        query.validate(T::META.name)?;
        let ids = T::META.id_fields;
        let after = query.after.as_ref().map(Cursor::key_values);
        let maps = self.lock();
        let mut rows: Vec<&Vec<Value>> = maps
            .records
            .get(T::META.name)
            .map(|t| t.values().collect())
            .unwrap_or_default();
        rows.retain(|r| {
            after.is_none_or(|a| cmp_key(ids, r, a) == Ordering::Greater) && query.filter.matches(r)
        });
        rows.sort_by(|a, b| cmp_key(ids, a, &key_values(ids, b)));
        let more = rows.len() > query.limit;
        rows.truncate(query.limit);
        let next = match (more, rows.last()) {
            (true, Some(last)) => Some(Cursor::from_key_values(key_values(ids, last))),
            _ => None,
        };
        let items = rows.into_iter().map(|r| decode(r)).collect::<Result<_>>()?;
        Ok(Page { items, next })
    }

    async fn delete<T: Keyed>(&self, key: &T::Key) -> Result<bool> {
        let key = key_of::<T>(key)?;
        let mut maps = self.lock();
        Ok(maps
            .records
            .get_mut(T::META.name)
            .is_some_and(|t| t.remove(&key).is_some()))
    }
}

fn check_ttl<T: Entity>(ttl: Option<Duration>) -> Result<()> {
    match ttl {
        Some(d) if d.is_zero() => Err(Error::invalid(T::META.name, "a TTL must be positive")),
        _ => Ok(()),
    }
}

/// The live entry under `key`, if any.
fn live<'a>(maps: &'a Maps, entity: &'static str, key: &str, now: Instant) -> Option<&'a Entry> {
    let entry = maps.cache.get(entity)?.get(key)?;
    entry.1.is_none_or(|at| at > now).then_some(entry)
}

impl CacheBackend for MapStore {
    async fn put<T: Keyed>(&self, entity: &T, ttl: Option<Duration>) -> Result<()> {
        check_ttl::<T>(ttl)?;
        let row = row_of(entity)?;
        let key = key_of::<T>(&entity.key())?;
        let expires = ttl.and_then(|d| Instant::now().checked_add(d));
        let mut maps = self.lock();
        maps.cache
            .entry(T::META.name)
            .or_default()
            .insert(key, (row, expires));
        Ok(())
    }

    async fn put_all<T: Keyed>(
        &self,
        entities: &[T],
        ttl: Option<Duration>,
    ) -> Result<BatchReport> {
        check_ttl::<T>(ttl)?;
        let mut report = BatchReport::default();
        for (index, entity) in entities.iter().enumerate() {
            match self.put(entity, ttl).await {
                Ok(()) => report.written += 1,
                Err(e) => report.failed.push((index, e)),
            }
        }
        Ok(report)
    }

    async fn lookup<T: Keyed>(&self, key: &T::Key) -> Result<Option<T>> {
        let key = key_of::<T>(key)?;
        let maps = self.lock();
        live(&maps, T::META.name, &key, Instant::now())
            .map(|(row, _)| decode(row))
            .transpose()
    }

    async fn lookup_many<T: Keyed>(&self, keys: &[T::Key]) -> Result<Vec<Option<T>>> {
        let keys = keys.iter().map(key_of::<T>).collect::<Result<Vec<_>>>()?;
        let now = Instant::now();
        let maps = self.lock();
        keys.iter()
            .map(|k| {
                live(&maps, T::META.name, k, now)
                    .map(|(row, _)| decode(row))
                    .transpose()
            })
            .collect()
    }

    async fn invalidate<T: Keyed>(&self, key: &T::Key) -> Result<bool> {
        let key = key_of::<T>(key)?;
        let now = Instant::now();
        let mut maps = self.lock();
        let existed = live(&maps, T::META.name, &key, now).is_some();
        if let Some(table) = maps.cache.get_mut(T::META.name) {
            table.remove(&key);
        }
        Ok(existed)
    }

    async fn remaining_ttl<T: Keyed>(&self, key: &T::Key) -> Result<Option<Duration>> {
        let key = key_of::<T>(key)?;
        let now = Instant::now();
        let maps = self.lock();
        Ok(
            live(&maps, T::META.name, &key, now)
                .and_then(|(_, expires)| expires.map(|at| at - now)),
        )
    }
}

dal::conformance_suite! {
    backend: mapstore,
    setup: |_namespace: String| async move { MapStore::default() },
    stores: [records, cache, differential_records, differential_cache],
}

/// A store that silently cuts text to 8 characters: every example case above stores short text,
/// so only generated values can tell.
#[derive(Clone, Default)]
struct CutsText(MapStore);

impl CutsText {
    fn cut<T: Entity>(entity: &T) -> Result<T> {
        let mut row = row_of(entity)?;
        for v in &mut row {
            if let Value::Text(text) = v {
                *text = text.chars().take(8).collect();
            }
        }
        decode(&row)
    }
}

impl Backend for CutsText {
    const NAME: &'static str = "cuts_text";
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    async fn health_check(&self) -> Result<()> {
        Ok(())
    }
}

impl RecordBackend for CutsText {
    async fn save<T: Keyed>(&self, entity: &T) -> Result<()> {
        self.0.save(&Self::cut(entity)?).await
    }
    async fn save_all<T: Keyed>(&self, entities: &[T]) -> Result<BatchReport> {
        let mut report = BatchReport::default();
        for (index, entity) in entities.iter().enumerate() {
            match Self::cut(entity) {
                Ok(cut) => {
                    self.0.save(&cut).await?;
                    report.written += 1;
                }
                Err(e) => report.failed.push((index, e)),
            }
        }
        Ok(report)
    }
    async fn get<T: Keyed>(&self, key: &T::Key) -> Result<Option<T>> {
        self.0.get::<T>(key).await
    }
    async fn get_many<T: Keyed>(&self, keys: &[T::Key]) -> Result<Vec<Option<T>>> {
        self.0.get_many::<T>(keys).await
    }
    async fn list<T: Keyed>(&self, query: &ListQuery<T>) -> Result<Page<T>> {
        self.0.list(query).await
    }
    async fn delete<T: Keyed>(&self, key: &T::Key) -> Result<bool> {
        self.0.delete::<T>(key).await
    }
}

/// The differential suite finds a silent change that no example case covers, and names it.
#[test]
fn the_differential_suite_catches_a_store_that_cuts_text() {
    let outcome = std::panic::catch_unwind(|| {
        dal::conformance::differential::records(
            "downstream_backend::cuts_text::records_differential",
            |_namespace: String| async move { CutsText::default() },
        );
    });
    let message = match outcome {
        Ok(()) => panic!("the differential suite passed a store that cuts text to 8 characters"),
        Err(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default(),
    };
    assert!(
        message.contains("reproduce with DAL_DIFFERENTIAL_SEED=")
            && message.contains("minimal failing case"),
        "{message}"
    );
    // The example-based suite has no case that fails on it: the same store passes `get` of a
    // short text round trip.
    let ok = tokio::runtime::Builder::new_current_thread()
        .build()
        .map(|rt| {
            rt.block_on(async {
                let store = CutsText::default();
                let r = dal::conformance::Record::new("id", "short", 1);
                store.save(&r).await.ok();
                store
                    .get::<dal::conformance::Record>(&"id".to_owned())
                    .await
                    .ok()
                    .flatten()
                    == Some(r)
            })
        })
        .unwrap_or(false);
    assert!(ok);
}

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

/// The entity as a row, with the `max_len` check every backend performs.
fn row_of<T: Entity>(entity: &T) -> Result<Vec<Value>> {
    let mut capture = RowCapture::default();
    entity.encode(&mut capture)?;
    for field in T::META.fields {
        if let Some(Value::Text(text)) = capture.0.get(field.index) {
            field.check_max_len(text)?;
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
    stores: [records, cache],
}

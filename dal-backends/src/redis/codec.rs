//! The value codec: one entity as one Redis string, in a compact, versioned binary row format.
//!
//! # Why this format
//! A cache read on the hot path decodes one value per lookup, so the format is chosen for speed
//! first: fields are written straight from the entity's field visitor into one reused buffer and
//! read back from the byte slice without an intermediate map, with no field names in the value
//! (JSON or a hash would repeat them in every entry and parse text on every read). Stability across
//! versions comes from the header, not from self-description:
//!
//! ```text
//! 0xDA  version(1)  fingerprint(8, little endian)  field*
//! field := tag(1) payload
//! ```
//!
//! - The **magic byte** tells a dal value from anything else stored under the key.
//! - The **format version** (this module's [`FORMAT_VERSION`]) changes only if this layout does;
//!   a reader rejects versions it does not know rather than guessing. Version 2 changed only the
//!   timestamp payload; values of version 1 are still read.
//! - The **fingerprint** is a 64-bit FNV-1a hash of the entity name and, per stored field, its
//!   column name, storage class and nullability, computed at compile time per entity. Adding,
//!   removing, renaming or retyping a field changes it, so a value written by an older schema, or
//!   by another entity type whose key happens to collide, is rejected with a typed
//!   [`Error::Codec`] naming the entity instead of being misread.
//! - Each field carries a **type tag**, so even a fingerprint collision cannot make a reader
//!   reinterpret bytes: a tag that does not match the field's class is a codec error naming the
//!   field.
//!
//! Payloads: NULL, `false` and `true` have no payload; integers (all widths) are zigzag LEB128
//! varints; `f32`/`f64` are IEEE little-endian bits (NaN and infinities round-trip); text, JSON
//! and bytes are a varint length then the bytes; a UUID is its 16 bytes; a timestamp is its
//! seconds as a little-endian `i64` plus nanoseconds as a little-endian `u32`, 12 bytes, exact
//! (version 1 wrote them as two varints, which cost several times more to read on every cache
//! hit); a decimal is `rust_decimal`'s documented 16-byte serialization, validated before use.
//!
//! Truncated, corrupted or trailing bytes are codec errors, never panics.
//!
//! # What a value holds
//! Every value of every field type round-trips bit for bit: timestamps over chrono's whole range
//! (`DateTime::<Utc>::MIN_UTC` to `MAX_UTC`, leap seconds and nanoseconds included), NaN with its
//! payload, ±infinity, `-0.0` and subnormals, `i32::MIN` / `i64::MIN`, text with NUL, and
//! decimals with their scale and sign (`0.000`, `-0.010`, `Decimal::MAX`, scale 28). A decimal
//! field with a declared precision and scale is stored at that scale
//! ([`FieldMeta::fit_decimal`]; a value that does not fit is a validation error). The only bound
//! is the size of the whole value (`RedisOptions::max_value_bytes`, at most Redis' 512 MiB), so
//! [`super::Redis`]'s [`dal::Limits`] are [`Limits::NONE`] with `text_max_bytes` set to the
//! longest text one value can carry ([`max_text_bytes`]).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use dal::entity::{Entity, EntityMeta, FieldKind, FieldMeta};
use dal::value::{FieldDecoder, FieldVisitor};
use dal::{Error, Limits, Result};
use rust_decimal::Decimal;
use uuid::Uuid;

/// First byte of every value written by this codec.
pub const MAGIC: u8 = 0xDA;
/// Version of the layout described in the module docs.
pub const FORMAT_VERSION: u8 = 2;
/// The oldest layout this build still reads.
const OLDEST_READABLE_VERSION: u8 = 1;
/// Bytes before the first field: magic, version, fingerprint.
pub const HEADER_LEN: usize = 10;

/// The field name used in codec errors about the value as a whole (header, trailing bytes).
const WHOLE_VALUE: &str = "<value>";

const TAG_NULL: u8 = 0;
const TAG_FALSE: u8 = 1;
const TAG_TRUE: u8 = 2;
const TAG_INT: u8 = 3;
const TAG_F32: u8 = 4;
const TAG_F64: u8 = 5;
const TAG_TEXT: u8 = 6;
const TAG_UUID: u8 = 7;
const TAG_TIMESTAMP: u8 = 8;
const TAG_DECIMAL: u8 = 9;
const TAG_JSON: u8 = 10;
const TAG_BYTES: u8 = 11;

const fn tag_name(tag: u8) -> &'static str {
    match tag {
        TAG_NULL => "NULL",
        TAG_FALSE | TAG_TRUE => "bool",
        TAG_INT => "integer",
        TAG_F32 => "f32",
        TAG_F64 => "f64",
        TAG_TEXT => "text",
        TAG_UUID => "uuid",
        TAG_TIMESTAMP => "timestamp",
        TAG_DECIMAL => "decimal",
        TAG_JSON => "json",
        TAG_BYTES => "bytes",
        _ => "an unknown tag",
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

const fn fnv_bytes(mut h: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(FNV_PRIME);
        i += 1;
    }
    // 0xFF never occurs in UTF-8, so it separates names unambiguously.
    h ^= 0xFF;
    h.wrapping_mul(FNV_PRIME)
}

/// A stable number per storage class (never the enum's discriminant, which may be reordered).
const fn kind_code(kind: FieldKind) -> u8 {
    match kind {
        FieldKind::Bool => 1,
        FieldKind::I16 => 2,
        FieldKind::I32 => 3,
        FieldKind::I64 => 4,
        FieldKind::F32 => 5,
        FieldKind::F64 => 6,
        FieldKind::Text => 7,
        FieldKind::Uuid => 8,
        FieldKind::Timestamp => 9,
        FieldKind::Decimal => 10,
        FieldKind::Json => 11,
        FieldKind::Bytes => 12,
        _ => 255,
    }
}

/// The schema fingerprint of an entity (see the module docs). `const`, so it costs nothing per
/// value: [`fingerprint_of`] evaluates it at compile time for each entity.
pub const fn fingerprint(meta: &EntityMeta) -> u64 {
    let mut h = fnv_bytes(FNV_OFFSET, meta.name.as_bytes());
    let mut i = 0;
    while i < meta.fields.len() {
        let f = &meta.fields[i];
        h = fnv_bytes(h, f.column.as_bytes());
        h = fnv_bytes(h, &[kind_code(f.kind), f.nullable as u8]);
        i += 1;
    }
    h
}

struct Fingerprint<T>(std::marker::PhantomData<T>);

impl<T: Entity> Fingerprint<T> {
    const VALUE: u64 = fingerprint(T::META);
}

/// The fingerprint of `T`, computed at compile time.
pub const fn fingerprint_of<T: Entity>() -> u64 {
    Fingerprint::<T>::VALUE
}

/// The longest text (or JSON) one value of at most `max_value_bytes` can carry: the value of an
/// entity with that one field, header, tag and length included.
pub const fn max_text_bytes(max_value_bytes: usize) -> usize {
    let room = max_value_bytes.saturating_sub(HEADER_LEN + 1);
    let mut len = room;
    // The length prefix takes 1..=10 bytes; step down until prefix and text fit together.
    while len > 0 && len + varint_len(len as u64) > room {
        len -= 1;
    }
    len
}

const fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Appends the encoded value of `entity` to `out` (header included). Declared decimals are
/// brought to their declared scale; no store limit is applied (see [`encode_value_within`]).
///
/// # Errors
/// [`Error::Validation`] for a field the entity cannot encode (see [`Entity::encode`]) or a
/// decimal that does not fit its declaration, naming entity and field.
pub fn encode_value<T: Entity>(entity: &T, out: &mut Vec<u8>) -> Result<()> {
    encode_versioned(entity, out, FORMAT_VERSION, &Limits::NONE)
}

/// As [`encode_value`], refusing values outside `limits` (the Redis handle passes its own).
///
/// # Errors
/// As [`encode_value`], and [`Error::Validation`] naming entity and field for a value outside
/// `limits`.
pub fn encode_value_within<T: Entity>(
    entity: &T,
    out: &mut Vec<u8>,
    limits: &Limits,
) -> Result<()> {
    encode_versioned(entity, out, FORMAT_VERSION, limits)
}

fn encode_versioned<T: Entity>(
    entity: &T,
    out: &mut Vec<u8>,
    version: u8,
    limits: &Limits,
) -> Result<()> {
    out.reserve(HEADER_LEN + 8 * T::META.fields.len());
    out.push(MAGIC);
    out.push(version);
    out.extend_from_slice(&fingerprint_of::<T>().to_le_bytes());
    entity.encode(&mut Writer {
        out,
        version,
        limits,
    })
}

/// Where a value was read from: it decides what a decode error advises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A cache or record key: the value can be rewritten or the key invalidated.
    Key,
    /// A stream entry: it cannot be rewritten, only acknowledged.
    StreamEntry,
    /// A pub/sub message: nothing is kept to repair or acknowledge.
    Message,
}

impl Origin {
    const fn advice(self) -> &'static str {
        match self {
            Origin::Key => "rewrite or invalidate it",
            Origin::StreamEntry => {
                "log the entry and acknowledge it (StreamConsumer::ack): it will never decode \
                 as this entity, and unacknowledged it stays pending and is reclaimed forever"
            }
            Origin::Message => {
                "log it and keep receiving: pub/sub keeps no copy to repair or acknowledge, and \
                 later messages are unaffected (check what else publishes on this channel)"
            }
        }
    }
}

/// Decodes a value written by [`encode_value`] for the same entity and schema.
///
/// # Errors
/// [`Error::Codec`] naming the entity (and the field, where one is at fault) when the bytes are
/// not a dal value, were written by another entity or schema version, are truncated or corrupted,
/// or have bytes left over. The message ends with the advice for a value under a key (rewrite or
/// invalidate it).
#[inline]
pub fn decode_value<T: Entity>(bytes: &[u8]) -> Result<T> {
    decode_from(bytes, Origin::Key)
}

/// [`decode_value`] with the advice for where the bytes came from.
#[inline]
pub(crate) fn decode_from<T: Entity>(bytes: &[u8], origin: Origin) -> Result<T> {
    match decode_bare(bytes) {
        Ok(value) => Ok(value),
        Err(e) => Err(with_advice(e, origin)),
    }
}

/// Appends `origin`'s advice to a codec error.
#[cold]
pub(crate) fn with_advice(mut e: Error, origin: Origin) -> Error {
    if let Error::Codec { message, .. } = &mut e {
        message.push_str("; ");
        message.push_str(origin.advice());
    }
    e
}

#[inline]
fn decode_bare<T: Entity>(bytes: &[u8]) -> Result<T> {
    let entity = T::META.name;
    let whole = |message: String| Error::Codec {
        entity,
        field: WHOLE_VALUE,
        message,
    };
    if bytes.len() < HEADER_LEN {
        return Err(whole(format!(
            "stored value is {} bytes, shorter than the {HEADER_LEN}-byte header: not a dal value",
            bytes.len()
        )));
    }
    if bytes[0] != MAGIC {
        return Err(whole(format!(
            "stored value does not start with the dal magic byte 0x{MAGIC:02X} (found 0x{:02X}): \
             it was not written by dal",
            bytes[0]
        )));
    }
    let version = bytes[1];
    if !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(whole(format!(
            "stored value has format version {version}, this build reads versions \
             {OLDEST_READABLE_VERSION} to {FORMAT_VERSION}"
        )));
    }
    let mut fp = [0u8; 8];
    fp.copy_from_slice(&bytes[2..HEADER_LEN]);
    let found = u64::from_le_bytes(fp);
    let expected = fingerprint_of::<T>();
    if found != expected {
        return Err(whole(format!(
            "stored value was written by another entity or another schema version of {entity} \
             (fingerprint {found:016x}, expected {expected:016x})"
        )));
    }
    let mut reader = Reader {
        buf: bytes,
        pos: HEADER_LEN,
        version,
    };
    let value = T::decode(&mut reader)?;
    if reader.pos != bytes.len() {
        return Err(whole(format!(
            "{} bytes left over after the last field: the value is corrupted",
            bytes.len() - reader.pos
        )));
    }
    Ok(value)
}

/// Writes fields into the output buffer.
struct Writer<'a> {
    out: &'a mut Vec<u8>,
    /// [`FORMAT_VERSION`] except in tests of reading older values.
    version: u8,
    /// The store's limits. Only text can exceed them (see the module docs): the other
    /// per-kind checks would never refuse anything, so they are not called.
    limits: &'a Limits,
}

impl Writer<'_> {
    #[inline]
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.out.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }

    #[inline]
    fn int(&mut self, v: i64) {
        self.out.push(TAG_INT);
        self.varint(zigzag(v));
    }

    #[inline]
    fn len_prefixed(&mut self, tag: u8, bytes: &[u8]) {
        self.out.push(tag);
        self.varint(bytes.len() as u64);
        self.out.extend_from_slice(bytes);
    }
}

#[inline]
const fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
const fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

impl FieldVisitor for Writer<'_> {
    fn null(&mut self, _: &'static FieldMeta) -> Result<()> {
        self.out.push(TAG_NULL);
        Ok(())
    }
    fn bool(&mut self, _: &'static FieldMeta, v: bool) -> Result<()> {
        self.out.push(if v { TAG_TRUE } else { TAG_FALSE });
        Ok(())
    }
    fn i16(&mut self, _: &'static FieldMeta, v: i16) -> Result<()> {
        self.int(i64::from(v));
        Ok(())
    }
    fn i32(&mut self, _: &'static FieldMeta, v: i32) -> Result<()> {
        self.int(i64::from(v));
        Ok(())
    }
    fn i64(&mut self, _: &'static FieldMeta, v: i64) -> Result<()> {
        self.int(v);
        Ok(())
    }
    fn f32(&mut self, _: &'static FieldMeta, v: f32) -> Result<()> {
        self.out.push(TAG_F32);
        self.out.extend_from_slice(&v.to_bits().to_le_bytes());
        Ok(())
    }
    fn f64(&mut self, _: &'static FieldMeta, v: f64) -> Result<()> {
        self.out.push(TAG_F64);
        self.out.extend_from_slice(&v.to_bits().to_le_bytes());
        Ok(())
    }
    fn str(&mut self, field: &'static FieldMeta, v: &str) -> Result<()> {
        // The byte bound of the store and the field's `max_len`, the same rule as every other
        // store's, so a value valid here is valid there.
        self.limits.check_text(field, v)?;
        self.len_prefixed(TAG_TEXT, v.as_bytes());
        Ok(())
    }
    fn uuid(&mut self, _: &'static FieldMeta, v: &Uuid) -> Result<()> {
        self.out.push(TAG_UUID);
        self.out.extend_from_slice(v.as_bytes());
        Ok(())
    }
    fn timestamp(&mut self, _: &'static FieldMeta, v: &DateTime<Utc>) -> Result<()> {
        self.out.push(TAG_TIMESTAMP);
        if self.version == 1 {
            self.varint(zigzag(v.timestamp()));
            self.varint(u64::from(v.timestamp_subsec_nanos()));
        } else {
            self.out.extend_from_slice(&v.timestamp().to_le_bytes());
            self.out
                .extend_from_slice(&v.timestamp_subsec_nanos().to_le_bytes());
        }
        Ok(())
    }
    fn decimal(&mut self, field: &'static FieldMeta, v: &Decimal) -> Result<()> {
        // A declared scale is applied (12.5 -> 12.50000000); an undeclared decimal keeps its own.
        let v = field.fit_decimal(v)?;
        self.out.push(TAG_DECIMAL);
        self.out.extend_from_slice(&v.serialize());
        Ok(())
    }
    fn json(&mut self, field: &'static FieldMeta, json: &str) -> Result<()> {
        self.limits.check_text(field, json)?;
        self.len_prefixed(TAG_JSON, json.as_bytes());
        Ok(())
    }
    fn bytes(&mut self, _: &'static FieldMeta, v: &[u8]) -> Result<()> {
        self.len_prefixed(TAG_BYTES, v);
        Ok(())
    }
}

/// Reads fields from a value; every read is bounds-checked.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// The value's format version (timestamps differ between 1 and 2).
    version: u8,
}

#[cold]
fn wrong_tag(field: &'static FieldMeta, found: u8, want: u8) -> Error {
    Error::codec(
        field,
        format_args!(
            "stored value holds {} (tag {found}) where {} was expected: the value is corrupted",
            tag_name(found),
            tag_name(want)
        ),
    )
}

#[cold]
fn overflow(field: &'static FieldMeta) -> Error {
    Error::codec(
        field,
        "stored integer overflows 64 bits: the value is corrupted",
    )
}

#[cold]
fn truncated(field: &'static FieldMeta) -> Error {
    Error::codec(field, "stored value is truncated inside this field")
}

impl<'a> Reader<'a> {
    /// Reads the tag; `Ok(None)` for NULL, an error when it is neither NULL nor `want` (for
    /// booleans, `want` is [`TAG_FALSE`] and [`TAG_TRUE`] is accepted too).
    #[inline(always)]
    fn tag(&mut self, field: &'static FieldMeta, want: u8) -> Result<Option<u8>> {
        let tag = *self.buf.get(self.pos).ok_or_else(|| truncated(field))?;
        self.pos += 1;
        if tag == want || (want == TAG_FALSE && tag == TAG_TRUE) {
            Ok(Some(tag))
        } else if tag == TAG_NULL {
            Ok(None)
        } else {
            Err(wrong_tag(field, tag, want))
        }
    }

    #[inline]
    fn take(&mut self, field: &'static FieldMeta, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or_else(|| truncated(field))?;
        let bytes = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| truncated(field))?;
        self.pos = end;
        Ok(bytes)
    }

    #[inline]
    fn array<const N: usize>(&mut self, field: &'static FieldMeta) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(field, N)?);
        Ok(a)
    }

    #[inline(always)]
    fn varint(&mut self, field: &'static FieldMeta) -> Result<u64> {
        // Lengths and small integers fit one byte.
        if let Some(&b) = self.buf.get(self.pos)
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        self.varint_bytewise(field)
    }

    /// [`Reader::varint`] past its one-byte fast path.
    fn varint_bytewise(&mut self, field: &'static FieldMeta) -> Result<u64> {
        let mut v: u64 = 0;
        let mut shift = 0u32;
        loop {
            let b = *self.buf.get(self.pos).ok_or_else(|| truncated(field))?;
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err(overflow(field));
            }
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
            shift += 7;
        }
    }

    fn int(&mut self, field: &'static FieldMeta) -> Result<Option<i64>> {
        match self.tag(field, TAG_INT)? {
            None => Ok(None),
            Some(_) => Ok(Some(unzigzag(self.varint(field)?))),
        }
    }

    fn len_prefixed(&mut self, field: &'static FieldMeta, tag: u8) -> Result<Option<&'a [u8]>> {
        match self.tag(field, tag)? {
            None => Ok(None),
            Some(_) => {
                let len = self.varint(field)?;
                let len = usize::try_from(len).map_err(|_| truncated(field))?;
                self.take(field, len).map(Some)
            }
        }
    }

    fn text(&mut self, field: &'static FieldMeta, tag: u8) -> Result<Option<String>> {
        match self.len_prefixed(field, tag)? {
            None => Ok(None),
            Some(bytes) => std::str::from_utf8(bytes)
                .map(|s| Some(s.to_owned()))
                .map_err(|e| Error::codec(field, format_args!("stored text is not UTF-8: {e}"))),
        }
    }
}

thread_local! {
    /// The last calendar day decoded on this thread: values read together (a batch of prices)
    /// mostly share a day, and turning a day number into a date is the costly part.
    static LAST_DAY: std::cell::Cell<(i64, NaiveDate)> =
        const { std::cell::Cell::new((i64::MIN, NaiveDate::MIN)) };
}

/// `DateTime::from_timestamp` with the day-to-date step cached (same result, same range).
fn timestamp_from_parts(secs: i64, nanos: u32) -> Option<DateTime<Utc>> {
    let days = secs.div_euclid(86_400);
    let seconds_of_day = u32::try_from(secs.rem_euclid(86_400)).ok()?;
    let (cached_day, cached_date) = LAST_DAY.get();
    let date = if cached_day == days {
        cached_date
    } else {
        // 719,163 days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
        let ce = i32::try_from(days).ok()?.checked_add(719_163)?;
        let date = NaiveDate::from_num_days_from_ce_opt(ce)?;
        LAST_DAY.set((days, date));
        date
    };
    let time = NaiveTime::from_num_seconds_from_midnight_opt(seconds_of_day, nanos)?;
    Some(DateTime::from_naive_utc_and_offset(
        date.and_time(time),
        Utc,
    ))
}

macro_rules! narrow_int {
    ($name:ident, $ty:ty) => {
        fn $name(&mut self, field: &'static FieldMeta) -> Result<Option<$ty>> {
            match self.int(field)? {
                None => Ok(None),
                Some(wide) => <$ty>::try_from(wide).map(Some).map_err(|_| {
                    Error::codec(
                        field,
                        format_args!(
                            "stored value {wide} is out of range for {}",
                            stringify!($ty)
                        ),
                    )
                }),
            }
        }
    };
}

impl FieldDecoder for Reader<'_> {
    fn bool(&mut self, field: &'static FieldMeta) -> Result<Option<bool>> {
        Ok(self.tag(field, TAG_FALSE)?.map(|t| t == TAG_TRUE))
    }
    narrow_int!(i16, i16);
    narrow_int!(i32, i32);
    fn i64(&mut self, field: &'static FieldMeta) -> Result<Option<i64>> {
        self.int(field)
    }
    fn f32(&mut self, field: &'static FieldMeta) -> Result<Option<f32>> {
        match self.tag(field, TAG_F32)? {
            None => Ok(None),
            Some(_) => Ok(Some(f32::from_bits(u32::from_le_bytes(self.array(field)?)))),
        }
    }
    fn f64(&mut self, field: &'static FieldMeta) -> Result<Option<f64>> {
        match self.tag(field, TAG_F64)? {
            None => Ok(None),
            Some(_) => Ok(Some(f64::from_bits(u64::from_le_bytes(self.array(field)?)))),
        }
    }
    fn string(&mut self, field: &'static FieldMeta) -> Result<Option<String>> {
        self.text(field, TAG_TEXT)
    }
    fn uuid(&mut self, field: &'static FieldMeta) -> Result<Option<Uuid>> {
        match self.tag(field, TAG_UUID)? {
            None => Ok(None),
            Some(_) => Ok(Some(Uuid::from_bytes(self.array(field)?))),
        }
    }
    fn timestamp(&mut self, field: &'static FieldMeta) -> Result<Option<DateTime<Utc>>> {
        match self.tag(field, TAG_TIMESTAMP)? {
            None => Ok(None),
            Some(_) => {
                let (secs, nanos) = if self.version == 1 {
                    let secs = unzigzag(self.varint(field)?);
                    (secs, u32::try_from(self.varint(field)?).ok())
                } else {
                    let secs = i64::from_le_bytes(self.array(field)?);
                    (secs, Some(u32::from_le_bytes(self.array(field)?)))
                };
                nanos
                    .and_then(|n| timestamp_from_parts(secs, n))
                    .map(Some)
                    .ok_or_else(|| {
                        Error::codec(
                            field,
                            "stored timestamp is out of range: the value is corrupted",
                        )
                    })
            }
        }
    }
    fn decimal(&mut self, field: &'static FieldMeta) -> Result<Option<Decimal>> {
        match self.tag(field, TAG_DECIMAL)? {
            None => Ok(None),
            Some(_) => {
                let raw: [u8; 16] = self.array(field)?;
                // Flags: bytes 0-1 unused, byte 2 the scale (at most 28), byte 3 the sign bit only.
                // Checked here because `Decimal::deserialize` trusts its input.
                if raw[0] != 0 || raw[1] != 0 || raw[2] > 28 || raw[3] & 0x7F != 0 {
                    return Err(Error::codec(
                        field,
                        "stored decimal is malformed: the value is corrupted",
                    ));
                }
                Ok(Some(Decimal::deserialize(raw)))
            }
        }
    }
    fn json(&mut self, field: &'static FieldMeta) -> Result<Option<String>> {
        self.text(field, TAG_JSON)
    }
    fn bytes(&mut self, field: &'static FieldMeta) -> Result<Option<Vec<u8>>> {
        Ok(self.len_prefixed(field, TAG_BYTES)?.map(<[u8]>::to_vec))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use dal::entity::{KeySegment, Keyed, Partition, PgStatements, QuestDbMeta};
    use std::time::Duration;

    /// A hand-written entity covering every storage class (the codec must not depend on the
    /// derive being present to be tested).
    #[derive(Debug, Clone, PartialEq)]
    pub(crate) struct Sample {
        pub(crate) id: String,
        pub(crate) flag: bool,
        pub(crate) small: i16,
        pub(crate) mid: i32,
        pub(crate) big: i64,
        pub(crate) ratio: f32,
        pub(crate) price: f64,
        pub(crate) note: Option<String>,
        pub(crate) uid: Uuid,
        pub(crate) ts: DateTime<Utc>,
        pub(crate) amount: Decimal,
        pub(crate) extra: String,
        pub(crate) blob: Vec<u8>,
    }

    macro_rules! field {
        ($entity:literal, $name:literal, $index:expr, $kind:ident, $nullable:expr, $id:expr) => {
            FieldMeta {
                entity: $entity,
                name: $name,
                column: $name,
                index: $index,
                kind: FieldKind::$kind,
                nullable: $nullable,
                id: $id,
                timestamp: false,
                symbol: false,
                default: false,
                max_len: None,
                decimal: None,
            }
        };
    }

    static SAMPLE_FIELDS: [FieldMeta; 13] = [
        field!("Sample", "id", 0, Text, false, true),
        field!("Sample", "flag", 1, Bool, false, false),
        field!("Sample", "small", 2, I16, false, false),
        field!("Sample", "mid", 3, I32, false, false),
        field!("Sample", "big", 4, I64, false, false),
        field!("Sample", "ratio", 5, F32, false, false),
        field!("Sample", "price", 6, F64, false, false),
        field!("Sample", "note", 7, Text, true, false),
        field!("Sample", "uid", 8, Uuid, false, false),
        field!("Sample", "ts", 9, Timestamp, false, false),
        field!("Sample", "amount", 10, Decimal, false, false),
        field!("Sample", "extra", 11, Json, false, false),
        field!("Sample", "blob", 12, Bytes, false, false),
    ];

    const NO_PG: PgStatements = PgStatements {
        columns: "",
        insert: "",
        upsert: "",
        select_by_key: "",
        delete_by_key: "",
        select: "",
    };

    static SAMPLE_META: EntityMeta = EntityMeta {
        name: "Sample",
        table: "sample",
        fields: &SAMPLE_FIELDS,
        id_fields: &[0],
        timestamp_field: None,
        key_template: &[KeySegment::Literal("sample:"), KeySegment::Field(0)],
        default_ttl: Some(Duration::from_secs(60)),
        questdb: QuestDbMeta {
            partition: Partition::Day,
            ttl: None,
            dedup: false,
        },
        pg: NO_PG,
    };

    impl Entity for Sample {
        const META: &'static EntityMeta = &SAMPLE_META;
        fn encode<V: FieldVisitor + ?Sized>(&self, v: &mut V) -> Result<()> {
            let f = &SAMPLE_FIELDS;
            v.str(&f[0], &self.id)?;
            v.bool(&f[1], self.flag)?;
            v.i16(&f[2], self.small)?;
            v.i32(&f[3], self.mid)?;
            v.i64(&f[4], self.big)?;
            v.f32(&f[5], self.ratio)?;
            v.f64(&f[6], self.price)?;
            match &self.note {
                Some(n) => v.str(&f[7], n)?,
                None => v.null(&f[7])?,
            }
            v.uuid(&f[8], &self.uid)?;
            v.timestamp(&f[9], &self.ts)?;
            v.decimal(&f[10], &self.amount)?;
            v.json(&f[11], &self.extra)?;
            v.bytes(&f[12], &self.blob)
        }
        fn decode<D: FieldDecoder + ?Sized>(d: &mut D) -> Result<Self> {
            let f = &SAMPLE_FIELDS;
            let need =
                |field: &'static FieldMeta| Error::codec(field, "NULL in a non-Option field");
            Ok(Sample {
                id: d.string(&f[0])?.ok_or_else(|| need(&f[0]))?,
                flag: d.bool(&f[1])?.ok_or_else(|| need(&f[1]))?,
                small: d.i16(&f[2])?.ok_or_else(|| need(&f[2]))?,
                mid: d.i32(&f[3])?.ok_or_else(|| need(&f[3]))?,
                big: d.i64(&f[4])?.ok_or_else(|| need(&f[4]))?,
                ratio: d.f32(&f[5])?.ok_or_else(|| need(&f[5]))?,
                price: d.f64(&f[6])?.ok_or_else(|| need(&f[6]))?,
                note: d.string(&f[7])?,
                uid: d.uuid(&f[8])?.ok_or_else(|| need(&f[8]))?,
                ts: d.timestamp(&f[9])?.ok_or_else(|| need(&f[9]))?,
                amount: d.decimal(&f[10])?.ok_or_else(|| need(&f[10]))?,
                extra: d.json(&f[11])?.ok_or_else(|| need(&f[11]))?,
                blob: d.bytes(&f[12])?.ok_or_else(|| need(&f[12]))?,
            })
        }
    }

    impl Keyed for Sample {
        type Key = String;
        fn key(&self) -> String {
            self.id.clone()
        }
        fn encode_key<V: FieldVisitor + ?Sized>(key: &String, v: &mut V) -> Result<()> {
            v.str(&SAMPLE_FIELDS[0], key)
        }
    }

    /// Same field names as `Sample`'s first field, different entity name.
    #[derive(Debug, Clone, PartialEq)]
    struct Other {
        id: String,
    }

    static OTHER_FIELDS: [FieldMeta; 1] = [field!("Other", "id", 0, Text, false, true)];
    static OTHER_META: EntityMeta = EntityMeta {
        name: "Other",
        table: "other",
        fields: &OTHER_FIELDS,
        id_fields: &[0],
        timestamp_field: None,
        key_template: &[KeySegment::Literal("other:"), KeySegment::Field(0)],
        default_ttl: None,
        questdb: QuestDbMeta {
            partition: Partition::Day,
            ttl: None,
            dedup: false,
        },
        pg: NO_PG,
    };

    impl Entity for Other {
        const META: &'static EntityMeta = &OTHER_META;
        fn encode<V: FieldVisitor + ?Sized>(&self, v: &mut V) -> Result<()> {
            v.str(&OTHER_FIELDS[0], &self.id)
        }
        fn decode<D: FieldDecoder + ?Sized>(d: &mut D) -> Result<Self> {
            Ok(Other {
                id: d
                    .string(&OTHER_FIELDS[0])?
                    .ok_or_else(|| Error::codec(&OTHER_FIELDS[0], "NULL"))?,
            })
        }
    }

    pub(crate) fn sample(i: i64) -> Sample {
        Sample {
            id: format!("s:{i}"),
            flag: i % 2 == 0,
            small: i16::MIN,
            mid: i32::MAX,
            big: i64::MIN + i,
            ratio: f32::NAN,
            price: f64::NEG_INFINITY,
            note: if i % 3 == 0 {
                None
            } else {
                Some("nul\0 ünï {x}".into())
            },
            uid: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef ^ i as u128),
            ts: DateTime::from_timestamp(-1_234_567, 999_999_999).expect("valid"),
            amount: Decimal::new(-123_456_789, 7),
            extra: r#"{"a":[1,2,3]}"#.into(),
            blob: vec![0, 255, 1, 254],
        }
    }

    fn same(a: &Sample, b: &Sample) -> bool {
        // NaN != NaN, so floats compare by bits.
        a.ratio.to_bits() == b.ratio.to_bits()
            && a.price.to_bits() == b.price.to_bits()
            && Sample {
                ratio: 0.0,
                price: 0.0,
                ..a.clone()
            } == Sample {
                ratio: 0.0,
                price: 0.0,
                ..b.clone()
            }
    }

    #[test]
    fn every_storage_class_round_trips_exactly() {
        for i in 0..6 {
            let s = sample(i);
            let mut buf = Vec::new();
            encode_value(&s, &mut buf).expect("encode");
            assert_eq!(buf[0], MAGIC);
            assert_eq!(buf[1], FORMAT_VERSION);
            let back: Sample = decode_value(&buf).expect("decode");
            assert!(same(&s, &back), "{s:?} != {back:?}");
        }
        let mut z = sample(1);
        z.amount = Decimal::new(-0, 3);
        z.big = i64::MAX;
        let mut buf = Vec::new();
        encode_value(&z, &mut buf).expect("encode");
        assert!(same(&z, &decode_value::<Sample>(&buf).expect("decode")));
    }

    #[test]
    fn edge_values_round_trip_bit_for_bit() {
        let decimals = [
            "0.000",
            "12.500",
            "-0.010",
            "0.0000000000000000000000000001",
            "-7.9228162514264337593543950335",
        ]
        .map(|t| t.parse::<Decimal>().expect("decimal"));
        let timestamps = [
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            DateTime::from_timestamp(1_483_228_799, 1_500_000_000).expect("leap second"),
            DateTime::from_timestamp(-62_135_596_800, 0).expect("year 1"),
        ];
        let floats = [
            f64::from_bits(0x7FF8_0000_DEAD_BEEF),
            f64::from_bits(0xFFF0_0000_0000_0001),
            -0.0,
            f64::from_bits(1),
            f64::INFINITY,
        ];
        let mut cases = Vec::new();
        for (i, amount) in decimals
            .into_iter()
            .chain([
                Decimal::MAX,
                Decimal::MIN,
                Decimal::from_parts(0, 0, 0, true, 5),
            ])
            .enumerate()
        {
            let mut s = sample(1);
            s.amount = amount;
            s.ts = timestamps[i % timestamps.len()];
            s.price = floats[i % floats.len()];
            s.ratio = f32::from_bits(0x7FC0_0000 | i as u32);
            s.note = Some("\0".repeat(i));
            cases.push(s);
        }
        for s in cases {
            let mut buf = Vec::new();
            encode_value(&s, &mut buf).expect("encode");
            let back: Sample = decode_value(&buf).expect("decode");
            assert!(same(&s, &back), "{s:?} != {back:?}");
            // `==` on decimals ignores scale and the sign of zero: compare the representation.
            assert_eq!(
                back.amount.serialize(),
                s.amount.serialize(),
                "{}",
                s.amount
            );
            assert_eq!(back.ts, s.ts);
        }
    }

    #[test]
    fn max_text_bytes_is_the_longest_text_one_value_carries() {
        let mut sizes: Vec<usize> = (0..300).collect();
        for k in [7u32, 14, 21] {
            let p = 1usize << k;
            sizes.extend(p - 20..p + 20);
        }
        // Larger bounds by arithmetic: the length prefix grows by one byte every 7 bits.
        for max in [1usize << 28, super::super::REDIS_MAX_VALUE_BYTES] {
            let n = max_text_bytes(max);
            assert_eq!(HEADER_LEN + 1 + varint_len(n as u64) + n, max, "{max}");
        }
        for max in sizes {
            let n = max_text_bytes(max);
            let mut buf = Vec::new();
            encode_value(&Other { id: "x".repeat(n) }, &mut buf).expect("encode");
            if max >= HEADER_LEN + 2 {
                assert!(
                    buf.len() <= max,
                    "{max}: {n} bytes of text make {}",
                    buf.len()
                );
            }
            buf.clear();
            encode_value(
                &Other {
                    id: "x".repeat(n + 1),
                },
                &mut buf,
            )
            .expect("encode");
            assert!(buf.len() > max, "{max}: {} bytes of text also fit", n + 1);
        }
        // The handle's limits refuse longer text naming the field, before the size check.
        let mut limits = Limits::NONE;
        limits.text_max_bytes = Some(4);
        let err = encode_value_within(&Other { id: "12345".into() }, &mut Vec::new(), &limits)
            .expect_err("over the limit");
        assert!(
            matches!(
                err,
                Error::Validation {
                    entity: "Other",
                    field: Some("id"),
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn decode_errors_give_the_advice_of_their_origin() {
        let mut buf = Vec::new();
        encode_value(&Other { id: "x".into() }, &mut buf).expect("encode");
        let cache = decode_value::<Sample>(&buf).expect_err("another entity");
        assert!(
            cache.to_string().contains("rewrite or invalidate it"),
            "{cache}"
        );
        let entry = decode_from::<Sample>(&buf, Origin::StreamEntry).expect_err("entry");
        let entry = entry.to_string();
        assert!(
            entry.contains("acknowledge it") && !entry.contains("invalidate"),
            "{entry}"
        );
        let message = decode_from::<Sample>(b"junk", Origin::Message).expect_err("message");
        let message = message.to_string();
        assert!(
            message.contains("keep receiving") && !message.contains("invalidate"),
            "{message}"
        );
    }

    #[test]
    fn values_of_format_version_1_are_still_read() {
        for i in 0..6 {
            let s = sample(i);
            let (mut v1, mut v2) = (Vec::new(), Vec::new());
            encode_versioned(&s, &mut v1, 1, &Limits::NONE).expect("encode v1");
            encode_value(&s, &mut v2).expect("encode v2");
            assert_eq!(v1[1], 1);
            assert_ne!(v1, v2, "the versions differ in the timestamp payload");
            let back: Sample = decode_value(&v1).expect("decode v1");
            assert!(same(&s, &back), "{s:?} != {back:?}");
        }
        let mut newer = Vec::new();
        encode_value(&sample(1), &mut newer).expect("encode");
        for version in [0, FORMAT_VERSION + 1] {
            newer[1] = version;
            let err = decode_value::<Sample>(&newer).expect_err("unknown version");
            assert!(err.to_string().contains("format version"), "{err}");
        }
    }

    #[test]
    fn fingerprint_is_compile_time_and_differs_between_entities() {
        const FP: u64 = fingerprint_of::<Sample>();
        assert_eq!(FP, fingerprint(Sample::META));
        assert_ne!(fingerprint_of::<Sample>(), fingerprint_of::<Other>());
    }

    #[test]
    fn another_entitys_value_is_a_typed_error_naming_the_entity() {
        let mut buf = Vec::new();
        encode_value(&Other { id: "x".into() }, &mut buf).expect("encode");
        let err = decode_value::<Sample>(&buf).expect_err("must not decode");
        match err {
            Error::Codec {
                entity, message, ..
            } => {
                assert_eq!(entity, "Sample");
                assert!(message.contains("another entity"), "{message}");
            }
            other => panic!("expected a codec error, got {other:?}"),
        }
    }

    #[test]
    fn foreign_bytes_and_versions_are_rejected() {
        for bytes in [
            &b""[..],
            b"hello",
            b"{\"id\":\"x\"}",
            &[MAGIC, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ] {
            let err = decode_value::<Sample>(bytes).expect_err("must not decode");
            assert!(
                matches!(
                    err,
                    Error::Codec {
                        entity: "Sample",
                        ..
                    }
                ),
                "{err:?}"
            );
        }
        let mut buf = Vec::new();
        encode_value(&sample(1), &mut buf).expect("encode");
        buf.push(0);
        let err = decode_value::<Sample>(&buf).expect_err("trailing byte");
        assert!(err.to_string().contains("left over"), "{err}");
    }

    #[test]
    fn varints_round_trip_at_every_width_and_overflow_is_rejected() {
        let field = &SAMPLE_FIELDS[4];
        let mut values: Vec<u64> = vec![0, 1, u64::MAX, u64::MAX - 1, 1 << 63];
        for k in 1..64 {
            values.extend([(1u64 << k) - 1, 1u64 << k, (1u64 << k) + 1]);
        }
        for v in values {
            let mut bytes = Vec::new();
            Writer {
                out: &mut bytes,
                version: FORMAT_VERSION,
                limits: &Limits::NONE,
            }
            .varint(v);
            // At the end of the value, then followed by more bytes.
            for pad in [0usize, 10] {
                let mut buf = bytes.clone();
                buf.resize(bytes.len() + pad, 0xFF);
                let mut r = Reader {
                    buf: &buf,
                    pos: 0,
                    version: FORMAT_VERSION,
                };
                assert_eq!(r.varint(field).ok(), Some(v), "{v} with {pad} bytes after");
                assert_eq!(r.pos, bytes.len());
                // Cut short, it is truncated.
                let mut short = Reader {
                    buf: &bytes[..bytes.len() - 1],
                    pos: 0,
                    version: FORMAT_VERSION,
                };
                assert!(short.varint(field).is_err());
            }
        }
        // Over 64 bits: a tenth byte above 1, or an eleventh byte.
        for bad in [
            [0xFFu8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02].to_vec(),
            [0xFFu8; 10].to_vec(),
        ] {
            for pad in [0usize, 10] {
                let mut buf = bad.clone();
                buf.resize(bad.len() + pad, 0);
                let err = Reader {
                    buf: &buf,
                    pos: 0,
                    version: FORMAT_VERSION,
                }
                .varint(field)
                .unwrap_err();
                assert!(err.to_string().contains("overflows 64 bits"), "{err}");
            }
        }
    }

    #[test]
    fn a_wrong_tag_names_the_field() {
        let mut buf = Vec::new();
        encode_value(&sample(1), &mut buf).expect("encode");
        // The first field (id, text) starts right after the header.
        buf[HEADER_LEN] = TAG_UUID;
        match decode_value::<Sample>(&buf).expect_err("wrong tag") {
            Error::Codec { entity, field, .. } => assert_eq!((entity, field), ("Sample", "id")),
            other => panic!("{other:?}"),
        }
    }

    /// xorshift64*: deterministic noise without a dependency.
    pub(crate) struct Noise(pub(crate) u64);
    impl Noise {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    #[test]
    fn truncations_and_random_corruption_never_panic() {
        let mut buf = Vec::new();
        encode_value(&sample(2), &mut buf).expect("encode");
        for len in 0..buf.len() {
            let err = decode_value::<Sample>(&buf[..len]).expect_err("truncated value must fail");
            assert!(
                matches!(
                    err,
                    Error::Codec {
                        entity: "Sample",
                        ..
                    }
                ),
                "{err:?}"
            );
        }
        let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let mut bad = buf.clone();
            // Flip 1..4 bytes after the header (header corruption is covered above).
            for _ in 0..=(noise.next() % 4) {
                let at = HEADER_LEN + (noise.next() as usize) % (bad.len() - HEADER_LEN);
                bad[at] = noise.next() as u8;
            }
            // Either a typed error or a (different but well-formed) value: never a panic.
            if let Err(e) = decode_value::<Sample>(&bad) {
                assert!(matches!(e, Error::Codec { .. }), "{e:?}");
            }
        }
        for _ in 0..20_000 {
            let len = (noise.next() % 64) as usize;
            let mut junk: Vec<u8> = (0..len).map(|_| noise.next() as u8).collect();
            if junk.len() >= HEADER_LEN {
                junk[0] = MAGIC;
                junk[1] = FORMAT_VERSION;
                junk[2..HEADER_LEN].copy_from_slice(&fingerprint_of::<Sample>().to_le_bytes());
            }
            let _ = decode_value::<Sample>(&junk);
        }
    }

    #[test]
    fn cached_day_decoding_matches_chrono() {
        let mut noise = Noise(42);
        let mut cases: Vec<(i64, u32)> = vec![
            (0, 0),
            (-1, 999_999_999),
            (86_399, 1_500_000_000), // leap second
            (86_400, 0),
            (-86_401, 5),
            (i64::MAX, 0),
            (i64::MIN, 0),
            (8_210_298_412_799, 999_999_999), // chrono's maximum
            (1_700_000_000, 2_000_000_000),
        ];
        for _ in 0..10_000 {
            let secs = (noise.next() as i64) % 400_000_000_000;
            cases.push((secs, (noise.next() % 2_000_000_000) as u32));
            cases.push((secs + 1, 7)); // same day, usually: the cached path
        }
        for (secs, nanos) in cases {
            assert_eq!(
                timestamp_from_parts(secs, nanos),
                DateTime::from_timestamp(secs, nanos),
                "{secs} {nanos}"
            );
        }
    }

    #[test]
    fn varints_cover_the_full_range() {
        for v in [0i64, 1, -1, 63, -64, 64, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        let mut out = Vec::new();
        Writer {
            out: &mut out,
            version: FORMAT_VERSION,
            limits: &Limits::NONE,
        }
        .varint(u64::MAX);
        let mut r = Reader {
            buf: &out,
            pos: 0,
            version: FORMAT_VERSION,
        };
        assert_eq!(r.varint(&SAMPLE_FIELDS[4]).expect("varint"), u64::MAX);
        // Eleven continuation bytes overflow.
        let over = [0xFFu8; 11];
        let mut r = Reader {
            buf: &over,
            pos: 0,
            version: FORMAT_VERSION,
        };
        assert!(r.varint(&SAMPLE_FIELDS[4]).is_err());
    }
}

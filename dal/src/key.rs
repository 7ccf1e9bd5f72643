//! The key codec: an entity key rendered as one string (Redis keys, memory-backend keys).
//!
//! A key is the entity's key template (`redis(key = "price:{token}")`, default
//! `table:{id1}:{id2}..`) with each id part escaped. The escaping makes the codec injective: a
//! part never contains `:`, `{`, `}` or `%` after escaping (they become `%3A`, `%7B`, `%7D`,
//! `%25`), and the derive rejects templates whose placeholders are not separated by `:`, so two
//! different keys can never render the same string, and an id can never form a Redis Cluster hash
//! tag by accident. Empty parts are allowed and stay distinct (`a::b` vs `a:b:`).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::entity::{FieldMeta, KeySegment, Keyed};
use crate::error::{Error, Result};
use crate::value::FieldVisitor;

/// Appends `text` to `out` with the key codec's escaping.
pub fn escape_key_part(text: &str, out: &mut String) {
    // Fast path: most ids need no escaping.
    if !needs_escape(text.as_bytes()) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            ':' => out.push_str("%3A"),
            '{' => out.push_str("%7B"),
            '}' => out.push_str("%7D"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
}

/// Whether `bytes` holds a byte the key codec escapes. Every key part of every cache call
/// passes through here, so it tests eight bytes at a time: a byte of `x` equals `c` exactly when
/// the same byte of `x ^ c * 0x01..01` is zero, and `(y - 0x01..01) & !y & 0x80..80` is non-zero
/// exactly when some byte of `y` is zero.
fn needs_escape(bytes: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    #[inline(always)]
    fn has_byte(x: u64, c: u8) -> u64 {
        let y = x ^ (LO * u64::from(c));
        y.wrapping_sub(LO) & !y & HI
    }
    #[inline(always)]
    fn any_special(word: &[u8]) -> bool {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let x = u64::from_le_bytes(w);
        (has_byte(x, b':') | has_byte(x, b'{') | has_byte(x, b'}') | has_byte(x, b'%')) != 0
    }
    if bytes.len() < 8 {
        return bytes
            .iter()
            .any(|&b| matches!(b, b':' | b'{' | b'}' | b'%'));
    }
    let words = bytes.chunks_exact(8);
    let has_tail = !words.remainder().is_empty();
    for word in words {
        if any_special(word) {
            return true;
        }
    }
    // The last eight bytes (overlapping the last whole word) instead of a byte loop.
    has_tail && any_special(&bytes[bytes.len() - 8..])
}

/// Renders the key of `T` for `key` and appends it to `out`.
///
/// # Errors
/// [`Error::Validation`] when an id part cannot be part of a key (floats, JSON).
pub fn encode_key<T: Keyed>(key: &T::Key, out: &mut String) -> Result<()> {
    let meta = T::META;
    // Usual case: the template names the ids in id order, so each part is written straight
    // into `out` between the literals (no scratch buffer: keys are built on every cache call).
    if KeyPlan::<T>::IDS_IN_ORDER {
        let start = out.len();
        let mut direct = KeyVisitor(DirectKey {
            out,
            template: meta.key_template,
            pos: 0,
        });
        let result = T::encode_key(key, &mut direct).and_then(|()| direct.0.finish(meta.name));
        if result.is_err() {
            // As on the other path: a failed key leaves `out` as it was.
            out.truncate(start);
        }
        return result;
    }
    // Otherwise parts are written escaped into one scratch buffer, then laid out in template
    // order.
    let mut visitor = KeyVisitor(KeyParts {
        scratch: String::new(),
        ranges: [(usize::MAX, 0, 0); MAX_KEY_PARTS],
        len: 0,
    });
    T::encode_key(key, &mut visitor)?;
    let parts = visitor.0;
    for seg in meta.key_template {
        match *seg {
            KeySegment::Literal(text) => out.push_str(text),
            KeySegment::Field(index) => {
                let (_, start, end) = parts.ranges[..parts.len]
                    .iter()
                    .copied()
                    .find(|(i, _, _)| *i == index)
                    .ok_or_else(|| {
                        Error::invalid(meta.name, "key template names a field that is not an id")
                    })?;
                out.push_str(&parts.scratch[start..end]);
            }
        }
    }
    Ok(())
}

/// The key of `entity` as a new string (see [`encode_key`]).
///
/// # Errors
/// As [`encode_key`].
pub fn entity_key<T: Keyed>(entity: &T) -> Result<String> {
    let mut out = String::new();
    encode_key::<T>(&entity.key(), &mut out)?;
    Ok(out)
}

/// Composite keys may have at most this many parts.
pub const MAX_KEY_PARTS: usize = 8;

/// Per-entity facts about the key template, computed at compile time.
struct KeyPlan<T>(std::marker::PhantomData<T>);

impl<T: Keyed> KeyPlan<T> {
    const IDS_IN_ORDER: bool = names_ids_in_order(T::META.key_template, T::META.id_fields);
}

/// Whether the template's placeholders are exactly the id fields, in id order.
const fn names_ids_in_order(template: &[KeySegment], ids: &[usize]) -> bool {
    let (mut seg, mut id) = (0, 0);
    while seg < template.len() {
        if let KeySegment::Field(i) = template[seg] {
            if id == ids.len() || ids[id] != i {
                return false;
            }
            id += 1;
        }
        seg += 1;
    }
    id == ids.len()
}

/// Writes a key in one pass when the template names the ids in id order.
struct DirectKey<'a> {
    out: &'a mut String,
    template: &'static [KeySegment],
    /// Next template segment to write.
    pos: usize,
}

impl DirectKey<'_> {
    /// Writes the literals before the next placeholder.
    fn literals(&mut self) {
        while let Some(KeySegment::Literal(text)) = self.template.get(self.pos) {
            self.out.push_str(text);
            self.pos += 1;
        }
    }

    fn finish(&mut self, entity: &'static str) -> Result<()> {
        self.literals();
        if self.pos == self.template.len() {
            Ok(())
        } else {
            Err(Error::invalid(
                entity,
                "key template names a field that is not an id",
            ))
        }
    }
}

impl KeySink for DirectKey<'_> {
    fn part(&mut self, field: &'static FieldMeta, write: impl FnOnce(&mut String)) -> Result<()> {
        self.literals();
        match self.template.get(self.pos) {
            Some(KeySegment::Field(i)) if *i == field.index => {
                write(self.out);
                self.pos += 1;
                Ok(())
            }
            _ => Err(Error::invalid_field(
                field,
                "key part visited out of template order",
            )),
        }
    }
}

/// Where the key visitor puts each rendered part.
trait KeySink {
    fn part(&mut self, field: &'static FieldMeta, write: impl FnOnce(&mut String)) -> Result<()>;
}

struct KeyParts {
    scratch: String,
    ranges: [(usize, usize, usize); MAX_KEY_PARTS],
    len: usize,
}

impl KeySink for KeyParts {
    fn part(&mut self, field: &'static FieldMeta, write: impl FnOnce(&mut String)) -> Result<()> {
        if self.len == MAX_KEY_PARTS {
            return Err(Error::invalid_field(field, "a key has at most 8 parts"));
        }
        let start = self.scratch.len();
        write(&mut self.scratch);
        self.ranges[self.len] = (field.index, start, self.scratch.len());
        self.len += 1;
        Ok(())
    }
}

/// The key visitor: renders each id part and hands it to the sink.
struct KeyVisitor<S>(S);

impl<S: KeySink> FieldVisitor for KeyVisitor<S> {
    fn null(&mut self, field: &'static FieldMeta) -> Result<()> {
        // `None` and `Some("")` must differ: NULL is `%00`, which escaping never produces.
        self.0.part(field, |s| s.push_str("%00"))
    }
    fn bool(&mut self, field: &'static FieldMeta, v: bool) -> Result<()> {
        self.0
            .part(field, |s| s.push_str(if v { "true" } else { "false" }))
    }
    fn i16(&mut self, field: &'static FieldMeta, v: i16) -> Result<()> {
        self.i64(field, i64::from(v))
    }
    fn i32(&mut self, field: &'static FieldMeta, v: i32) -> Result<()> {
        self.i64(field, i64::from(v))
    }
    fn i64(&mut self, field: &'static FieldMeta, v: i64) -> Result<()> {
        self.0.part(field, |s| {
            let _ = write!(s, "{v}");
        })
    }
    fn f32(&mut self, field: &'static FieldMeta, _: f32) -> Result<()> {
        Err(Error::invalid_field(
            field,
            "a float cannot be part of a key",
        ))
    }
    fn f64(&mut self, field: &'static FieldMeta, _: f64) -> Result<()> {
        Err(Error::invalid_field(
            field,
            "a float cannot be part of a key",
        ))
    }
    fn str(&mut self, field: &'static FieldMeta, v: &str) -> Result<()> {
        self.0.part(field, |s| escape_key_part(v, s))
    }
    fn uuid(&mut self, field: &'static FieldMeta, v: &Uuid) -> Result<()> {
        // Straight into a stack buffer: `Display` through `core::fmt` costs several times more.
        self.0.part(field, |s| {
            s.push_str(v.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
        })
    }
    fn timestamp(&mut self, field: &'static FieldMeta, v: &DateTime<Utc>) -> Result<()> {
        // Microseconds since the epoch: the precision every backend keeps.
        self.0.part(field, |s| {
            let _ = write!(s, "{}", v.timestamp_micros());
        })
    }
    fn decimal(&mut self, field: &'static FieldMeta, v: &Decimal) -> Result<()> {
        // 1.50 and 1.5 are the same number, so they must be the same key.
        self.0.part(field, |s| {
            let _ = write!(s, "{}", v.normalize());
        })
    }
    fn json(&mut self, field: &'static FieldMeta, _: &str) -> Result<()> {
        Err(Error::invalid_field(
            field,
            "a JSON field cannot be part of a key",
        ))
    }
    fn bytes(&mut self, field: &'static FieldMeta, v: &[u8]) -> Result<()> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.0.part(field, |s| {
            s.reserve(v.len() * 2);
            for b in v {
                s.push(char::from(HEX[usize::from(b >> 4)]));
                s.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{escape_key_part, names_ids_in_order, needs_escape};
    use crate::entity::KeySegment::{Field, Literal};

    #[test]
    fn the_one_pass_plan_needs_every_id_named_once_in_id_order() {
        let ids = [0, 2];
        let t = |segs: &[crate::entity::KeySegment]| names_ids_in_order(segs, &ids);
        assert!(t(&[Literal("p:"), Field(0), Literal(":"), Field(2)]));
        assert!(t(&[Field(0), Literal(":"), Field(2), Literal(":x")]));
        assert!(!t(&[Literal("p:"), Field(2), Literal(":"), Field(0)]));
        assert!(!t(&[Literal("p:"), Field(0)]));
        assert!(!t(&[
            Field(0),
            Literal(":"),
            Field(2),
            Literal(":"),
            Field(2)
        ]));
        assert!(!t(&[Literal("p")]));
        assert!(names_ids_in_order(&[Literal("p")], &[]));
    }

    #[test]
    fn the_word_at_a_time_check_agrees_with_a_byte_loop_at_every_length_and_position() {
        let naive = |b: &[u8]| b.iter().any(|&c| matches!(c, b':' | b'{' | b'}' | b'%'));
        for len in 0..=34 {
            for pos in 0..len {
                for byte in 0..=255u8 {
                    let mut text = vec![b'a'; len];
                    text[pos] = byte;
                    assert_eq!(
                        needs_escape(&text),
                        naive(&text),
                        "len {len}, byte {byte:#04x} at {pos}"
                    );
                }
            }
        }
    }

    fn esc(s: &str) -> String {
        let mut out = String::new();
        escape_key_part(s, &mut out);
        out
    }

    #[test]
    fn escaping_removes_separators_and_is_reversible_in_principle() {
        for s in ["a:b", "{tag}", "100%", "%3A", "", "sp ace", "ünï:cødé"] {
            let e = esc(s);
            assert!(
                !e.contains(':') && !e.contains('{') && !e.contains('}'),
                "{s} -> {e}"
            );
        }
        assert_ne!(esc("%3A"), esc(":"));
        assert_eq!(esc("plain"), "plain");
    }
}

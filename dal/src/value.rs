//! The field/value model: how one Rust value crosses into a store and back.
//!
//! Writes go through a [`FieldVisitor`] (no allocation, no intermediate row: the ILP encoder
//! writes straight into a `questdb::ingress::Buffer`, the Postgres backend binds straight into a
//! query). Reads go through a [`FieldDecoder`] that the backend implements over its row type.
//! [`FieldValue`] connects a Rust type to both. [`Value`] is the owned, dynamically typed form
//! used where values must be stored (filters, cursors, the memory backend).
//!
//! Option policy: `None` is SQL NULL, an omitted ILP column and an absent Redis field.

use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::entity::{FieldKind, FieldMeta};
use crate::error::{Error, Result};

/// Receives the fields of an entity (or a key) one by one, in [`crate::EntityMeta::fields`] order.
///
/// Implemented by backends (row encoders, bind builders, key writers).
#[allow(missing_docs)] // one method per storage class; the names say it
pub trait FieldVisitor {
    fn null(&mut self, field: &'static FieldMeta) -> Result<()>;
    fn bool(&mut self, field: &'static FieldMeta, v: bool) -> Result<()>;
    fn i16(&mut self, field: &'static FieldMeta, v: i16) -> Result<()>;
    fn i32(&mut self, field: &'static FieldMeta, v: i32) -> Result<()>;
    fn i64(&mut self, field: &'static FieldMeta, v: i64) -> Result<()>;
    fn f32(&mut self, field: &'static FieldMeta, v: f32) -> Result<()>;
    fn f64(&mut self, field: &'static FieldMeta, v: f64) -> Result<()>;
    fn str(&mut self, field: &'static FieldMeta, v: &str) -> Result<()>;
    fn uuid(&mut self, field: &'static FieldMeta, v: &Uuid) -> Result<()>;
    fn timestamp(&mut self, field: &'static FieldMeta, v: &DateTime<Utc>) -> Result<()>;
    fn decimal(&mut self, field: &'static FieldMeta, v: &Decimal) -> Result<()>;
    /// JSON text of an `#[entity(json)]` field.
    fn json(&mut self, field: &'static FieldMeta, json: &str) -> Result<()>;
    fn bytes(&mut self, field: &'static FieldMeta, v: &[u8]) -> Result<()>;
}

/// Reads stored fields one by one, in [`crate::EntityMeta::fields`] order.
///
/// Each method returns `Ok(None)` for NULL / absent and a [`Error::Codec`] naming the field when
/// the stored value has another type.
#[allow(missing_docs)] // one method per storage class; the names say it
pub trait FieldDecoder {
    fn bool(&mut self, field: &'static FieldMeta) -> Result<Option<bool>>;
    fn i16(&mut self, field: &'static FieldMeta) -> Result<Option<i16>>;
    fn i32(&mut self, field: &'static FieldMeta) -> Result<Option<i32>>;
    fn i64(&mut self, field: &'static FieldMeta) -> Result<Option<i64>>;
    fn f32(&mut self, field: &'static FieldMeta) -> Result<Option<f32>>;
    fn f64(&mut self, field: &'static FieldMeta) -> Result<Option<f64>>;
    fn string(&mut self, field: &'static FieldMeta) -> Result<Option<String>>;
    fn uuid(&mut self, field: &'static FieldMeta) -> Result<Option<Uuid>>;
    fn timestamp(&mut self, field: &'static FieldMeta) -> Result<Option<DateTime<Utc>>>;
    fn decimal(&mut self, field: &'static FieldMeta) -> Result<Option<Decimal>>;
    /// JSON text of an `#[entity(json)]` field.
    fn json(&mut self, field: &'static FieldMeta) -> Result<Option<String>>;
    fn bytes(&mut self, field: &'static FieldMeta) -> Result<Option<Vec<u8>>>;
}

/// A Rust type that can be stored in one field.
///
/// Implemented for the types of the crate-level table, for `Option<T>`, and by
/// `#[derive(TextEnum)]`. Implement it for your own newtypes, or use `#[entity(with = "..")]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored in an entity field",
    note = "storable types: bool, i16/i32/i64, u8/u16/u32, f32/f64, String, Uuid, DateTime<Utc>, Decimal, Vec<u8>, Option of these, #[derive(TextEnum)] enums",
    note = "for any serde type use #[entity(json)]; for a custom conversion use #[entity(with = \"module\")]"
)]
pub trait FieldValue: Sized {
    /// Storage class.
    const KIND: FieldKind;
    /// Whether `None` is a possible value (true only for `Option`).
    const NULLABLE: bool = false;

    /// Hands the value to the visitor.
    ///
    /// # Errors
    /// As the visitor's.
    fn encode<V: FieldVisitor + ?Sized>(&self, field: &'static FieldMeta, v: &mut V) -> Result<()>;

    /// Reads the value; `Ok(None)` when the store holds NULL.
    ///
    /// # Errors
    /// [`Error::Codec`] when the stored value does not fit this type.
    fn decode_nullable<D: FieldDecoder + ?Sized>(
        field: &'static FieldMeta,
        d: &mut D,
    ) -> Result<Option<Self>>;

    /// Reads a non-NULL value.
    ///
    /// # Errors
    /// As [`FieldValue::decode_nullable`], and [`Error::Codec`] on NULL.
    fn decode<D: FieldDecoder + ?Sized>(field: &'static FieldMeta, d: &mut D) -> Result<Self> {
        Self::decode_nullable(field, d)?.ok_or_else(|| {
            Error::codec(field, "stored value is NULL but the field is not an Option")
        })
    }

    /// The owned, dynamically typed form of this value.
    fn to_value(&self, field: &'static FieldMeta) -> Result<Value> {
        let mut capture = ValueCapture(None);
        self.encode(field, &mut capture)?;
        Ok(capture.0.unwrap_or(Value::Null))
    }
}

macro_rules! direct_field_value {
    ($($ty:ty => $kind:ident, $enc:ident, $dec:ident;)*) => {$(
        impl FieldValue for $ty {
            const KIND: FieldKind = FieldKind::$kind;
            #[inline]
            fn encode<V: FieldVisitor + ?Sized>(&self, field: &'static FieldMeta, v: &mut V) -> Result<()> {
                v.$enc(field, *self)
            }
            #[inline]
            fn decode_nullable<D: FieldDecoder + ?Sized>(field: &'static FieldMeta, d: &mut D) -> Result<Option<Self>> {
                d.$dec(field)
            }
        }
    )*};
}

direct_field_value! {
    bool => Bool, bool, bool;
    i16 => I16, i16, i16;
    i32 => I32, i32, i32;
    i64 => I64, i64, i64;
    f32 => F32, f32, f32;
    f64 => F64, f64, f64;
}

macro_rules! ref_field_value {
    ($($ty:ty => $kind:ident, $enc:ident, $dec:ident;)*) => {$(
        impl FieldValue for $ty {
            const KIND: FieldKind = FieldKind::$kind;
            #[inline]
            fn encode<V: FieldVisitor + ?Sized>(&self, field: &'static FieldMeta, v: &mut V) -> Result<()> {
                v.$enc(field, self)
            }
            #[inline]
            fn decode_nullable<D: FieldDecoder + ?Sized>(field: &'static FieldMeta, d: &mut D) -> Result<Option<Self>> {
                d.$dec(field)
            }
        }
    )*};
}

ref_field_value! {
    String => Text, str, string;
    Uuid => Uuid, uuid, uuid;
    DateTime<Utc> => Timestamp, timestamp, timestamp;
    Decimal => Decimal, decimal, decimal;
    Vec<u8> => Bytes, bytes, bytes;
}

// Unsigned types are widened to the next signed type; reads check the range so a negative or too
// large stored value is a codec error, never a silent wrap.
macro_rules! widened_field_value {
    ($($ty:ty => $wide:ty, $kind:ident, $enc:ident, $dec:ident;)*) => {$(
        impl FieldValue for $ty {
            const KIND: FieldKind = FieldKind::$kind;
            #[inline]
            fn encode<V: FieldVisitor + ?Sized>(&self, field: &'static FieldMeta, v: &mut V) -> Result<()> {
                v.$enc(field, <$wide>::from(*self))
            }
            fn decode_nullable<D: FieldDecoder + ?Sized>(field: &'static FieldMeta, d: &mut D) -> Result<Option<Self>> {
                match d.$dec(field)? {
                    None => Ok(None),
                    Some(wide) => <$ty>::try_from(wide).map(Some).map_err(|_| {
                        Error::codec(field, format_args!("stored value {wide} is out of range for {}", stringify!($ty)))
                    }),
                }
            }
        }
    )*};
}

widened_field_value! {
    u8 => i16, I16, i16, i16;
    u16 => i32, I32, i32, i32;
    u32 => i64, I64, i64, i64;
}

impl<T: FieldValue> FieldValue for Option<T> {
    const KIND: FieldKind = T::KIND;
    const NULLABLE: bool = true;

    #[inline]
    fn encode<V: FieldVisitor + ?Sized>(&self, field: &'static FieldMeta, v: &mut V) -> Result<()> {
        match self {
            Some(inner) => inner.encode(field, v),
            None => v.null(field),
        }
    }

    #[inline]
    fn decode_nullable<D: FieldDecoder + ?Sized>(
        field: &'static FieldMeta,
        d: &mut D,
    ) -> Result<Option<Self>> {
        // A NULL is a valid `None`, never an absent value.
        Ok(Some(T::decode_nullable(field, d)?))
    }
}

/// An owned, dynamically typed field value (filters, cursors, the memory backend's rows).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // one variant per storage class
pub enum Value {
    Null,
    Bool(bool),
    I16(i16),
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Text(String),
    Uuid(Uuid),
    Timestamp(DateTime<Utc>),
    Decimal(Decimal),
    Json(String),
    Bytes(Vec<u8>),
}

impl Value {
    /// The numeric value as `f64`, for aggregates. `None` for NULL and non-numeric values.
    pub fn as_f64(&self) -> Option<f64> {
        use rust_decimal::prelude::ToPrimitive;
        match self {
            Value::I16(v) => Some(f64::from(*v)),
            Value::I32(v) => Some(f64::from(*v)),
            Value::I64(v) => Some(*v as f64),
            Value::F32(v) => Some(f64::from(*v)),
            Value::F64(v) => Some(*v),
            Value::Decimal(v) => v.to_f64(),
            _ => None,
        }
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Total order used for sorting and keyset pagination: NULL first, then by value; text by
    /// bytes (Postgres `COLLATE "C"`), floats by IEEE total order, numbers of different widths
    /// by value. Values of unrelated classes order by class.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        use Value::*;
        match (self, other) {
            (Null, Null) => Ordering::Equal,
            (Null, _) => Ordering::Less,
            (_, Null) => Ordering::Greater,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Text(a), Text(b)) | (Json(a), Json(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Uuid(a), Uuid(b)) => a.cmp(b),
            (Timestamp(a), Timestamp(b)) => a.cmp(b),
            (Decimal(a), Decimal(b)) => a.cmp(b),
            (Bytes(a), Bytes(b)) => a.cmp(b),
            (F32(a), F32(b)) => a.total_cmp(b),
            (a, b) => match (a.as_integer(), b.as_integer()) {
                (Some(x), Some(y)) => x.cmp(&y),
                _ => match (a.as_f64(), b.as_f64()) {
                    (Some(x), Some(y)) => x.total_cmp(&y),
                    _ => a.class_rank().cmp(&b.class_rank()),
                },
            },
        }
    }

    fn as_integer(&self) -> Option<i64> {
        match self {
            Value::I16(v) => Some(i64::from(*v)),
            Value::I32(v) => Some(i64::from(*v)),
            Value::I64(v) => Some(*v),
            _ => None,
        }
    }

    fn class_rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::I16(_) | Value::I32(_) | Value::I64(_) => 2,
            Value::F32(_) | Value::F64(_) | Value::Decimal(_) => 2,
            Value::Text(_) => 3,
            Value::Uuid(_) => 4,
            Value::Timestamp(_) => 5,
            Value::Json(_) => 6,
            Value::Bytes(_) => 7,
        }
    }

    /// Hands this value to a visitor as if it were the field's own value.
    ///
    /// # Errors
    /// As the visitor's.
    pub fn encode<V: FieldVisitor + ?Sized>(
        &self,
        field: &'static FieldMeta,
        v: &mut V,
    ) -> Result<()> {
        match self {
            Value::Null => v.null(field),
            Value::Bool(x) => v.bool(field, *x),
            Value::I16(x) => v.i16(field, *x),
            Value::I32(x) => v.i32(field, *x),
            Value::I64(x) => v.i64(field, *x),
            Value::F32(x) => v.f32(field, *x),
            Value::F64(x) => v.f64(field, *x),
            Value::Text(x) => v.str(field, x),
            Value::Uuid(x) => v.uuid(field, x),
            Value::Timestamp(x) => v.timestamp(field, x),
            Value::Decimal(x) => v.decimal(field, x),
            Value::Json(x) => v.json(field, x),
            Value::Bytes(x) => v.bytes(field, x),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::I16(v) => write!(f, "{v}"),
            Value::I32(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::F32(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v}"),
            Value::Text(v) | Value::Json(v) => write!(f, "{v:?}"),
            Value::Uuid(v) => write!(f, "{v}"),
            Value::Timestamp(v) => write!(f, "{}", v.to_rfc3339()),
            Value::Decimal(v) => write!(f, "{v}"),
            Value::Bytes(v) => write!(f, "<{} bytes>", v.len()),
        }
    }
}

/// A visitor that keeps the last value it was given as a [`Value`].
#[derive(Debug, Default)]
pub struct ValueCapture(pub Option<Value>);

impl FieldVisitor for ValueCapture {
    fn null(&mut self, _: &'static FieldMeta) -> Result<()> {
        self.0 = Some(Value::Null);
        Ok(())
    }
    fn bool(&mut self, _: &'static FieldMeta, v: bool) -> Result<()> {
        self.0 = Some(Value::Bool(v));
        Ok(())
    }
    fn i16(&mut self, _: &'static FieldMeta, v: i16) -> Result<()> {
        self.0 = Some(Value::I16(v));
        Ok(())
    }
    fn i32(&mut self, _: &'static FieldMeta, v: i32) -> Result<()> {
        self.0 = Some(Value::I32(v));
        Ok(())
    }
    fn i64(&mut self, _: &'static FieldMeta, v: i64) -> Result<()> {
        self.0 = Some(Value::I64(v));
        Ok(())
    }
    fn f32(&mut self, _: &'static FieldMeta, v: f32) -> Result<()> {
        self.0 = Some(Value::F32(v));
        Ok(())
    }
    fn f64(&mut self, _: &'static FieldMeta, v: f64) -> Result<()> {
        self.0 = Some(Value::F64(v));
        Ok(())
    }
    fn str(&mut self, _: &'static FieldMeta, v: &str) -> Result<()> {
        self.0 = Some(Value::Text(v.to_owned()));
        Ok(())
    }
    fn uuid(&mut self, _: &'static FieldMeta, v: &Uuid) -> Result<()> {
        self.0 = Some(Value::Uuid(*v));
        Ok(())
    }
    fn timestamp(&mut self, _: &'static FieldMeta, v: &DateTime<Utc>) -> Result<()> {
        self.0 = Some(Value::Timestamp(*v));
        Ok(())
    }
    fn decimal(&mut self, _: &'static FieldMeta, v: &Decimal) -> Result<()> {
        self.0 = Some(Value::Decimal(*v));
        Ok(())
    }
    fn json(&mut self, _: &'static FieldMeta, json: &str) -> Result<()> {
        self.0 = Some(Value::Json(json.to_owned()));
        Ok(())
    }
    fn bytes(&mut self, _: &'static FieldMeta, v: &[u8]) -> Result<()> {
        self.0 = Some(Value::Bytes(v.to_vec()));
        Ok(())
    }
}

/// A visitor that collects every field of an entity as a [`Value`] row, in field order.
#[derive(Debug, Default)]
pub struct RowCapture(pub Vec<Value>);

macro_rules! row_capture_methods {
    ($($m:ident($($arg:ident: $ty:ty)?) => $val:expr;)*) => {
        impl FieldVisitor for RowCapture {
            $(
                fn $m(&mut self, _: &'static FieldMeta $(, $arg: $ty)?) -> Result<()> {
                    self.0.push($val);
                    Ok(())
                }
            )*
        }
    };
}

row_capture_methods! {
    null() => Value::Null;
    bool(v: bool) => Value::Bool(v);
    i16(v: i16) => Value::I16(v);
    i32(v: i32) => Value::I32(v);
    i64(v: i64) => Value::I64(v);
    f32(v: f32) => Value::F32(v);
    f64(v: f64) => Value::F64(v);
    str(v: &str) => Value::Text(v.to_owned());
    uuid(v: &Uuid) => Value::Uuid(*v);
    timestamp(v: &DateTime<Utc>) => Value::Timestamp(*v);
    decimal(v: &Decimal) => Value::Decimal(*v);
    json(v: &str) => Value::Json(v.to_owned());
    bytes(v: &[u8]) => Value::Bytes(v.to_vec());
}

/// A decoder over a captured [`Value`] row (the memory backend, tests, cached rows).
///
/// Reads `row[field.index]` and converts between compatible classes (an `I64` can be read as
/// `i32` when it fits) with a codec error otherwise.
#[derive(Debug)]
pub struct RowDecoder<'a> {
    row: &'a [Value],
}

impl<'a> RowDecoder<'a> {
    /// A decoder over one row in [`crate::EntityMeta::fields`] order.
    pub fn new(row: &'a [Value]) -> Self {
        RowDecoder { row }
    }

    fn get(&self, field: &'static FieldMeta) -> Result<&'a Value> {
        self.row
            .get(field.index)
            .ok_or_else(|| Error::codec(field, "row has no value for this field"))
    }
}

fn mismatch(field: &'static FieldMeta, want: &str, got: &Value) -> Error {
    Error::codec(field, format_args!("expected {want}, found {got:?}"))
}

macro_rules! int_decode {
    ($name:ident, $ty:ty) => {
        fn $name(&mut self, field: &'static FieldMeta) -> Result<Option<$ty>> {
            let v = self.get(field)?;
            let wide: i64 = match v {
                Value::Null => return Ok(None),
                Value::I16(x) => i64::from(*x),
                Value::I32(x) => i64::from(*x),
                Value::I64(x) => *x,
                other => return Err(mismatch(field, stringify!($ty), other)),
            };
            <$ty>::try_from(wide).map(Some).map_err(|_| {
                Error::codec(
                    field,
                    format_args!(
                        "stored value {wide} is out of range for {}",
                        stringify!($ty)
                    ),
                )
            })
        }
    };
}

impl FieldDecoder for RowDecoder<'_> {
    fn bool(&mut self, field: &'static FieldMeta) -> Result<Option<bool>> {
        match self.get(field)? {
            Value::Null => Ok(None),
            Value::Bool(v) => Ok(Some(*v)),
            other => Err(mismatch(field, "bool", other)),
        }
    }
    int_decode!(i16, i16);
    int_decode!(i32, i32);
    int_decode!(i64, i64);
    fn f32(&mut self, field: &'static FieldMeta) -> Result<Option<f32>> {
        match self.get(field)? {
            Value::Null => Ok(None),
            Value::F32(v) => Ok(Some(*v)),
            Value::F64(v) => Ok(Some(*v as f32)),
            other => Err(mismatch(field, "f32", other)),
        }
    }
    fn f64(&mut self, field: &'static FieldMeta) -> Result<Option<f64>> {
        match self.get(field)? {
            Value::Null => Ok(None),
            Value::F64(v) => Ok(Some(*v)),
            Value::F32(v) => Ok(Some(f64::from(*v))),
            other => Err(mismatch(field, "f64", other)),
        }
    }
    fn string(&mut self, field: &'static FieldMeta) -> Result<Option<String>> {
        match self.get(field)? {
            Value::Null => Ok(None),
            Value::Text(v) => Ok(Some(v.clone())),
            other => Err(mismatch(field, "text", other)),
        }
    }
    fn uuid(&mut self, field: &'static FieldMeta) -> Result<Option<Uuid>> {
        match self.get(field)? {
            Value::Null => Ok(None),
            Value::Uuid(v) => Ok(Some(*v)),
            other => Err(mismatch(field, "uuid", other)),
        }
    }
    fn timestamp(&mut self, field: &'static FieldMeta) -> Result<Option<DateTime<Utc>>> {
        match self.get(field)? {
            Value::Null => Ok(None),
            Value::Timestamp(v) => Ok(Some(*v)),
            other => Err(mismatch(field, "timestamp", other)),
        }
    }
    fn decimal(&mut self, field: &'static FieldMeta) -> Result<Option<Decimal>> {
        match self.get(field)? {
            Value::Null => Ok(None),
            Value::Decimal(v) => Ok(Some(*v)),
            other => Err(mismatch(field, "decimal", other)),
        }
    }
    fn json(&mut self, field: &'static FieldMeta) -> Result<Option<String>> {
        match self.get(field)? {
            Value::Null => Ok(None),
            Value::Json(v) | Value::Text(v) => Ok(Some(v.clone())),
            other => Err(mismatch(field, "json", other)),
        }
    }
    fn bytes(&mut self, field: &'static FieldMeta) -> Result<Option<Vec<u8>>> {
        match self.get(field)? {
            Value::Null => Ok(None),
            Value::Bytes(v) => Ok(Some(v.clone())),
            other => Err(mismatch(field, "bytes", other)),
        }
    }
}

/// Encoding and decoding of `#[entity(json)]` fields (used by generated code).
pub mod json {
    use super::*;

    /// Serializes a JSON field and hands its text to the visitor.
    ///
    /// # Errors
    /// [`Error::Codec`] when `Serialize` fails.
    pub fn encode<T: serde::Serialize, V: FieldVisitor + ?Sized>(
        value: &T,
        field: &'static FieldMeta,
        v: &mut V,
    ) -> Result<()> {
        let text = serde_json::to_string(value).map_err(|e| Error::codec(field, e))?;
        v.json(field, &text)
    }

    /// As [`encode`], with `None` stored as NULL (not as the JSON text `null`).
    ///
    /// # Errors
    /// [`Error::Codec`] when `Serialize` fails.
    pub fn encode_opt<T: serde::Serialize, V: FieldVisitor + ?Sized>(
        value: &Option<T>,
        field: &'static FieldMeta,
        v: &mut V,
    ) -> Result<()> {
        match value {
            Some(inner) => encode(inner, field, v),
            None => v.null(field),
        }
    }

    /// Reads and parses a non-NULL JSON field.
    ///
    /// # Errors
    /// [`Error::Codec`] on NULL or when the text does not parse as `T`.
    pub fn decode<T: serde::de::DeserializeOwned, D: FieldDecoder + ?Sized>(
        field: &'static FieldMeta,
        d: &mut D,
    ) -> Result<T> {
        match decode_opt(field, d)? {
            Some(v) => Ok(v),
            None => Err(Error::codec(
                field,
                "stored value is NULL but the field is not an Option",
            )),
        }
    }

    /// Reads and parses a nullable JSON field.
    ///
    /// # Errors
    /// [`Error::Codec`] when the text does not parse as `T`.
    pub fn decode_opt<T: serde::de::DeserializeOwned, D: FieldDecoder + ?Sized>(
        field: &'static FieldMeta,
        d: &mut D,
    ) -> Result<Option<T>> {
        match d.json(field)? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| Error::codec(field, format_args!("invalid JSON: {e}"))),
        }
    }
}

/// A fieldless enum stored as text: implemented by `#[derive(TextEnum)]`.
pub trait TextEnum: Sized + 'static {
    /// The stored text of every variant, in declaration order.
    const VARIANTS: &'static [&'static str];
    /// The stored text of this variant.
    fn as_str(&self) -> &'static str;
    /// The variant stored as `text`, if any (exact, case-sensitive match).
    fn from_text(text: &str) -> Option<Self>;
}

/// Decodes a text enum, with an error that lists the accepted values (used by generated code).
///
/// # Errors
/// [`Error::Codec`] when the stored text names no variant.
pub fn decode_text_enum<T: TextEnum, D: FieldDecoder + ?Sized>(
    field: &'static FieldMeta,
    d: &mut D,
) -> Result<Option<T>> {
    match d.string(field)? {
        None => Ok(None),
        Some(text) => T::from_text(&text).map(Some).ok_or_else(|| {
            Error::codec(
                field,
                format_args!("{text:?} is not one of {}", T::VARIANTS.join(", ")),
            )
        }),
    }
}

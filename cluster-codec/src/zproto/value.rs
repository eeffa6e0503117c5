//! Dynamically typed zproto values, for schemas only known at run time.

use std::sync::Arc;

use crate::zproto::ByteStr;

/// One field value (or array element) of any zproto type.
///
/// Decoding produces the variant of the field's exact type (`I32` for
/// `int32`, [`Value::String`] for every `string`, UTF-8 or not, ...).
/// Encoding is lenient where nothing is lost: an integer field accepts any
/// integer variant whose value fits, and `string` and `blob` fields accept
/// both [`Value::String`] and [`Value::Bytes`] (they are the same on the
/// wire). Maps are arrays of structs in wire order.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `boolean`
    Bool(bool),
    /// `byte`
    I8(i8),
    /// `ubyte`
    U8(u8),
    /// `short`
    I16(i16),
    /// `ushort`
    U16(u16),
    /// `int32`
    I32(i32),
    /// `uint32`
    U32(u32),
    /// `int64`
    I64(i64),
    /// `uint64`
    U64(u64),
    /// `float`
    F32(f32),
    /// A `string`: its bytes exactly, whether or not they are UTF-8, so a
    /// proxy re-encodes what it received.
    String(ByteStr),
    /// A `blob`.
    Bytes(Vec<u8>),
    /// A struct.
    Struct(StructValue),
    /// An array or map field.
    Array(Vec<Value>),
}

/// The present fields of one struct value, by name.
///
/// A field that is not here is absent on the wire, which zproto tells apart
/// from any zero value. Two struct values are equal when they have the same
/// fields with equal values, in any order.
#[derive(Debug, Clone, Default)]
pub struct StructValue {
    /// Names are shared with the schema's field names when decoding, so a
    /// decoded field costs no allocation for its name.
    fields: Vec<(Arc<str>, Value)>,
}

impl StructValue {
    /// A struct with no field present.
    pub fn new() -> Self {
        StructValue::default()
    }

    /// Sets a field, replacing an earlier value of the same name.
    pub fn insert(&mut self, name: impl Into<Arc<str>>, value: Value) {
        let name = name.into();
        match self.fields.iter_mut().find(|(n, _)| *n == name) {
            Some((_, slot)) => *slot = value,
            None => self.fields.push((name, value)),
        }
    }

    /// Builder form of [`insert`](Self::insert).
    pub fn with(mut self, name: impl Into<Arc<str>>, value: Value) -> Self {
        self.insert(name, value);
        self
    }

    /// Appends a field known not to be present yet.
    pub(crate) fn push(&mut self, name: &Arc<str>, value: Value) {
        self.fields.push((Arc::clone(name), value));
    }

    /// A field's value, if present.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(n, _)| **n == *name)
            .map(|(_, v)| v)
    }

    /// Removes a field, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let at = self.fields.iter().position(|(n, _)| **n == *name)?;
        Some(self.fields.remove(at).1)
    }

    /// Present fields, in insertion order (decoding inserts in tag order).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> {
        self.fields.iter().map(|(n, v)| (&**n, v))
    }

    /// Number of present fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether no field is present.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

impl PartialEq for StructValue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(name, v)| other.get(name) == Some(v))
    }
}

impl From<StructValue> for Value {
    fn from(s: StructValue) -> Self {
        Value::Struct(s)
    }
}

impl Value {
    /// The value as an integer of any width, if it is one.
    pub fn as_i128(&self) -> Option<i128> {
        Some(match *self {
            Value::I8(v) => v.into(),
            Value::U8(v) => v.into(),
            Value::I16(v) => v.into(),
            Value::U16(v) => v.into(),
            Value::I32(v) => v.into(),
            Value::U32(v) => v.into(),
            Value::I64(v) => v.into(),
            Value::U64(v) => v.into(),
            _ => return None,
        })
    }

    /// The bytes of a `String` or `Bytes` value.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::String(s) => Some(s),
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The text of a `String` value whose bytes are UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => s.as_str().ok(),
            _ => None,
        }
    }
}

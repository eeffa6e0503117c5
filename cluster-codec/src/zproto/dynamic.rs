//! Encoding and decoding [`Value`]s against a [`Schema`] parsed at run time.

use bytes::BytesMut;

use crate::zproto::body;
use crate::zproto::schema::{FieldDef, FieldType, Repeat, Schema, StructId};
use crate::zproto::wire::STRUCT_MIN_SIZE;
use crate::zproto::{ByteStr, Reader, Scalar, StructValue, Value, Wire, Writer};
use crate::{DecodeError, EncodeError};

impl Schema {
    /// Appends the encoding of `value` as struct `id` to `dst`.
    ///
    /// Fields missing from `value` are absent; a field name the struct does
    /// not have, or a value of the wrong type, is an error.
    pub fn encode(
        &self,
        id: StructId,
        value: &StructValue,
        dst: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        body::encode_raw(dst, |w| self.write_struct(id, value, w))
    }

    /// Decodes struct `id` from the start of `src` (trailing bytes, like
    /// unpack's zero padding, are ignored).
    pub fn decode(&self, id: StructId, src: &[u8]) -> Result<StructValue, DecodeError> {
        self.read_struct(id, &mut Reader::new(src))
    }

    /// Encodes `value` as a cluster message body: `pack(encode(value))`.
    pub fn encode_body(
        &self,
        id: StructId,
        value: &StructValue,
        dst: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        body::encode_packed(dst, |w| self.write_struct(id, value, w))
    }

    /// Decodes a cluster message body: `decode(unpack(src))`.
    pub fn decode_body(&self, id: StructId, src: &[u8]) -> Result<StructValue, DecodeError> {
        body::decode_packed(src, |r| self.read_struct(id, r))
    }

    /// Writes struct `id` through a low-level writer.
    pub fn write_struct(
        &self,
        id: StructId,
        value: &StructValue,
        w: &mut Writer<'_>,
    ) -> Result<(), EncodeError> {
        let def = &self[id];
        if let Some((name, _)) = value.iter().find(|(name, _)| def.field(name).is_none()) {
            return Err(EncodeError::UnknownField {
                message: def.name().to_owned(),
                field: name.to_owned(),
            });
        }
        // Every name in `value` is a field, and names are unique: `len` is
        // the number of present fields.
        let mut s = w.begin_struct(def.base_tag(), value.len())?;
        for field in def.fields() {
            if let Some(v) = value.get(field.name()) {
                self.write_field(field, v, s.field(field.tag())?)?;
            }
        }
        s.finish()
    }

    fn write_field(
        &self,
        field: &FieldDef,
        v: &Value,
        w: &mut Writer<'_>,
    ) -> Result<(), EncodeError> {
        let key = self.map_key_tag(field);
        if field.repeat() == Repeat::Single {
            return self.write_element(field, v, w);
        }
        let Value::Array(items) = v else {
            return Err(mismatch(field, "an array"));
        };
        w.put_len(items.len(), "array")?;
        items.iter().try_for_each(|item| {
            if let Some(key) = key {
                w.expect_map_key(key);
            }
            self.write_element(field, item, w)
        })
    }

    fn write_element(
        &self,
        field: &FieldDef,
        v: &Value,
        w: &mut Writer<'_>,
    ) -> Result<(), EncodeError> {
        let scalar = match (field.ty(), v) {
            (FieldType::Struct(id), Value::Struct(s)) => return self.write_struct(id, s, w),
            (FieldType::Struct(_), _) => return Err(mismatch(field, "a struct")),
            (FieldType::Scalar(scalar), _) => scalar,
        };
        let written = match (scalar, v) {
            (Scalar::Boolean, Value::Bool(b)) => Some(b.write_to(w)),
            (Scalar::Float, Value::F32(f)) => Some(f.write_to(w)),
            (Scalar::String | Scalar::Blob, v) => v.as_bytes().map(|b| w.put_bytes(b)),
            (Scalar::Byte, v) => write_int::<i8>(v, w),
            (Scalar::Ubyte, v) => write_int::<u8>(v, w),
            (Scalar::Short, v) => write_int::<i16>(v, w),
            (Scalar::Ushort, v) => write_int::<u16>(v, w),
            (Scalar::Int32, v) => write_int::<i32>(v, w),
            (Scalar::Uint32, v) => write_int::<u32>(v, w),
            (Scalar::Int64, v) => write_int::<i64>(v, w),
            (Scalar::Uint64, v) => write_int::<u64>(v, w),
            _ => None,
        };
        written.unwrap_or_else(|| Err(mismatch(field, scalar.name())))
    }

    /// Reads struct `id` through a low-level reader.
    pub fn read_struct(
        &self,
        id: StructId,
        r: &mut Reader<'_>,
    ) -> Result<StructValue, DecodeError> {
        let def = &self[id];
        let mut s = r.begin_struct(def.base_tag())?;
        let mut out = StructValue::new();
        // Wire tags ascend, so one pass over the declared fields finds them.
        let mut fields = def.fields().iter();
        while let Some(tag) = s.next_tag() {
            let Some(field) = fields.find(|f| u32::from(f.tag()) >= tag) else {
                break;
            };
            if u32::from(field.tag()) != tag {
                break;
            }
            let value = self.read_field(field, s.reader())?;
            out.push(field.shared_name(), value);
        }
        s.finish()?;
        Ok(out)
    }

    fn read_field(&self, field: &FieldDef, r: &mut Reader<'_>) -> Result<Value, DecodeError> {
        if field.repeat() == Repeat::Single {
            return self.read_element(field.ty(), r);
        }
        let key = self.map_key_tag(field);
        let min_size = match field.ty() {
            FieldType::Scalar(s) => s.min_size(),
            FieldType::Struct(_) => STRUCT_MIN_SIZE,
        };
        let count = r.get_len(min_size)?;
        (0..count)
            .map(|_| {
                if let Some(key) = key {
                    r.expect_map_key(key);
                }
                self.read_element(field.ty(), r)
            })
            .collect::<Result<_, _>>()
            .map(Value::Array)
    }

    fn read_element(&self, ty: FieldType, r: &mut Reader<'_>) -> Result<Value, DecodeError> {
        let scalar = match ty {
            FieldType::Struct(id) => return self.read_struct(id, r).map(Value::Struct),
            FieldType::Scalar(scalar) => scalar,
        };
        Ok(match scalar {
            Scalar::Boolean => Value::Bool(bool::read_from(r)?),
            Scalar::Byte => Value::I8(i8::read_from(r)?),
            Scalar::Ubyte => Value::U8(u8::read_from(r)?),
            Scalar::Short => Value::I16(i16::read_from(r)?),
            Scalar::Ushort => Value::U16(u16::read_from(r)?),
            Scalar::Int32 => Value::I32(i32::read_from(r)?),
            Scalar::Uint32 => Value::U32(u32::read_from(r)?),
            Scalar::Int64 => Value::I64(i64::read_from(r)?),
            Scalar::Uint64 => Value::U64(u64::read_from(r)?),
            Scalar::Float => Value::F32(f32::read_from(r)?),
            Scalar::String => Value::String(ByteStr::read_from(r)?),
            Scalar::Blob => Value::Bytes(r.get_bytes()?.to_vec()),
        })
    }

    /// The tag of a map field's key in its element struct.
    fn map_key_tag(&self, field: &FieldDef) -> Option<u16> {
        match (field.repeat(), field.ty()) {
            (Repeat::Map { key }, FieldType::Struct(id)) => Some(self[id].fields()[key].tag()),
            _ => None,
        }
    }
}

fn write_int<T>(v: &Value, w: &mut Writer<'_>) -> Option<Result<(), EncodeError>>
where
    T: Wire + TryFrom<i128>,
{
    let n = T::try_from(v.as_i128()?).ok()?;
    Some(n.write_to(w))
}

fn mismatch(field: &FieldDef, expected: &str) -> EncodeError {
    EncodeError::TypeMismatch {
        field: field.name().to_owned(),
        expected: expected.to_owned(),
    }
}

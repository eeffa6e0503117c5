//! The low-level encoder: writes zproto straight into a `BytesMut`.
//!
//! A struct is `size:u32 | count:u16 | delta:u16 * count | bodies`. The
//! writer reserves the header once the number of present fields is known,
//! fills each delta slot as the field's body is appended, and patches the
//! size at the end, so nothing is buffered per field.

use bytes::{BufMut, BytesMut};

use crate::EncodeError;
use crate::zproto::schema::MAX_DEPTH;
use crate::zproto::wire::Wire;

/// Lengths, counts and sizes must stay below 2^31: silly reads them as C `int`.
const MAX_LEN: usize = i32::MAX as usize;

/// Appends zproto encodings to a buffer.
///
/// Generated code and the dynamic [`Value`](crate::zproto::Value) API both
/// write through this type; it checks what the format requires (ascending
/// tags, 2^31 limits, nesting depth) so that its output always decodes.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut BytesMut,
    depth: usize,
    /// Set just before a map element is written: the tag its struct must
    /// contain, since a peer cannot decode a map element without its key.
    map_key: Option<u16>,
}

/// One struct being written; obtained from [`Writer::begin_struct`].
#[derive(Debug)]
pub struct StructWriter<'w, 'a> {
    w: &'w mut Writer<'a>,
    start: usize,
    next_slot: usize,
    end_slots: usize,
    /// The smallest tag the next field may have; deltas count from it.
    next_tag: u32,
    key: Option<u16>,
}

impl<'a> Writer<'a> {
    /// A writer appending to `buf`.
    pub fn new(buf: &'a mut BytesMut) -> Self {
        Writer {
            buf,
            depth: 0,
            map_key: None,
        }
    }

    /// Starts a struct whose first declared field has tag `base` and of which
    /// exactly `count` fields will be written, in ascending tag order.
    #[inline]
    pub fn begin_struct(
        &mut self,
        base: u16,
        count: usize,
    ) -> Result<StructWriter<'_, 'a>, EncodeError> {
        if self.depth >= MAX_DEPTH {
            return Err(EncodeError::TooDeep);
        }
        let count16 = u16::try_from(count).map_err(|_| EncodeError::FieldOrder)?;
        self.depth += 1;
        let start = self.buf.len();
        let header = 6 + 2 * count;
        self.buf.reserve(header);
        if count == 0 {
            self.buf.put_u32_le(0);
            self.buf.put_u16_le(0);
        } else {
            // The size (filled in by `finish`), the count and the first delta
            // slot in one store; most structs written have few fields.
            self.buf.put_u64_le(u64::from(count16) << 32);
            if count > 1 {
                self.buf.put_bytes(0, 2 * (count - 1));
            }
        }
        let key = self.map_key.take();
        Ok(StructWriter {
            w: self,
            start,
            next_slot: start + 6,
            end_slots: start + header,
            next_tag: u32::from(base),
            key,
        })
    }

    /// Writes a boolean (`01` or `00`).
    pub fn put_bool(&mut self, v: bool) {
        self.buf.put_u8(u8::from(v));
    }

    /// Writes an 8-bit integer.
    pub fn put_u8(&mut self, v: u8) {
        self.buf.put_u8(v);
    }

    /// Writes a 16-bit little-endian integer.
    pub fn put_u16(&mut self, v: u16) {
        self.buf.put_u16_le(v);
    }

    /// Writes a 32-bit little-endian integer.
    pub fn put_u32(&mut self, v: u32) {
        self.buf.put_u32_le(v);
    }

    /// Writes a 64-bit little-endian integer.
    pub fn put_u64(&mut self, v: u64) {
        self.buf.put_u64_le(v);
    }

    /// Writes a binary32 float.
    pub fn put_f32(&mut self, v: f32) {
        self.buf.put_f32_le(v);
    }

    /// Writes a `string` or `blob` body: `len:u32` and the bytes.
    #[inline]
    pub fn put_bytes(&mut self, v: &[u8]) -> Result<(), EncodeError> {
        self.put_len(v.len(), "string or blob")?;
        self.buf.extend_from_slice(v);
        Ok(())
    }

    /// Writes an array or map count.
    #[inline]
    pub fn put_len(&mut self, len: usize, what: &'static str) -> Result<(), EncodeError> {
        if len > MAX_LEN {
            return Err(EncodeError::TooLarge(what));
        }
        self.buf.put_u32_le(len as u32);
        Ok(())
    }

    /// Writes an array: the count, then each element.
    pub fn put_array<T: Wire>(&mut self, items: &[T]) -> Result<(), EncodeError> {
        self.put_items(items, None)
    }

    /// Writes a map: an array of structs that must each contain field `key`.
    pub fn put_map<T: Wire>(&mut self, items: &[T], key: u16) -> Result<(), EncodeError> {
        self.put_items(items, Some(key))
    }

    fn put_items<T: Wire>(&mut self, items: &[T], key: Option<u16>) -> Result<(), EncodeError> {
        self.put_len(items.len(), "array")?;
        items.iter().try_for_each(|item| {
            self.map_key = key;
            item.write_to(self)
        })
    }

    /// Makes the next struct written fail unless it contains field `key`.
    pub fn expect_map_key(&mut self, key: u16) {
        self.map_key = Some(key);
    }
}

impl<'a> StructWriter<'_, 'a> {
    /// Announces the next present field; its body must be written next,
    /// through the returned writer.
    #[inline]
    pub fn field(&mut self, tag: u16) -> Result<&mut Writer<'a>, EncodeError> {
        let tag32 = u32::from(tag);
        if self.next_slot == self.end_slots || tag32 < self.next_tag {
            return Err(EncodeError::FieldOrder);
        }
        let delta = (tag32 - self.next_tag) as u16;
        self.w.buf[self.next_slot..self.next_slot + 2].copy_from_slice(&delta.to_le_bytes());
        self.next_slot += 2;
        self.next_tag = tag32 + 1;
        if self.key == Some(tag) {
            self.key = None;
        }
        Ok(self.w)
    }

    /// Completes the struct: checks every announced field was written and
    /// fills in its size.
    #[inline]
    pub fn finish(self) -> Result<(), EncodeError> {
        if self.next_slot != self.end_slots {
            return Err(EncodeError::FieldOrder);
        }
        if let Some(key) = self.key {
            return Err(EncodeError::MissingMapKey(key));
        }
        let size = self.w.buf.len() - self.start - 4;
        if size > MAX_LEN {
            return Err(EncodeError::TooLarge("struct"));
        }
        self.w.buf[self.start..self.start + 4].copy_from_slice(&(size as u32).to_le_bytes());
        self.w.depth -= 1;
        Ok(())
    }
}

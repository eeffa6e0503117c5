//! The low-level decoder: reads zproto from a byte slice, bounds-checked.
//!
//! Every read is limited by the region of the innermost open struct (its
//! declared size), which is itself limited by the input. Counts read from the
//! input are checked against the bytes left before anything is allocated.

use crate::DecodeError;
use crate::zproto::schema::MAX_DEPTH;
use crate::zproto::wire::Wire;

/// Counts of 2^31 or more are rejected (silly misreads them as negative).
const MAX_COUNT: u32 = i32::MAX as u32;

/// Reads zproto encodings from a byte slice.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// End of the region that reads may touch: the innermost struct's end.
    end: usize,
    depth: usize,
    /// Set just before a map element is read: the tag its struct must contain.
    map_key: Option<u16>,
}

/// One struct being read; obtained from [`Reader::begin_struct`].
///
/// Its field entries come from [`StructReader::next_tag`] in ascending tag
/// order. A caller that meets a tag it does not know must stop reading fields
/// and call [`StructReader::finish`]: bodies are not self-describing, so no
/// later body can be located. `finish` skips to the struct's end.
#[derive(Debug)]
pub struct StructReader<'r, 'a> {
    r: &'r mut Reader<'a>,
    next_delta: usize,
    left: u16,
    next_tag: u32,
    struct_end: usize,
    outer_end: usize,
    key: Option<u16>,
}

impl<'a> Reader<'a> {
    /// A reader over all of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            end: buf.len(),
            depth: 0,
            map_key: None,
        }
    }

    /// Bytes consumed so far (after a top-level struct: `4 + size`).
    pub fn position(&self) -> usize {
        self.pos
    }

    #[inline]
    fn remaining(&self) -> usize {
        self.end - self.pos
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::Truncated);
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    #[inline]
    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Opens a struct whose first declared field has tag `base`.
    #[inline]
    pub fn begin_struct(&mut self, base: u16) -> Result<StructReader<'_, 'a>, DecodeError> {
        if self.depth >= MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        // `size` and `count` in one read.
        let [s0, s1, s2, s3, c0, c1] = self.take_array::<6>()?;
        let size = u32::from_le_bytes([s0, s1, s2, s3]);
        let count = u16::from_le_bytes([c0, c1]);
        if size < 2 {
            return Err(DecodeError::StructSize(size));
        }
        // `size` counts the count just read.
        let size = size as usize;
        if size - 2 > self.remaining() {
            return Err(DecodeError::Truncated);
        }
        let struct_end = self.pos - 2 + size;
        if 2 * usize::from(count) > size - 2 {
            return Err(DecodeError::FieldCount(count));
        }
        let next_delta = self.pos;
        self.pos += 2 * usize::from(count);
        self.depth += 1;
        let outer_end = std::mem::replace(&mut self.end, struct_end);
        let key = self.map_key.take();
        Ok(StructReader {
            r: self,
            next_delta,
            left: count,
            next_tag: u32::from(base),
            struct_end,
            outer_end,
            key,
        })
    }

    /// Reads a boolean: any non-zero byte is true.
    pub fn get_bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.get_u8()? != 0)
    }

    /// Reads an 8-bit integer.
    pub fn get_u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take_array::<1>()?[0])
    }

    /// Reads a 16-bit little-endian integer.
    #[inline]
    pub fn get_u16(&mut self) -> Result<u16, DecodeError> {
        self.take_array().map(u16::from_le_bytes)
    }

    /// Reads a 32-bit little-endian integer.
    #[inline]
    pub fn get_u32(&mut self) -> Result<u32, DecodeError> {
        self.take_array().map(u32::from_le_bytes)
    }

    /// Reads a 64-bit little-endian integer.
    pub fn get_u64(&mut self) -> Result<u64, DecodeError> {
        self.take_array().map(u64::from_le_bytes)
    }

    /// Reads a binary32 float.
    pub fn get_f32(&mut self) -> Result<f32, DecodeError> {
        self.take_array().map(f32::from_le_bytes)
    }

    /// Reads a `string` or `blob` body, borrowing its bytes from the input.
    #[inline]
    pub fn get_bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.get_u32()?;
        self.take(len as usize)
    }

    /// Reads an array count whose elements take at least `min_size` bytes
    /// each, and fails at once if they cannot fit in what is left.
    pub fn get_len(&mut self, min_size: usize) -> Result<usize, DecodeError> {
        let count = self.get_u32()?;
        if count > MAX_COUNT || (count as usize).saturating_mul(min_size) > self.remaining() {
            return Err(DecodeError::ArrayLength(count));
        }
        Ok(count as usize)
    }

    /// Reads an array of `T`.
    pub fn get_array<T: Wire>(&mut self) -> Result<Vec<T>, DecodeError> {
        self.get_items(None)
    }

    /// Reads a map: an array of structs that must each contain field `key`.
    pub fn get_map<T: Wire>(&mut self, key: u16) -> Result<Vec<T>, DecodeError> {
        self.get_items(Some(key))
    }

    fn get_items<T: Wire>(&mut self, key: Option<u16>) -> Result<Vec<T>, DecodeError> {
        let count = self.get_len(T::MIN_SIZE)?;
        // `get_len` bounded the count by the input left.
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            self.map_key = key;
            items.push(T::read_from(self)?);
        }
        Ok(items)
    }

    /// Makes the next struct read fail unless it contains field `key`.
    pub fn expect_map_key(&mut self, key: u16) {
        self.map_key = Some(key);
    }
}

impl<'a> StructReader<'_, 'a> {
    /// The tag of the next present field, or `None` after the last one.
    ///
    /// The tag may be one the caller does not know (then it must stop).
    #[inline]
    pub fn next_tag(&mut self) -> Option<u32> {
        if self.left == 0 {
            return None;
        }
        let at = self.next_delta;
        let delta = u16::from_le_bytes([self.r.buf[at], self.r.buf[at + 1]]);
        self.next_delta += 2;
        self.left -= 1;
        let tag = self.next_tag.saturating_add(u32::from(delta));
        self.next_tag = tag.saturating_add(1);
        if self.key.is_some_and(|k| u32::from(k) == tag) {
            self.key = None;
        }
        Some(tag)
    }

    /// The reader, positioned at the body of the field just returned by
    /// [`next_tag`](Self::next_tag).
    #[inline]
    pub fn reader(&mut self) -> &mut Reader<'a> {
        self.r
    }

    /// Ends the struct: the reader moves past it, wherever field reading
    /// stopped.
    #[inline]
    pub fn finish(self) -> Result<(), DecodeError> {
        if let Some(key) = self.key {
            return Err(DecodeError::MissingMapKey(key));
        }
        self.r.pos = self.struct_end;
        self.r.end = self.outer_end;
        self.r.depth -= 1;
        Ok(())
    }
}

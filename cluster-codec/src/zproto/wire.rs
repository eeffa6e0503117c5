//! The Rust types that can be zproto field bodies, and how each is written.
//!
//! | zproto | Rust |
//! |---|---|
//! | `boolean` | `bool` |
//! | `byte`, `ubyte` | `i8`, `u8` |
//! | `short`, `ushort` | `i16`, `u16` |
//! | `int32`, `uint32` | `i32`, `u32` |
//! | `int64`, `uint64` | `i64`, `u64` |
//! | `float` | `f32` |
//! | `string` | `String` (decoded lossily: invalid UTF-8 becomes U+FFFD) |
//! | `blob` | `Vec<u8>` (also usable for a `string` whose bytes must be kept exactly) |
//! | struct | any [`Message`] |
//!
//! `Vec<u8>` is a blob rather than an array of `ubyte` because zproto has no
//! arrays of 8-bit integers: `ubyte[]` in a schema *means* blob.

use crate::zproto::{Message, Reader, Scalar, Writer};
use crate::{DecodeError, EncodeError};

/// A type that can be one field body (or one array element).
pub trait Wire: Sized {
    /// The fewest bytes one encoded value takes: bounds how many elements an
    /// array count may announce for the input left.
    const MIN_SIZE: usize;

    /// Appends the body.
    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError>;

    /// Reads one body.
    fn read_from(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

macro_rules! int_wire {
    ($($ty:ty => $scalar:ident, $put:ident, $get:ident, $bits:ty;)*) => {$(
        impl Wire for $ty {
            const MIN_SIZE: usize = Scalar::$scalar.min_size();

            #[inline]
            fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                // Signed values go out as their two's-complement bit pattern.
                w.$put(*self as $bits);
                Ok(())
            }

            #[inline]
            fn read_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                r.$get().map(|v| v as $ty)
            }
        }
    )*};
}

int_wire! {
    i8 => Byte, put_u8, get_u8, u8;
    u8 => Ubyte, put_u8, get_u8, u8;
    i16 => Short, put_u16, get_u16, u16;
    u16 => Ushort, put_u16, get_u16, u16;
    i32 => Int32, put_u32, get_u32, u32;
    u32 => Uint32, put_u32, get_u32, u32;
    i64 => Int64, put_u64, get_u64, u64;
    u64 => Uint64, put_u64, get_u64, u64;
}

impl Wire for bool {
    const MIN_SIZE: usize = 1;

    #[inline]
    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_bool(*self);
        Ok(())
    }

    #[inline]
    fn read_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.get_bool()
    }
}

impl Wire for f32 {
    const MIN_SIZE: usize = 4;

    #[inline]
    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_f32(*self);
        Ok(())
    }

    #[inline]
    fn read_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.get_f32()
    }
}

impl Wire for String {
    const MIN_SIZE: usize = 4;

    #[inline]
    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_bytes(self.as_bytes())
    }

    /// silly never checks UTF-8, so rejecting it would refuse messages silly
    /// accepts; invalid sequences become U+FFFD instead. Declare the field
    /// `Vec<u8>` to keep such bytes exactly.
    #[inline]
    fn read_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let bytes = r.get_bytes()?;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }
}

impl Wire for Vec<u8> {
    const MIN_SIZE: usize = 4;

    #[inline]
    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_bytes(self)
    }

    #[inline]
    fn read_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.get_bytes().map(<[u8]>::to_vec)
    }
}

/// An empty struct: `size` and `count`.
pub(crate) const STRUCT_MIN_SIZE: usize = 6;

impl<M: Message> Wire for M {
    const MIN_SIZE: usize = STRUCT_MIN_SIZE;

    #[inline]
    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.write_struct(w)
    }

    #[inline]
    fn read_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        M::read_struct(r)
    }
}

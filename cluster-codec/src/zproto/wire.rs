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
//! | `string` | [`ByteStr`]: any bytes, kept exactly (the default) |
//! | `string` | `String`: only for text; bytes that are not UTF-8 fail to decode |
//! | `blob` | `Vec<u8>` (also usable for a `string`) |
//! | struct | any [`Message`] |
//!
//! `Vec<u8>` is a blob rather than an array of `ubyte` because zproto has no
//! arrays of 8-bit integers: `ubyte[]` in a schema *means* blob.

use crate::zproto::{ByteStr, Message, Reader, Scalar, Writer};
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

/// Fixed-width types: a writer method and a reader method each. Signed
/// integers travel as the two's-complement bit pattern of their unsigned twin.
macro_rules! fixed_wire {
    ($($ty:ty => $scalar:ident, $write:expr, $read:expr;)*) => {$(
        impl Wire for $ty {
            const MIN_SIZE: usize = Scalar::$scalar.min_size();

            #[inline]
            fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                ($write)(w, *self);
                Ok(())
            }

            #[inline]
            fn read_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                ($read)(r)
            }
        }
    )*};
}

fixed_wire! {
    bool => Boolean, Writer::put_bool, Reader::get_bool;
    u8 => Ubyte, Writer::put_u8, Reader::get_u8;
    u16 => Ushort, Writer::put_u16, Reader::get_u16;
    u32 => Uint32, Writer::put_u32, Reader::get_u32;
    u64 => Uint64, Writer::put_u64, Reader::get_u64;
    f32 => Float, Writer::put_f32, Reader::get_f32;
    i8 => Byte, |w: &mut Writer<'_>, v: i8| w.put_u8(v as u8), |r: &mut Reader<'_>| r.get_u8().map(|v| v as i8);
    i16 => Short, |w: &mut Writer<'_>, v: i16| w.put_u16(v as u16), |r: &mut Reader<'_>| r.get_u16().map(|v| v as i16);
    i32 => Int32, |w: &mut Writer<'_>, v: i32| w.put_u32(v as u32), |r: &mut Reader<'_>| r.get_u32().map(|v| v as i32);
    i64 => Int64, |w: &mut Writer<'_>, v: i64| w.put_u64(v as u64), |r: &mut Reader<'_>| r.get_u64().map(|v| v as i64);
}

/// Byte strings, kept exactly: `string` or `blob`, the same on the wire.
macro_rules! bytes_wire {
    ($($ty:ty),*) => {$(
        impl Wire for $ty {
            const MIN_SIZE: usize = Scalar::Blob.min_size();

            #[inline]
            fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                w.put_bytes(self)
            }

            #[inline]
            fn read_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                r.get_bytes().map(<$ty>::from)
            }
        }
    )*};
}

bytes_wire!(ByteStr, Vec<u8>);

impl Wire for String {
    const MIN_SIZE: usize = Scalar::String.min_size();

    #[inline]
    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.put_bytes(self.as_bytes())
    }

    /// silly never checks UTF-8, so a `String` field can meet bytes it cannot
    /// hold; replacing them would change the message silently, so they fail
    /// to decode instead (generated code names the message and field).
    #[inline]
    fn read_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let bytes = r.get_bytes()?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(DecodeError::Utf8)
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

//! zproto, byte-compatible with the copy in silly: schema language, codec,
//! pack/unpack, and the [`Zproto`] cluster codec.
//!
//! # The model
//!
//! A schema declares structs with numbered, typed fields:
//!
//! ```text
//! ping 0x01 {              # a top-level struct with protocol tag 1
//!     .msg:string 1        # field 'msg', type string, field tag 1
//! }
//! ```
//!
//! * Grammar: `struct := NAME [tag] '{' {struct} {field} '}'` and
//!   `field := '.' NAME ':' TYPE ['[' [KEY] ']'] TAG`; `#` comments run to the
//!   end of the line. Nested structs come before the fields and are visible
//!   only inside their parent after their definition; a struct may only use
//!   structs defined before it (no recursion). Numbers read like C's
//!   `strtoul(s, 0, 0)`: `0x1f` is hex and `010` is octal (8), as in silly.
//! * Basic types: [`Scalar`]. `T[]` is an array, `S[key]` a map (on the wire
//!   an array of struct `S` keyed by its field `key`). `byte[]` means
//!   `string` and `ubyte[]` means `blob`.
//! * Field tags ascend, 1..=32767 (silly accepts up to 65535 but mishandles
//!   tags above 32767, so they are rejected here).
//!
//! On the wire a struct is `size:u32 | count:u16 | delta:u16 * count |
//! bodies`, little-endian, with one entry per **present** field: absent is
//! not zero. Deltas count from one below the first *declared* tag. A reader
//! stops at a tag it does not know and skips to the struct's end, which is
//! what makes appending fields compatible. The protocol tag is not on the
//! wire; silly's cluster sends it as the command id. A cluster body is
//! [`pack`]`(encode(msg))`.
//!
//! # Three ways to have messages
//!
//! * `cluster::zproto!("schema.zproto")` turns a schema file into Rust
//!   types at compile time.
//! * `#[derive(cluster::zproto::Message)]` makes a hand-written struct a
//!   message.
//! * [`Schema::parse`] and [`Value`] work on a schema known only at run time.
//!
//! The first two implement [`Message`] with direct code and go through one
//! code generator; all three produce identical bytes. Typed fields map as
//! described in the [`Wire`] docs; malformed input is always an error, never
//! a panic or an allocation larger than the input justifies.

mod body;
mod byte_str;
mod codec;
mod decode;
mod dynamic;
mod encode;
mod export;
mod lexer;
mod message;
mod pack;
mod parse;
mod scalar;
mod schema;
mod value;
mod wire;

use bytes::BytesMut;

pub use self::byte_str::ByteStr;
pub use self::codec::Zproto;
pub use self::decode::{Reader, StructReader};
pub use self::encode::{StructWriter, Writer};
pub use self::export::{ExportError, export};
#[doc(hidden)]
pub use self::message::map_key_tag;
pub use self::message::{FieldInfo, InfoFn, Message, MessageInfo, RepeatInfo, TypeInfo, info_of};
pub use self::pack::{pack, packed_bound, unpack};
pub use self::scalar::Scalar;
pub use self::schema::{
    FieldDef, FieldType, MAX_DEPTH, MAX_FIELD_TAG, Repeat, Schema, SchemaError, SchemaErrorKind,
    StructDef, StructId, is_valid_name,
};
pub use self::value::{StructValue, Value};
pub use self::wire::Wire;

use crate::{DecodeError, EncodeError};

/// Appends the (unpacked) encoding of `msg` to `dst`.
pub fn encode<M: Message>(msg: &M, dst: &mut BytesMut) -> Result<(), EncodeError> {
    body::encode_raw(dst, |w| msg.write_struct(w))
}

/// Decodes a message from the start of `src`; trailing bytes are ignored.
pub fn decode<M: Message>(src: &[u8]) -> Result<M, DecodeError> {
    M::read_struct(&mut Reader::new(src))
}

//! The `Zproto` codec: message bodies as silly's cluster writes them.

use bytes::BytesMut;

use crate::zproto::{Message, body};
use crate::{Codec, Decode, DecodeError, Encode, EncodeError};

/// zproto bodies, byte-compatible with silly: `pack(encode(msg))`.
///
/// Decoding unpacks, then decodes the first struct; the zero padding that
/// unpacking adds is ignored. An empty body is an error, as in silly.
#[derive(Debug, Clone, Copy, Default)]
pub struct Zproto;

impl Codec for Zproto {
    const NAME: &'static str = "zproto";
}

impl<M: Message> Encode<Zproto> for M {
    fn encode(&self, dst: &mut BytesMut) -> Result<(), EncodeError> {
        body::encode_packed(dst, |w| self.write_struct(w))
    }
}

impl<M: Message> Decode<Zproto> for M {
    fn decode(src: &[u8]) -> Result<Self, DecodeError> {
        body::decode_packed(src, M::read_struct)
    }
}

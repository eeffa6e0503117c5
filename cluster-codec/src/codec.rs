use bytes::BytesMut;

use crate::{DecodeError, EncodeError};

/// A wire encoding for message bodies, named by a zero-sized type.
///
/// Codecs carry no state: everything a codec needs is in the type, which is
/// why generated code can name one in a generic bound and never box it.
pub trait Codec: Copy + Default + Send + Sync + 'static {
    /// Short name, for logs and documentation.
    const NAME: &'static str;
}

/// A value that codec `C` can turn into bytes.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be encoded with the `{C}` codec",
    label = "not encodable with `{C}`",
    note = "`Bincode` encodes any `serde::Serialize` type; `Zproto` encodes zproto messages (`zproto::Message`)"
)]
pub trait Encode<C: Codec> {
    /// Appends the encoding of `self` to `dst`.
    fn encode(&self, dst: &mut BytesMut) -> Result<(), EncodeError>;
}

/// A value that codec `C` can rebuild from bytes.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be decoded with the `{C}` codec",
    label = "not decodable with `{C}`",
    note = "`Bincode` decodes any owned `serde::de::DeserializeOwned` type; `Zproto` decodes zproto messages (`zproto::Message`)"
)]
pub trait Decode<C: Codec>: Sized {
    /// Decodes one value that occupies all of `src`.
    fn decode(src: &[u8]) -> Result<Self, DecodeError>;
}

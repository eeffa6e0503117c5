use bytes::{Bytes, BytesMut};

use crate::{DecodeError, EncodeError};

/// A wire encoding for message bodies, named by a zero-sized type.
///
/// Codecs carry no state: everything a codec needs is in the type, which is
/// why generated code can name one in a generic bound and never box it.
///
/// # Writing a codec
///
/// `Bincode` and `Zproto` are built in; any other codec is a type that
/// implements `Codec` and, for each type it carries, [`Encode`] and
/// [`Decode`]. A service chooses it with
/// `#[cluster::service(codec = path::to::Codec)]`; for each method the
/// codec must then carry:
///
/// - the request: the tuple of the method's arguments, `()` for none and
///   `(A,)` for one (the client encodes it, the server decodes it);
/// - the response: the method's return type (`T` of `Result<T, E>` with
///   `#[remote_error]`); one-way methods have none.
///
/// An implementation must:
///
/// - make `decode` the inverse of `encode`: a value encoded by a client
///   decodes to an equal value on the server, and back;
/// - append in `encode` (the buffer may already hold bytes) and read in
///   `decode` exactly the whole input, refusing trailing bytes;
/// - treat decode input as untrusted (it comes from the network): return a
///   [`DecodeError`] for anything malformed, never panic, and allocate no
///   more than the input can justify;
/// - wrap its own errors with [`EncodeError::other`] and
///   [`DecodeError::other`].
///
/// Outside this crate the orphan rule forbids a blanket
/// `impl<T> Encode<MyCodec> for T`; implement the traits for the types the
/// codec carries (a tuple impl per arity covers argument lists), or for a
/// wrapper type. `tests/third_codec.rs` in the `cluster` repository serves
/// a service over JSON that way.
///
/// ```
/// use bytes::{BufMut, BytesMut};
/// use cluster_codec::{Codec, Decode, DecodeError, Encode, EncodeError};
///
/// /// Every value a fixed-width little-endian `u32`.
/// #[derive(Debug, Clone, Copy, Default)]
/// struct Le32;
///
/// impl Codec for Le32 {
///     const NAME: &'static str = "le32";
/// }
///
/// impl Encode<Le32> for u32 {
///     fn encode(&self, dst: &mut BytesMut) -> Result<(), EncodeError> {
///         dst.put_u32_le(*self);
///         Ok(())
///     }
/// }
///
/// impl Decode<Le32> for u32 {
///     fn decode(src: &[u8]) -> Result<Self, DecodeError> {
///         match <[u8; 4]>::try_from(src) {
///             Ok(bytes) => Ok(u32::from_le_bytes(bytes)),
///             Err(_) if src.len() > 4 => Err(DecodeError::TrailingBytes(src.len() - 4)),
///             Err(e) => Err(DecodeError::other(e)),
///         }
///     }
/// }
///
/// // The request of a method `async fn double(&self, n: u32) -> u32`.
/// impl Encode<Le32> for (u32,) {
///     fn encode(&self, dst: &mut BytesMut) -> Result<(), EncodeError> {
///         Encode::<Le32>::encode(&self.0, dst)
///     }
/// }
///
/// impl Decode<Le32> for (u32,) {
///     fn decode(src: &[u8]) -> Result<Self, DecodeError> {
///         Ok((<u32 as Decode<Le32>>::decode(src)?,))
///     }
/// }
///
/// let mut body = BytesMut::new();
/// Encode::<Le32>::encode(&(7u32,), &mut body)?;
/// assert_eq!(&body[..], [7, 0, 0, 0]);
/// assert_eq!(<(u32,) as Decode<Le32>>::decode(&body)?, (7,));
/// assert!(<u32 as Decode<Le32>>::decode(&body[..3]).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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

    /// Decodes one value that occupies all of `src`, a frame's body: a
    /// codec that can share the frame's memory (a byte string as a slice of
    /// it) does so here. Generated clients and servers call this; the
    /// default is [`Decode::decode`].
    fn decode_bytes(src: &Bytes) -> Result<Self, DecodeError> {
        Self::decode(src)
    }
}

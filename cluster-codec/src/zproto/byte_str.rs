//! [`ByteStr`]: what a zproto `string` holds, byte for byte.
//!
//! Lua strings are byte strings, and silly nodes put hashes, packed blobs
//! and serialized state in `string` fields; zproto never checks UTF-8. A
//! Rust `String` cannot hold such bytes without changing them, so `string`
//! maps to this type, which keeps every byte and checks UTF-8 only when it
//! is asked for text.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::str::Utf8Error;

use bytes::Bytes;

/// The bytes of a zproto `string`, kept exactly, whatever they are.
///
/// Cheap to clone (it shares a [`Bytes`] buffer). Built from text or bytes
/// with `From` (`"hi".into()`, `String`, `Vec<u8>`, `&[u8]`, `Bytes`);
/// compares equal to a `str` with the same bytes; derefs to `[u8]`.
/// [`as_str`](Self::as_str) gives the text when it is UTF-8.
///
/// `Display` is for people: it shows invalid UTF-8 as U+FFFD, so never use
/// it to pass the value on. `Debug` shows valid UTF-8 as a quoted string and
/// anything else as escaped bytes (`b"\x00\xff"`), so the two are told apart.
///
/// ```
/// use cluster_codec::zproto::ByteStr;
///
/// let text = ByteStr::from("hello");
/// assert_eq!(text, "hello");
/// assert_eq!(text.as_str(), Ok("hello"));
///
/// let binary = ByteStr::from(vec![0x00, 0xff, b'a']);
/// assert!(binary.as_str().is_err());
/// assert_eq!(&binary[..], [0x00, 0xff, b'a']);
/// assert_eq!(format!("{binary:?}"), r#"b"\x00\xffa""#);
/// assert_eq!(binary.to_string(), "\0\u{fffd}a");
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteStr(Bytes);

impl ByteStr {
    /// The empty string.
    pub const fn new() -> Self {
        ByteStr(Bytes::new())
    }

    /// A string over static text, without copying it.
    pub const fn from_static(text: &'static str) -> Self {
        ByteStr(Bytes::from_static(text.as_bytes()))
    }

    /// The text, if the bytes are valid UTF-8.
    pub fn as_str(&self) -> Result<&str, Utf8Error> {
        std::str::from_utf8(&self.0)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The underlying buffer.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for ByteStr {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for ByteStr {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Borrow<[u8]> for ByteStr {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl From<&str> for ByteStr {
    fn from(text: &str) -> Self {
        ByteStr(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl From<String> for ByteStr {
    fn from(text: String) -> Self {
        ByteStr(Bytes::from(text))
    }
}

impl From<&[u8]> for ByteStr {
    fn from(bytes: &[u8]) -> Self {
        ByteStr(Bytes::copy_from_slice(bytes))
    }
}

impl<const N: usize> From<&[u8; N]> for ByteStr {
    fn from(bytes: &[u8; N]) -> Self {
        ByteStr(Bytes::copy_from_slice(bytes))
    }
}

impl From<Vec<u8>> for ByteStr {
    fn from(bytes: Vec<u8>) -> Self {
        ByteStr(Bytes::from(bytes))
    }
}

impl From<Bytes> for ByteStr {
    fn from(bytes: Bytes) -> Self {
        ByteStr(bytes)
    }
}

impl From<ByteStr> for Bytes {
    fn from(s: ByteStr) -> Self {
        s.0
    }
}

impl From<ByteStr> for Vec<u8> {
    fn from(s: ByteStr) -> Self {
        s.0.into()
    }
}

impl PartialEq<str> for ByteStr {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for ByteStr {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<String> for ByteStr {
    fn eq(&self, other: &String) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<[u8]> for ByteStr {
    fn eq(&self, other: &[u8]) -> bool {
        self.0 == other
    }
}

impl PartialEq<ByteStr> for str {
    fn eq(&self, other: &ByteStr) -> bool {
        other == self
    }
}

impl PartialEq<ByteStr> for &str {
    fn eq(&self, other: &ByteStr) -> bool {
        other == self
    }
}

impl fmt::Display for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{fffd}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_str() {
            Ok(text) => fmt::Debug::fmt(text, f),
            Err(_) => write!(f, "b\"{}\"", self.0.escape_ascii()),
        }
    }
}

/// Serialized as bytes, so nothing is lost; deserialized from bytes, text
/// or a sequence of bytes.
impl serde::Serialize for ByteStr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for ByteStr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_byte_buf(Visitor)
    }
}

struct Visitor;

impl<'de> serde::de::Visitor<'de> for Visitor {
    type Value = ByteStr;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<ByteStr, E> {
        Ok(v.into())
    }

    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<ByteStr, E> {
        Ok(v.into())
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ByteStr, E> {
        Ok(v.into())
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<ByteStr, E> {
        Ok(v.into())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<ByteStr, A::Error> {
        // Not trusted for a capacity: the hint comes from the input.
        let mut out = Vec::new();
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(out.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_replaces_only_what_is_not_utf8() {
        let s = ByteStr::from(&b"\0\x01\x02\xff\0zero\0"[..]);
        assert_eq!(s.to_string(), "\0\u{1}\u{2}\u{fffd}\0zero\0");
        assert_eq!(s.len(), 10, "the bytes themselves are untouched");
    }

    #[test]
    fn debug_tells_text_from_bytes() {
        assert_eq!(format!("{:?}", ByteStr::from("a\"b")), r#""a\"b""#);
        assert_eq!(format!("{:?}", ByteStr::from(&[0xc3u8][..])), r#"b"\xc3""#);
    }

    #[test]
    fn bincode_round_trips_any_bytes() {
        let config = bincode::config::standard();
        let s = ByteStr::from((0..=255).collect::<Vec<u8>>());
        let bytes = bincode::serde::encode_to_vec(&s, config).expect("encode");
        let (back, _): (ByteStr, usize) =
            bincode::serde::decode_from_slice(&bytes, config).expect("decode");
        assert_eq!(back, s);
    }
}

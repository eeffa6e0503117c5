//! The serde/bincode codec: the default for Rust-to-Rust services.

use std::any::Any;

use ::bincode::error::DecodeError as BincodeError;
use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Codec, Decode, DecodeError, Encode, EncodeError};

/// bincode 2 with its standard (varint, little-endian) configuration, over
/// serde: any `Serialize`/`DeserializeOwned` type is a message.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bincode;

impl Codec for Bincode {
    const NAME: &'static str = "bincode";
}

impl<T: Serialize + ?Sized> Encode<Bincode> for T {
    fn encode(&self, dst: &mut BytesMut) -> Result<(), EncodeError> {
        ::bincode::serde::encode_into_std_write(self, &mut dst.writer(), config())?;
        Ok(())
    }
}

impl<T: DeserializeOwned + 'static> Decode<Bincode> for T {
    fn decode(src: &[u8]) -> Result<Self, DecodeError> {
        let (value, used) = ::bincode::serde::decode_from_slice(src, config())?;
        match src.len() - used {
            0 => Ok(value),
            extra => Err(DecodeError::TrailingBytes(extra)),
        }
    }

    /// A `Bytes`, or a one-argument request of one, is a slice of the
    /// frame. serde gives `Bytes` no way to borrow its input (its visitor
    /// copies), so the two shapes a blob most often travels in are told
    /// apart by type, as bincode itself does for `[u8]`; every other type
    /// goes through serde.
    fn decode_bytes(src: &Bytes) -> Result<Self, DecodeError> {
        let mut value: Option<T> = None;
        let slot: &mut dyn Any = &mut value;
        if let Some(bytes) = slot.downcast_mut::<Option<Bytes>>() {
            *bytes = Some(shared_bytes(src)?);
        } else if let Some(args) = slot.downcast_mut::<Option<(Bytes,)>>() {
            *args = Some((shared_bytes(src)?,));
        }
        match value {
            Some(value) => Ok(value),
            None => Self::decode(src),
        }
    }
}

/// The byte string bincode wrote as all of `src` (a varint length, then
/// the bytes), as a slice of `src`, with serde's errors for bad input.
fn shared_bytes(src: &Bytes) -> Result<Bytes, DecodeError> {
    let (len, used) = varint_len(src)?;
    let rest = src.len() - used;
    match rest.checked_sub(len) {
        Some(0) => Ok(src.slice(used..)),
        Some(extra) => Err(DecodeError::TrailingBytes(extra)),
        None => Err(BincodeError::UnexpectedEnd {
            additional: len - rest,
        }
        .into()),
    }
}

/// A length as bincode's standard configuration writes it: below 251 one
/// byte, else a marker (251, 252, 253: a u16, u32, u64 follows,
/// little-endian); returns it and the bytes it took.
fn varint_len(src: &[u8]) -> Result<(usize, usize), DecodeError> {
    let width = match src.first() {
        Some(&byte) if byte < 251 => return Ok((usize::from(byte), 1)),
        Some(251) => 2,
        Some(252) => 4,
        Some(253) => 8,
        Some(_) => {
            // Other markers are no length of a 64-bit build: let bincode say so.
            let (len, used): (u64, usize) = ::bincode::decode_from_slice(src, config())?;
            let len = usize::try_from(len).map_err(|_| BincodeError::OutsideUsizeRange(len))?;
            return Ok((len, used));
        }
        None => return Err(BincodeError::UnexpectedEnd { additional: 1 }.into()),
    };
    let Some(word) = src.get(1..1 + width) else {
        let additional = 1 + width - src.len();
        return Err(BincodeError::UnexpectedEnd { additional }.into());
    };
    let mut le = [0u8; 8];
    le[..width].copy_from_slice(word);
    let len = u64::from_le_bytes(le);
    let len = usize::try_from(len).map_err(|_| BincodeError::OutsideUsizeRange(len))?;
    Ok((len, 1 + width))
}

fn config() -> ::bincode::config::Configuration {
    ::bincode::config::standard()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T>(value: &T) -> T
    where
        T: Encode<Bincode> + Decode<Bincode>,
    {
        let mut buf = BytesMut::new();
        value.encode(&mut buf).expect("encode");
        <T as Decode<Bincode>>::decode(&buf).expect("decode")
    }

    #[test]
    fn tuples_and_strings_round_trip() {
        let v = (1i32, String::from("hello"), vec![1u8, 2, 3]);
        assert_eq!(round_trip(&v), v);
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut buf = BytesMut::new();
        7u32.encode(&mut buf).expect("encode");
        buf.put_u8(0);
        let err = <u32 as Decode<Bincode>>::decode(&buf).unwrap_err();
        assert!(matches!(err, DecodeError::TrailingBytes(1)), "{err}");
    }

    #[test]
    fn bytes_decode_as_slices_of_the_frame_and_as_serde_would() {
        let blob = Bytes::from_static(b"a blob of bytes");
        for value in [Bytes::new(), blob.clone(), Bytes::from(vec![7u8; 300])] {
            let mut buf = BytesMut::new();
            value.encode(&mut buf).expect("encode");
            let frame = buf.freeze();
            let shared = <Bytes as Decode<Bincode>>::decode_bytes(&frame).expect("decode");
            assert_eq!(shared, value);
            assert_eq!(
                <Bytes as Decode<Bincode>>::decode(&frame).expect("serde"),
                value
            );
            if !value.is_empty() {
                let inside = frame.as_ptr_range();
                assert!(inside.contains(&shared.as_ptr()), "a slice of the frame");
            }
        }
        let mut buf = BytesMut::new();
        (blob.clone(),).encode(&mut buf).expect("encode");
        let args = <(Bytes,) as Decode<Bincode>>::decode_bytes(&buf.freeze()).expect("decode");
        assert_eq!(args, (blob,));
        // Any other type goes through serde.
        let mut buf = BytesMut::new();
        (3u8, String::from("x")).encode(&mut buf).expect("encode");
        let other = <(u8, String) as Decode<Bincode>>::decode_bytes(&buf.freeze());
        assert_eq!(other.expect("decode"), (3, String::from("x")));
    }

    #[test]
    fn bad_bytes_fail_as_serde_fails() {
        let mut buf = BytesMut::new();
        Bytes::from_static(b"abc").encode(&mut buf).expect("encode");
        let whole = buf.freeze();
        let long = {
            let mut b = BytesMut::from(&whole[..]);
            b.put_u8(9);
            b.freeze()
        };
        let err = <Bytes as Decode<Bincode>>::decode_bytes(&long).unwrap_err();
        assert!(matches!(err, DecodeError::TrailingBytes(1)), "{err}");
        let short = whole.slice(..3);
        let err = <Bytes as Decode<Bincode>>::decode_bytes(&short).unwrap_err();
        let serde = <Bytes as Decode<Bincode>>::decode(&short).unwrap_err();
        assert_eq!(err.to_string(), serde.to_string());
        let err = <(Bytes,) as Decode<Bincode>>::decode_bytes(&Bytes::new()).unwrap_err();
        assert!(matches!(err, DecodeError::Bincode(_)), "{err}");
    }

    #[test]
    fn truncated_input_is_an_error() {
        let mut buf = BytesMut::new();
        String::from("hello").encode(&mut buf).expect("encode");
        let cut = &buf[..buf.len() - 1];
        assert!(<String as Decode<Bincode>>::decode(cut).is_err());
    }
}

//! The serde/bincode codec: the default for Rust-to-Rust services.

use bytes::{BufMut, BytesMut};
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

impl<T: DeserializeOwned> Decode<Bincode> for T {
    fn decode(src: &[u8]) -> Result<Self, DecodeError> {
        let (value, used) = ::bincode::serde::decode_from_slice(src, config())?;
        match src.len() - used {
            0 => Ok(value),
            extra => Err(DecodeError::TrailingBytes(extra)),
        }
    }
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
    fn truncated_input_is_an_error() {
        let mut buf = BytesMut::new();
        String::from("hello").encode(&mut buf).expect("encode");
        let cut = &buf[..buf.len() - 1];
        assert!(<String as Decode<Bincode>>::decode(cut).is_err());
    }
}

//! Codecs for `cluster`: how typed values become request and response bodies.
//!
//! A codec is a zero-sized type (`Bincode`, `Zproto`) chosen per service.
//! Values opt in through [`Encode`] and [`Decode`], which are generic over the
//! codec, so the choice is made at compile time: no trait objects and no
//! boxing on the call path.
//!
//! [`zproto`] is a byte-compatible implementation of silly's zproto: schema
//! language, codec, pack/unpack, typed messages and dynamic values.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod bincode;
mod codec;
mod error;
pub mod zproto;

pub use crate::bincode::Bincode;
pub use crate::codec::{Codec, Decode, Encode};
pub use crate::error::{DecodeError, EncodeError};
pub use crate::zproto::Zproto;

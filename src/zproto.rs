//! zproto messages, byte-compatible with silly's: the types of
//! [`cluster_codec::zproto`] plus the `Message` derive.
//!
//! There are three ways to have messages; all produce identical bytes and
//! the first two go through the same code generator.
//!
//! # 1. From a schema file, at compile time
//!
//! [`zproto!`](crate::zproto!) reads a `.zproto` file (path relative to the
//! crate's `Cargo.toml`) and emits one struct per schema struct, with direct
//! encode/decode code. Cargo rebuilds when the file changes.
//!
//! ```
//! // tests/zproto/ping.zproto:  ping 0x01 { .msg:string 1 }  pong 0x02 { ... }
//! cluster::zproto!("tests/zproto/ping.zproto");
//!
//! use cluster::codec::{Decode, Encode, Zproto};
//! use cluster::zproto::Message;
//!
//! let ping = Ping { msg: Some("hi".into()) };             // msg: Option<ByteStr>
//! let mut body = bytes::BytesMut::new();
//! Encode::<Zproto>::encode(&ping, &mut body)?;          // pack(encode(ping)), as silly
//! assert_eq!(&body[..], [0x11, 0x0a, 0x01, 0x31, 0x02, 0x68, 0x69]);
//! assert_eq!(<Ping as Decode<Zproto>>::decode(&body)?, ping);
//! assert_eq!(<Ping as Message>::TAG, 1);                 // the cluster command id
//!
//! // Any bytes, as a Lua string may hold, come back unchanged.
//! let binary = Ping { msg: Some(vec![0x00, 0xff, 0xfe].into()) };
//! let mut body = bytes::BytesMut::new();
//! Encode::<Zproto>::encode(&binary, &mut body)?;
//! assert_eq!(<Ping as Decode<Zproto>>::decode(&body)?, binary);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Mapping: struct `ping_req` becomes `PingReq`; structs nested in `shapes`
//! go in a module `shapes` (`shapes::Color`); every field is an `Option`
//! (absent and zero differ in zproto); `T[]` and maps `S[key]` are `Vec`s in
//! wire order; `string` is [`ByteStr`], `blob` is `Vec<u8>`.
//!
//! # Strings are bytes
//!
//! zproto never checks UTF-8, and Lua strings are byte strings: silly nodes
//! put hashes, packed blobs and serialized state in `string` fields. So a
//! `string` maps to [`ByteStr`], which keeps any bytes exactly (it shares a
//! `bytes::Bytes` buffer, so clones are cheap). It is built with `From`
//! (`&str`, `String`, `Vec<u8>`, `Bytes`), compares equal to a `str`,
//! derefs to `[u8]`, and [`ByteStr::as_str`] gives the text when it is UTF-8.
//! Its `Display` shows invalid UTF-8 as U+FFFD (for people only); its `Debug`
//! shows such bytes escaped. A derived message may declare a field `String`
//! when it must be text: bytes that are not UTF-8 are then a decode error
//! ([`DecodeError::InvalidUtf8`](crate::codec::DecodeError::InvalidUtf8))
//! naming the message and field, never a silent replacement.
//!
//! # 2. Derived from a Rust struct
//!
//! `#[derive(cluster::zproto::Message)]`, with the field tag in
//! `#[zproto(N)]` on each field. The zproto type follows from the Rust type
//! (`i32` is `int32`, `ByteStr` is `string`, and so is `String` for text
//! only, `Vec<u8>` is `blob`, `Vec<T>` an array, any other type a nested
//! message); `Option<T>` fields are absent when `None`, other fields are
//! always written and decode to `Default` when absent.
//!
//! ```
//! use cluster::zproto::{ByteStr, Message};
//!
//! #[derive(Debug, PartialEq, Default, cluster::zproto::Message)]
//! #[zproto(tag = 0x10)]                 // protocol tag; the name defaults to `item`
//! struct Item {
//!     #[zproto(1)]
//!     id: i32,
//!     #[zproto(2)]                      // any bytes
//!     name: Option<ByteStr>,
//! }
//!
//! #[derive(Debug, PartialEq, cluster::zproto::Message)]
//! #[zproto(tag = 0x11, name = "inventory")]
//! struct Inventory {
//!     #[zproto(1, map = "id")]          // a map keyed by Item.id: Item[id]
//!     items: Vec<Item>,
//!     #[zproto(3)]                      // gaps between tags are fine; text only
//!     owner: Option<String>,
//! }
//!
//! let inv = Inventory { items: vec![Item { id: 7, name: None }], owner: None };
//! let mut raw = bytes::BytesMut::new();
//! cluster::zproto::encode(&inv, &mut raw)?;
//! assert_eq!(cluster::zproto::decode::<Inventory>(&raw)?, inv);
//! assert_eq!(
//!     cluster::zproto::export(&[Inventory::INFO])?,
//!     "item 16 {\n\t.id:int32 1\n\t.name:string 2\n}\n\n\
//!      inventory 17 {\n\t.items:item[id] 1\n\t.owner:string 3\n}\n",
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Attributes: on the struct `tag = N` (protocol tag, default 0 = none) and
//! `name = "..."` (schema name, default the type name in snake_case); on a
//! field the tag (`N` or `tag = N`, 1..=32767, ascending in declaration
//! order), `ty = "..."` (a basic type name, checked against the Rust type),
//! `name = "..."` (default the field name) and `map = "key"`.
//!
//! # 3. Dynamic values over a schema parsed at run time
//!
//! ```
//! use cluster::zproto::{Schema, StructValue, Value};
//!
//! let schema = Schema::parse("ping 0x01 { .msg:string 1 }")?;
//! let ping = schema.find_tag(1).expect("ping");
//! let value = StructValue::new().with("msg", Value::String("hi".into())); // a ByteStr
//! let mut body = bytes::BytesMut::new();
//! schema.encode_body(ping, &value, &mut body)?;
//! assert_eq!(&body[..], [0x11, 0x0a, 0x01, 0x31, 0x02, 0x68, 0x69]);
//! assert_eq!(schema.decode_body(ping, &body)?, value);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use cluster_codec::zproto::*;
/// Derives [`Message`](trait@Message) for a struct with named fields; see the
/// [module docs](self).
pub use cluster_macros::ZprotoMessage as Message;

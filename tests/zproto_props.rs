//! Property tests for derived messages: arbitrary values round-trip, and
//! their bytes agree with the dynamic API over the exported schema; and any
//! bytes in a `string` come back unchanged through all three message paths
//! (`zproto!` types, the derive, `Value`), each decoding what the others
//! encoded.

use std::sync::LazyLock;

use bytes::BytesMut;
use cluster::codec::{Decode, Encode, Zproto};
use cluster::zproto::{self, ByteStr, Message, Schema, StructValue, Value};
use proptest::prelude::*;

#[derive(Debug, Clone, PartialEq, Default, cluster::zproto::Message)]
struct Leaf {
    #[zproto(1)]
    id: i32,
    #[zproto(2)]
    tags: Option<Vec<ByteStr>>,
}

#[derive(Debug, Clone, PartialEq, Default, cluster::zproto::Message)]
#[zproto(tag = 7)]
struct Everything {
    #[zproto(2)]
    b: Option<bool>,
    #[zproto(3)]
    i8: Option<i8>,
    #[zproto(4)]
    u8: u8,
    #[zproto(5)]
    i16: Option<i16>,
    #[zproto(6)]
    u16: Option<u16>,
    #[zproto(8)]
    i32: Option<i32>,
    #[zproto(9)]
    u32: Option<u32>,
    #[zproto(10)]
    i64: Option<i64>,
    #[zproto(11)]
    u64: u64,
    #[zproto(12)]
    f32: Option<f32>,
    #[zproto(20)]
    text: Option<String>,
    #[zproto(21)]
    bytes: Option<ByteStr>,
    #[zproto(22)]
    blob: Vec<u8>,
    #[zproto(23)]
    leaf: Option<Leaf>,
    #[zproto(30)]
    leaves: Vec<Leaf>,
    #[zproto(31, map = "id")]
    by_id: Option<Vec<Leaf>>,
    #[zproto(32)]
    floats: Option<Vec<f32>>,
    #[zproto(32767)]
    last: Option<Vec<u64>>,
}

/// What a Lua string may hold: text, or any bytes at all.
fn any_byte_str(max: usize) -> impl Strategy<Value = ByteStr> {
    prop_oneof![
        ".{0,12}".prop_map(ByteStr::from),
        prop::collection::vec(any::<u8>(), 0..max).prop_map(ByteStr::from),
    ]
}

prop_compose! {
    fn any_leaf()(id in any::<i32>(), tags in prop::option::of(prop::collection::vec(any_byte_str(8), 0..3))) -> Leaf {
        Leaf { id, tags }
    }
}

fn finite_f32() -> impl Strategy<Value = f32> {
    // NaN is never equal to itself; the dynamic comparison below covers it.
    any::<f32>().prop_filter("NaN", |f| !f.is_nan())
}

prop_compose! {
    fn any_everything()(
        (b, i8, u8, i16, u16, i32) in (any::<Option<bool>>(), any::<Option<i8>>(), any::<u8>(),
            any::<Option<i16>>(), any::<Option<u16>>(), any::<Option<i32>>()),
        (u32, i64, u64, f32) in (any::<Option<u32>>(), any::<Option<i64>>(), any::<u64>(),
            prop::option::of(finite_f32())),
        (text, bytes, blob) in (prop::option::of(".{0,12}"), prop::option::of(any_byte_str(40)),
            prop::collection::vec(any::<u8>(), 0..12)),
        (leaf, leaves, by_id) in (prop::option::of(any_leaf()), prop::collection::vec(any_leaf(), 0..3),
            prop::option::of(prop::collection::vec(any_leaf(), 0..3))),
        (floats, last) in (prop::option::of(prop::collection::vec(finite_f32(), 0..4)),
            prop::option::of(prop::collection::vec(any::<u64>(), 0..4))),
    ) -> Everything {
        Everything { b, i8, u8, i16, u16, i32, u32, i64, u64, f32, text, bytes, blob, leaf, leaves, by_id, floats, last }
    }
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    let text = zproto::export(&[Everything::INFO]).expect("export");
    Schema::parse(&text).expect("exported schema parses")
});

proptest! {
    #[test]
    fn derived_values_round_trip_through_the_zproto_codec(value in any_everything()) {
        let mut body = BytesMut::new();
        value.encode(&mut body).expect("encode");
        prop_assert_eq!(<Everything as Decode<Zproto>>::decode(&body).expect("decode"), value);
    }

    #[test]
    fn derived_and_dynamic_encodings_agree(value in any_everything()) {
        let mut raw = BytesMut::new();
        zproto::encode(&value, &mut raw).expect("encode");
        let id = SCHEMA.find_tag(<Everything as Message>::TAG).expect("everything");
        let dynamic = SCHEMA.decode(id, &raw).expect("dynamic decode");
        let mut again = BytesMut::new();
        SCHEMA.encode(id, &dynamic, &mut again).expect("dynamic encode");
        prop_assert_eq!(again, raw);
    }
}

mod interop {
    cluster::zproto!("examples/silly_interop/interop.zproto");
}

/// `ping` as a hand-written message.
#[derive(Debug, PartialEq, cluster::zproto::Message)]
#[zproto(tag = 0x01, name = "ping")]
struct DerivedPing {
    #[zproto(1)]
    msg: Option<ByteStr>,
}

static INTEROP: LazyLock<Schema> = LazyLock::new(|| {
    Schema::parse(include_str!("../examples/silly_interop/interop.zproto")).expect("interop schema")
});

proptest! {
    #[test]
    fn any_bytes_in_a_string_cross_every_message_path_unchanged(
        bytes in prop::collection::vec(any::<u8>(), 0..600)
    ) {
        let generated = interop::Ping { msg: Some(bytes.clone().into()) };
        let derived = DerivedPing { msg: Some(bytes.clone().into()) };
        let ping = INTEROP.find("ping").expect("ping");
        let dynamic = StructValue::new().with("msg", Value::String(bytes.clone().into()));

        let mut from_generated = BytesMut::new();
        generated.encode(&mut from_generated).expect("encode generated");
        let mut from_derived = BytesMut::new();
        derived.encode(&mut from_derived).expect("encode derived");
        let mut from_dynamic = BytesMut::new();
        INTEROP.encode_body(ping, &dynamic, &mut from_dynamic).expect("encode dynamic");
        prop_assert_eq!(&from_generated, &from_derived);
        prop_assert_eq!(&from_generated, &from_dynamic);

        // Each path decodes the one body all three wrote, to the same bytes.
        let body = &from_generated[..];
        let got = <interop::Ping as Decode<Zproto>>::decode(body).expect("decode generated");
        prop_assert_eq!(got.msg.as_deref(), Some(&bytes[..]));
        let got = <DerivedPing as Decode<Zproto>>::decode(body).expect("decode derived");
        prop_assert_eq!(got.msg.as_deref(), Some(&bytes[..]));
        let got = INTEROP.decode_body(ping, body).expect("decode dynamic");
        prop_assert_eq!(got.get("msg").and_then(Value::as_bytes), Some(&bytes[..]));
    }
}

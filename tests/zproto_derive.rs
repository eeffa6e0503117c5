//! `#[derive(cluster::zproto::Message)]` on hand-written structs: the same
//! bytes as the schema-driven paths, the field-presence rules, and export.

#[path = "../cluster-codec/tests/support/vectors.rs"]
mod vectors;

use bytes::BytesMut;
use cluster::codec::{Decode, DecodeError, EncodeError, Zproto};
use cluster::zproto::{self, ByteStr, Message, Reader, Schema, SchemaErrorKind};
use vectors::{blocks, hex, to_hex};

#[derive(Debug, Clone, PartialEq, Default, cluster::zproto::Message)]
#[zproto(tag = 0x0101)]
struct Scalars {
    #[zproto(1)]
    b: Option<bool>,
    #[zproto(2)]
    i8: Option<i8>,
    #[zproto(3)]
    u8: Option<u8>,
    #[zproto(4)]
    i16: Option<i16>,
    #[zproto(5)]
    u16: Option<u16>,
    #[zproto(6)]
    i32: Option<i32>,
    #[zproto(7)]
    u32: Option<u32>,
    #[zproto(8)]
    i64: Option<i64>,
    #[zproto(9)]
    u64: Option<u64>,
    #[zproto(10)]
    f32: Option<f32>,
    #[zproto(11)]
    str: Option<ByteStr>,
    #[zproto(12)]
    bin: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Default, cluster::zproto::Message)]
struct Point {
    #[zproto(1)]
    x: Option<i32>,
    #[zproto(2)]
    y: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Default, cluster::zproto::Message)]
struct Color {
    #[zproto(1)]
    r: Option<u8>,
    #[zproto(2)]
    g: Option<u8>,
    #[zproto(3)]
    b: Option<u8>,
    #[zproto(4)]
    a: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Default, cluster::zproto::Message)]
struct Style {
    #[zproto(1)]
    stroke: Option<Color>,
    #[zproto(2)]
    fill: Option<Color>,
    #[zproto(3)]
    width: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Default, cluster::zproto::Message)]
#[zproto(tag = 0x104)]
struct Shapes {
    #[zproto(1)]
    origin: Option<Point>,
    #[zproto(2)]
    path: Option<Vec<Point>>,
    #[zproto(3)]
    style: Option<Style>,
    #[zproto(4)]
    palette: Option<Vec<Color>>,
    #[zproto(5)]
    name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, cluster::zproto::Message)]
struct Item {
    #[zproto(1)]
    id: Option<i32>,
    #[zproto(2)]
    name: Option<String>,
    #[zproto(3)]
    qty: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Default, cluster::zproto::Message)]
#[zproto(tag = 0x106)]
struct Maps {
    #[zproto(1, map = "id")]
    by_id: Option<Vec<Item>>,
    #[zproto(tag = 2, map = "name")]
    by_name: Option<Vec<Item>>,
    #[zproto(3)]
    list: Option<Vec<Item>>,
}

#[derive(Debug, Clone, PartialEq, Default, cluster::zproto::Message)]
#[zproto(tag = 32767)]
struct Sparse {
    #[zproto(3)]
    first: Option<i32>,
    #[zproto(7)]
    second: Option<String>,
    #[zproto(100)]
    third: Option<bool>,
    #[zproto(1000)]
    fourth: Option<i64>,
    #[zproto(32767)]
    last: Option<u8>,
}

fn round_trip<M: Message>(src: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let value = M::read_struct(&mut Reader::new(src))?;
    let mut out = BytesMut::new();
    zproto::encode(&value, &mut out).expect("encode");
    Ok(out.to_vec())
}

#[test]
fn derived_types_reproduce_the_golden_vectors_byte_for_byte() {
    let mut checked = 0;
    for case in &blocks(vectors::CODEC_VECTORS) {
        let name = case.case();
        let encoded = case.hex("encoded");
        let out = match case.req("message") {
            "scalars" => round_trip::<Scalars>(&encoded),
            "shapes" => round_trip::<Shapes>(&encoded),
            "maps" => round_trip::<Maps>(&encoded),
            "sparse" => round_trip::<Sparse>(&encoded),
            "point" => round_trip::<Point>(&encoded),
            _ => continue,
        };
        assert_eq!(to_hex(&out.expect(name)), to_hex(&encoded), "{name}");
        checked += 1;
    }
    assert_eq!(checked, 38);
}

#[test]
fn derived_values_encode_like_the_dynamic_api() {
    let value = Scalars {
        b: Some(true),
        i16: Some(-300),
        f32: Some(0.1),
        str: Some("héllo".into()),
        bin: Some(vec![0, 0xff]),
        ..Scalars::default()
    };
    let mut body = BytesMut::new();
    cluster::codec::Encode::<Zproto>::encode(&value, &mut body).expect("encode");
    let schema = vectors::vector_schema();
    let id = schema.find("scalars").expect("scalars");
    let dynamic = schema.decode_body(id, &body).expect("decode");
    let mut again = BytesMut::new();
    schema
        .encode_body(id, &dynamic, &mut again)
        .expect("encode");
    assert_eq!(again, body);
    assert_eq!(
        <Scalars as Decode<Zproto>>::decode(&body).expect("decode"),
        value
    );
}

#[derive(Debug, PartialEq, Default, cluster::zproto::Message)]
struct Required {
    #[zproto(1)]
    n: i32,
    #[zproto(2)]
    s: String,
    #[zproto(3)]
    list: Vec<i16>,
    #[zproto(4)]
    maybe: Option<i32>,
}

#[test]
fn non_option_fields_are_always_written_and_default_when_absent() {
    let mut raw = BytesMut::new();
    zproto::encode(&Required::default(), &mut raw).expect("encode");
    // Three present fields (tags 1-3): 0, "" and [] are values, not absence.
    assert_eq!(
        to_hex(&raw),
        "140000000300000000000000000000000000000000000000"
    );
    let empty = zproto::decode::<Required>(&hex("020000000000")).expect("decode");
    assert_eq!(empty, Required::default());
}

#[test]
fn a_map_element_without_its_key_is_an_error_both_ways() {
    let maps = Maps {
        by_id: Some(vec![Item {
            name: Some("x".into()),
            ..Item::default()
        }]),
        ..Maps::default()
    };
    let mut raw = BytesMut::new();
    let err = zproto::encode(&maps, &mut raw).unwrap_err();
    assert!(matches!(err, EncodeError::MissingMapKey(1)), "{err}");
    assert!(raw.is_empty());
    let input = hex("15000000010000000100000009000000010001000100000078");
    let err = zproto::decode::<Maps>(&input).unwrap_err();
    assert!(matches!(err, DecodeError::MissingMapKey(1)), "{err}");
}

#[derive(Debug, PartialEq, cluster::zproto::Message)]
struct Texts {
    #[zproto(1)]
    any: Option<ByteStr>,
    #[zproto(tag = 2, ty = "string")]
    exact: Option<Vec<u8>>,
}

/// The same schema struct, with both strings declared text-only.
#[derive(Debug, PartialEq, cluster::zproto::Message)]
#[zproto(name = "texts")]
struct TextOnly {
    #[zproto(1)]
    any: Option<String>,
    #[zproto(2)]
    exact: Option<String>,
}

/// Both fields hold the bytes ff 61, which are not UTF-8.
const NOT_UTF8: &str = "1200000002000000000002000000ff6102000000ff61";

#[test]
fn invalid_utf8_is_kept_exactly_in_byte_str_and_bytes() {
    let input = hex(NOT_UTF8);
    let texts = zproto::decode::<Texts>(&input).expect("silly never rejects bad UTF-8");
    assert_eq!(texts.any.as_deref(), Some(&[0xff, b'a'][..]));
    assert_eq!(texts.exact.as_deref(), Some(&[0xff, b'a'][..]));
    let mut again = BytesMut::new();
    zproto::encode(&texts, &mut again).expect("encode");
    assert_eq!(to_hex(&again), NOT_UTF8);
}

#[test]
fn invalid_utf8_in_a_string_field_is_an_error_naming_message_and_field() {
    let err = zproto::decode::<TextOnly>(&hex(NOT_UTF8)).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::InvalidUtf8 {
                message: "texts",
                field: "any",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("field 'any' of 'texts'"), "{err}");
    // Text is fine.
    let ok = TextOnly {
        any: Some("h\u{e9}".into()),
        exact: None,
    };
    let mut raw = BytesMut::new();
    zproto::encode(&ok, &mut raw).expect("encode");
    assert_eq!(zproto::decode::<TextOnly>(&raw).expect("decode"), ok);
}

#[test]
fn invalid_utf8_in_an_array_of_strings_names_the_field_too() {
    #[derive(Debug, PartialEq, cluster::zproto::Message)]
    struct Lines {
        #[zproto(1)]
        lines: Vec<String>,
    }
    #[derive(Debug, PartialEq, cluster::zproto::Message)]
    #[zproto(name = "lines")]
    struct AnyLines {
        #[zproto(1)]
        lines: Vec<ByteStr>,
    }
    let any = AnyLines {
        lines: vec!["a".into(), ByteStr::from(&[0xffu8][..])],
    };
    let mut raw = BytesMut::new();
    zproto::encode(&any, &mut raw).expect("encode");
    assert_eq!(zproto::decode::<AnyLines>(&raw).expect("decode"), any);
    let err = zproto::decode::<Lines>(&raw).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::InvalidUtf8 {
                message: "lines",
                field: "lines",
                ..
            }
        ),
        "{err:?}"
    );
}

#[derive(Debug, PartialEq, Default, cluster::zproto::Message)]
struct Node {
    #[zproto(1)]
    children: Vec<Node>,
}

#[test]
fn recursive_types_decode_with_bounded_depth_but_cannot_be_exported() {
    let mut nested = Node::default();
    for _ in 0..63 {
        nested = Node {
            children: vec![nested],
        };
    }
    let mut raw = BytesMut::new();
    zproto::encode(&nested, &mut raw).expect("64 levels");
    assert_eq!(zproto::decode::<Node>(&raw).expect("64 levels"), nested);
    let deeper = Node {
        children: vec![nested],
    };
    assert!(matches!(
        zproto::encode(&deeper, &mut raw),
        Err(EncodeError::TooDeep)
    ));
    let err = zproto::export(&[Node::INFO]).unwrap_err();
    assert_eq!(err.kind, SchemaErrorKind::Recursive("node".into()));
}

#[test]
fn export_writes_used_structs_first_and_parses_back() {
    let text = zproto::export(&[Shapes::INFO, Maps::INFO, Sparse::INFO]).expect("export");
    let schema = Schema::parse(&text).expect("exported text parses");
    let names: Vec<&str> = schema.messages().map(|id| schema[id].name()).collect();
    assert_eq!(
        names,
        [
            "point", "color", "style", "shapes", "item", "maps", "sparse"
        ]
    );
    assert_eq!(
        schema,
        Schema::from_messages(&[Shapes::INFO, Maps::INFO, Sparse::INFO]).expect("model")
    );
    let sparse = &schema[schema.find_tag(32767).expect("sparse")];
    assert_eq!(sparse.base_tag(), 3);
    assert!(text.contains("\t.by_name:item[name] 2\n"), "{text}");
}

mod other {
    #[derive(cluster::zproto::Message)]
    pub struct Point {
        #[zproto(1)]
        pub z: Option<i64>,
    }
}

#[derive(cluster::zproto::Message)]
struct Both {
    #[zproto(1)]
    a: Option<Point>,
    #[zproto(2)]
    b: Option<other::Point>,
}

#[test]
fn two_different_structs_of_one_name_cannot_be_exported() {
    let err = zproto::export(&[Both::INFO]).unwrap_err();
    assert_eq!(err.kind, SchemaErrorKind::Conflict("point".into()));
}

#[test]
fn protocol_tags_are_constants_usable_as_command_ids() {
    const COMMANDS: [u32; 2] = [<Shapes as Message>::TAG, <Maps as Message>::TAG];
    assert_eq!(COMMANDS, [0x104, 0x106]);
    assert_eq!(<Point as Message>::TAG, 0);
    assert_eq!(<Point as Message>::NAME, "point");
}

/// Generated code must not depend on what the user's module names.
mod hygiene {
    #![allow(dead_code, non_camel_case_types)]
    struct Option;
    struct Result;
    struct usize;
    mod core {}
    mod std {}
    mod zproto {}
    trait Message {}
    trait Wire {}

    #[derive(::cluster::zproto::Message)]
    pub struct Shadowed {
        #[zproto(1)]
        pub a: ::core::option::Option<i32>,
        #[zproto(2)]
        pub b: ::std::vec::Vec<u16>,
    }

    ::cluster::zproto!("tests/zproto/ping.zproto");
}

#[test]
fn generated_code_is_hygienic() {
    let value = hygiene::Shadowed {
        a: Some(1),
        b: vec![2],
    };
    let mut raw = BytesMut::new();
    zproto::encode(&value, &mut raw).expect("encode");
    assert_eq!(
        zproto::decode::<hygiene::Shadowed>(&raw).expect("decode").b,
        [2]
    );
    assert_eq!(<hygiene::Pong as Message>::TAG, 2);
}

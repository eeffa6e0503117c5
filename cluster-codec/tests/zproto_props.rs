//! Property tests: pack/unpack on arbitrary bytes, the dynamic API on
//! arbitrary values of every struct of the vector schema, and bincode.

#[path = "support/vectors.rs"]
mod vectors;

use std::sync::{Arc, LazyLock};

use bytes::BytesMut;
use cluster_codec::zproto::{
    ByteStr, FieldDef, FieldType, Repeat, Scalar, Schema, StructId, StructValue, Value, pack,
    unpack,
};
use cluster_codec::{Bincode, Decode, Encode};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

static SCHEMA: LazyLock<Arc<Schema>> = LazyLock::new(|| Arc::new(vectors::vector_schema()));

/// Bytes with many zeros and many dense runs, the cases pack treats apart.
fn packable_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![3 => Just(0u8), 1 => Just(0xffu8), 4 => any::<u8>()];
    prop::collection::vec(byte, 0..3000)
}

proptest! {
    #[test]
    fn unpack_of_pack_is_the_input_padded_to_a_multiple_of_8(raw in packable_bytes()) {
        let mut packed = BytesMut::new();
        pack(&raw, &mut packed);
        prop_assert!(packed.len() <= cluster_codec::zproto::packed_bound(raw.len()));
        let mut out = BytesMut::new();
        unpack(&packed, &mut out).expect("pack output unpacks");
        let mut expected = raw.clone();
        expected.resize(raw.len().div_ceil(8) * 8, 0);
        prop_assert_eq!(&out[..], &expected[..]);
    }

    #[test]
    fn unpack_never_panics_and_pads_to_a_multiple_of_8(src in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut out = BytesMut::new();
        if unpack(&src, &mut out).is_ok() {
            prop_assert_eq!(out.len() % 8, 0);
        }
    }
}

/// What a Lua string may hold: text, or any bytes at all.
fn any_string() -> impl Strategy<Value = ByteStr> {
    prop_oneof![
        ".{0,12}".prop_map(ByteStr::from),
        prop::collection::vec(any::<u8>(), 0..24).prop_map(ByteStr::from),
    ]
}

fn scalar_value(scalar: Scalar) -> BoxedStrategy<Value> {
    match scalar {
        Scalar::Boolean => any::<bool>().prop_map(Value::Bool).boxed(),
        Scalar::Byte => any::<i8>().prop_map(Value::I8).boxed(),
        Scalar::Ubyte => any::<u8>().prop_map(Value::U8).boxed(),
        Scalar::Short => any::<i16>().prop_map(Value::I16).boxed(),
        Scalar::Ushort => any::<u16>().prop_map(Value::U16).boxed(),
        Scalar::Int32 => any::<i32>().prop_map(Value::I32).boxed(),
        Scalar::Uint32 => any::<u32>().prop_map(Value::U32).boxed(),
        Scalar::Int64 => any::<i64>().prop_map(Value::I64).boxed(),
        Scalar::Uint64 => any::<u64>().prop_map(Value::U64).boxed(),
        // NaN is never equal to itself; its bytes round-trip all the same.
        Scalar::Float => any::<f32>()
            .prop_filter("NaN", |f| !f.is_nan())
            .prop_map(Value::F32)
            .boxed(),
        Scalar::String => any_string().prop_map(Value::String).boxed(),
        Scalar::Blob => prop::collection::vec(any::<u8>(), 0..12)
            .prop_map(Value::Bytes)
            .boxed(),
    }
}

fn element(schema: &Arc<Schema>, ty: FieldType) -> BoxedStrategy<Value> {
    match ty {
        FieldType::Scalar(s) => scalar_value(s),
        FieldType::Struct(id) => struct_value(schema, id).prop_map(Value::Struct).boxed(),
    }
}

fn field_value(schema: &Arc<Schema>, field: &FieldDef) -> BoxedStrategy<Value> {
    let one = element(schema, field.ty());
    match (field.repeat(), field.ty()) {
        (Repeat::Single, _) => one,
        (Repeat::Array, _) => prop::collection::vec(one, 0..4)
            .prop_map(Value::Array)
            .boxed(),
        (Repeat::Map { key }, FieldType::Struct(id)) => {
            // A map element must hold its key field.
            let key_field = schema[id].fields()[key].clone();
            let key_value = element(schema, key_field.ty());
            let item = (one, key_value).prop_map(move |(item, k)| match item {
                Value::Struct(mut s) => {
                    s.insert(key_field.name(), k);
                    Value::Struct(s)
                }
                other => other,
            });
            prop::collection::vec(item, 0..4)
                .prop_map(Value::Array)
                .boxed()
        }
        (Repeat::Map { .. }, FieldType::Scalar(_)) => unreachable!("maps hold structs"),
    }
}

/// Arbitrary values of struct `id`: each field absent or present.
fn struct_value(schema: &Arc<Schema>, id: StructId) -> BoxedStrategy<StructValue> {
    let fields: Vec<_> = schema[id]
        .fields()
        .iter()
        .map(|f| {
            let name = f.name().to_owned();
            prop::option::of(field_value(schema, f)).prop_map(move |v| (name.clone(), v))
        })
        .collect();
    fields
        .prop_map(|fields| {
            fields
                .into_iter()
                .filter_map(|(name, v)| Some((name, v?)))
                .fold(StructValue::new(), |s, (name, v)| s.with(name, v))
        })
        .boxed()
}

fn any_message() -> impl Strategy<Value = (StructId, StructValue)> {
    let ids: Vec<StructId> = SCHEMA.messages().collect();
    prop::sample::select(ids)
        .prop_flat_map(|id| struct_value(&SCHEMA, id).prop_map(move |v| (id, v)))
}

proptest! {
    #[test]
    fn values_of_every_message_round_trip_through_the_dynamic_api((id, value) in any_message()) {
        let schema = &*SCHEMA;
        let mut raw = BytesMut::new();
        schema.encode(id, &value, &mut raw).expect("encode");
        prop_assert_eq!(&schema.decode(id, &raw).expect("decode"), &value);
        let mut body = BytesMut::new();
        schema.encode_body(id, &value, &mut body).expect("encode body");
        prop_assert_eq!(&schema.decode_body(id, &body).expect("decode body"), &value);
    }

    #[test]
    fn any_bytes_in_a_string_field_round_trip_exactly(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let schema = Schema::parse(vectors::INTEROP_SCHEMA).expect("interop schema");
        let ping = schema.find("ping").expect("ping");
        let value = StructValue::new().with("msg", Value::String(bytes.clone().into()));
        let mut body = BytesMut::new();
        schema.encode_body(ping, &value, &mut body).expect("encode");
        let back = schema.decode_body(ping, &body).expect("decode");
        prop_assert_eq!(back.get("msg").and_then(Value::as_bytes), Some(&bytes[..]));
        let mut again = BytesMut::new();
        schema.encode_body(ping, &back, &mut again).expect("re-encode");
        prop_assert_eq!(&again[..], &body[..]);
    }

    #[test]
    fn parsing_arbitrary_schema_text_never_panics(
        text in prop_oneof![".{0,200}", "[a-z0-9x{}.:\\[\\] #\n_]{0,200}"]
    ) {
        if let Ok(schema) = Schema::parse(&text) {
            // Whatever parses exports to text that parses to the same model.
            prop_assert_eq!(Schema::parse(&schema.to_string()).expect("export parses"), schema);
        }
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        (id, src) in (prop::sample::select(SCHEMA.messages().collect::<Vec<_>>()),
                      prop::collection::vec(any::<u8>(), 0..256))
    ) {
        let _ = SCHEMA.decode(id, &src);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u64,
    customer: String,
    lines: Vec<(u32, i64)>,
    note: Option<String>,
    payload: Vec<u8>,
    tag: ByteStr,
}

fn any_order() -> impl Strategy<Value = Order> {
    (
        any::<u64>(),
        ".{0,16}",
        prop::collection::vec(any::<(u32, i64)>(), 0..8),
        prop::option::of(".{0,8}"),
        prop::collection::vec(any::<u8>(), 0..32),
        any_string(),
    )
        .prop_map(|(id, customer, lines, note, payload, tag)| Order {
            id,
            customer,
            lines,
            note,
            payload,
            tag,
        })
}

proptest! {
    #[test]
    fn serde_values_round_trip_through_bincode(order in any_order()) {
        let mut buf = BytesMut::new();
        Encode::<Bincode>::encode(&order, &mut buf).expect("encode");
        prop_assert_eq!(<Order as Decode<Bincode>>::decode(&buf).expect("decode"), order);
    }
}

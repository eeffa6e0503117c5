//! The golden vectors recorded from silly's zproto, through the schema parser
//! and the dynamic `Value` API.

#[path = "support/vectors.rs"]
mod vectors;

use bytes::BytesMut;
use cluster_codec::zproto::{
    self, FieldType, Reader, Repeat, Schema, SchemaErrorKind, StructId, pack, unpack,
};
use cluster_codec::{Decode, Encode, Zproto};
use vectors::{Block, blocks, hex, json_to_struct, struct_to_json, to_hex, vector_schema};

fn packed(raw: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    pack(raw, &mut out);
    out.to_vec()
}

fn unpacked(src: &[u8]) -> Result<Vec<u8>, cluster_codec::DecodeError> {
    let mut out = BytesMut::new();
    unpack(src, &mut out).map(|()| out.to_vec())
}

fn message(schema: &Schema, name: &str) -> StructId {
    schema
        .find(name)
        .unwrap_or_else(|| panic!("no message {name}"))
}

/// Decodes struct `id` from `src`, returning its JSON form and bytes consumed.
fn decode_json(
    schema: &Schema,
    id: StructId,
    src: &[u8],
) -> Result<(serde_json::Value, usize), String> {
    let mut r = Reader::new(src);
    let value = schema.read_struct(id, &mut r).map_err(|e| e.to_string())?;
    Ok((struct_to_json(schema, id, &value), r.position()))
}

#[test]
fn codec_vectors_encode_pack_unpack_and_decode_exactly() {
    let schema = vector_schema();
    let cases = blocks(vectors::CODEC_VECTORS);
    assert_eq!(cases.len(), 59);
    for case in &cases {
        let name = case.case();
        let id = message(&schema, case.req("message"));
        let encoded = case.hex("encoded");
        match json_to_struct(&schema, id, &case.json("input")) {
            Some(input) => {
                let mut out = BytesMut::new();
                schema.encode(id, &input, &mut out).expect(name);
                assert_eq!(to_hex(&out), to_hex(&encoded), "{name}: encode");
                let mut body = BytesMut::new();
                schema.encode_body(id, &input, &mut body).expect(name);
                assert_eq!(to_hex(&body), case.req("packed"), "{name}: encode_body");
            }
            None => assert!(case.has_flag("out-of-range-input"), "{name}: input fits"),
        }
        assert_eq!(
            to_hex(&packed(&encoded)),
            case.req("packed"),
            "{name}: pack"
        );
        let unpacked_bytes = unpacked(&case.hex("packed")).expect(name);
        assert_eq!(
            to_hex(&unpacked_bytes),
            case.req("unpacked"),
            "{name}: unpack"
        );

        let decode_as = message(
            &schema,
            case.get("decode_as").unwrap_or(case.req("message")),
        );
        let expected = case.json("decoded");
        for src in [&encoded, &unpacked_bytes] {
            let (json, used) = decode_json(&schema, decode_as, src).expect(name);
            assert_eq!(json, expected, "{name}: decode");
            assert_eq!(used, encoded.len(), "{name}: consumed");
        }
        let body = schema
            .decode_body(decode_as, &case.hex("packed"))
            .expect(name);
        assert_eq!(
            struct_to_json(&schema, decode_as, &body),
            expected,
            "{name}: decode_body"
        );
        if decode_as == id {
            let mut again = BytesMut::new();
            schema.encode(id, &body, &mut again).expect(name);
            assert_eq!(
                to_hex(&again),
                to_hex(&encoded),
                "{name}: decode then encode"
            );
        }
    }
}

#[test]
fn pack_vectors_pack_and_unpack_exactly() {
    let cases = blocks(vectors::PACK_VECTORS);
    assert_eq!(cases.len(), 34);
    for case in &cases {
        let name = case.case();
        assert_eq!(
            to_hex(&packed(&case.hex("raw"))),
            case.req("packed"),
            "{name}: pack"
        );
        let out = unpacked(&case.hex("packed")).expect(name);
        assert_eq!(to_hex(&out), case.req("unpacked"), "{name}: unpack");
    }
}

/// For the "either" unpack cases, what this implementation does: fail when
/// a header announces bytes that are missing (as zproto HEAD does, and as
/// SPEC recommends), accept a trailing run-count byte (as every version does).
fn either_choice(case: &str) -> bool {
    match case {
        "unpack_group_data_missing" | "unpack_header_only" | "unpack_dense_group_truncated" => {
            false
        }
        "unpack_run_count_2_at_end" | "unpack_run_count_1_at_end" => true,
        other => panic!("no decision for 'either' case {other}"),
    }
}

#[test]
fn malformed_inputs_fail_and_quirks_match_the_reference() {
    let schema = vector_schema();
    let cases = blocks(vectors::DECODE_FAIL);
    assert_eq!(cases.len(), 45);
    for case in &cases {
        let name = case.case();
        let input = case.hex("input");
        let reference = case.req("reference");
        let expect_ok = match case.req("expect") {
            "ok" => true,
            "fail" => false,
            "either" => either_choice(name),
            other => panic!("{name}: unknown expectation {other}"),
        };
        match case.req("kind") {
            "decode" => {
                let id = message(&schema, case.req("message"));
                let result = decode_json(&schema, id, &input);
                if !expect_ok {
                    assert!(result.is_err(), "{name}: accepted {result:?}");
                    continue;
                }
                let (json, used) = result.expect(name);
                let (consumed, value) = accepted(reference);
                assert_eq!((used, json), (consumed, value), "{name}");
            }
            "unpack" => {
                let result = unpacked(&input);
                if !expect_ok {
                    assert!(result.is_err(), "{name}: accepted {result:?}");
                    continue;
                }
                let bytes = reference.strip_prefix("ok: ").expect("ok reference");
                let bytes = if bytes == "(empty)" { "" } else { bytes };
                assert_eq!(to_hex(&result.expect(name)), bytes, "{name}");
            }
            other => panic!("{name}: unknown kind {other}"),
        }
    }
}

fn accepted(reference: &str) -> (usize, serde_json::Value) {
    let rest = reference
        .strip_prefix("accepted: consumed=")
        .expect("accepted");
    let (consumed, value) = rest.split_once(" value=").expect("value");
    (
        consumed.parse().expect("count"),
        serde_json::from_str(value).expect("json"),
    )
}

/// How a struct's fields look in `schema_parse.txt`: NAME/TAG/TYPE[/array][/key=K].
fn field_summary(schema: &Schema, id: StructId) -> String {
    let def = &schema[id];
    let fields: Vec<String> = def
        .fields()
        .iter()
        .map(|f| {
            let ty = match f.ty() {
                FieldType::Scalar(s) => s.name(),
                FieldType::Struct(s) => schema[s].name(),
            };
            let mut out = format!("{}/{}/{ty}", f.name(), f.tag());
            match (f.repeat(), f.ty()) {
                (Repeat::Single, _) => {}
                (Repeat::Array, _) => out.push_str("/array"),
                (Repeat::Map { key }, FieldType::Struct(e)) => {
                    out.push_str(&format!("/array/key={}", schema[e].fields()[key].name()));
                }
                (Repeat::Map { .. }, FieldType::Scalar(_)) => unreachable!(),
            }
            out
        })
        .collect();
    fields.join(" ")
}

/// Cases where this parser deliberately differs from the recorded result.
fn parse_deviation(case: &Block) -> Option<SchemaErrorKind> {
    // SPEC §2.7: tags above 32767 parse in silly but break its codec.
    (case.case() == "tag_65535").then_some(SchemaErrorKind::TagTooLarge(65535))
}

#[test]
fn schema_parse_cases_are_accepted_or_rejected_as_recorded() {
    let cases = blocks(vectors::SCHEMA_PARSE);
    assert_eq!(cases.len(), 65);
    for case in &cases {
        let name = case.case();
        let text: String = serde_json::from_str(case.req("schema")).expect("JSON string");
        let result = Schema::parse(&text);
        if let Some(kind) = parse_deviation(case) {
            assert_eq!(result.map_err(|e| e.kind), Err(kind), "{name}");
            continue;
        }
        if case.req("result") != "ok" {
            assert!(result.is_err(), "{name}: accepted");
            continue;
        }
        let schema = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let Some(recorded) = case.get("struct") else {
            continue;
        };
        let last = schema.messages().last().expect("a struct");
        let def = &schema[last];
        assert_eq!(
            recorded,
            format!("{} tag={}", def.name(), def.tag() as i32),
            "{name}"
        );
        assert_eq!(
            case.req("fields"),
            field_summary(&schema, last),
            "{name}: fields"
        );
    }
}

#[test]
fn parse_errors_name_line_and_column() {
    let err = Schema::parse("a {\n .x:int32 1\n\n .y:int32 1\n}").unwrap_err();
    assert_eq!((err.line, err.column), (4, 11));
    assert!(matches!(
        err.kind,
        SchemaErrorKind::TagNotAscending { tag: 1, prev: 1 }
    ));
    assert_eq!(
        err.to_string(),
        "line 4, column 11: field tag 1 must be greater than the previous tag 1"
    );
    let err = Schema::parse("a { .x:double 1 }").unwrap_err();
    assert_eq!((err.line, err.column), (1, 8));
}

/// `schema_info.txt`'s rendering of a parsed schema.
fn schema_info(schema: &Schema) -> String {
    fn visit(schema: &Schema, id: StructId, depth: usize, out: &mut String) {
        let def = &schema[id];
        let indent = "  ".repeat(depth);
        match def.parent() {
            None => out.push_str(&format!(
                "{indent}struct {} tag={}\n",
                def.name(),
                def.tag()
            )),
            Some(_) => out.push_str(&format!("{indent}struct {}\n", def.name())),
        }
        for &nested in def.nested() {
            visit(schema, nested, depth + 1, out);
        }
        for f in def.fields() {
            let ty = match f.ty() {
                FieldType::Scalar(s) => s.name(),
                FieldType::Struct(s) => schema[s].name(),
            };
            out.push_str(&format!(
                "{indent}  field {} tag={} type={ty}",
                f.name(),
                f.tag()
            ));
            match (f.repeat(), f.ty()) {
                (Repeat::Single, _) => {}
                (Repeat::Array, _) => out.push_str(" array"),
                (Repeat::Map { key }, FieldType::Struct(e)) => {
                    out.push_str(&format!(" array mapkey={}", schema[e].fields()[key].name()));
                }
                (Repeat::Map { .. }, FieldType::Scalar(_)) => unreachable!(),
            }
            out.push('\n');
        }
    }
    let mut out = String::new();
    for id in schema.messages() {
        visit(schema, id, 0, &mut out);
    }
    out
}

#[test]
fn parsed_vector_schema_matches_the_reference_view() {
    let expected: String = vectors::SCHEMA_INFO
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(schema_info(&vector_schema()), expected);
}

#[test]
fn exported_schema_parses_back_to_the_same_model() {
    for text in [vectors::SCHEMA, vectors::INTEROP_SCHEMA] {
        let schema = Schema::parse(text).expect("parses");
        let exported = schema.to_string();
        assert_eq!(
            Schema::parse(&exported).expect("export parses"),
            schema,
            "{exported}"
        );
    }
}

#[test]
fn silly_frame_bodies_decode_and_reencode_through_values() {
    let schema = Schema::parse(vectors::INTEROP_SCHEMA).expect("interop schema");
    let (v1, v2) = (vectors::silly_frames(), vectors::silly_frames_v2());
    assert_eq!((v1.len(), v2.len()), (10, 10));
    for frame in v1.iter().chain(&v2) {
        let body = frame.body();
        let Some((name, expected)) = frame.message() else {
            // The empty-body request: silly's server logged "decode fail".
            assert!(body.is_empty(), "{}", frame.description);
            let id = schema.find_tag(frame.cmd().expect("request")).expect("cmd");
            assert!(schema.decode_body(id, body).is_err());
            continue;
        };
        let id = message(&schema, &name);
        if let Some(cmd) = frame.cmd() {
            assert_eq!(schema.find_tag(cmd), Some(id), "{}", frame.description);
        }
        let value = schema.decode_body(id, body).expect(&frame.description);
        assert_eq!(
            struct_to_json(&schema, id, &value),
            expected,
            "{}",
            frame.description
        );
        let mut again = BytesMut::new();
        schema.encode_body(id, &value, &mut again).expect("encode");
        assert_eq!(to_hex(&again), to_hex(body), "{}", frame.description);
    }
}

#[test]
fn an_array_count_of_four_billion_fails_fast_without_allocating() {
    let schema = vector_schema();
    let id = message(&schema, "arrays");
    // arrays.i32 (tag 4) announcing 0xfffffff0 elements in a 12-byte struct.
    let input = hex("0800000001000300f0ffff7f");
    let err = schema.decode(id, &input).unwrap_err();
    assert!(
        matches!(err, cluster_codec::DecodeError::ArrayLength(0x7ffffff0)),
        "{err}"
    );
}

#[test]
fn nesting_deeper_than_64_structs_is_rejected_both_ways() {
    let mut text = String::new();
    for i in 0..64 {
        text.push_str(&format!("s{i} {{ "));
        if i > 0 {
            text.push_str(&format!(".f:s{} 1 ", i - 1));
        }
        text.push_str("}\n");
    }
    let schema = Schema::parse(&text).expect("64 chained structs");
    let top = schema.find("s63").expect("s63");
    let mut value = zproto::StructValue::new();
    for _ in 0..63 {
        value = zproto::StructValue::new().with("f", value.into());
    }
    let mut out = BytesMut::new();
    schema
        .encode(top, &value, &mut out)
        .expect("64 levels encode");
    schema.decode(top, &out).expect("64 levels decode");

    let deeper = format!("{text}s64 {{ .f:s63 1 }}\n");
    let schema = Schema::parse(&deeper).expect("65 chained structs");
    let top = schema.find("s64").expect("s64");
    let value = zproto::StructValue::new().with("f", value.into());
    assert!(matches!(
        schema.encode(top, &value, &mut BytesMut::new()),
        Err(cluster_codec::EncodeError::TooDeep)
    ));
    let mut wrapped = BytesMut::new();
    wrapped.extend_from_slice(&(out.len() as u32 + 4).to_le_bytes());
    wrapped.extend_from_slice(&[1, 0, 0, 0]);
    wrapped.extend_from_slice(&out);
    assert!(matches!(
        schema.decode(top, &wrapped),
        Err(cluster_codec::DecodeError::TooDeep)
    ));
    let nested_defs = "a{".repeat(65) + &"}".repeat(65);
    let err = Schema::parse(&nested_defs).unwrap_err();
    assert_eq!(err.kind, SchemaErrorKind::TooDeep);
}

#[test]
fn map_elements_without_their_key_are_rejected_on_encode() {
    let schema = vector_schema();
    let id = message(&schema, "maps");
    let element = zproto::StructValue::new().with("name", zproto::Value::String("x".into()));
    let value =
        zproto::StructValue::new().with("by_id", zproto::Value::Array(vec![element.into()]));
    let err = schema.encode(id, &value, &mut BytesMut::new()).unwrap_err();
    assert!(
        matches!(err, cluster_codec::EncodeError::MissingMapKey(1)),
        "{err}"
    );
}

#[test]
fn values_of_the_wrong_type_or_unknown_fields_are_rejected() {
    let schema = vector_schema();
    let id = message(&schema, "scalars");
    let mut dst = BytesMut::new();
    let wrong = zproto::StructValue::new().with("u8", zproto::Value::I32(256));
    assert!(schema.encode(id, &wrong, &mut dst).is_err());
    let unknown = zproto::StructValue::new().with("nope", zproto::Value::Bool(true));
    assert!(schema.encode(id, &unknown, &mut dst).is_err());
    assert!(
        dst.is_empty(),
        "a failed encode leaves the buffer as it was"
    );
    let widened = zproto::StructValue::new().with("u8", zproto::Value::I64(255));
    schema
        .encode(id, &widened, &mut dst)
        .expect("any integer variant that fits");
}

#[test]
fn the_zproto_codec_rejects_an_empty_body() {
    #[derive(Debug)]
    struct Empty;
    impl zproto::Message for Empty {
        const INFO: &'static zproto::MessageInfo = &zproto::MessageInfo {
            name: "empty",
            tag: 0,
            fields: &[],
            nested: &[],
        };
        fn write_struct(
            &self,
            w: &mut zproto::Writer<'_>,
        ) -> Result<(), cluster_codec::EncodeError> {
            w.begin_struct(0, 0)?.finish()
        }
        fn read_struct(r: &mut Reader<'_>) -> Result<Self, cluster_codec::DecodeError> {
            r.begin_struct(0)?.finish().map(|()| Empty)
        }
    }
    assert!(<Empty as Decode<Zproto>>::decode(&[]).is_err());
    let mut body = BytesMut::new();
    Empty.encode(&mut body).expect("encode");
    assert_eq!(to_hex(&body), "0102");
    <Empty as Decode<Zproto>>::decode(&body).expect("decode");
}

//! Reading the golden vector files and converting their JSON values.
//!
//! Shared by the codec's and the facade's tests (`#[path]`-included), so
//! every test reads the same copies: the zproto vectors under
//! `cluster-codec/tests/fixtures`, the frames captured from silly under the
//! workspace's `tests/fixtures`, and the interop schema beside its example.
#![allow(dead_code)]

use cluster_codec::zproto::{
    FieldDef, FieldType, Repeat, Scalar, Schema, StructId, StructValue, Value,
};
use serde_json::{Map, Value as Json};

pub const SCHEMA: &str = include_str!("../fixtures/schema.zproto");
pub const SCHEMA_INFO: &str = include_str!("../fixtures/schema_info.txt");
pub const SCHEMA_PARSE: &str = include_str!("../fixtures/schema_parse.txt");
pub const CODEC_VECTORS: &str = include_str!("../fixtures/codec_vectors.txt");
pub const PACK_VECTORS: &str = include_str!("../fixtures/pack_vectors.txt");
pub const DECODE_FAIL: &str = include_str!("../fixtures/decode_fail.txt");
pub const INTEROP_SCHEMA: &str = include_str!("../../../examples/silly_interop/interop.zproto");
pub const SILLY_FRAMES: &str = include_str!("../../../tests/fixtures/silly-frames.txt");
pub const SILLY_FRAMES_V2: &str = include_str!("../../../tests/fixtures/silly-frames-v2.txt");

/// One `key: value` block of a vector file.
pub struct Block(Vec<(String, String)>);

impl Block {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn req(&self, key: &str) -> &str {
        self.get(key)
            .unwrap_or_else(|| panic!("block {:?} lacks '{key}'", self.get("case")))
    }

    pub fn case(&self) -> &str {
        self.req("case")
    }

    pub fn hex(&self, key: &str) -> Vec<u8> {
        hex(self.req(key))
    }

    pub fn json(&self, key: &str) -> Json {
        serde_json::from_str(self.req(key)).expect("valid JSON")
    }

    pub fn has_flag(&self, flag: &str) -> bool {
        self.get("flags")
            .is_some_and(|f| f.split_whitespace().any(|x| x == flag))
    }
}

/// The blocks of a vector file (comment lines and blank separators dropped).
pub fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for line in text.lines().chain([""]) {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(Block(std::mem::take(&mut current)));
            }
            continue;
        }
        let (key, value) = line.split_once(':').expect("key: value line");
        current.push((key.to_owned(), value.trim().to_owned()));
    }
    out
}

pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn vector_schema() -> Schema {
    Schema::parse(SCHEMA).expect("schema.zproto parses")
}

/// A vector's JSON input as a value of struct `id`; `None` when an integer
/// does not fit its field (the "out-of-range-input" cases).
pub fn json_to_struct(schema: &Schema, id: StructId, json: &Json) -> Option<StructValue> {
    let mut out = StructValue::new();
    for (name, v) in json.as_object().expect("struct is an object") {
        let field = schema[id].field(name).expect("known field");
        out.insert(name.clone(), json_to_field(schema, field, v)?);
    }
    Some(out)
}

fn json_to_field(schema: &Schema, field: &FieldDef, json: &Json) -> Option<Value> {
    match field.repeat() {
        Repeat::Single => json_to_element(schema, field.ty(), json),
        Repeat::Array | Repeat::Map { .. } => json
            .as_array()
            .expect("array")
            .iter()
            .map(|e| json_to_element(schema, field.ty(), e))
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
    }
}

fn json_to_element(schema: &Schema, ty: FieldType, json: &Json) -> Option<Value> {
    let scalar = match ty {
        FieldType::Struct(id) => return json_to_struct(schema, id, json).map(Value::Struct),
        FieldType::Scalar(s) => s,
    };
    let int = || -> Option<i128> {
        json.as_i64()
            .map(i128::from)
            .or_else(|| json.as_u64().map(i128::from))
    };
    Some(match scalar {
        Scalar::Boolean => Value::Bool(json.as_bool().expect("bool")),
        Scalar::Byte => Value::I8(int()?.try_into().ok()?),
        Scalar::Ubyte => Value::U8(int()?.try_into().ok()?),
        Scalar::Short => Value::I16(int()?.try_into().ok()?),
        Scalar::Ushort => Value::U16(int()?.try_into().ok()?),
        Scalar::Int32 => Value::I32(int()?.try_into().ok()?),
        Scalar::Uint32 => Value::U32(int()?.try_into().ok()?),
        Scalar::Int64 => Value::I64(int()?.try_into().ok()?),
        Scalar::Uint64 => Value::U64(int()?.try_into().ok()?),
        Scalar::Float => Value::F32(json_to_f32(json)),
        Scalar::String => Value::String(json.as_str().expect("string").into()),
        Scalar::Blob => Value::Bytes(hex(json.as_str().expect("hex blob"))),
    })
}

/// A float as the vectors write it: a number, or "inf" / "-inf". Rust's `as`
/// rounds to nearest-even and overflows to infinity, like the Lua binding.
pub fn json_to_f32(json: &Json) -> f32 {
    match json.as_str() {
        Some("inf") => f32::INFINITY,
        Some("-inf") => f32::NEG_INFINITY,
        _ => json.as_f64().expect("float") as f32,
    }
}

pub fn f32_to_json(v: f32) -> Json {
    if v.is_infinite() {
        Json::from(if v > 0.0 { "inf" } else { "-inf" })
    } else {
        Json::from(f64::from(v))
    }
}

/// A decoded value in the vectors' JSON convention (maps become objects
/// keyed by the key field's text; a later duplicate wins).
pub fn struct_to_json(schema: &Schema, id: StructId, value: &StructValue) -> Json {
    let mut out = Map::new();
    for (name, v) in value.iter() {
        let field = schema[id].field(name).expect("known field");
        out.insert(name.to_owned(), field_to_json(schema, field, v));
    }
    Json::Object(out)
}

fn field_to_json(schema: &Schema, field: &FieldDef, value: &Value) -> Json {
    let items = || match value {
        Value::Array(items) => items,
        other => panic!("array expected, got {other:?}"),
    };
    match (field.repeat(), field.ty()) {
        (Repeat::Single, ty) => element_to_json(schema, ty, value),
        (Repeat::Array, ty) => items()
            .iter()
            .map(|e| element_to_json(schema, ty, e))
            .collect(),
        (Repeat::Map { key }, FieldType::Struct(id)) => {
            let key_name = schema[id].fields()[key].name();
            let mut map = Map::new();
            for e in items() {
                let Value::Struct(s) = e else {
                    panic!("struct element")
                };
                let key = match s.get(key_name).expect("map key present") {
                    Value::String(k) => k.as_str().expect("text key").to_owned(),
                    other => other.as_i128().expect("integer key").to_string(),
                };
                map.insert(key, element_to_json(schema, FieldType::Struct(id), e));
            }
            Json::Object(map)
        }
        (Repeat::Map { .. }, FieldType::Scalar(_)) => unreachable!("maps hold structs"),
    }
}

fn element_to_json(schema: &Schema, ty: FieldType, value: &Value) -> Json {
    match (ty, value) {
        (FieldType::Struct(id), Value::Struct(s)) => struct_to_json(schema, id, s),
        (FieldType::Scalar(Scalar::Blob), Value::Bytes(b)) => Json::from(to_hex(b)),
        (_, Value::String(s)) => Json::from(s.as_str().expect("vector strings are text")),
        (_, Value::Bool(b)) => Json::from(*b),
        (_, Value::F32(f)) => f32_to_json(*f),
        (_, v) => match v.as_i128() {
            Some(n) if n < 0 => Json::from(n as i64),
            Some(n) => Json::from(n as u64),
            None => panic!("unexpected value {v:?}"),
        },
    }
}

/// silly's two frame layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `len:u16 BE | body | traceid | cmd | session`.
    V1,
    /// `len:u32 | session | cmd | traceid | body`.
    V2,
}

/// A frame of `silly-frames.txt` or `silly-frames-v2.txt`: its description
/// line and bytes.
pub struct Frame {
    pub description: String,
    pub bytes: Vec<u8>,
    pub layout: Layout,
}

impl Frame {
    fn payload(&self) -> &[u8] {
        let (len, payload) = match self.layout {
            Layout::V1 => (
                u16::from_be_bytes([self.bytes[0], self.bytes[1]]) as usize,
                &self.bytes[2..],
            ),
            Layout::V2 => (
                u32::from_le_bytes(self.bytes[..4].try_into().expect("4 bytes")) as usize,
                &self.bytes[4..],
            ),
        };
        assert_eq!(payload.len(), len, "frame length");
        payload
    }

    fn word(&self, at: usize) -> u32 {
        let payload = self.payload();
        u32::from_le_bytes(payload[at..at + 4].try_into().expect("4 bytes"))
    }

    /// The session word: its top bit marks responses.
    fn session_word(&self) -> u32 {
        match self.layout {
            Layout::V1 => self.word(self.payload().len() - 4),
            Layout::V2 => self.word(0),
        }
    }

    fn is_response(&self) -> bool {
        self.session_word() & 0x8000_0000 != 0
    }

    /// The zproto body: the payload without its request (16-byte) or
    /// response (4-byte) header or trailer.
    pub fn body(&self) -> &[u8] {
        let payload = self.payload();
        let len = payload.len();
        let meta = if self.is_response() { 4 } else { 16 };
        match self.layout {
            Layout::V1 => &payload[..len - meta],
            Layout::V2 => &payload[meta..],
        }
    }

    /// The request's command id.
    pub fn cmd(&self) -> Option<u32> {
        let at = match self.layout {
            Layout::V1 => self.payload().len() - 8,
            Layout::V2 => 4,
        };
        (!self.is_response()).then(|| self.word(at))
    }
    /// The message the description names, e.g. `ping{msg="hello"}`, as a
    /// struct name and JSON object; `None` for the empty-body frame.
    pub fn message(&self) -> Option<(String, Json)> {
        let d = &self.description;
        let at = d
            .find("request ")
            .map(|i| i + 8)
            .or(d.find("response ").map(|i| i + 9))?;
        let text = &d[at..];
        let open = text.find('{')?;
        let close = text.find('}')?;
        let name = text[..open].to_owned();
        let mut object = Map::new();
        for pair in text[open + 1..close].split(',').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=')?;
            let v = match v.strip_prefix('"') {
                Some(s) => Json::from(s.trim_end_matches('"')),
                None => Json::from(v.parse::<i64>().ok()?),
            };
            object.insert(k.to_owned(), v);
        }
        Some((name, Json::Object(object)))
    }
}

/// The wire-v1 captures, in capture order: ping, pong, add, sum, notify,
/// stats, counts, stats with an empty body (no answer), traced ping, pong.
pub fn silly_frames() -> Vec<Frame> {
    frames(SILLY_FRAMES, Layout::V1)
}

/// The wire-v2 captures: the same conversation as [`silly_frames`].
pub fn silly_frames_v2() -> Vec<Frame> {
    frames(SILLY_FRAMES_V2, Layout::V2)
}

fn frames(text: &str, layout: Layout) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut description = String::new();
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("# ") {
            description = d.to_owned();
        } else if !line.is_empty() {
            frames.push(Frame {
                description: std::mem::take(&mut description),
                bytes: hex(line),
                layout,
            });
        }
    }
    frames
}

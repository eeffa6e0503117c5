//! zproto values as JSON, both ways. The whole mapping lives here:
//!
//! | zproto | JSON |
//! |---|---|
//! | `boolean` | `true` / `false` |
//! | integers | numbers, exact over all 64 bits; a value that does not fit the field is an error |
//! | `float` | a number; NaN and the infinities as the strings `"NaN"`, `"inf"`, `"-inf"` |
//! | `string`, `blob` | a string when the bytes are valid UTF-8, otherwise `{"$bytes": "<hex>"}` |
//! | struct | an object of the present fields; `null` on input means absent |
//! | `T[]`, maps | arrays (a map is an array of structs, in wire order) |
//!
//! Input accepts `{"$bytes": "<hex>"}` for any byte string, so bytes that
//! are not UTF-8 go back out exactly as they came in. Output writes fields
//! in tag order (decoding order), not sorted.

use cluster_codec::zproto::{
    FieldDef, FieldType, Repeat, Scalar, Schema, StructId, StructValue, Value,
};
use serde_json::Value as Json;

use crate::hex::{self, HexError};

/// The key of the JSON object that carries a byte string as hex.
pub const BYTES_KEY: &str = "$bytes";

/// JSON that is not a value of the message it is meant for.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// Not JSON at all.
    #[error("bad JSON: {0}")]
    Syntax(#[from] serde_json::Error),
    /// A JSON value of the wrong kind for its field.
    #[error("{at}: expected {expected}, found {found}")]
    Type {
        /// Where, as `message.field[index]...`.
        at: String,
        /// What the schema wants there.
        expected: String,
        /// What the JSON has.
        found: &'static str,
    },
    /// A number outside its field's range.
    #[error("{at}: {value} does not fit in {ty}")]
    Range {
        /// Where.
        at: String,
        /// The number as written.
        value: String,
        /// The field's type.
        ty: &'static str,
    },
    /// A key that names no field of the struct.
    #[error("{at}: struct '{message}' has no field '{field}' (fields: {fields})")]
    UnknownField {
        /// Where.
        at: String,
        /// The struct.
        message: String,
        /// The key.
        field: String,
        /// The struct's field names, comma-separated.
        fields: String,
    },
    /// A `{"$bytes": ...}` whose text is not hex.
    #[error("{at}: {BYTES_KEY}: {source}")]
    Hex {
        /// Where.
        at: String,
        /// What is wrong with the digits.
        source: HexError,
    },
}

/// Reads `text` as a value of message `id`.
pub fn parse(schema: &Schema, id: StructId, text: &str) -> Result<StructValue, JsonError> {
    let json: Json = serde_json::from_str(text)?;
    to_struct(schema, id, &json, schema[id].name())
}

/// Writes `value` as one line of JSON.
pub fn render(value: &StructValue) -> String {
    let mut out = String::new();
    write_struct(&mut out, value);
    out
}

fn to_struct(
    schema: &Schema,
    id: StructId,
    json: &Json,
    at: &str,
) -> Result<StructValue, JsonError> {
    let def = &schema[id];
    let Json::Object(map) = json else {
        return Err(type_error(at, "an object", json));
    };
    let mut out = StructValue::new();
    for (key, v) in map {
        let Some(field) = def.field(key) else {
            let names: Vec<&str> = def.fields().iter().map(FieldDef::name).collect();
            return Err(JsonError::UnknownField {
                at: at.to_owned(),
                message: def.name().to_owned(),
                field: key.clone(),
                fields: names.join(", "),
            });
        };
        if !v.is_null() {
            let at = format!("{at}.{key}");
            out.insert(field.name(), to_field(schema, field, v, &at)?);
        }
    }
    Ok(out)
}

fn to_field(schema: &Schema, field: &FieldDef, json: &Json, at: &str) -> Result<Value, JsonError> {
    if field.repeat() == Repeat::Single {
        return to_element(schema, field.ty(), json, at);
    }
    let Json::Array(items) = json else {
        return Err(type_error(at, "an array", json));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| to_element(schema, field.ty(), item, &format!("{at}[{i}]")))
        .collect::<Result<_, _>>()
        .map(Value::Array)
}

fn to_element(schema: &Schema, ty: FieldType, json: &Json, at: &str) -> Result<Value, JsonError> {
    let scalar = match ty {
        FieldType::Struct(id) => return to_struct(schema, id, json, at).map(Value::Struct),
        FieldType::Scalar(scalar) => scalar,
    };
    match scalar {
        Scalar::Boolean => json
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| type_error(at, "a boolean", json)),
        Scalar::Byte => to_int(json, at, scalar, Value::I8),
        Scalar::Ubyte => to_int(json, at, scalar, Value::U8),
        Scalar::Short => to_int(json, at, scalar, Value::I16),
        Scalar::Ushort => to_int(json, at, scalar, Value::U16),
        Scalar::Int32 => to_int(json, at, scalar, Value::I32),
        Scalar::Uint32 => to_int(json, at, scalar, Value::U32),
        Scalar::Int64 => to_int(json, at, scalar, Value::I64),
        Scalar::Uint64 => to_int(json, at, scalar, Value::U64),
        Scalar::Float => to_float(json, at),
        Scalar::String | Scalar::Blob => to_bytes(json, at).map(|bytes| byte_string(scalar, bytes)),
    }
}

fn to_int<T: TryFrom<i128>>(
    json: &Json,
    at: &str,
    scalar: Scalar,
    make: fn(T) -> Value,
) -> Result<Value, JsonError> {
    let n = json
        .as_i64()
        .map(i128::from)
        .or_else(|| json.as_u64().map(i128::from))
        .ok_or_else(|| type_error(at, scalar.name(), json))?;
    T::try_from(n).map(make).map_err(|_| JsonError::Range {
        at: at.to_owned(),
        value: n.to_string(),
        ty: scalar.name(),
    })
}

fn to_float(json: &Json, at: &str) -> Result<Value, JsonError> {
    let f = match json {
        Json::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Json::String(s) => match s.as_str() {
            "NaN" => f64::NAN,
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            _ => {
                return Err(type_error(
                    at,
                    "a float (number, \"NaN\", \"inf\" or \"-inf\")",
                    json,
                ));
            }
        },
        _ => return Err(type_error(at, "a float", json)),
    };
    if f.is_finite() && f.abs() > f64::from(f32::MAX) {
        return Err(JsonError::Range {
            at: at.to_owned(),
            value: json.to_string(),
            ty: "float",
        });
    }
    Ok(Value::F32(f as f32))
}

/// The bytes of a JSON string, or of `{"$bytes": "<hex>"}`.
fn to_bytes(json: &Json, at: &str) -> Result<Vec<u8>, JsonError> {
    let expected = || type_error(at, "a string or {\"$bytes\": \"<hex>\"}", json);
    match json {
        Json::String(s) => Ok(s.as_bytes().to_vec()),
        Json::Object(map) if map.len() == 1 => {
            let hex = map
                .get(BYTES_KEY)
                .and_then(Json::as_str)
                .ok_or_else(expected)?;
            hex::decode(hex).map_err(|source| JsonError::Hex {
                at: at.to_owned(),
                source,
            })
        }
        _ => Err(expected()),
    }
}

/// The value a `string` or `blob` field holds for `bytes`.
fn byte_string(scalar: Scalar, bytes: Vec<u8>) -> Value {
    match scalar {
        Scalar::String => Value::String(bytes.into()),
        _ => Value::Bytes(bytes),
    }
}

fn type_error(at: &str, expected: &str, found: &Json) -> JsonError {
    JsonError::Type {
        at: at.to_owned(),
        expected: expected.to_owned(),
        found: match found {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(n) if n.is_f64() => "a number with a fraction or exponent",
            Json::Number(n) if n.as_i64().is_some_and(|v| v < 0) => "a negative number",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        },
    }
}

fn write_struct(out: &mut String, value: &StructValue) {
    out.push('{');
    for (i, (name, v)) in value.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, name);
        out.push(':');
        write_value(out, v);
    }
    out.push('}');
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::F32(f) if f.is_nan() => out.push_str("\"NaN\""),
        Value::F32(f) if f.is_infinite() => {
            out.push_str(if *f > 0.0 { "\"inf\"" } else { "\"-inf\"" })
        }
        // Display prints an f32 in the fewest digits that read back to it.
        Value::F32(f) => out.push_str(&f.to_string()),
        Value::String(_) | Value::Bytes(_) => {
            write_bytes(out, value.as_bytes().unwrap_or_default())
        }
        Value::Struct(s) => write_struct(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::I8(_)
        | Value::U8(_)
        | Value::I16(_)
        | Value::U16(_)
        | Value::I32(_)
        | Value::U32(_)
        | Value::I64(_)
        | Value::U64(_) => {
            if let Some(n) = value.as_i128() {
                out.push_str(&n.to_string());
            }
        }
    }
}

fn write_bytes(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => write_str(out, s),
        Err(_) => {
            out.push_str("{\"");
            out.push_str(BYTES_KEY);
            out.push_str("\":\"");
            out.push_str(&hex::encode(bytes));
            out.push_str("\"}");
        }
    }
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = "
        item { .id:int32 1 .name:string 2 }
        all 0x10 {
            .b:boolean 1 .i8:byte 2 .u8:ubyte 3 .i16:short 4 .u16:ushort 5
            .i32:int32 6 .u32:uint32 7 .i64:int64 8 .u64:uint64 9 .f:float 10
            .s:string 11 .blob:blob 12 .item:item 13 .list:int32[] 14 .map:item[id] 15
        }";

    fn all() -> (Schema, StructId) {
        let schema = Schema::parse(SCHEMA).expect("test schema parses");
        let id = schema.find("all").expect("message all");
        (schema, id)
    }

    /// JSON in, zproto bytes, zproto value back, JSON out.
    fn round_trip(text: &str) -> String {
        let (schema, id) = all();
        let value = parse(&schema, id, text).expect("valid JSON for all");
        let mut body = bytes::BytesMut::new();
        schema.encode_body(id, &value, &mut body).expect("encodes");
        render(&schema.decode_body(id, &body).expect("decodes"))
    }

    #[test]
    fn every_type_round_trips_in_tag_order() {
        let text = r#"{"b":true,"i8":-128,"u8":255,"i16":-32768,"u16":65535,"i32":-2147483648,"u32":4294967295,"i64":-9223372036854775808,"u64":18446744073709551615,"f":1.5,"s":"h\"i\n","blob":"raw","item":{"id":1,"name":"x"},"list":[1,2,3],"map":[{"id":2},{"id":3,"name":"y"}]}"#;
        assert_eq!(round_trip(text), text);
    }

    #[test]
    fn output_follows_tag_order_not_input_order() {
        assert_eq!(
            round_trip(r#"{"s":"x","b":false}"#),
            r#"{"b":false,"s":"x"}"#
        );
    }

    #[test]
    fn non_utf8_bytes_travel_as_hex_both_ways() {
        let text = r#"{"s":{"$bytes":"ff00fe"},"blob":{"$bytes":"80"}}"#;
        assert_eq!(round_trip(text), text);
        let (schema, id) = all();
        let value = parse(&schema, id, text).expect("parses");
        assert_eq!(
            value.get("s").and_then(Value::as_bytes),
            Some(&[0xff, 0, 0xfe][..])
        );
    }

    #[test]
    fn bytes_form_of_valid_utf8_comes_back_as_a_string() {
        assert_eq!(round_trip(r#"{"s":{"$bytes":"6869"}}"#), r#"{"s":"hi"}"#);
    }

    #[test]
    fn null_means_absent() {
        assert_eq!(round_trip(r#"{"s":null,"b":true}"#), r#"{"b":true}"#);
    }

    #[test]
    fn non_finite_floats_are_strings() {
        let text = r#"{"f":"NaN"}"#;
        assert_eq!(round_trip(text), text);
        assert_eq!(round_trip(r#"{"f":"-inf"}"#), r#"{"f":"-inf"}"#);
    }

    fn error(text: &str) -> String {
        let (schema, id) = all();
        parse(&schema, id, text).expect_err("rejected").to_string()
    }

    #[test]
    fn mistakes_name_the_field_and_what_was_expected() {
        assert_eq!(
            error(r#"{"i32":"1"}"#),
            "all.i32: expected int32, found a string"
        );
        assert_eq!(error(r#"{"u8":256}"#), "all.u8: 256 does not fit in ubyte");
        assert_eq!(error(r#"{"u8":-1}"#), "all.u8: -1 does not fit in ubyte");
        assert_eq!(
            error(r#"{"i32":1.5}"#),
            "all.i32: expected int32, found a number with a fraction or exponent"
        );
        assert_eq!(
            error(r#"{"list":[1,"x"]}"#),
            "all.list[1]: expected int32, found a string"
        );
        assert_eq!(
            error(r#"{"map":[{"nope":1}]}"#),
            "all.map[0]: struct 'item' has no field 'nope' (fields: id, name)"
        );
        assert_eq!(
            error(r#"{"s":{"$bytes":"f"}}"#),
            "all.s: $bytes: odd number of hex digits (1)"
        );
        assert_eq!(error(r#"{"f":1e39}"#), "all.f: 1e+39 does not fit in float");
        assert_eq!(error("[]"), "all: expected an object, found an array");
        assert!(
            error("{").starts_with("bad JSON: EOF while parsing"),
            "{}",
            error("{")
        );
    }
}

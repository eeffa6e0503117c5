//! Checks a derive's fields against zproto's rules and infers each field's
//! zproto type from its Rust type.
//!
//! | Rust field type | zproto |
//! |---|---|
//! | `bool`, `i8`, `u8`, `i16`, `u16`, `i32`, `u32`, `i64`, `u64`, `f32` | the basic type of that width |
//! | `ByteStr` | `string` (any bytes) |
//! | `String` | `string`, text only: bytes that are not UTF-8 fail to decode |
//! | `Vec<u8>` | `blob` (or `string` with `ty = "string"`) |
//! | `Vec<T>` | `T[]`; with `map = "key"`, `T[key]` |
//! | any other path | a nested message (must implement `Message`) |
//! | `Option<T>` | `T`, absent when `None` |
//!
//! The basic types come from the one table in [`types`](crate::zproto::types).

use cluster_codec::zproto::{MAX_FIELD_TAG, Scalar, is_valid_name};
use quote::ToTokens;
use syn::Type;
use syn::spanned::Spanned;

use crate::errors::Errors;
use crate::zproto::model::{Elem, Field, Message, Repeat};
use crate::zproto::parse::{RawField, RawMessage};
use crate::zproto::types::{generic_arg, scalar_of};

pub(crate) fn message(raw: RawMessage) -> syn::Result<Message> {
    let mut errors = Errors::default();
    let name = match &raw.name {
        Some(lit) => checked_name(lit.value(), lit.span(), &mut errors),
        None => checked_name(
            snake_case(&raw.ident.to_string()),
            raw.ident.span(),
            &mut errors,
        ),
    };
    let tag = match &raw.tag {
        Some(lit) => lit.base10_parse::<u32>().unwrap_or_else(|_| {
            errors.at(
                lit.span(),
                "protocol tag must fit in 32 bits (0 means none)",
            );
            0
        }),
        None => 0,
    };
    let mut fields: Vec<Field> = Vec::new();
    for raw_field in &raw.fields {
        let Some(field) = field(raw_field, &mut errors) else {
            continue;
        };
        // Against the highest tag so far, so that an error earlier in the list
        // does not hide a later repeat.
        if let Some(prev) = fields.iter().max_by_key(|f| f.tag) {
            let order = match field.tag.cmp(&prev.tag) {
                std::cmp::Ordering::Greater => None,
                std::cmp::Ordering::Equal => Some("duplicate"),
                std::cmp::Ordering::Less => Some("unsorted"),
            };
            if let Some(what) = order {
                errors.at(
                    tag_span(raw_field),
                    format!(
                        "{what} zproto field tag {}: tags must ascend in declaration order (previous field `{}` has tag {})",
                        field.tag, prev.member, prev.tag
                    ),
                );
            }
        }
        if fields.iter().any(|f| f.name == field.name) {
            errors.at(
                raw_field.ident.span(),
                format!("duplicate zproto field name '{}'", field.name),
            );
        }
        fields.push(field);
    }
    errors.finish(Message {
        ident: raw.ident,
        name,
        tag,
        fields,
        nested: Vec::new(),
    })
}

fn tag_span(raw: &RawField) -> proc_macro2::Span {
    raw.tag.as_ref().map_or(raw.ident.span(), |lit| lit.span())
}

fn field(raw: &RawField, errors: &mut Errors) -> Option<Field> {
    let Some(tag_lit) = &raw.tag else {
        errors.at(
            raw.ident.span(),
            format!(
                "missing zproto field tag: add `#[zproto(N)]` to `{}`",
                raw.ident
            ),
        );
        return None;
    };
    let tag = match tag_lit.base10_parse::<u64>() {
        Ok(t) if (1..=u64::from(MAX_FIELD_TAG)).contains(&t) => t as u16,
        _ => {
            errors.at(
                tag_lit.span(),
                format!(
                    "zproto field tag must be in 1..={MAX_FIELD_TAG} (silly mishandles larger tags)"
                ),
            );
            return None;
        }
    };
    let name = match &raw.name {
        Some(lit) => checked_name(lit.value(), lit.span(), errors),
        None => {
            let ident = syn::ext::IdentExt::unraw(&raw.ident).to_string();
            checked_name(ident, raw.ident.span(), errors)
        }
    };
    let (optional, ty) = match generic_arg("Option", &raw.ty) {
        Some(inner) => (true, inner),
        None => (false, &raw.ty),
    };
    let (repeat, elem) = infer(raw, ty, errors)?;
    Some(Field {
        member: raw.ident.clone(),
        name,
        tag,
        optional,
        repeat,
        elem,
        ty: ty.to_token_stream(),
        span: raw.ty.span(),
    })
}

/// The zproto shape of a Rust type (without its `Option`), honouring the
/// `ty` and `map` attributes.
fn infer(raw: &RawField, ty: &Type, errors: &mut Errors) -> Option<(Repeat, Elem)> {
    let span = ty.span();
    let explicit = match &raw.zty {
        Some(lit) => match Scalar::from_name(&lit.value()) {
            Some(s) => Some((s, lit)),
            None => {
                errors.at(
                    lit.span(),
                    format!("unknown zproto type \"{}\"", lit.value()),
                );
                return None;
            }
        },
        None => None,
    };
    let (array, elem_ty) = match generic_arg("Vec", ty) {
        Some(inner) if scalar_of(inner) != Some(Scalar::Ubyte) => (true, inner),
        _ => (false, ty),
    };
    let elem = match scalar_of(elem_ty) {
        Some(Scalar::Byte) if array => {
            errors.at(span, "zproto has no arrays of 8-bit integers (byte[] means string): use `ByteStr` or `Vec<u8>`");
            return None;
        }
        Some(inferred) => {
            let scalar = match explicit {
                None => inferred,
                Some((given, _)) if given == inferred => given,
                // string and blob are one wire format.
                Some((Scalar::String, _)) if inferred == Scalar::Blob => Scalar::String,
                Some((given, lit)) => {
                    errors.at(
                        lit.span(),
                        format!(
                            "zproto type \"{}\" does not match the Rust type `{}` (which is \"{}\")",
                            given.name(),
                            type_text(elem_ty),
                            inferred.name()
                        ),
                    );
                    return None;
                }
            };
            Elem::Scalar(scalar, elem_ty.to_token_stream())
        }
        None => {
            if let Some(problem) = unsupported(elem_ty) {
                errors.at(elem_ty.span(), problem);
                return None;
            }
            if let Some((_, lit)) = explicit {
                errors.at(
                    lit.span(),
                    "`ty` names a basic type; a message field's type is its message",
                );
                return None;
            }
            Elem::Message(elem_ty.to_token_stream())
        }
    };
    let repeat = match (&raw.map, array, &elem) {
        (None, false, _) => Repeat::Single,
        (None, true, _) => Repeat::Array,
        (Some(key), true, Elem::Message(_)) => Repeat::Map(key.clone()),
        (Some(key), _, _) => {
            errors.at(
                key.span(),
                "`map` needs a `Vec` of messages (zproto maps are arrays of structs)",
            );
            return None;
        }
    };
    Some((repeat, elem))
}

/// Why a type that is not a basic type cannot be a message either.
fn unsupported(ty: &Type) -> Option<String> {
    let Type::Path(path) = ty else {
        return Some(format!(
            "unsupported zproto field type `{}`: use a basic type, ByteStr, String, Vec<u8>, Vec<T>, Option<T> or a message",
            type_text(ty)
        ));
    };
    let last = path.path.segments.last()?.ident.to_string();
    let hint = match last.as_str() {
        "f64" => "zproto has no double: use `f32`",
        "usize" | "isize" | "i128" | "u128" => "use a fixed-width integer (i8..i64, u8..u64)",
        "char" | "str" => "use `ByteStr` (any bytes) or `String` (text only)",
        "HashMap" | "BTreeMap" | "HashSet" | "BTreeSet" => {
            "zproto maps are arrays of structs: use `Vec<T>` with `#[zproto(N, map = \"key\")]`"
        }
        "Vec" | "VecDeque" => "zproto has no arrays of arrays: wrap the inner array in a message",
        "Option" => "zproto has no optional inside optional",
        "Box" | "Rc" | "Arc" | "Cow" => "use the message type itself",
        _ => return None,
    };
    Some(format!(
        "unsupported zproto field type `{}`: {hint}",
        type_text(ty)
    ))
}

/// A type as a user would write it (`Vec<i32>`, not `Vec < i32 >`).
fn type_text(ty: &Type) -> String {
    ty.to_token_stream()
        .to_string()
        .replace(" <", "<")
        .replace("< ", "<")
        .replace(" >", ">")
}

/// A schema name must be spellable in `.zproto` text.
fn checked_name(name: String, span: proc_macro2::Span, errors: &mut Errors) -> String {
    if !is_valid_name(&name) {
        errors.at(
            span,
            format!("'{name}' is not a zproto name (ASCII letter first, then letters, digits, '_'; at most 63): set `name = \"...\"`"),
        );
    }
    name
}

/// `PingReq` -> `ping_req`: the default schema name of a derived message.
pub(crate) fn snake_case(ident: &str) -> String {
    let mut out = String::new();
    for (i, c) in ident.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

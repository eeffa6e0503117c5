//! `zproto!("path.zproto")`: reads a schema file and generates a Rust type
//! for each of its structs.
//!
//! Naming: a struct `ping_req` becomes `PingReq`; structs nested in `shapes`
//! live in a module `shapes` (`shapes::Color`), their own nested ones in
//! `shapes::color`, and so on. Field names are kept as written (raw
//! identifiers for Rust keywords; `self`, `super`, `crate` and `Self` get a
//! trailing `_`). Every field is an `Option` (absent is not zero in zproto);
//! arrays and maps are `Vec`s in wire order.

use std::path::PathBuf;

use cluster_codec::zproto::{FieldType, Repeat as SchemaRepeat, Schema, StructId};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::LitStr;

use crate::zproto::model::{Elem, Field, Message, Repeat};
use crate::zproto::validate::snake_case;
use crate::zproto::{generate, types};

/// Overrides the directory that relative schema paths start from. trybuild
/// builds its cases as a crate of its own under the target directory, so
/// the compile-fail test points this back at the crate holding the schema.
const BASE_DIR_OVERRIDE: &str = "CLUSTER_ZPROTO_BASE_DIR";

pub(crate) fn expand(path: &LitStr) -> syn::Result<TokenStream> {
    let fail = |message: String| syn::Error::new(path.span(), message);
    let dir = std::env::var_os(BASE_DIR_OVERRIDE)
        .or_else(|| std::env::var_os("CARGO_MANIFEST_DIR"))
        .ok_or_else(|| fail("CARGO_MANIFEST_DIR is not set".to_owned()))?;
    let full = PathBuf::from(dir).join(path.value());
    let text = std::fs::read_to_string(&full)
        .map_err(|e| fail(format!("cannot read {}: {e}", full.display())))?;
    let schema = Schema::parse(&text).map_err(|e| {
        fail(format!(
            "{}:{}:{}: {}",
            path.value(),
            e.line,
            e.column,
            e.kind
        ))
    })?;
    let full = full.to_string_lossy().into_owned();
    let items = Generator {
        schema: &schema,
        span: path.span(),
    }
    .module(None)?;
    Ok(quote! {
        // Makes cargo rebuild when the schema file changes.
        const _: &str = ::core::include_str!(#full);
        #items
    })
}

struct Generator<'a> {
    schema: &'a Schema,
    span: Span,
}

impl Generator<'_> {
    /// The items for the children of `parent` (the top level for `None`),
    /// plus a module for each child that has nested structs.
    fn module(&self, parent: Option<StructId>) -> syn::Result<TokenStream> {
        let children: Vec<StructId> = match parent {
            Some(p) => self.schema[p].nested().to_vec(),
            None => self.schema.messages().collect(),
        };
        let mut seen = Vec::new();
        let mut items = TokenStream::new();
        for &id in &children {
            let message = self.message(id);
            let rust = message.ident.to_string();
            if seen.contains(&rust) {
                return Err(syn::Error::new(
                    self.span,
                    format!("two structs map to the Rust name `{rust}`"),
                ));
            }
            seen.push(rust);
            let def = &self.schema[id];
            let doc = match def.tag() {
                0 => format!(" zproto struct `{}`.", def.name()),
                tag => format!(" zproto struct `{}`, protocol tag {tag}.", def.name()),
            };
            items.extend(generate::message_struct(&message, &doc));
            items.extend(generate::message_impl(&message));
            if !def.nested().is_empty() {
                let module = module_ident(def.name());
                let inner = self.module(Some(id))?;
                let doc = format!(" Structs nested in zproto struct `{}`.", def.name());
                items.extend(quote! {
                    #[doc = #doc]
                    pub mod #module {
                        #inner
                    }
                });
            }
        }
        Ok(items)
    }

    fn message(&self, id: StructId) -> Message {
        let def = &self.schema[id];
        let depth = self.path(id).len() - 1;
        let fields = def.fields().iter().map(|f| {
            let elem = match f.ty() {
                FieldType::Scalar(s) => Elem::Scalar(s, types::rust_type(s)),
                FieldType::Struct(target) => Elem::Message(self.relative_path(depth, target)),
            };
            let rust = elem.rust_type();
            let (repeat, ty) = match f.repeat() {
                SchemaRepeat::Single => (Repeat::Single, rust.clone()),
                SchemaRepeat::Array => (Repeat::Array, quote!(::std::vec::Vec<#rust>)),
                SchemaRepeat::Map { key } => {
                    let FieldType::Struct(e) = f.ty() else {
                        unreachable!("the schema parser only accepts maps of structs")
                    };
                    let key = LitStr::new(self.schema[e].fields()[key].name(), self.span);
                    (Repeat::Map(key), quote!(::std::vec::Vec<#rust>))
                }
            };
            Field {
                member: field_ident(f.name()),
                name: f.name().to_owned(),
                tag: f.tag(),
                optional: true,
                repeat,
                elem,
                ty,
                span: self.span,
            }
        });
        let nested = def
            .nested()
            .iter()
            .map(|&n| self.relative_path(depth, n))
            .collect();
        Message {
            ident: type_ident(def.name()),
            name: def.name().to_owned(),
            tag: def.tag(),
            fields: fields.collect(),
            nested,
        }
    }

    /// `id` and its ancestors, outermost first.
    fn path(&self, id: StructId) -> Vec<StructId> {
        let mut path = vec![id];
        let mut at = id;
        while let Some(parent) = self.schema[at].parent() {
            path.push(parent);
            at = parent;
        }
        path.reverse();
        path
    }

    /// The path of `target`'s type from a module `depth` levels below the
    /// macro's call site.
    fn relative_path(&self, depth: usize, target: StructId) -> TokenStream {
        let path = self.path(target);
        let supers = std::iter::repeat_n(quote!(super::), depth);
        let (last, modules) = path.split_last().unwrap_or((&target, &[]));
        let modules = modules.iter().map(|&m| module_ident(self.schema[m].name()));
        let ty = type_ident(self.schema[*last].name());
        quote!(#(#supers)* #(#modules::)* #ty)
    }
}

/// `ping_req` -> `PingReq`, `v1` -> `V1`.
fn type_ident(name: &str) -> syn::Ident {
    let camel: String = name
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    escaped_ident(&camel)
}

fn module_ident(name: &str) -> syn::Ident {
    escaped_ident(&snake_case(name))
}

fn field_ident(name: &str) -> syn::Ident {
    escaped_ident(name)
}

/// A Rust identifier for a schema name: raw for keywords, with a trailing
/// `_` for the few that cannot be raw.
fn escaped_ident(name: &str) -> syn::Ident {
    match name {
        "self" | "Self" | "super" | "crate" => format_ident!("{name}_"),
        _ if syn::parse_str::<syn::Ident>(name).is_err() => format_ident!("r#{name}"),
        _ => format_ident!("{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_names_become_upper_camel_case_types() {
        assert_eq!(type_ident("ping_req"), "PingReq");
        assert_eq!(type_ident("v_gap"), "VGap");
        assert_eq!(type_ident("Abc_9"), "Abc9");
        assert_eq!(type_ident("v1"), "V1");
    }

    #[test]
    fn nested_structs_live_in_a_snake_case_module_of_their_parent() {
        assert_eq!(module_ident("shapes"), "shapes");
        assert_eq!(module_ident("PlayerInfo"), "player_info");
    }

    #[test]
    fn field_names_that_are_rust_keywords_are_escaped() {
        assert_eq!(field_ident("type").to_string(), "r#type");
        assert_eq!(field_ident("self"), "self_");
        assert_eq!(field_ident("msg"), "msg");
    }
}

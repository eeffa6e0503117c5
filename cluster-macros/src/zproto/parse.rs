//! Reads `#[derive(Message)]` input: the struct, its fields and their
//! `#[zproto(...)]` attributes, with spans, before any checking.
//!
//! ```text
//! #[zproto(tag = 0x01, name = "ping")]      on the struct, both optional
//! #[zproto(1)]                              on a field: its tag
//! #[zproto(tag = 1, ty = "ushort", name = "x", map = "id")]
//! ```

use crate::errors::Errors;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitInt, LitStr, Token, Type};

/// The derive input as written.
pub(crate) struct RawMessage {
    pub(crate) ident: Ident,
    pub(crate) name: Option<LitStr>,
    pub(crate) tag: Option<LitInt>,
    pub(crate) fields: Vec<RawField>,
}

/// One named field as written.
pub(crate) struct RawField {
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
    pub(crate) tag: Option<LitInt>,
    pub(crate) zty: Option<LitStr>,
    pub(crate) name: Option<LitStr>,
    pub(crate) map: Option<LitStr>,
}

/// One argument of `#[zproto(...)]`: a bare tag or `key = literal`.
enum Arg {
    Tag(LitInt),
    Pair(Ident, syn::Lit),
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitInt) {
            return input.parse().map(Arg::Tag);
        }
        let key: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        Ok(Arg::Pair(key, input.parse()?))
    }
}

pub(crate) fn message(input: &DeriveInput) -> syn::Result<RawMessage> {
    let mut errors = Errors::default();
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        errors.at(input.generics.span(), "zproto messages cannot be generic");
    }
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => named.named.iter().collect(),
            Fields::Unit => Vec::new(),
            Fields::Unnamed(_) => {
                errors.at(input.ident.span(), "zproto messages need named fields");
                Vec::new()
            }
        },
        _ => {
            return Err(syn::Error::new(
                input.ident.span(),
                "zproto messages must be structs",
            ));
        }
    };
    let mut message = RawMessage {
        ident: input.ident.clone(),
        name: None,
        tag: None,
        fields: Vec::new(),
    };
    for arg in args(&input.attrs, &mut errors) {
        match arg {
            Arg::Pair(key, syn::Lit::Int(v)) if key == "tag" => message.tag = Some(v),
            Arg::Pair(key, syn::Lit::Str(v)) if key == "name" => message.name = Some(v),
            Arg::Tag(v) => errors.at(v.span(), "write the protocol tag as `tag = N`"),
            Arg::Pair(key, _) => errors.at(
                key.span(),
                "expected `tag = <integer>` or `name = \"...\"` on a zproto message",
            ),
        }
    }
    for field in fields {
        let Some(ident) = field.ident.clone() else {
            continue;
        };
        let mut raw = RawField {
            ident,
            ty: field.ty.clone(),
            tag: None,
            zty: None,
            name: None,
            map: None,
        };
        for arg in args(&field.attrs, &mut errors) {
            match arg {
                Arg::Tag(v) => raw.tag = Some(v),
                Arg::Pair(key, syn::Lit::Int(v)) if key == "tag" => raw.tag = Some(v),
                Arg::Pair(key, syn::Lit::Str(v)) if key == "ty" => raw.zty = Some(v),
                Arg::Pair(key, syn::Lit::Str(v)) if key == "name" => raw.name = Some(v),
                Arg::Pair(key, syn::Lit::Str(v)) if key == "map" => raw.map = Some(v),
                Arg::Pair(key, _) => errors.at(
                    key.span(),
                    "expected a tag, `tag = <integer>`, `ty = \"...\"`, `name = \"...\"` or `map = \"...\"`",
                ),
            }
        }
        message.fields.push(raw);
    }
    errors.finish(message)
}

/// The arguments of every `#[zproto(...)]` among `attrs`.
fn args(attrs: &[syn::Attribute], errors: &mut Errors) -> Vec<Arg> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("zproto"))
        .flat_map(|a| {
            a.parse_args_with(Punctuated::<Arg, Token![,]>::parse_terminated)
                .map_err(|e| errors.push(e))
                .unwrap_or_default()
        })
        .collect()
}

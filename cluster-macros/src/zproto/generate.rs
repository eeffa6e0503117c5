//! The one code generator for zproto messages, derived or from a schema.
//!
//! Generated code names everything through `::cluster::__private`, so users
//! need only the `cluster` dependency, and it writes and reads each field
//! directly: no lookup by name, no intermediate values.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use crate::zproto::model::{Elem, Field, Message, Repeat};
use crate::zproto::types;

/// The path of the zproto module in generated code.
fn zp() -> TokenStream {
    quote!(::cluster::__private::cluster_codec::zproto)
}

/// `impl Message for T`, inside an anonymous const that also holds the map
/// key tags (computed, and checked, at compile time).
pub(crate) fn message_impl(message: &Message) -> TokenStream {
    let zp = zp();
    let codec = quote!(::cluster::__private::cluster_codec);
    let ident = &message.ident;
    let info = info(message);
    let keys = message.fields.iter().filter_map(map_key_const);
    let base = message.fields.first().map_or(0, |f| f.tag);
    let required = message.fields.iter().filter(|f| !f.optional).count();
    let optional = message
        .fields
        .iter()
        .filter(|f| f.optional)
        .map(|f| &f.member);
    let writes = message.fields.iter().map(write_field);
    let locals = message.fields.iter().map(|f| {
        let local = local(f);
        let ty = &f.ty;
        quote!(let mut #local: ::core::option::Option<#ty> = ::core::option::Option::None;)
    });
    let reads = message.fields.iter().map(|f| read_arm(message, f));
    let inits = message.fields.iter().map(|f| {
        let (member, local) = (&f.member, local(f));
        match f.optional {
            true => quote!(#member: #local),
            false => quote!(#member: ::core::option::Option::unwrap_or_default(#local)),
        }
    });
    quote! {
        const _: () = {
            #(#keys)*

            #[automatically_derived]
            impl #zp::Message for #ident {
                const INFO: &'static #zp::MessageInfo = &#info;

                fn write_struct(
                    &self,
                    w: &mut #zp::Writer<'_>,
                ) -> ::core::result::Result<(), #codec::EncodeError> {
                    let count = #required #(+ ::core::primitive::usize::from(self.#optional.is_some()))*;
                    let mut s = w.begin_struct(#base, count)?;
                    #(#writes)*
                    s.finish()
                }

                fn read_struct(
                    r: &mut #zp::Reader<'_>,
                ) -> ::core::result::Result<Self, #codec::DecodeError> {
                    let mut s = r.begin_struct(#base)?;
                    #(#locals)*
                    while let ::core::option::Option::Some(tag) = s.next_tag() {
                        match tag {
                            #(#reads)*
                            // Bodies are not self-describing: nothing after an
                            // unknown field can be located.
                            _ => break,
                        }
                    }
                    s.finish()?;
                    ::core::result::Result::Ok(Self { #(#inits),* })
                }
            }
        };
    }
}

fn local(field: &Field) -> syn::Ident {
    format_ident!(
        "field_{}",
        field.member.to_string().trim_start_matches("r#")
    )
}

fn key_const(field: &Field) -> syn::Ident {
    format_ident!(
        "MAP_KEY_{}",
        field.member.to_string().trim_start_matches("r#")
    )
}

fn map_key_const(field: &Field) -> Option<TokenStream> {
    let Repeat::Map(key) = &field.repeat else {
        return None;
    };
    let name = key_const(field);
    let elem = field.elem.rust_type();
    // Spelled out here, not interpolated, so that a bad key (a compile-time
    // panic in `map_key_tag`) is reported at the user's `map = "..."`.
    Some(quote_spanned! {key.span()=>
        #[allow(non_upper_case_globals)]
        const #name: u16 = ::cluster::__private::cluster_codec::zproto::map_key_tag(
            <#elem as ::cluster::__private::cluster_codec::zproto::Message>::INFO,
            #key,
        );
    })
}

fn write_field(field: &Field) -> TokenStream {
    let zp = zp();
    let (member, tag) = (&field.member, field.tag);
    let body = match &field.repeat {
        Repeat::Single => quote_spanned!(field.span=> #zp::Wire::write_to(v, s.field(#tag)?)?;),
        Repeat::Array => quote!(s.field(#tag)?.put_array(v)?;),
        Repeat::Map(_) => {
            let key = key_const(field);
            quote!(s.field(#tag)?.put_map(v, #key)?;)
        }
    };
    match field.optional {
        true => quote!(if let ::core::option::Option::Some(v) = &self.#member { #body }),
        false => quote!({ let v = &self.#member; #body }),
    }
}

/// One `match` arm of `read_struct`: reads the field and names it in a
/// decode error that has no context of its own (invalid UTF-8 in a `String`).
fn read_arm(message: &Message, field: &Field) -> TokenStream {
    let zp = zp();
    let (tag, local) = (u32::from(field.tag), local(field));
    let read = match &field.repeat {
        Repeat::Single => quote_spanned!(field.span=> #zp::Wire::read_from(s.reader())),
        Repeat::Array => quote!(s.reader().get_array()),
        Repeat::Map(_) => {
            let key = key_const(field);
            quote!(s.reader().get_map(#key))
        }
    };
    let (message, name) = (&message.name, &field.name);
    quote! {
        #tag => #local = ::core::option::Option::Some(
            #read.map_err(|e| ::cluster::__private::cluster_codec::DecodeError::in_field(e, #message, #name))?
        ),
    }
}

/// The `MessageInfo` constant expression.
fn info(message: &Message) -> TokenStream {
    let zp = zp();
    let (name, tag) = (&message.name, message.tag);
    let nested = &message.nested;
    let fields = message.fields.iter().map(|f| {
        let (name, tag) = (&f.name, f.tag);
        let ty = match &f.elem {
            Elem::Scalar(scalar, _) => {
                let variant = types::variant(*scalar);
                quote!(#zp::TypeInfo::Scalar(#zp::Scalar::#variant))
            }
            Elem::Message(ty) => {
                quote_spanned!(f.span=> #zp::TypeInfo::Struct(#zp::info_of::<#ty>))
            }
        };
        let repeat = match &f.repeat {
            Repeat::Single => quote!(#zp::RepeatInfo::Single),
            Repeat::Array => quote!(#zp::RepeatInfo::Array),
            Repeat::Map(key) => quote!(#zp::RepeatInfo::Map(#key)),
        };
        quote!(#zp::FieldInfo { name: #name, tag: #tag, ty: #ty, repeat: #repeat })
    });
    quote! {
        #zp::MessageInfo {
            name: #name,
            tag: #tag,
            fields: &[#(#fields),*],
            nested: &[#(#zp::info_of::<#nested>),*],
        }
    }
}

/// The Rust struct for a schema struct: every field an `Option`, arrays and
/// maps as `Vec` in wire order.
pub(crate) fn message_struct(message: &Message, doc: &str) -> TokenStream {
    let ident = &message.ident;
    let fields = message.fields.iter().map(|f| {
        let (member, ty) = (&f.member, &f.ty);
        let doc = format!(" `{}`, tag {}.", f.name, f.tag);
        quote! {
            #[doc = #doc]
            pub #member: ::core::option::Option<#ty>,
        }
    });
    quote! {
        #[doc = #doc]
        #[derive(
            ::core::fmt::Debug,
            ::core::clone::Clone,
            ::core::cmp::PartialEq,
            ::core::default::Default,
        )]
        #[allow(non_snake_case)]
        pub struct #ident {
            #(#fields)*
        }
    }
}

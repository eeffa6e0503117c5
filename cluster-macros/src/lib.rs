//! Procedural macros of `cluster`. Use them through the `cluster` crate.

use proc_macro::TokenStream;

mod zproto;

/// Turns a `.zproto` schema file into Rust message types; documented on
/// `cluster::zproto!`.
#[proc_macro]
pub fn zproto(input: TokenStream) -> TokenStream {
    zproto::schema_file(input.into()).into()
}

/// Derives `zproto::Message`; documented on `cluster::zproto::Message`.
#[proc_macro_derive(ZprotoMessage, attributes(zproto))]
pub fn derive_zproto_message(input: TokenStream) -> TokenStream {
    zproto::derive(input.into()).into()
}

//! zproto messages: `#[derive(Message)]` and `zproto!("file.zproto")`.
//!
//! Both end in the same [`model::Message`] and go through one generator:
//! the derive gets there by parsing attributes ([`parse`]) and checking them
//! against the Rust field types ([`validate`]); the schema macro by reading
//! the file with cluster-codec's parser ([`schema_file`]).

mod generate;
mod model;
mod parse;
mod schema_file;
mod types;
mod validate;

use proc_macro2::TokenStream;

/// `#[derive(Message)]`: parse, validate, generate; every error at once.
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let result = syn::parse2(input)
        .and_then(|input| parse::message(&input))
        .and_then(validate::message);
    match result {
        Ok(message) => generate::message_impl(&message),
        Err(err) => err.into_compile_error(),
    }
}

/// `zproto!("path.zproto")`: Rust types for every struct of the file.
pub(crate) fn schema_file(input: TokenStream) -> TokenStream {
    syn::parse2(input)
        .and_then(|path| schema_file::expand(&path))
        .unwrap_or_else(syn::Error::into_compile_error)
}

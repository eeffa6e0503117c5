//! `#[service]`: parse the trait, validate it against the rules, generate
//! the trait, client, server and command table.

mod generate;
mod parse;
mod validate;

use proc_macro2::TokenStream;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let parsed = match parse::parse(args, item) {
        Ok(parsed) => parsed,
        Err(error) => return error.into_compile_error(),
    };
    match validate::validate(parsed) {
        Ok(service) => generate::generate(&service),
        // The trait is not emitted: with a rule broken it may not even be
        // valid Rust (patterns in a bodiless method), and its uses then
        // point back here.
        Err(error) => error.into_compile_error(),
    }
}

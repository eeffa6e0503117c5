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

/// Errors collected across the whole trait, so users see every mistake at
/// once (as `syn::Error::combine` reports them).
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// How many errors were pushed, so a step can tell whether it added any.
    pub(crate) fn count(&self) -> usize {
        self.0.as_ref().map_or(0, |e| e.into_iter().count())
    }

    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

//! Errors collected across a whole macro input, so users see every mistake
//! at once (as `syn::Error::combine` reports them).

use proc_macro2::Span;

#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// How many errors were pushed, so a step can tell whether it added any.
    pub(crate) fn count(&self) -> usize {
        self.0.as_ref().map_or(0, |e| e.into_iter().count())
    }

    /// `Ok(value)` if nothing was pushed.
    pub(crate) fn finish<T>(self, value: T) -> syn::Result<T> {
        self.0.map_or(Ok(value), Err)
    }
}

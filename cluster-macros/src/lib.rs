//! Procedural macros of `cluster`. Use them through the `cluster` crate:
//! `#[cluster::service]`.

mod service;

use proc_macro::TokenStream;

/// Turns a trait into a cluster service: command ids, a typed client
/// (`<Trait>Client`), a server adapter (`<Trait>Server<S>`) and a command
/// table. Arguments: `codec = bincode` (the default) or `codec = zproto`.
/// Method attributes: `#[cmd(N)]` sets a command id, `#[oneway]` makes a
/// method one-way. The `cluster` crate's documentation describes what is
/// generated and the rules it checks.
#[proc_macro_attribute]
pub fn service(args: TokenStream, item: TokenStream) -> TokenStream {
    service::expand(args.into(), item.into()).into()
}

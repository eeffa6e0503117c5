//! Procedural macros of `cluster`. Use them through the `cluster` crate:
//! `#[cluster::service]`, `cluster::zproto!` and
//! `#[derive(cluster::zproto::Message)]`.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

use proc_macro::TokenStream;

mod errors;
mod service;
mod zproto;

/// Turns a trait into a cluster service: command ids, a typed client
/// (`<Trait>Client`), a server adapter (`<Trait>Server<S>`) and a command
/// table. Arguments: `codec = bincode` (the default) or `codec = zproto`.
/// Method attributes: `#[cmd(N)]` sets a command id, `#[oneway]` makes a
/// method one-way, `#[remote_error]` sends the `Err` of a method returning
/// `Result<T, E>` as an application status. The `cluster` crate's documentation describes what is
/// generated and the rules it checks.
#[proc_macro_attribute]
pub fn service(args: TokenStream, item: TokenStream) -> TokenStream {
    service::expand(args.into(), item.into()).into()
}

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

//! RPC for clusters of long-running server nodes, on tokio, speaking the
//! wire protocol of the Lua framework silly (`silly.net.cluster`).
//!
//! Every [`Node`] is both server and client. It [listens](Node::listen) and
//! [connects](Node::connect); each connection is a [`Peer`], through which
//! either side calls the other. The wire format, sessions, timeouts,
//! reconnect and trace ids live in `cluster-core` (re-exported here); the
//! codecs in [`codec`].
//!
//! # Services
//!
//! [`macro@service`] turns a trait into a service:
//!
//! ```
//! #[cluster::service]
//! pub trait Calc {
//!     /// Adds two numbers.
//!     #[cmd(0x03)]
//!     async fn add(&self, a: i32, b: i32) -> i32;
//!     /// Logs a line; the caller does not wait.
//!     #[oneway]
//!     async fn log(&self, line: String);
//! }
//!
//! struct Calculator;
//!
//! impl Calc for Calculator {
//!     async fn add(&self, a: i32, b: i32) -> i32 {
//!         a + b
//!     }
//!     async fn log(&self, line: String) {
//!         println!("{line}");
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), cluster::Error> {
//! let server = cluster::Node::builder().handler(CalcServer::new(Calculator)).build();
//! let listener = server.listen("127.0.0.1:0")?;
//! let peer = cluster::Node::builder().build().connect(&listener.local_addr().to_string()).await;
//! let calc = CalcClient::new(peer);
//! assert_eq!(calc.add(1, 2).await?, 3);
//! calc.log("hello".into()).await?;
//! assert_eq!(CalcClient::ADD, 3);
//! assert_eq!(CalcClient::COMMANDS.len(), 2);
//! # Ok(()) }
//! ```
//!
//! For a trait `Calc` it generates:
//!
//! - the trait itself, each `async fn` returning a `Send` future, with
//!   `Send + Sync + 'static` as supertraits: implement it with ordinary
//!   `async fn`s taking `&self` (no `Clone` needed);
//! - `CalcClient<T = Peer>`, a typed client over a [`Peer`] or any other
//!   [`CallTarget`] (with feature `membership`, a node by name or a group:
//!   see [`membership`]): one method per command, returning
//!   `Result<_, T::Error>` (`Result<_, Error>` for a peer); one-way methods
//!   [send](Peer::send);
//!   `with_timeout` sets a per-call timeout instead of the node's
//!   ([`Peer::call_timeout`]); `CalcClient::from_caller()`
//!   is a client of the peer whose request the current task handles (to call
//!   back over the same connection);
//! - a constant per command id (`CalcClient::ADD`), the command table
//!   `CalcClient::COMMANDS` (name, id, one-way) and the trait name
//!   `CalcClient::SERVICE`;
//! - `CalcServer<S>`, which serves the trait with an implementation `S`: a
//!   [`Handler`] for [`NodeBuilder::handler`] and a [`Service`] to mount with
//!   others through [`router!`].
//!
//! A `#[cfg(...)]` on a method applies to everything generated for it: a
//! method compiled out has no constant, no table entry, no client method and
//! no dispatch arm.
//!
//! The handler's trace id is [`trace::current`]; calls it makes carry the
//! trace on.
//!
//! # Command ids
//!
//! 1. `#[cmd(N)]` on a method sets its id;
//! 2. otherwise, in a service with `codec = zproto`, the id is the protocol
//!    tag of the method's request message, as in silly;
//! 3. otherwise it is [`command_id`]`("Calc", "add")`: FNV-1a-32 of
//!    `Calc.add` with the top bit set. It depends only on the two names:
//!    reordering or adding methods never changes it, and it cannot collide
//!    with explicit ids below `0x8000_0000`.
//!
//! Ids are unique within a service (a compile error otherwise) and across
//! the services of a [`Router`] (a compile error when it is built).
//!
//! # Codecs
//!
//! `#[cluster::service(codec = bincode)]` is the default: arguments travel
//! as a tuple, any serde type will do. With `codec = zproto` each method
//! takes one zproto request message and returns its response message (or
//! nothing, one-way), so that silly nodes can call it and be called.
//!
//! `codec = path::to::MyCodec` names any other codec: a type implementing
//! [`codec::Codec`], with [`codec::Encode`] and [`codec::Decode`] for the
//! tuple of each method's arguments (the request, the same shape on client
//! and server) and for each return type. [`codec::Codec`] says what an
//! implementation must do.
//!
//! # Errors between cluster nodes
//!
//! A method returning `Result<T, E>` sends the whole `Result` as its value:
//! the client gets `Ok(Err(e))`. With `#[remote_error]` on the method (and
//! `E: Display`), only `T` travels as a value and an `Err` is answered as
//! an application status: the client's call fails with
//! `Error::Remote { status: Status::Application, message }`, `message`
//! being the error's `Display`. Status replies need a connection that
//! agreed on the extension ([`NodeBuilder::extension_peers`], PROTOCOL.md);
//! on any other, as to a silly node, an `Err` of such a method sends
//! nothing and its caller times out. On an agreed connection an unknown
//! command and a body that does not decode answer with
//! `Status::UnknownCommand` and `Status::BadRequest` too. Command ids
//! `0xFFFF_FF00` and `0xFFFF_FF01` are the extension's.
//!
//! # Compile-time checks
//!
//! Each mistake is reported at its span: duplicate command ids; methods that
//! are not `async`, are generic, take `self`/`&mut self` or no receiver, or
//! take patterns as arguments; a method that is not `#[oneway]` without a
//! return type (write `-> ()` to wait for an acknowledgement); a `#[oneway]`
//! method that returns a value; borrowed types; types the codec cannot
//! encode or decode.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod dispatch;
pub mod layer;
#[cfg(feature = "membership")]
pub mod membership;
mod router;
mod service;
mod stub;
mod target;

pub use cluster_codec as codec;
// The node, peers, wire formats, errors and trace ids: the runtime users see.
pub use cluster_core::*;
pub use cluster_macros::service;

pub use crate::router::Router;
pub use crate::service::{Command, CommandTable, Service, command_id};
pub use crate::target::CallTarget;

pub mod zproto;

/// Generates Rust message types from a `.zproto` schema file, at compile
/// time: `cluster::zproto!("schemas/game.zproto")`, the path relative to the
/// crate's `Cargo.toml`. See the [`zproto`](mod@zproto) module for the
/// mapping and an example; a schema error is a compile error naming the
/// file, line and column.
pub use cluster_macros::zproto;

/// Items that generated code refers to. Not a public API: it may change in
/// any release.
#[doc(hidden)]
pub mod __private {
    pub use bytes;
    pub use cluster_codec;
    pub use cluster_core;

    pub use crate::dispatch::{decode_request, handle, refuse};
    pub use crate::service::method_name;
    pub use crate::stub::{Encoded, call, call_ok, encode, send};
}

/// Compiles the README's examples as doctests, so the README stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

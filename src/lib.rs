//! `cluster`: RPC for clusters of server nodes.

mod dispatch;
mod router;
mod service;
mod stub;

pub use cluster_codec as codec;
pub use cluster_core::*;
pub use cluster_macros::service;

pub use crate::router::Router;
pub use crate::service::{Command, CommandTable, Service, command_id};

/// Items that generated code refers to. Not a public API: it may change in
/// any release.
#[doc(hidden)]
pub mod __private {
    pub use bytes;
    pub use cluster_codec;
    pub use cluster_core;

    pub use crate::dispatch::{decode_request, encode_response, handle};
    pub use crate::stub::{Body, call, send};
}

/// Compiles the README's examples as doctests, so the README stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
